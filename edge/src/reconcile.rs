//! Usage from the store itself: every space's objects are listed and become its object list and
//! usage. A crash between a store write or delete and its accounting (kill -9 mid-publish, a
//! node lost mid-request) leaves the figures off; this puts them right.
//!
//! Run by `rustshare admin reconcile` (operator), and by a single node (SQLite) when it starts
//! after an unclean stop, before it serves. On a live cluster a write racing the pass can be
//! counted as it was before the write; the next pass corrects it.

use std::sync::Arc;

use rustshare_control::Control;
use rustshare_control::db::PartRecord;
use rustshare_control::model::Usage;
use rustshare_store::ObjectStore;
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

/// Lists every object under `prefix`, with keys relative to it: one listing of the store's
/// (the fs store walks once; paging it walked the tree once per 1,000 objects).
async fn list_all(store: &dyn ObjectStore, prefix: &str) -> rustshare_store::Result<Vec<(String, u64)>> {
    Ok(store
        .list_all(prefix)
        .await?
        .into_iter()
        .filter_map(|e| e.key.strip_prefix(prefix).map(|k| (k.to_owned(), e.size)))
        .collect())
}

/// A store upload no upload record names is aborted once it is this old: younger, it may be
/// one a live node has just started and not yet recorded.
const ORPHAN_UPLOAD_AGE: time::Duration = time::Duration::hours(1);

/// The parts the store holds for each upload the space has a record of; an upload the store
/// no longer has (completed or aborted, its record left behind by a crash) is left out, and so
/// forgotten. Asked upload by upload with ListParts, which every engine answers, rather than by
/// listing uploads, which some do not (s3s-fs) or only for an exact key (RustFS, MinIO).
///
/// Store uploads without a record (the process died between the store's create and its record)
/// can never be completed through the S3 face, which checks the record: they only hold disk.
/// Where the store can list its uploads, those older than [`ORPHAN_UPLOAD_AGE`] are aborted.
async fn uploads_in_store(
    control: &Control,
    store: &dyn ObjectStore,
    space: &rustshare_control::model::Space,
) -> anyhow::Result<Vec<(String, Vec<PartRecord>)>> {
    let records = control.list_uploads(&space.id, "").await?;
    let mut out = Vec::with_capacity(records.len());
    for u in &records {
        let full = format!("{}{}", space.base_prefix, u.key);
        let mut parts: Vec<PartRecord> = match store.list_parts(&full, &u.upload_id).await {
            Ok(parts) => parts
                .into_iter()
                .map(|p| PartRecord {
                    part_number: p.part_number,
                    size: p.size,
                    etag: p.etag,
                    checksum: None,
                })
                .collect(),
            Err(rustshare_store::Error::NoSuchUpload) => continue,
            Err(e) => return Err(e.into()),
        };
        parts.sort_by_key(|p| p.part_number);
        out.push((u.upload_id.clone(), parts));
    }
    let known: std::collections::HashSet<&str> = records.iter().map(|u| u.upload_id.as_str()).collect();
    match store.list_uploads(&space.base_prefix).await {
        Ok(listed) => {
            for u in listed {
                if known.contains(u.upload_id.as_str()) || time::OffsetDateTime::now_utc() - u.initiated <= ORPHAN_UPLOAD_AGE {
                    continue;
                }
                tracing::info!(space = %space.bucket, upload = %u.upload_id, "aborting an upload the store holds and nothing records");
                match store.abort_multipart(&u.key, &u.upload_id).await {
                    Ok(()) | Err(rustshare_store::Error::NoSuchUpload) => {}
                    Err(e) => return Err(e.into()),
                }
            }
        }
        Err(e) => tracing::debug!(space = %space.bucket, "the store cannot list its uploads; unrecorded ones stay: {e}"),
    }
    Ok(out)
}

/// A key's lease while a pending change is finished; a writer holding it is left alone.
const KEY_LEASE: std::time::Duration = std::time::Duration::from_mins(1);

