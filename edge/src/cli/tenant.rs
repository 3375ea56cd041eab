//! `rustshare tenant ...`: tenants and their admin tokens.

use anyhow::Result;
use clap::Subcommand;
use rustshare_control::model::Tenant;

use super::client::{Client, NO_BODY, enc, show};
use crate::api::dto::{NameBody, TenantList, TenantToken};

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
        TenantCmd::Create { name } => {
            let v: Tenant = c.typed("POST", "/tenants", Some(&NameBody { name }))?;
            show(json_out, &v, |v| outln!("Created tenant {} ({})", v.name, v.id));
        }
        TenantCmd::List => {
            let v: TenantList = c.typed("GET", "/tenants", NO_BODY)?;
            show(json_out, &v, |v| {
                for t in &v.tenants {
                    outln!("{:<24} {}", t.name, t.id);
                }
            });
        }
        TenantCmd::Token { tenant, name } => {
            let v: TenantToken = c.typed("POST", &format!("/tenants/{}/tokens", enc(&tenant)), Some(&NameBody { name }))?;
            show(json_out, &v, |v| {
                outln!("Token for tenant {tenant} (shown once):\n{}", v.token);
            });
        }
    }

    Ok(())
}
