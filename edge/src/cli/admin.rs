//! `rustshare admin ...`: installation maintenance (operator).

use anyhow::Result;
use clap::Subcommand;
use serde_json::json;

use super::client::{Client, NO_BODY, show};
use crate::api::dto::{LifecycleRun, MasterKeyChange, MasterKeyInfo, Reconciled, RotateBody};
use crate::face::s3::expirer::PassReport;

#[derive(Subcommand, Debug)]
pub(super) enum AdminCmd {
    /// Show the fingerprint of the master key that seals secrets now.
    MasterKey,
    /// Re-seal every stored secret under a new master key, without downtime. Without --to, the
    /// server makes the key and writes it first in its key file (the old one stays accepted);
    /// with several nodes, put the new key in every node's key file first and pass --to.
    RotateMasterKey {
        /// Fingerprint of a key already listed in every node's key file.
        #[arg(long)]
        to: Option<String>,
    },
    /// After a rotation reached every node: re-seal once more and drop the old keys from this
    /// node's key file.
    RetireMasterKeys,
    /// Recompute every space's usage and object count from the store (after a crash between a
    /// write and its accounting). Operator only.
    Reconcile,
    /// Run one lifecycle expirer pass now, on this server (the background expirer runs one per
    /// `lifecycle.interval_secs` on one node). Operator only.
    Lifecycle {
        /// Most removals.
        #[arg(long)]
        batch: Option<usize>,
        /// Judge as of this later time (RFC 3339): expire now what would expire by then.
        #[arg(long)]
        as_of: Option<String>,
    },
}

pub(super) fn run(c: &Client, json_out: bool, cmd: AdminCmd) -> Result<()> {
    match cmd {
        AdminCmd::Reconcile => {
            let v: Reconciled = c.typed("POST", "/admin/reconcile", Some(&json!({})))?;
            show(json_out, &v, |v| {
                let changed: Vec<_> = v.spaces.iter().filter(|s| s.before != s.after).collect();
                outln!("{} spaces reconciled with the store, {} changed", v.spaces.len(), changed.len());
                for s in changed {
                    outln!(
                        "  {}: {} -> {} bytes, {} -> {} objects",
                        s.bucket,
                        s.before.bytes,
                        s.after.bytes,
                        s.before.objects,
                        s.after.objects
                    );
                }
            });
        }
        AdminCmd::Lifecycle { batch, as_of } => {
            let as_of = as_of
                .map(|t| time::OffsetDateTime::parse(&t, &time::format_description::well_known::Rfc3339))
                .transpose()
                .map_err(|e| anyhow::anyhow!("--as-of: {e} (for example 2027-01-31T00:00:00Z)"))?;
            let v: PassReport = c.typed_with(
                &super::client::slow_agent(),
                "POST",
                "/admin/lifecycle/run",
                Some(&LifecycleRun { batch, as_of }),
            )?;
            show(json_out, &v, |v| {
                outln!(
                    "Lifecycle pass over {} spaces: {} objects expired, {} noncurrent versions and {} delete markers removed, {} uploads aborted, {} bytes{}",
                    v.spaces,
                    v.expired,
                    v.noncurrent_removed,
                    v.markers_removed,
                    v.uploads_aborted,
                    v.bytes,
                    if v.complete { "" } else { " (batch full: the next pass goes on)" }
                );
            });
        }
        AdminCmd::MasterKey => {
            let v: MasterKeyInfo = c.typed("GET", "/admin/master-key", NO_BODY)?;
            show(json_out, &v, |v| outln!("Master key {} (from {})", v.fingerprint, v.source));
        }
        AdminCmd::RotateMasterKey { to } => {
            let body = RotateBody { fingerprint: to };
            let v: MasterKeyChange = c.typed("POST", "/admin/master-key/rotate", Some(&body))?;
            show(json_out, &v, |v| {
                outln!(
                    "Master key is now {}: {} secrets re-sealed; the old key stays accepted in {} until `rustshare admin retire-master-keys`",
                    v.fingerprint,
                    v.resealed,
                    v.key_file.as_deref().unwrap_or("the key file")
                );
                note(v);
            });
        }
        AdminCmd::RetireMasterKeys => {
            let v: MasterKeyChange = c.typed("POST", "/admin/master-key/retire", Some(&json!({})))?;
            show(json_out, &v, |v| {
                outln!(
                    "Master key {}: {} secrets re-sealed, older keys removed from this node's key file",
                    v.fingerprint,
                    v.resealed
                );
                note(v);
            });
        }
    }

    Ok(())
}

fn note(v: &MasterKeyChange) {
    if let Some(n) = &v.note {
        outln!("Note: {n}");
    }
}
