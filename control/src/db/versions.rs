//! VersionRepo over SQL (SQLite and PostgreSQL alike).
//!
//! A key's current version is its `objects` row (`version_id` NULL is the `null` version); its
//! noncurrent versions and delete markers are `object_versions` rows, newest with the highest
//! `seq`. Usage counts both: `bytes`/`objects` the current versions, `noncurrent_bytes`,
//! `noncurrent_objects` and `delete_markers` the rest, changed in the same transaction as the
//! rows.

use super::*;
use crate::lock::{self, ObjectLock};
use crate::versioning::NULL_VERSION;

const CURRENT_COLS: &str = "key, version_id, size, etag, modified, parts, tags, checksum, retain_mode, retain_until, legal_hold";
const NONCURRENT_COLS: &str = "key, version_id, seq, delete_marker, size, etag, modified, noncurrent_at, store_name, parts, tags, checksum, retain_mode, retain_until, legal_hold";

fn lock_at(r: &mut Row, i: usize) -> Result<ObjectLock> {
    let mode = r.opt_text(i)?;
    Ok(lock::from_columns(mode.as_deref(), r.opt_time(i + 1)?, r.bool(i + 2)?))
}

fn current_row(mut r: Row) -> Result<VersionRow> {
    Ok(VersionRow {
        key: r.text(0)?,
        version_id: r.opt_text(1)?.unwrap_or_else(|| NULL_VERSION.to_owned()),
        rank: VersionRow::CURRENT,
        delete_marker: false,
        size: r.size(2)?,
        etag: r.opt_text(3)?,
        modified: r.opt_time(4)?,
        noncurrent_at: None,
        store_name: None,
        parts: r.opt_text(5)?,
        tags: r.opt_text(6)?,
        checksum: r.opt_text(7)?,
        lock: lock_at(&mut r, 8)?,
    })
}

fn noncurrent_row(mut r: Row) -> Result<VersionRow> {
    Ok(VersionRow {
        key: r.text(0)?,
        version_id: r.text(1)?,
        rank: r.int(2)?,
        delete_marker: r.bool(3)?,
        size: r.size(4)?,
        etag: r.opt_text(5)?,
        modified: Some(r.time(6)?),
        noncurrent_at: r.opt_time(7)?,
        store_name: r.opt_text(8)?,
        parts: r.opt_text(9)?,
        tags: r.opt_text(10)?,
        checksum: r.opt_text(11)?,
        lock: lock_at(&mut r, 12)?,
    })
}

fn current_in(c: &mut dyn Conn, space_id: &str, key: &str) -> Result<Option<VersionRow>> {
    one(
        c,
        &format!("SELECT {CURRENT_COLS} FROM objects WHERE space_id = ?1 AND key = ?2"),
        p![space_id, key],
        current_row,
    )
}

fn noncurrent_in(c: &mut dyn Conn, space_id: &str, key: &str, version_id: &str) -> Result<Option<VersionRow>> {
    one(
        c,
        &format!("SELECT {NONCURRENT_COLS} FROM object_versions WHERE space_id = ?1 AND key = ?2 AND version_id = ?3 AND seq > 0"),
        p![space_id, key, version_id],
        noncurrent_row,
    )
}

fn newest_in(c: &mut dyn Conn, space_id: &str, key: &str) -> Result<Option<VersionRow>> {
    one(
        c,
        &format!("SELECT {NONCURRENT_COLS} FROM object_versions WHERE space_id = ?1 AND key = ?2 AND seq > 0 ORDER BY seq DESC LIMIT 1"),
        p![space_id, key],
        noncurrent_row,
    )
}

fn next_seq(c: &mut dyn Conn, space_id: &str, key: &str) -> Result<i64> {
    Ok(one(
        c,
        "SELECT COALESCE(MAX(seq), 0) + 1 FROM object_versions WHERE space_id = ?1 AND key = ?2",
        p![space_id, key],
        |mut r| r.int(0),
    )?
    .unwrap_or(1))
}

/// Removes a noncurrent row and its share of usage; answers it.
fn drop_noncurrent(c: &mut dyn Conn, space_id: &str, key: &str, version_id: &str) -> Result<Option<VersionRow>> {
    let Some(v) = noncurrent_in(c, space_id, key, version_id)? else {
        return Ok(None);
    };
    c.exec(
        "DELETE FROM object_versions WHERE space_id = ?1 AND key = ?2 AND version_id = ?3",
        p![space_id, key, version_id],
    )?;
    if v.delete_marker {
        c.exec(
            "UPDATE usage SET delete_markers = delete_markers - 1 WHERE space_id = ?1",
            p![space_id],
        )?;
    } else {
        c.exec(
            "UPDATE usage SET noncurrent_bytes = noncurrent_bytes - ?2, noncurrent_objects = noncurrent_objects - 1 WHERE space_id = ?1",
            p![space_id, v.size],
        )?;
    }
    Ok(Some(v))
}

