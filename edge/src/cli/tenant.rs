//! `rustshare tenant ...`: tenants and their admin tokens.

use anyhow::Result;
use clap::Subcommand;
use serde_json::json;

use super::client::{Client, enc, out};

#[derive(Subcommand, Debug)]
pub(super) enum TenantCmd {
    /// Create a tenant.
    Create { name: String },
    /// List tenants.
    List,
    /// Issue an admin token scoped to a tenant (shown once).
    Token {
        tenant: String,
        #[arg(long, default_value = "admin")]
        name: String,
    },
}

pub(super) fn run(c: &Client, json_out: bool, cmd: TenantCmd) -> Result<()> {
    match cmd {
        TenantCmd::Create { name } => out(json_out, &c.call("POST", "/tenants", Some(json!({"name": name})))?, |v| {
            outln!(
                "Created tenant {} ({})",
                v["name"].as_str().unwrap_or(""),
                v["id"].as_str().unwrap_or("")
            )
        }),
        TenantCmd::List => out(json_out, &c.call("GET", "/tenants", None)?, |v| {
            for t in v["tenants"].as_array().into_iter().flatten() {
                outln!("{:<24} {}", t["name"].as_str().unwrap_or(""), t["id"].as_str().unwrap_or(""));
            }
        }),
        TenantCmd::Token { tenant, name } => out(
            json_out,
            &c.call("POST", &format!("/tenants/{}/tokens", enc(&tenant)), Some(json!({"name": name})))?,
            |v| {
                outln!("Token for tenant {tenant} (shown once):\n{}", v["token"].as_str().unwrap_or(""));
            },
        ),
    }

    Ok(())
}
