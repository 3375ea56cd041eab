//! `rustshare object ...`: the versions of a space's objects, restoring and removing one, and
//! object lock on one (retention, legal hold).

use anyhow::Result;
use clap::Subcommand;

use super::client::{Client, NO_BODY, enc, human_bytes, show};
use crate::api::dto::{LegalHoldBody, RemoveVersionBody, RemovedVersion, RestoreBody, Restored, RetentionBody, VersionList, VersionLock};
use rustshare_control::lock::{ObjectLock, Retention};

#[derive(Subcommand, Debug)]
pub(super) enum ObjectCmd {
    /// Versions and delete markers of a key (or of every key under a prefix), newest first.
    Versions {
        /// Space id, bucket or name.
        space: String,
        /// A key, or a prefix ending in `/`.
        key: String,
        /// Versions per request (1 to 1000); every page is fetched.
        #[arg(long, default_value_t = 1000)]
        page: usize,
    },
    /// Make an old version current again: it is copied onto its key as a new version.
    Restore {
        /// Space id, bucket or name.
        space: String,
        key: String,
        /// The version to restore (see `object versions`).
        version_id: String,
    },
    /// Set a version's retention: longer or stricter by any admin; shorter or removed only for
    /// GOVERNANCE, by the operator with --bypass-governance; COMPLIANCE never.
    Retention {
        space: String,
        key: String,
        /// The version (default: the current one).
        #[arg(long = "version")]
        version_id: Option<String>,
        /// GOVERNANCE or COMPLIANCE.
        #[arg(long, requires = "until", conflicts_with = "clear")]
        mode: Option<String>,
        /// Until when (RFC 3339, e.g. 2027-01-01T00:00:00Z).
        #[arg(long, requires = "mode")]
        until: Option<String>,
        /// Remove the retention.
        #[arg(long)]
        clear: bool,
        /// Shorten or lift a governance retention (the operator only).
        #[arg(long)]
        bypass_governance: bool,
    },
    /// Put a legal hold on a version (on), or lift it (off).
    LegalHold {
        space: String,
        key: String,
        #[arg(value_parser = ["on", "off"])]
        state: String,
        /// The version (default: the current one).
        #[arg(long = "version")]
        version_id: Option<String>,
    },
    /// Remove one version or delete marker for good (refused while object lock protects it;
    /// the operator may bypass a governance retention).
    RemoveVersion {
        space: String,
        key: String,
        version_id: String,
        /// Remove it although a governance retention protects it (the operator only).
        #[arg(long)]
        bypass_governance: bool,
    },
}

fn print_lock(v: &VersionLock) {
    outln!("{} version {}: {}", v.key, v.version_id, lock_text(&v.lock));
}

fn lock_text(l: &ObjectLock) -> String {
    let mut parts = Vec::new();
    if let Some(r) = &l.retention {
        let until = r.until.format(&time::format_description::well_known::Rfc3339).unwrap_or_default();
        parts.push(format!("{} until {until}", r.mode));
    }
    if l.legal_hold {
        parts.push("legal hold".to_owned());
    }
    if parts.is_empty() {
        "unlocked".to_owned()
    } else {
        parts.join(", ")
    }
}

