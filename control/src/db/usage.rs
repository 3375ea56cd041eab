//! UsageRepo over SQL (SQLite and PostgreSQL alike).

use super::*;

/// What reconciliation keeps of an object's record.
struct Kept {
    size: u64,
    parts: Option<String>,
    tags: Option<String>,
    checksum: Option<String>,
    version_id: Option<String>,
    etag: Option<String>,
    modified: Option<i64>,
}

impl<B: Backend> UsageRepo for SqlRepo<B> {
    fn usage(&self, space_id: &str) -> Result<Usage> {
        self.db.with(|c| usage_in(c, space_id))
    }

    fn record_object(&self, space_id: &str, key: &str, rec: &ObjectRecord) -> Result<Option<u64>> {
        let size = rec.size;
        let parts = parts_text(&rec.parts);
        let tags = rec.tags.stored();
        let checksum = rec.checksum.as_deref();
        self.db.with(|c| {
            c.tx(|c| {
                lock_usage(c, space_id)?;
                let old = one(
                    c,
                    "SELECT size FROM objects WHERE space_id = ?1 AND key = ?2",
                    p![space_id, key],
                    |mut r| r.size(0),
                )?;
                c.exec(
                    "INSERT INTO objects(space_id, key, size, parts, tags, checksum, version_id, etag, modified)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)
                     ON CONFLICT(space_id, key) DO UPDATE SET size = excluded.size, parts = excluded.parts,
                        tags = excluded.tags, checksum = excluded.checksum, version_id = excluded.version_id,
                        etag = excluded.etag, modified = excluded.modified",
                    p![
                        space_id,
                        key,
                        size,
                        parts.as_deref(),
                        tags.as_deref(),
                        checksum,
                        rec.version_id.as_deref().filter(|v| *v != crate::versioning::NULL_VERSION),
                        rec.etag.as_deref(),
                        rec.modified
                    ],
                )?;
                c.exec(
                    "UPDATE usage SET bytes = bytes + ?2 - ?3, objects = objects + ?4 WHERE space_id = ?1",
                    p![space_id, size, old.unwrap_or(0), u64::from(old.is_none())],
                )?;
                Ok(old)
            })
        })
    }

    fn object_tags(&self, space_id: &str, key: &str) -> Result<Option<Option<String>>> {
        self.db.with(|c| {
            one(
                c,
                "SELECT tags FROM objects WHERE space_id = ?1 AND key = ?2",
                p![space_id, key],
                |mut r| r.opt_text(0),
            )
        })
    }

    fn set_object_tags(&self, space_id: &str, key: &str, tags: Option<&str>) -> Result<bool> {
        self.db.with(|c| {
            let n = c.exec(
                "UPDATE objects SET tags = ?3 WHERE space_id = ?1 AND key = ?2",
                p![space_id, key, tags],
            )?;
            Ok(n > 0)
        })
    }

    fn remove_object(&self, space_id: &str, key: &str) -> Result<Option<u64>> {
        self.db.with(|c| {
            c.tx(|c| {
                lock_usage(c, space_id)?;
                let old = one(
                    c,
                    "DELETE FROM objects WHERE space_id = ?1 AND key = ?2 RETURNING size",
                    p![space_id, key],
                    |mut r| r.size(0),
                )?;
                if let Some(sz) = old {
                    c.exec(
                        "UPDATE usage SET bytes = bytes - ?2, objects = objects - 1 WHERE space_id = ?1",
                        p![space_id, sz],
                    )?;
                }
                Ok(old)
            })
        })
    }

    fn replace_objects(&self, space_id: &str, entries: &[(String, u64)]) -> Result<()> {
        self.db.with(|c| {
            c.tx(|c| {
                lock_usage(c, space_id)?;
                // What the store cannot say (part sizes, tags) is kept for keys that stay, as long
                // as the size still agrees.
                let kept: std::collections::HashMap<String, Kept> = all(
                    c,
                    "SELECT key, size, parts, tags, checksum, version_id, etag, modified FROM objects WHERE space_id = ?1",
                    p![space_id],
                    |mut r| {
                        Ok((
                            r.text(0)?,
                            Kept {
                                size: r.size(1)?,
                                parts: r.opt_text(2)?,
                                tags: r.opt_text(3)?,
                                checksum: r.opt_text(4)?,
                                version_id: r.opt_text(5)?,
                                etag: r.opt_text(6)?,
                                modified: r.opt_int(7)?,
                            },
                        ))
                    },
                )?
                .into_iter()
                .collect();
                c.exec("DELETE FROM objects WHERE space_id = ?1", p![space_id])?;
                let mut bytes = 0u64;
                for (key, size) in entries {
                    let k = kept.get(key);
                    // Part sizes and checksums describe the bytes: kept only if the size agrees.
                    let same = k.filter(|k| k.size == *size);
                    c.exec(
                        "INSERT INTO objects(space_id, key, size, parts, tags, checksum, version_id, etag, modified)
                         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
                        p![
                            space_id,
                            key,
                            *size,
                            same.and_then(|k| k.parts.as_deref()),
                            k.and_then(|k| k.tags.as_deref()),
                            same.and_then(|k| k.checksum.as_deref()),
                            k.and_then(|k| k.version_id.as_deref()),
                            same.and_then(|k| k.etag.as_deref()),
                            same.and_then(|k| k.modified)
                        ],
                    )?;
                    bytes = bytes.saturating_add(*size);
                }
                let n = c.exec(
                    "UPDATE usage SET bytes = ?2, objects = ?3 WHERE space_id = ?1",
                    p![space_id, bytes, entries.len() as u64],
                )?;
                if n == 0 {
                    c.exec(
                        "INSERT INTO usage(space_id, bytes, objects) VALUES (?1, ?2, ?3)",
                        p![space_id, bytes, entries.len() as u64],
                    )?;
                }
                Ok(())
            })
        })
    }

