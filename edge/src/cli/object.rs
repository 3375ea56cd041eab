//! `rustshare object ...`: the versions of a space's objects, and restoring one.

use anyhow::Result;
use clap::Subcommand;

use super::client::{Client, NO_BODY, enc, human_bytes, show};
use crate::api::dto::{RestoreBody, Restored, VersionList};

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
                        "{:<34} {:<7} {:>10}  {:<25} {}",
                        x.version_id,
                        if x.latest { "yes" } else { "" },
                        size,
                        when,
                        x.key
                    );
                }
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
