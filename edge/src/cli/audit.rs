//! `rustshare audit`: the audit log, filtered.

use anyhow::Result;

use super::client::{Client, NO_BODY, enc, show};
use crate::api::dto::AuditPage;

/// What to show.
#[derive(clap::Args, Debug)]
pub(super) struct Filter {
    /// Only this space.
    #[arg(long)]
    space: Option<String>,
    /// Only this identity id.
    #[arg(long)]
    identity: Option<String>,
    /// Only this operation (PutObject, key.revoked, ...).
    #[arg(long)]
    operation: Option<String>,
    /// Not before (RFC 3339).
    #[arg(long)]
    since: Option<String>,
    /// Before (RFC 3339).
    #[arg(long)]
    until: Option<String>,
    /// At most this many.
    #[arg(long, default_value_t = 50)]
    limit: u32,
}

pub(super) fn run(c: &Client, json_out: bool, f: Filter) -> Result<()> {
    let Filter {
        space,
        identity,
        operation,
        since,
        until,
        limit,
    } = f;
    let mut q = vec![format!("limit={limit}")];
    for (k, v) in [
        ("space", space),
        ("identity", identity),
        ("operation", operation),
        ("since", since),
        ("until", until),
    ] {
        if let Some(v) = v {
            q.push(format!("{k}={}", enc(&v)));
        }
    }
    let v: AuditPage = c.typed("GET", &format!("/audit?{}", q.join("&")), NO_BODY)?;
    show(json_out, &v, |v| {
        for e in &v.events {
            let ev = &e.event;
            let at = e
                .timestamp
                .format(&time::format_description::well_known::Rfc3339)
                .unwrap_or_default();
            outln!(
                "{}  {:<8} {:<24} {:<14} {:<22} {} {}",
                at,
                ev.kind,
                ev.operation,
                ev.status,
                ev.actor,
                ev.object_key.as_deref().unwrap_or("-"),
                if ev.bytes > 0 { format!("{}B", ev.bytes) } else { String::new() }
            );
        }
    });

    Ok(())
}