fn drop_current(c: &mut dyn Conn, space_id: &str, key: &str) -> Result<()> {
    c.exec("DELETE FROM objects WHERE space_id = ?1 AND key = ?2", p![space_id, key])?;
    Ok(())
}

fn insert_current(c: &mut dyn Conn, space_id: &str, key: &str, rec: &ObjectRecord) -> Result<()> {
    let parts = parts_text(&rec.parts);
    let version = rec.version_id.as_deref().filter(|v| *v != NULL_VERSION);
    let (mode, until, hold) = lock::to_columns(&rec.lock);
    c.exec(
        "INSERT INTO objects(space_id, key, size, parts, tags, checksum, version_id, etag, modified, retain_mode, retain_until, legal_hold)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
        p![
            space_id,
            key,
            rec.size,
            parts.as_deref(),
            rec.tags.stored().as_deref(),
            rec.checksum.as_deref(),
            version,
            rec.etag.as_deref(),
            rec.modified,
            mode,
            until,
            hold
        ],
    )?;
    c.exec(
        "UPDATE usage SET bytes = bytes + ?2, objects = objects + 1 WHERE space_id = ?1",
        p![space_id, rec.size],
    )?;
    Ok(())
}

impl<B: Backend> VersionRepo for SqlRepo<B> {
    fn current_version(&self, space_id: &str, key: &str) -> Result<Option<VersionRow>> {
        self.db.with(|c| current_in(c, space_id, key))
    }

    fn version(&self, space_id: &str, key: &str, version_id: &str) -> Result<Option<VersionRow>> {
        self.db.with(|c| {
            if let Some(cur) = current_in(c, space_id, key)?
                && cur.version_id == version_id
            {
                return Ok(Some(cur));
            }
            noncurrent_in(c, space_id, key, version_id)
        })
    }

    fn newest_noncurrent(&self, space_id: &str, key: &str) -> Result<Option<VersionRow>> {
        self.db.with(|c| newest_in(c, space_id, key))
    }