    fn remove_objects(&self, space_id: &str, keys: &[String]) -> Result<()> {
        self.db.with(|c| {
            c.tx(|c| {
                lock_usage(c, space_id)?;
                let (mut bytes, mut count) = (0u64, 0u64);
                for k in keys {
                    if let Some(sz) = one(
                        c,
                        "DELETE FROM objects WHERE space_id = ?1 AND key = ?2 RETURNING size",
                        p![space_id, k],
                        |mut r| r.size(0),
                    )? {
                        bytes += sz;
                        count += 1;
                    }
                }
                c.exec(
                    "UPDATE usage SET bytes = bytes - ?2, objects = objects - ?3 WHERE space_id = ?1",
                    p![space_id, bytes, count],
                )?;
                Ok(())
            })
        })
    }

    fn object_parts(&self, space_id: &str, key: &str) -> Result<Option<Vec<u64>>> {
        let text = self.db.with(|c| {
            one(
                c,
                "SELECT parts FROM objects WHERE space_id = ?1 AND key = ?2",
                p![space_id, key],
                |mut r| r.opt_text(0),
            )
        })?;
        Ok(text.flatten().map(|t| parts_of(&t)))
    }

    fn object_checksum(&self, space_id: &str, key: &str) -> Result<Option<String>> {
        let v = self.db.with(|c| {
            one(
                c,
                "SELECT checksum FROM objects WHERE space_id = ?1 AND key = ?2",
                p![space_id, key],
                |mut r| r.opt_text(0),
            )
        })?;
        Ok(v.flatten())
    }

    fn object_size(&self, space_id: &str, key: &str) -> Result<Option<u64>> {
        self.db.with(|c| {
            one(
                c,
                "SELECT size FROM objects WHERE space_id = ?1 AND key = ?2",
                p![space_id, key],
                |mut r| r.size(0),
            )
        })
    }