/// The versions of a versioned space against the store:
///
/// - a change a killed process left half done (a copy of the current version recorded as
///   pending, see `face::s3::versions`) is finished when the key shows it happened (the key
///   holds other bytes: a write; no bytes: a delete) and undone when it did not, under the
///   key's lease, so a writer still at work is left alone;
/// - versions whose bytes are gone are forgotten, bytes no version names are deleted (every
///   copy is recorded before it is made, so an unnamed one is never going to be);
/// - noncurrent usage is counted again from what is left.
async fn versions(control: &Control, store: &dyn ObjectStore, s: &rustshare_control::model::Space) -> anyhow::Result<()> {
    use rustshare_control::db::{ObjectRecord, VersionChange};
    use rustshare_control::versioning;
    use rustshare_store::Error as StoreError;
    for (key, kept) in control.pending_versions(&s.id).await? {
        let Some(lease) = control.try_lease(&versioning::key_lease(&s.id, &key), KEY_LEASE).await? else {
            continue;
        };
        let full = format!("{}{key}", s.base_prefix);
        let copy = s.version_key(&kept.store_name);
        let st = control.version_state(&s.id, &key).await?;
        let (state, current) = (st.versioning, st.current);
        let current_id = current.as_ref().map(|c| c.version_id.clone());
        let copied = match store.head(&copy).await {
            Ok(_) => true,
            Err(StoreError::NotFound) => false,
            Err(e) => return Err(e.into()),
        };
        let at_key = match store.head(&full).await {
            Ok(m) => Some(m),
            Err(StoreError::NotFound) => None,
            Err(e) => return Err(e.into()),
        };
        let landed = match at_key {
            // No copy: the change never started.
            _ if !copied => None,
            // The key still holds the version that was kept: nothing landed.
            Some(m) if m.etag == kept.etag => None,
            Some(m) => {
                let plan = versioning::on_write(state, current_id.as_deref(), &rustshare_control::new_version_id());
                Some(VersionChange {
                    drop_null: plan.drop_null,
                    current: Some(ObjectRecord {
                        size: m.size,
                        version_id: Some(plan.id),
                        etag: Some(m.etag),
                        modified: Some(m.last_modified),
                        ..ObjectRecord::default()
                    }),
                    ..VersionChange::default()
                })
            }
            None => {
                let plan = versioning::on_delete(state, current_id.as_deref(), &rustshare_control::new_version_id());
                Some(VersionChange {
                    drop_null: plan.drop_null,
                    marker: plan.marker,
                    ..VersionChange::default()
                })
            }
        };
        match landed {
            Some(mut change) if current.is_some() => {
                tracing::info!(space = %s.bucket, "finishing a versioned change a stopped process left");
                change.preserve = Some(kept);
                let freed = control.change_versions(&s.id, &key, change).await?;
                store.delete_batch(freed.iter().map(|n| s.version_key(n)).collect()).await?;
            }
            _ => {
                store.delete(&copy).await?;
                control.drop_pending(&s.id, &kept.store_name).await?;
            }
        }
        lease.hold(KEY_LEASE).release().await;
    }
    let prefix = s.versions_prefix();
    let stored: std::collections::HashSet<String> = list_all(store, &prefix).await?.into_iter().map(|(k, _)| k).collect();
    let rows = control.version_store_names(&s.id).await?;
    let names: std::collections::HashSet<&str> = rows.iter().map(|(n, _, _)| n.as_str()).collect();
    let missing: Vec<String> = names.iter().filter(|n| !stored.contains(**n)).map(|n| (*n).to_owned()).collect();
    let orphans: Vec<String> = stored
        .iter()
        .filter(|n| !names.contains(n.as_str()))
        .map(|n| format!("{prefix}{n}"))
        .collect();
    if !missing.is_empty() || !orphans.is_empty() {
        tracing::info!(space = %s.bucket, missing = missing.len(), orphans = orphans.len(), "versions reconciled with the store");
    }
    store.delete_batch(orphans).await?;
    control.forget_versions(&s.id, missing).await?;
    Ok(())
}

/// Reconciles every space.
///
/// # Errors
/// Store and database errors, naming the space.
pub async fn run(control: &Control, store: &Arc<dyn ObjectStore>) -> anyhow::Result<Vec<Reconciled>> {
    use anyhow::Context as _;
    // Published repository data lives outside the spaces' keys and counts against them: measured
    // first, so each space's figures below include it.
    let repos = control.all_repositories().await?;
    let publisher = rustshare_publisher::Publisher::new(store.clone(), control.clone());
    for r in repos {
        publisher
            .account(&r)
            .await
            .with_context(|| format!("measuring the published bytes of repository {}", r.name))?;
    }
    let spaces = control.all_spaces().await?;
    let mut out = Vec::with_capacity(spaces.len());
    for s in spaces {
        let entries = list_all(store.as_ref(), &s.base_prefix)
            .await
            .with_context(|| format!("listing space {}", s.bucket))?;
        versions(control, store.as_ref(), &s)
            .await
            .with_context(|| format!("reconciling the versions of space {}", s.bucket))?;
        let uploads = uploads_in_store(control, store.as_ref(), &s)
            .await
            .with_context(|| format!("listing the uploads in progress of space {}", s.bucket))?;
        let (before, after) = control
            .reconcile_space(&s.id, &entries, &uploads)
            .await
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