    fn change_versions(&self, space_id: &str, key: &str, ch: &VersionChange, now: OffsetDateTime) -> Result<Vec<String>> {
        self.db.with(|c| {
            c.tx(|c| {
                lock_usage(c, space_id)?;
                let mut freed = Vec::new();
                if ch.drop_null
                    && let Some(v) = drop_noncurrent(c, space_id, key, NULL_VERSION)?
                {
                    freed.extend(v.store_name);
                }
                let old = current_in(c, space_id, key)?;
                if ch.current.is_some() || ch.marker.is_some() {
                    // The newest marker stops being current now.
                    c.exec(
                        "UPDATE object_versions SET noncurrent_at = ?3 WHERE space_id = ?1 AND key = ?2 AND noncurrent_at IS NULL AND seq > 0",
                        p![space_id, key, now],
                    )?;
                }
                if let Some(old) = &old {
                    drop_current(c, space_id, key)?;
                    c.exec(
                        "UPDATE usage SET bytes = bytes - ?2, objects = objects - 1 WHERE space_id = ?1",
                        p![space_id, old.size],
                    )?;
                    if let Some(p) = &ch.preserve {
                        c.exec(
                            "DELETE FROM object_versions WHERE space_id = ?1 AND key = ?2 AND seq = 0 AND store_name = ?3",
                            p![space_id, key, p.store_name.as_str()],
                        )?;
                        let seq = next_seq(c, space_id, key)?;
                        let (mode, until, hold) = lock::to_columns(&old.lock);
                        c.exec(
                            "INSERT INTO object_versions(space_id, key, version_id, seq, delete_marker, size, etag, modified,
                                noncurrent_at, store_name, parts, tags, checksum, retain_mode, retain_until, legal_hold)
                             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16)",
                            p![
                                space_id,
                                key,
                                &old.version_id,
                                seq,
                                false,
                                p.size,
                                p.etag.as_str(),
                                p.modified,
                                now,
                                p.store_name.as_str(),
                                &old.parts,
                                &old.tags,
                                &old.checksum,
                                mode,
                                until,
                                hold
                            ],
                        )?;
                        c.exec(
                            "UPDATE usage SET noncurrent_bytes = noncurrent_bytes + ?2, noncurrent_objects = noncurrent_objects + 1
                             WHERE space_id = ?1",
                            p![space_id, p.size],
                        )?;
                    }
                }
                if let Some(m) = &ch.marker {
                    let seq = next_seq(c, space_id, key)?;
                    c.exec(
                        "INSERT INTO object_versions(space_id, key, version_id, seq, delete_marker, size, modified)
                         VALUES (?1, ?2, ?3, ?4, ?5, 0, ?6)",
                        p![space_id, key, m.as_str(), seq, true, now],
                    )?;
                    c.exec(
                        "UPDATE usage SET delete_markers = delete_markers + 1 WHERE space_id = ?1",
                        p![space_id],
                    )?;
                }
                if let Some(rec) = &ch.current {
                    insert_current(c, space_id, key, rec)?;
                }
                Ok(freed)
            })
        })
    }

    fn set_lock(&self, space_id: &str, key: &str, version_id: &str, l: &ObjectLock) -> Result<bool> {
        let (mode, until, hold) = lock::to_columns(l);
        self.db.with(|c| {
            let current = current_in(c, space_id, key)?.is_some_and(|cur| cur.version_id == version_id);
            let n = if current {
                c.exec(
                    "UPDATE objects SET retain_mode = ?3, retain_until = ?4, legal_hold = ?5 WHERE space_id = ?1 AND key = ?2",
                    p![space_id, key, mode, until, hold],
                )?
            } else {
                c.exec(
                    "UPDATE object_versions SET retain_mode = ?4, retain_until = ?5, legal_hold = ?6
                     WHERE space_id = ?1 AND key = ?2 AND version_id = ?3 AND seq > 0 AND NOT delete_marker",
                    p![space_id, key, version_id, mode, until, hold],
                )?
            };
            Ok(n > 0)
        })
    }

    fn remove_noncurrent(&self, space_id: &str, key: &str, version_id: &str) -> Result<Option<VersionRow>> {
        self.db.with(|c| {
            c.tx(|c| {
                lock_usage(c, space_id)?;
                drop_noncurrent(c, space_id, key, version_id)
            })
        })
    }

    fn promote(&self, space_id: &str, key: &str, removed: &str, next: Option<&str>) -> Result<()> {
        self.db.with(|c| {
            c.tx(|c| {
                lock_usage(c, space_id)?;
                if let Some(cur) = current_in(c, space_id, key)?
                    && cur.version_id == removed
                {
                    drop_current(c, space_id, key)?;
                    c.exec(
                        "UPDATE usage SET bytes = bytes - ?2, objects = objects - 1 WHERE space_id = ?1",
                        p![space_id, cur.size],
                    )?;
                }
                if let Some(next) = next
                    && let Some(v) = drop_noncurrent(c, space_id, key, next)?
                {
                    let rec = ObjectRecord {
                        size: v.size,
                        parts: v.parts.as_deref().map(parts_of).unwrap_or_default(),
                        tags: crate::tags::TagSet::decode(v.tags.as_deref()),
                        checksum: v.checksum.clone(),
                        version_id: Some(v.version_id.clone()),
                        etag: v.etag.clone(),
                        modified: v.modified,
                        lock: v.lock,
                    };
                    insert_current(c, space_id, key, &rec)?;
                }
                Ok(())
            })
        })
    }

    fn version_rows(&self, space_id: &str, start: &str, below: Option<i64>, limit: usize) -> Result<(Vec<VersionRow>, Vec<VersionRow>)> {
        self.db.with(|c| {
            let o = c.byte_order();
            // The current version ranks above every other: resuming below a rank inside `start`
            // leaves none of that key's.
            let op = if below.is_some() { ">" } else { ">=" };
            let current = all(
                c,
                &format!("SELECT {CURRENT_COLS} FROM objects WHERE space_id = ?1 AND key{o} {op} ?2 ORDER BY key{o} LIMIT ?3"),
                p![space_id, start, limit as u64],
                current_row,
            )?;
            // The rest of `start`'s versions, then the keys after it: two range scans of the
            // (key, seq) index (one query with an OR read the space's whole index each page).
            let mut noncurrent = all(
                c,
                &format!(
                    "SELECT {NONCURRENT_COLS} FROM object_versions WHERE space_id = ?1 AND key = ?2 AND seq > 0 AND seq < ?4
                     ORDER BY seq DESC LIMIT ?3"
                ),
                p![space_id, start, limit as u64, below.unwrap_or(VersionRow::CURRENT)],
                noncurrent_row,
            )?;
            if noncurrent.len() < limit {
                noncurrent.extend(all(
                    c,
                    &format!(
                        "SELECT {NONCURRENT_COLS} FROM object_versions WHERE space_id = ?1 AND key > ?2 AND seq > 0
                         ORDER BY key, seq DESC LIMIT ?3"
                    ),
                    p![space_id, start, (limit - noncurrent.len()) as u64],
                    noncurrent_row,
                )?);
            }
            Ok((current, noncurrent))
        })
    }

    fn pending_version(&self, space_id: &str, key: &str, p: &Preserved, now: OffsetDateTime) -> Result<()> {
        self.db.with(|c| {
            c.exec(
                "INSERT INTO object_versions(space_id, key, version_id, seq, delete_marker, size, etag, modified, noncurrent_at, store_name)
                 VALUES (?1, ?2, ?3, 0, ?4, ?5, ?6, ?7, ?8, ?9)",
                p![
                    space_id,
                    key,
                    format!(":{}", p.store_name).as_str(),
                    false,
                    p.size,
                    p.etag.as_str(),
                    p.modified,
                    now,
                    p.store_name.as_str()
                ],
            )?;
            Ok(())
        })
    }

    fn drop_pending(&self, space_id: &str, store_name: &str) -> Result<()> {
        self.db.with(|c| {
            c.exec(
                "DELETE FROM object_versions WHERE space_id = ?1 AND seq = 0 AND store_name = ?2",
                p![space_id, store_name],
            )?;
            Ok(())
        })
    }

    fn pending_versions(&self, space_id: &str) -> Result<Vec<(String, Preserved)>> {
        self.db.with(|c| {
            all(
                c,
                "SELECT key, store_name, size, etag, modified FROM object_versions WHERE space_id = ?1 AND seq = 0",
                p![space_id],
                |mut r| {
                    Ok((
                        r.text(0)?,
                        Preserved {
                            store_name: r.text(1)?,
                            size: r.size(2)?,
                            etag: r.opt_text(3)?.unwrap_or_default(),
                            modified: r.time(4)?,
                        },
                    ))
                },
            )
        })
    }

    fn purge_versions(&self, space_id: &str, keys: &[String]) -> Result<Vec<String>> {
        self.db.with(|c| {
            c.tx(|c| {
                lock_usage(c, space_id)?;
                let mut freed = Vec::new();
                for k in keys {
                    let ids = all(
                        c,
                        "SELECT version_id FROM object_versions WHERE space_id = ?1 AND key = ?2 AND seq > 0",
                        p![space_id, k],
                        |mut r| r.text(0),
                    )?;
                    for id in ids {
                        if let Some(v) = drop_noncurrent(c, space_id, k, &id)? {
                            freed.extend(v.store_name);
                        }
                    }
                }
                Ok(freed)
            })
        })
    }

    fn version_store_names(&self, space_id: &str) -> Result<Vec<(String, String, u64)>> {
        self.db.with(|c| {
            all(
                c,
                "SELECT store_name, key, size FROM object_versions WHERE space_id = ?1 AND store_name IS NOT NULL",
                p![space_id],
                |mut r| Ok((r.text(0)?, r.text(1)?, r.size(2)?)),
            )
        })
    }

    fn forget_versions(&self, space_id: &str, store_names: &[String]) -> Result<()> {
        self.db.with(|c| {
            c.tx(|c| {
                lock_usage(c, space_id)?;
                for n in store_names {
                    c.exec(
                        "DELETE FROM object_versions WHERE space_id = ?1 AND store_name = ?2 AND seq > 0",
                        p![space_id, n.as_str()],
                    )?;
                }
                c.exec(
                    "UPDATE usage SET
                        noncurrent_bytes = (SELECT CAST(COALESCE(SUM(size), 0) AS BIGINT) FROM object_versions
                            WHERE space_id = ?1 AND NOT delete_marker AND seq > 0),
                        noncurrent_objects = (SELECT COUNT(*) FROM object_versions WHERE space_id = ?1 AND NOT delete_marker AND seq > 0),
                        delete_markers = (SELECT COUNT(*) FROM object_versions WHERE space_id = ?1 AND delete_marker AND seq > 0)
                     WHERE space_id = ?1",
                    p![space_id],
                )?;
                Ok(())
            })
        })
    }
}
