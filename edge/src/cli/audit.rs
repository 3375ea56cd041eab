//! `rustshare audit`: the audit log, filtered.

use anyhow::Result;

use super::client::{Client, enc, out};

/// What to show.
pub(super) struct Filter {
    pub(super) space: Option<String>,
    pub(super) identity: Option<String>,
    pub(super) operation: Option<String>,
    pub(super) since: Option<String>,
    pub(super) until: Option<String>,
    pub(super) limit: u32,
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
    out(json_out, &c.call("GET", &format!("/audit?{}", q.join("&")), None)?, |v| {
        for e in v["events"].as_array().into_iter().flatten() {
            let s = |f: &str| e[f].as_str().unwrap_or("-").to_owned();
            outln!(
                "{}  {:<8} {:<24} {:<14} {:<22} {} {}",
                s("timestamp"),
                s("kind"),
                s("operation"),
                s("status"),
                s("actor"),
                s("object_key"),
                e["bytes"].as_u64().filter(|b| *b > 0).map(|b| format!("{b}B")).unwrap_or_default()
            );
        }
    });

    Ok(())
}
