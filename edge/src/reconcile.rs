//! Usage from the store itself: every space's objects are listed and become its object list and
//! usage. A crash between a store write or delete and its accounting (kill -9 mid-publish, a
//! node lost mid-request) leaves the figures off; this puts them right.
//!
//! Run by `rustshare admin reconcile` (operator), and by a single node (SQLite) when it starts
//! after an unclean stop, before it serves. On a live cluster a write racing the pass can be
//! counted as it was before the write; the next pass corrects it.

use std::sync::Arc;

use rustshare_control::Control;
use rustshare_control::model::Usage;
use rustshare_store::{ListRequest, ObjectStore};
use serde::Serialize;

/// One space's figures before and after.
#[derive(Debug, Serialize)]
pub struct Reconciled {
    /// The space's bucket.
    pub bucket: String,
    /// Usage as recorded.
    pub before: Usage,
    /// Usage as the store holds it.
    pub after: Usage,
    /// The space, for the caller's audit row.
    #[serde(skip)]
    pub space: rustshare_control::model::Space,
}

/// Lists every object under `prefix`, with keys relative to it.
async fn list_all(store: &dyn ObjectStore, prefix: &str) -> rustshare_store::Result<Vec<(String, u64)>> {
    let mut out = Vec::new();
    let mut after = None;
    loop {
        let page = store
            .list(&ListRequest {
                prefix: prefix.to_owned(),
                delimiter: None,
                start_after: after.clone(),
                max_keys: 1000,
            })
            .await?;
        for e in &page.entries {
            if let Some(k) = e.key.strip_prefix(prefix) {
                out.push((k.to_owned(), e.size));
            }
        }
        match (page.is_truncated, page.entries.last()) {
            (true, Some(last)) => after = Some(last.key.clone()),
            _ => return Ok(out),
        }
    }
}

/// Reconciles every space.
///
/// # Errors
/// Store and database errors, naming the space.
pub async fn run(control: &Control, store: &Arc<dyn ObjectStore>) -> anyhow::Result<Vec<Reconciled>> {
    use anyhow::Context as _;
    let c = control.clone();
    let spaces = tokio::task::spawn_blocking(move || c.all_spaces()).await??;
    let mut out = Vec::with_capacity(spaces.len());
    for s in spaces {
        let entries = list_all(store.as_ref(), &s.base_prefix)
            .await
            .with_context(|| format!("listing space {}", s.bucket))?;
        let c = control.clone();
        let id = s.id.clone();
        let (before, after) = tokio::task::spawn_blocking(move || c.reconcile_space(&id, &entries))
            .await?
            .with_context(|| format!("recording usage of {}", s.bucket))?;
        if before != after {
            tracing::info!(space = %s.bucket, ?before, ?after, "usage reconciled with the store");
        }
        out.push(Reconciled {
            bucket: s.bucket.clone(),
            before,
            after,
            space: s,
        });
    }
    Ok(out)
}