    fn insert_upload(&self, x: &UploadRecord) -> Result<()> {
        let lock = if x.lock.is_empty() {
            None
        } else {
            Some(serde_json::to_string(&x.lock).map_err(|e| Error::Db(format!("object lock of an upload: {e}").into()))?)
        };
        self.db.with(|c| {
            c.exec(
                "INSERT INTO uploads(upload_id, space_id, key, identity_id, initiated, tags, checksum_algorithm, object_lock)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                p![
                    &x.upload_id,
                    &x.space_id,
                    &x.key,
                    &x.identity_id,
                    x.initiated,
                    x.tags.as_deref(),
                    x.checksum_algorithm.as_deref(),
                    lock.as_deref()
                ],
            )?;
            Ok(())
        })
    }

    fn upload(&self, upload_id: &str) -> Result<Option<UploadRecord>> {
        self.db.with(|c| {
            one(
                c,
                &format!("SELECT {UPLOAD_COLS} FROM uploads WHERE upload_id = ?1"),
                p![upload_id],
                upload_row,
            )
        })
    }

    fn record_part(&self, upload_id: &str, part: &PartRecord) -> Result<()> {
        self.db.with(|c| {
            c.exec(
                "INSERT INTO upload_parts(upload_id, part_number, size, etag, checksum) VALUES (?1, ?2, ?3, ?4, ?5)
                 ON CONFLICT(upload_id, part_number) DO UPDATE SET size = excluded.size, etag = excluded.etag,
                    checksum = excluded.checksum",
                p![upload_id, part.part_number, part.size, &part.etag, part.checksum.as_deref()],
            )?;
            Ok(())
        })
    }

    fn parts(&self, upload_id: &str) -> Result<Vec<PartRecord>> {
        self.db.with(|c| {
            all(
                c,
                "SELECT part_number, size, etag, checksum FROM upload_parts WHERE upload_id = ?1 ORDER BY part_number",
                p![upload_id],
                |mut r| {
                    Ok(PartRecord {
                        part_number: u32::try_from(r.int(0)?).unwrap_or(0),
                        size: r.size(1)?,
                        etag: r.text(2)?,
                        checksum: r.opt_text(3)?,
                    })
                },
            )
        })
    }

    fn remove_upload(&self, upload_id: &str) -> Result<()> {
        self.db.with(|c| {
            c.tx(|c| {
                c.exec("DELETE FROM upload_parts WHERE upload_id = ?1", p![upload_id])?;
                c.exec("DELETE FROM uploads WHERE upload_id = ?1", p![upload_id])?;
                Ok(())
            })
        })
    }

    fn complete_upload(&self, upload_id: &str, etag: &str, at: OffsetDateTime) -> Result<()> {
        self.db.with(|c| {
            c.tx(|c| {
                c.exec(
                    "INSERT INTO completed_uploads(upload_id, space_id, key, etag, completed_at)
                     SELECT upload_id, space_id, key, ?2, ?3 FROM uploads WHERE upload_id = ?1",
                    p![upload_id, etag, at],
                )?;
                c.exec("DELETE FROM upload_parts WHERE upload_id = ?1", p![upload_id])?;
                c.exec("DELETE FROM uploads WHERE upload_id = ?1", p![upload_id])?;
                Ok(())
            })
        })
    }

    fn completed_upload(&self, upload_id: &str) -> Result<Option<(String, String, String)>> {
        self.db.with(|c| {
            one(
                c,
                "SELECT space_id, key, etag FROM completed_uploads WHERE upload_id = ?1",
                p![upload_id],
                |mut r| Ok((r.text(0)?, r.text(1)?, r.text(2)?)),
            )
        })
    }

    fn replace_parts(&self, upload_id: &str, parts: &[PartRecord]) -> Result<()> {
        self.db.with(|c| {
            c.tx(|c| {
                // A part the store reports as recorded keeps its checksum (the store has none).
                let sums: std::collections::HashMap<(i64, String), Option<String>> = all(
                    c,
                    "SELECT part_number, etag, checksum FROM upload_parts WHERE upload_id = ?1",
                    p![upload_id],
                    |mut r| Ok(((r.int(0)?, r.text(1)?), r.opt_text(2)?)),
                )?
                .into_iter()
                .collect();
                c.exec("DELETE FROM upload_parts WHERE upload_id = ?1", p![upload_id])?;
                for part in parts {
                    let sum = part
                        .checksum
                        .clone()
                        .or_else(|| sums.get(&(i64::from(part.part_number), part.etag.clone())).cloned().flatten());
                    c.exec(
                        "INSERT INTO upload_parts(upload_id, part_number, size, etag, checksum) VALUES (?1, ?2, ?3, ?4, ?5)",
                        p![upload_id, part.part_number, part.size, &part.etag, sum.as_deref()],
                    )?;
                }
                Ok(())
            })
        })
    }

    fn list_uploads(&self, space_id: &str, prefix: &str) -> Result<Vec<UploadRecord>> {
        self.db.with(|c| {
            all(
                c,
                &format!(
                    "SELECT {UPLOAD_COLS} FROM uploads WHERE space_id = ?1 AND substr(key, 1, length(?2)) = ?2 ORDER BY key, initiated"
                ),
                p![space_id, prefix],
                upload_row,
            )
        })
    }

    fn reserve(&self, r: &ReservationRecord, quota: u64, now: OffsetDateTime) -> Result<()> {
        self.db.with(|c| {
            c.tx(|c| {
                lock_usage(c, &r.space_id)?;
                let u = usage_in(c, &r.space_id)?;
                let used = u.counted() + reserved_in(c, &r.space_id, now)?;
                if used.saturating_add(r.bytes) > quota {
                    return Err(Error::QuotaExceeded {
                        used,
                        quota,
                        requested: r.bytes,
                    });
                }
                c.exec(
                    "INSERT INTO reservations(id, space_id, bytes, expires_at, node) VALUES (?1, ?2, ?3, ?4, ?5)",
                    p![&r.id, &r.space_id, r.bytes, r.expires_at, &r.node],
                )?;
                Ok(())
            })
        })
    }

    fn release(&self, id: &str) -> Result<()> {
        self.db.with(|c| {
            c.exec("DELETE FROM reservations WHERE id = ?1", p![id])?;
            Ok(())
        })
    }

    fn reserved(&self, space_id: &str, now: OffsetDateTime) -> Result<u64> {
        self.db.with(|c| reserved_in(c, space_id, now))
    }

    fn renew_reservations(&self, node: &str, until: OffsetDateTime) -> Result<u64> {
        self.db
            .with(|c| Ok(c.exec("UPDATE reservations SET expires_at = ?1 WHERE node = ?2", p![until, node])?))
    }

    fn clear_reservations(&self) -> Result<u64> {
        self.db.with(|c| Ok(c.exec("DELETE FROM reservations", &[])?))
    }
}
