//! ClusterRepo over SQL (SQLite and PostgreSQL alike).

use super::*;

impl<B: Backend> ClusterRepo for SqlRepo<B> {
    fn parallelism(&self) -> usize {
        self.db.parallelism()
    }

    fn ping(&self) -> Result<()> {
        self.db.with(|c| {
            c.rows("SELECT 1", &[])?;
            Ok(())
        })
    }

    fn add_change(&self, at: OffsetDateTime, origin: &str, kind: &str, space_id: Option<&str>, detail: Option<&str>) -> Result<()> {
        self.db.with(|c| {
            c.exec(
                "INSERT INTO changes(at, origin, kind, space_id, detail) VALUES (?1, ?2, ?3, ?4, ?5)",
                p![at, origin, kind, space_id, detail],
            )?;
            Ok(())
        })
    }

    fn changes_after(&self, seq: i64, limit: u32) -> Result<Vec<Change>> {
        self.db.with(|c| {
            all(
                c,
                "SELECT seq, at, origin, kind, space_id, detail FROM changes WHERE seq > ?1 ORDER BY seq LIMIT ?2",
                p![seq, limit],
                |mut r| {
                    Ok(Change {
                        seq: r.int(0)?,
                        at: r.time(1)?,
                        origin: r.text(2)?,
                        kind: r.text(3)?,
                        space_id: r.opt_text(4)?,
                        detail: r.opt_text(5)?,
                    })
                },
            )
        })
    }

    fn last_change(&self) -> Result<i64> {
        self.db.with(|c| {
            Ok(one(c, "SELECT CAST(COALESCE(MAX(seq), 0) AS BIGINT) FROM changes", &[], |mut r| {
                r.int(0)
            })?
            .unwrap_or(0))
        })
    }

    fn prune(&self, before: OffsetDateTime, now: OffsetDateTime) -> Result<u64> {
        self.db.with(|c| {
            let changes = c.exec("DELETE FROM changes WHERE at < ?1", p![before])?;
            let reservations = c.exec("DELETE FROM reservations WHERE expires_at <= ?1", p![now])?;
            let completed = c.exec(
                "DELETE FROM completed_uploads WHERE completed_at < ?1",
                p![now - super::COMPLETED_UPLOADS_KEPT],
            )?;
            Ok(changes + reservations + completed)
        })
    }

    fn try_lease(&self, name: &str, holder: &str, now: OffsetDateTime, until: OffsetDateTime) -> Result<bool> {
        self.db.with(|c| {
            let n = c.exec(
                "INSERT INTO leases(name, holder, expires_at) VALUES (?1, ?2, ?3)
                 ON CONFLICT(name) DO UPDATE SET holder = excluded.holder, expires_at = excluded.expires_at
                 WHERE leases.expires_at <= ?4 OR leases.holder = excluded.holder",
                p![name, holder, until, now],
            )?;
            Ok(n == 1)
        })
    }

    fn release_lease(&self, name: &str, holder: &str) -> Result<()> {
        self.db.with(|c| {
            c.exec("DELETE FROM leases WHERE name = ?1 AND holder = ?2", p![name, holder])?;
            Ok(())
        })
    }

    fn clear_leases(&self) -> Result<u64> {
        self.db.with(|c| Ok(c.exec("DELETE FROM leases", &[])?))
    }

    fn sealed_secrets(&self) -> Result<Vec<(SealedTable, String, Vec<u8>)>> {
        self.db.with(|c| {
            let mut out = Vec::new();
            for t in SealedTable::ALL {
                out.extend(all(c, t.sql().0, &[], |mut r| Ok((t, r.text(0)?, r.blob(1)?)))?);
            }
            Ok(out)
        })
    }

    fn reseal(&self, rows: &[(SealedTable, String, Vec<u8>)]) -> Result<()> {
        self.db.with(|c| {
            c.tx(|c| {
                for (t, id, sealed) in rows {
                    c.exec(t.sql().1, p![sealed.as_slice(), id])?;
                }
                Ok(())
            })
        })
    }
}
