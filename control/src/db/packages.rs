//! PackageRepo over SQL (SQLite and PostgreSQL alike).

use super::*;

impl<B: Backend> PackageRepo for SqlRepo<B> {
    fn insert_repository(&self, r: &Repository, signing_sealed: &[u8]) -> Result<()> {
        let config = json_text(&r.config, "repository config")?;
        self.db.with(|c| {
            c.exec(
                "INSERT INTO repositories(name, tenant_id, space_id, config, signing_sealed, public_key, fingerprint, created_by, created_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
                p![
                    &r.name,
                    &r.tenant_id,
                    &r.space_id,
                    &config,
                    signing_sealed,
                    &r.public_key,
                    &r.fingerprint,
                    &r.created_by,
                    r.created_at
                ],
            )
            .map_err(|e| e.unique_as(&format!("a repository named {:?}", r.name)))?;
            Ok(())
        })
    }

    fn repository(&self, name: &str) -> Result<Option<(Repository, Vec<u8>)>> {
        self.db.with(|c| {
            one(
                c,
                &format!("SELECT {REPO_COLS}, signing_sealed FROM repositories WHERE name = ?1"),
                p![name],
                |mut r| Ok((repo_row(&mut r)?, r.blob(10)?)),
            )
        })
    }

    fn list_repositories(&self, tenant_id: Option<&str>) -> Result<Vec<Repository>> {
        self.db.with(|c| {
            all(
                c,
                &format!("SELECT {REPO_COLS} FROM repositories WHERE CAST(?1 AS TEXT) IS NULL OR tenant_id = ?1 ORDER BY name"),
                p![tenant_id],
                |mut r| repo_row(&mut r),
            )
        })
    }

    fn set_repository_config(&self, name: &str, config: &RepositoryConfig) -> Result<()> {
        let config = json_text(config, "repository config")?;
        self.db.with(|c| {
            c.exec("UPDATE repositories SET config = ?2 WHERE name = ?1", p![name, &config])?;
            Ok(())
        })
    }

    fn set_published_bytes(&self, name: &str, bytes: u64) -> Result<()> {
        self.db.with(|c| {
            let space = one(c, "SELECT space_id FROM repositories WHERE name = ?1", p![name], |mut r| r.text(0))?
                .ok_or(Error::NotFound("repository"))?;
            c.tx(|c| {
                lock_usage(c, &space)?;
                c.exec("UPDATE repositories SET published_bytes = ?2 WHERE name = ?1", p![name, bytes])?;
                Ok(())
            })
        })
    }

    fn next_signing_key(&self, name: &str) -> Result<Option<Vec<u8>>> {
        self.db.with(|c| {
            one(
                c,
                "SELECT next_signing_sealed FROM repositories WHERE name = ?1 AND next_signing_sealed IS NOT NULL",
                p![name],
                |mut r| r.blob(0),
            )
        })
    }

    fn add_next_signing_key(&self, name: &str, sealed: &[u8], public_key: &str, fingerprint: &str) -> Result<bool> {
        self.db.with(|c| {
            let n = c.exec(
                "UPDATE repositories SET next_signing_sealed = ?2, next_public_key = ?3, next_fingerprint = ?4
                 WHERE name = ?1 AND next_signing_sealed IS NULL",
                p![name, sealed, public_key, fingerprint],
            )?;
            Ok(n == 1)
        })
    }

    fn retire_signing_key(&self, name: &str) -> Result<bool> {
        self.db.with(|c| {
            let n = c.exec(
                "UPDATE repositories SET signing_sealed = next_signing_sealed, public_key = next_public_key,
                    fingerprint = next_fingerprint, next_signing_sealed = NULL, next_public_key = NULL, next_fingerprint = NULL
                 WHERE name = ?1 AND next_signing_sealed IS NOT NULL",
                p![name],
            )?;
            Ok(n == 1)
        })
    }
}
