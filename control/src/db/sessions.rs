//! SessionRepo over SQL (SQLite and PostgreSQL alike).

use super::*;

impl<B: Backend> SessionRepo for SqlRepo<B> {
    fn insert_session(&self, s: &SessionRecord) -> Result<()> {
        self.db.with(|c| {
            c.exec(
                "INSERT INTO console_sessions(id_hash, token_id, csrf, created_at, expires_at) VALUES (?1, ?2, ?3, ?4, ?5)",
                p![&s.id_hash, &s.token_id, &s.csrf, s.created_at, s.expires_at],
            )?;
            Ok(())
        })
    }

    fn session_by_hash(&self, hash: &str, now: OffsetDateTime) -> Result<Option<(SessionRecord, AdminPrincipal)>> {
        self.db.with(|c| {
            one(
                c,
                "SELECT s.id_hash, s.token_id, s.csrf, s.created_at, s.expires_at, t.name, t.tenant_id
                 FROM console_sessions s JOIN admin_tokens t ON t.id = s.token_id
                 WHERE s.id_hash = ?1 AND s.expires_at > ?2 AND t.revoked_at IS NULL",
                p![hash, now],
                |mut r| {
                    let token_id = r.text(1)?;
                    Ok((
                        SessionRecord {
                            id_hash: r.text(0)?,
                            token_id: token_id.clone(),
                            csrf: r.text(2)?,
                            created_at: r.time(3)?,
                            expires_at: r.time(4)?,
                        },
                        AdminPrincipal {
                            token_id,
                            name: r.text(5)?,
                            tenant_id: r.opt_text(6)?,
                        },
                    ))
                },
            )
        })
    }

    fn delete_session(&self, hash: &str) -> Result<()> {
        self.db.with(|c| {
            c.exec("DELETE FROM console_sessions WHERE id_hash = ?1", p![hash])?;
            Ok(())
        })
    }

    fn purge_sessions(&self, now: OffsetDateTime) -> Result<u64> {
        self.db
            .with(|c| Ok(c.exec("DELETE FROM console_sessions WHERE expires_at <= ?1", p![now])?))
    }

    fn add_traffic(&self, samples: &[TrafficSample]) -> Result<()> {
        self.db.with(|c| {
            c.tx(|c| {
                for s in samples {
                    c.exec(
                        "INSERT INTO traffic(space_id, minute, bytes_in, bytes_out, requests) VALUES (?1, ?2, ?3, ?4, ?5)
                         ON CONFLICT(space_id, minute) DO UPDATE SET bytes_in = traffic.bytes_in + excluded.bytes_in,
                            bytes_out = traffic.bytes_out + excluded.bytes_out, requests = traffic.requests + excluded.requests",
                        p![&s.space_id, s.minute, s.bytes_in, s.bytes_out, s.requests],
                    )?;
                }
                Ok(())
            })
        })
    }

    fn traffic(&self, space_id: &str, since: OffsetDateTime) -> Result<Vec<TrafficSample>> {
        self.db.with(|c| {
            all(
                c,
                "SELECT minute, bytes_in, bytes_out, requests FROM traffic WHERE space_id = ?1 AND minute >= ?2 ORDER BY minute",
                p![space_id, since],
                |mut r| {
                    Ok(TrafficSample {
                        space_id: space_id.to_owned(),
                        minute: r.time(0)?,
                        bytes_in: r.size(1)?,
                        bytes_out: r.size(2)?,
                        requests: r.size(3)?,
                    })
                },
            )
        })
    }
}
