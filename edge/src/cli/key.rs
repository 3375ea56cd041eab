//! `rustshare key ...`: S3 keys.

use anyhow::Result;
use clap::Subcommand;
use serde_json::{Value, json};

use super::client::{Client, enc, out, parse_duration};

#[derive(Subcommand, Debug)]
pub(super) enum KeyCmd {
    /// Create an S3 key; the secret is shown once.
    Create {
        space: String,
        #[arg(long)]
        name: String,
        /// read-only, write-only, read-write, read-write-delete, publisher, registry-backend.
        #[arg(long)]
        mode: String,
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
            let secs = expires_in.as_deref().map(parse_duration).transpose()?;
            let v = c.call(
                "POST",
                &format!("/spaces/{}/keys", enc(&space)),
                Some(json!({"name": name, "mode": mode, "prefix": prefix, "expires_in_seconds": secs})),
            )?;
            out(json_out, &v, print_key_block);
        }
        KeyCmd::List { space } => out(json_out, &c.call("GET", &format!("/spaces/{}/keys", enc(&space)), None)?, |v| {
            print_keys(v["keys"].as_array().map_or(&[], Vec::as_slice))
        }),
        KeyCmd::Revoke { key } => out(json_out, &c.call("POST", &format!("/keys/{}/revoke", enc(&key)), None)?, |v| {
            outln!(
                "Revoked {} ({}); its next request is refused.",
                v["name"].as_str().unwrap_or(""),
                v["access_key_id"].as_str().unwrap_or("")
            );
        }),
        KeyCmd::Rotate { key } => out(json_out, &c.call("POST", &format!("/keys/{}/rotate", enc(&key)), None)?, |v| {
            outln!("Rotated: the old secret no longer works.\n");
            print_key_block(v);
        }),
    }

    Ok(())
}

fn print_key_block(v: &Value) {
    let s = |k: &str| v[k].as_str().unwrap_or("").to_owned();
    let (endpoint, bucket, prefix) = (s("endpoint"), s("bucket"), s("prefix"));
    outln!("Endpoint:   {endpoint}");
    outln!("Bucket:     {bucket}");
    outln!(
        "Prefix:     {}",
        if prefix.is_empty() {
            "(whole space)".to_owned()
        } else {
            prefix.clone()
        }
    );
    outln!("Access Key: {}", s("access_key_id"));
    outln!("Secret Key: {}", s("secret_access_key"));
    outln!("            (shown once: store it now, it cannot be displayed again)");
    outln!("Region:     {}", s("region"));
    outln!("Path-style: enabled");
    outln!("Mode:       {}", v["identity"]["mode"].as_str().unwrap_or(""));
    if let Some(e) = v["identity"]["expires_at"].as_str() {
        outln!("Expires:    {e}");
    }
    for (title, k) in [("aws-cli", "aws"), ("s3cmd", "s3cmd"), ("rclone", "rclone")] {
        outln!("\n# {title}");
        outln!("{}", v["commands"][k].as_str().unwrap_or(""));
    }
}

pub(super) fn print_keys(keys: &[Value]) {
    if keys.is_empty() {
        outln!("  (none)");
    }
    let now = time::OffsetDateTime::now_utc();
    for k in keys {
        let s = |f: &str| k[f].as_str().unwrap_or("").to_owned();
        let status = if !k["revoked_at"].is_null() {
            "revoked"
        } else if k["expires_at"]
            .as_str()
            .and_then(|e| time::OffsetDateTime::parse(e, &time::format_description::well_known::Rfc3339).ok())
            .is_some_and(|e| e <= now)
        {
            "expired"
        } else {
            "active"
        };
        let prefix = if s("allowed_prefix").is_empty() {
            "*".to_owned()
        } else {
            s("allowed_prefix")
        };
        outln!(
            "  {:<22} {:<20} {:<18} {:<8} prefix={} last-used={}",
            s("name"),
            s("access_key_id"),
            s("mode"),
            status,
            prefix,
            k["last_used_at"].as_str().unwrap_or("never")
        );
    }
}
