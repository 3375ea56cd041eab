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
                |mut r| Ok((repo_row(&mut r)?, r.blob(8)?)),
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
}
