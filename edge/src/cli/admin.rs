//! `rustshare admin ...`: installation maintenance (operator).

use anyhow::Result;
use clap::Subcommand;
use serde_json::json;

use super::client::{Client, out};

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
}

pub(super) fn run(c: &Client, json_out: bool, cmd: AdminCmd) -> Result<()> {
    let (method, path, body) = match cmd {
        AdminCmd::Reconcile => ("POST", "/admin/reconcile", Some(json!({}))),
        AdminCmd::MasterKey => ("GET", "/admin/master-key", None),
        AdminCmd::RotateMasterKey { to } => ("POST", "/admin/master-key/rotate", Some(json!({"fingerprint": to}))),
        AdminCmd::RetireMasterKeys => ("POST", "/admin/master-key/retire", Some(json!({}))),
    };
    out(json_out, &c.call(method, path, body)?, |v| {
        if let Some(spaces) = v["spaces"].as_array() {
            let changed: Vec<_> = spaces.iter().filter(|s| s["before"] != s["after"]).collect();
            outln!("{} spaces reconciled with the store, {} changed", spaces.len(), changed.len());
            for s in changed {
                outln!(
                    "  {}: {} -> {} bytes, {} -> {} objects",
                    s["bucket"].as_str().unwrap_or("?"),
                    s["before"]["bytes"],
                    s["after"]["bytes"],
                    s["before"]["objects"],
                    s["after"]["objects"]
                );
            }
            return;
        }
        let fp = v["fingerprint"].as_str().unwrap_or("");
        match v["resealed"].as_u64() {
            Some(n) if v["retired"].as_bool() == Some(true) => {
                outln!("Master key {fp}: {n} secrets re-sealed, older keys removed from this node's key file");
            }
            Some(n) => outln!(
                "Master key is now {fp}: {n} secrets re-sealed; the old key stays accepted in {} until `rustshare admin retire-master-keys`",
                v["key_file"].as_str().unwrap_or("the key file")
            ),
            None => outln!("Master key {fp} (from {})", v["source"].as_str().unwrap_or("?")),
        }
        if let Some(n) = v["note"].as_str() {
            outln!("Note: {n}");
        }
    });

    Ok(())
}