pub(super) fn run(c: &Client, json_out: bool, cmd: ObjectCmd) -> Result<()> {
    match cmd {
        ObjectCmd::Versions { space, key, page } => {
            let mut all: Option<VersionList> = None;
            let mut marker: Option<(String, Option<String>)> = None;
            loop {
                let mut path = format!("/spaces/{}/versions?prefix={}&limit={page}", enc(&space), enc(&key));
                if let Some((k, v)) = &marker {
                    path.push_str(&format!("&key_marker={}", enc(k)));
                    if let Some(v) = v {
                        path.push_str(&format!("&version_marker={}", enc(v)));
                    }
                }
                let mut got: VersionList = c.typed("GET", &path, NO_BODY)?;
                // A key names itself only, not the longer keys it is a prefix of.
                if !key.ends_with('/') {
                    got.versions.retain(|v| v.key == key);
                }
                marker = got.next_key_marker.clone().map(|k| (k, got.next_version_marker.clone()));
                match &mut all {
                    Some(a) => a.versions.append(&mut got.versions),
                    None => all = Some(got),
                }
                if marker.is_none() {
                    break;
                }
            }
            let Some(mut v) = all else { return Ok(()) };
            v.truncated = false;
            v.next_key_marker = None;
            v.next_version_marker = None;
            show(json_out, &v, |v| {
                if v.versions.is_empty() {
                    outln!("No versions of {key} (versioning is {}).", v.versioning);
                    return;
                }
                outln!("{:<34} {:<7} {:>10}  {:<25} KEY", "VERSION", "LATEST", "SIZE", "WRITTEN");
                let locked =
                    |x: &crate::api::dto::VersionView| x.lock.as_ref().map(|l| format!("  [{}]", lock_text(l))).unwrap_or_default();
                for x in &v.versions {
                    let when = x
                        .last_modified
                        .and_then(|t| t.format(&time::format_description::well_known::Rfc3339).ok())
                        .unwrap_or_default();
                    let size = if x.delete_marker {
                        "(deleted)".to_owned()
                    } else {
                        human_bytes(x.size)
                    };
                    outln!(
                        "{:<34} {:<7} {:>10}  {:<25} {}{}",
                        x.version_id,
                        if x.latest { "yes" } else { "" },
                        size,
                        when,
                        x.key,
                        locked(x)
                    );
                }
            });
        }
        ObjectCmd::Retention {
            space,
            key,
            version_id,
            mode,
            until,
            clear,
            bypass_governance,
        } => {
            let retention = match (mode, until) {
                (Some(m), Some(u)) => Some(Retention {
                    mode: m.to_ascii_uppercase().parse().map_err(|e: String| anyhow::anyhow!(e))?,
                    until: time::OffsetDateTime::parse(&u, &time::format_description::well_known::Rfc3339)
                        .map_err(|e| anyhow::anyhow!("--until {u:?}: {e}; write a time such as 2027-01-01T00:00:00Z"))?,
                }),
                _ if clear => None,
                _ => anyhow::bail!("give --mode and --until, or --clear"),
            };
            let body = RetentionBody {
                key,
                version_id,
                retention,
                bypass_governance,
            };
            let v: VersionLock = c.typed("PUT", &format!("/spaces/{}/objects/retention", enc(&space)), Some(&body))?;
            show(json_out, &v, print_lock);
        }
        ObjectCmd::LegalHold {
            space,
            key,
            state,
            version_id,
        } => {
            let body = LegalHoldBody {
                key,
                version_id,
                on: state == "on",
            };
            let v: VersionLock = c.typed("PUT", &format!("/spaces/{}/objects/legal-hold", enc(&space)), Some(&body))?;
            show(json_out, &v, print_lock);
        }
        ObjectCmd::RemoveVersion {
            space,
            key,
            version_id,
            bypass_governance,
        } => {
            let body = RemoveVersionBody {
                key,
                version_id,
                bypass_governance,
            };
            let v: RemovedVersion = c.typed("POST", &format!("/spaces/{}/objects/remove-version", enc(&space)), Some(&body))?;
            show(json_out, &v, |v| {
                let what = if v.delete_marker { "delete marker" } else { "version" };
                outln!("Removed {what} {} of {}", v.version_id, v.key);
            });
        }
        ObjectCmd::Restore { space, key, version_id } => {
            let body = RestoreBody { key, version_id };
            let v: Restored = c.typed("POST", &format!("/spaces/{}/objects/restore", enc(&space)), Some(&body))?;
            show(json_out, &v, |v| {
                outln!(
                    "Restored {} from version {}: it is current again as version {}",
                    v.key,
                    v.restored_from,
                    v.version_id
                );
            });
        }
    }
    Ok(())
}
