//! `rustshare key ...`: S3 keys.

use anyhow::Result;
use clap::Subcommand;
use rustshare_control::NewIdentity;
use rustshare_control::model::{Identity, PermissionMode};
use time::format_description::well_known::Rfc3339;

use super::client::{Client, NO_BODY, enc, parse_duration, show};
use crate::api::dto::{KeyBlock, KeyList};

#[derive(Subcommand, Debug)]
pub(super) enum KeyCmd {
    /// Create an S3 key; the secret is shown once.
    Create {
        space: String,
        #[arg(long)]
        name: String,
        /// read-only, write-only, read-write, read-write-delete, publisher, registry-backend, tenant-wide (every space of the tenant, and CreateBucket/DeleteBucket/ListBuckets).
        #[arg(long)]
        mode: PermissionMode,
        /// Allowed prefix inside the space (ends with /).
        #[arg(long, default_value = "")]
        prefix: String,
        /// Expiry, for example 90d, 12h, 30m.
        #[arg(long)]
        expires_in: Option<String>,
    },
    /// List keys of a space.
    List { space: String },
    /// Revoke a key (id or access key id).
    Revoke { key: String },
    /// Rotate a key's secret (shown once).
    Rotate { key: String },
}

pub(super) fn run(c: &Client, json_out: bool, cmd: KeyCmd) -> Result<()> {
    match cmd {
        KeyCmd::Create {
            space,
            name,
            mode,
            prefix,
            expires_in,
        } => {
            let expires_in_seconds = expires_in.as_deref().map(parse_duration).transpose()?;
            let body = NewIdentity {
                name,
                mode,
                prefix,
                expires_at: None,
                expires_in_seconds,
            };
            let v: KeyBlock = c.typed("POST", &format!("/spaces/{}/keys", enc(&space)), Some(&body))?;
            show(json_out, &v, print_key_block);
        }
        KeyCmd::List { space } => {
            let v: KeyList = c.typed("GET", &format!("/spaces/{}/keys", enc(&space)), NO_BODY)?;
            show(json_out, &v, |v| print_keys(&v.keys));
        }
        KeyCmd::Revoke { key } => {
            let v: Identity = c.typed("POST", &format!("/keys/{}/revoke", enc(&key)), NO_BODY)?;
            show(json_out, &v, |v| {
                outln!("Revoked {} ({}); its next request is refused.", v.name, v.access_key_id);
            });
        }
        KeyCmd::Rotate { key } => {
            let v: KeyBlock = c.typed("POST", &format!("/keys/{}/rotate", enc(&key)), NO_BODY)?;
            show(json_out, &v, |v| {
                outln!("Rotated: the old secret no longer works.\n");
                print_key_block(v);
            });
        }
    }

    Ok(())
}

fn print_key_block(v: &KeyBlock) {
    outln!("Endpoint:   {}", v.endpoint);
    outln!("Bucket:     {}", v.bucket);
    outln!("Prefix:     {}", if v.prefix.is_empty() { "(whole space)" } else { &v.prefix });
    outln!("Access Key: {}", v.access_key_id);
    outln!("Secret Key: {}", v.secret_access_key);
    outln!("            (shown once: store it now, it cannot be displayed again)");
    outln!("Region:     {}", v.region);
    outln!("Path-style: enabled");
    outln!("Mode:       {}", v.identity.mode);
    if let Some(e) = v.identity.expires_at.and_then(|e| e.format(&Rfc3339).ok()) {
        outln!("Expires:    {e}");
    }
    for (title, cmd) in [
        ("aws-cli", &v.commands.aws),
        ("s3cmd", &v.commands.s3cmd),
        ("rclone", &v.commands.rclone),
    ] {
        outln!("\n# {title}");
        outln!("{cmd}");
    }
}

pub(super) fn print_keys(keys: &[Identity]) {
    if keys.is_empty() {
        outln!("  (none)");
    }
    let now = time::OffsetDateTime::now_utc();
    for k in keys {
        let status = if k.revoked_at.is_some() {
            "revoked"
        } else if k.expires_at.is_some_and(|e| e <= now) {
            "expired"
        } else {
            "active"
        };
        let prefix = if k.allowed_prefix.is_empty() { "*" } else { &k.allowed_prefix };
        let last_used = k.last_used_at.and_then(|t| t.format(&Rfc3339).ok());
        outln!(
            "  {:<22} {:<20} {:<18} {:<8} prefix={} last-used={}",
            k.name,
            k.access_key_id,
            k.mode.as_str(),
            status,
            prefix,
            last_used.as_deref().unwrap_or("never")
        );
    }
}
