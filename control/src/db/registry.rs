//! RegistryRepo over SQL (SQLite and PostgreSQL alike).

use super::*;

impl<B: Backend> RegistryRepo for SqlRepo<B> {
    fn insert_namespace(&self, n: &RegistryNamespace, events_sealed: &[u8]) -> Result<()> {
        let retention = json_text(&n.retention, "retention")?;
        self.db.with(|c| {
            c.exec(
                "INSERT INTO registry_namespaces(name, tenant_id, space_id, storage_identity_id, public, retention, events_sealed, created_by, created_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
                p![
                    &n.name,
                    &n.tenant_id,
                    &n.space_id,
                    &n.storage_identity_id,
                    n.public,
                    &retention,
                    events_sealed,
                    &n.created_by,
                    n.created_at
                ],
            )
            .map_err(|e| e.unique_as(&format!("a registry namespace named {:?}", n.name)))?;
            Ok(())
        })
    }

    fn namespace(&self, name: &str) -> Result<Option<RegistryNamespace>> {
        self.db.with(|c| {
            one(
                c,
                &format!("SELECT {NS_COLS} FROM registry_namespaces WHERE name = ?1"),
                p![name],
                ns_row,
            )
        })
    }

    fn namespace_events_sealed(&self, name: &str) -> Result<Option<Vec<u8>>> {
        self.db.with(|c| {
            one(
                c,
                "SELECT events_sealed FROM registry_namespaces WHERE name = ?1",
                p![name],
                |mut r| r.blob(0),
            )
        })
    }

    fn list_namespaces(&self, tenant_id: Option<&str>) -> Result<Vec<RegistryNamespace>> {
        self.db.with(|c| {
            all(
                c,
                &format!("SELECT {NS_COLS} FROM registry_namespaces WHERE CAST(?1 AS TEXT) IS NULL OR tenant_id = ?1 ORDER BY name"),
                p![tenant_id],
                ns_row,
            )
        })
    }

    fn set_namespace_settings(&self, name: &str, public: bool, retention: &RetentionRules, upstream: Option<&str>) -> Result<()> {
        let retention = json_text(retention, "retention")?;
        self.db.with(|c| {
            c.exec(
                "UPDATE registry_namespaces SET public = ?2, retention = ?3, upstream = ?4 WHERE name = ?1",
                p![name, public, &retention, upstream],
            )?;
            Ok(())
        })
    }

    fn insert_robot(&self, r: &Robot, secret_hash: &str) -> Result<()> {
        self.db.with(|c| {
            c.exec(
                "INSERT INTO registry_robots(id, namespace, name, username, access, secret_hash, created_by, created_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                p![
                    &r.id,
                    &r.namespace,
                    &r.name,
                    &r.username,
                    r.access.as_str(),
                    secret_hash,
                    &r.created_by,
                    r.created_at
                ],
            )
            .map_err(|e| e.unique_as(&format!("a robot named {:?} in this namespace", r.name)))?;
            Ok(())
        })
    }

    fn robot_by_username(&self, username: &str) -> Result<Option<(Robot, String)>> {
        self.db.with(|c| {
            one(
                c,
                &format!("SELECT {ROBOT_COLS}, secret_hash FROM registry_robots WHERE username = ?1"),
                p![username],
                |mut r| Ok((robot_row(&mut r)?, r.text(8)?)),
            )
        })
    }

    fn list_robots(&self, namespace: &str) -> Result<Vec<Robot>> {
        self.db.with(|c| {
            all(
                c,
                &format!("SELECT {ROBOT_COLS} FROM registry_robots WHERE namespace = ?1 ORDER BY name"),
                p![namespace],
                |mut r| robot_row(&mut r),
            )
        })
    }

    fn revoke_robot(&self, id: &str, at: OffsetDateTime) -> Result<()> {
        self.db.with(|c| {
            c.exec(
                "UPDATE registry_robots SET revoked_at = ?2 WHERE id = ?1 AND revoked_at IS NULL",
                p![id, at],
            )?;
            Ok(())
        })
    }

    fn registry_signing(&self) -> Result<Option<(Vec<u8>, String)>> {
        self.db.with(|c| {
            one(c, "SELECT key_sealed, cert_pem FROM registry_signing WHERE id = 1", &[], |mut r| {
                Ok((r.blob(0)?, r.text(1)?))
            })
        })
    }

    fn init_registry_signing(&self, key_sealed: &[u8], cert_pem: &str) -> Result<()> {
        self.db.with(|c| {
            c.exec(
                "INSERT INTO registry_signing(id, key_sealed, cert_pem) VALUES (1, ?1, ?2) ON CONFLICT DO NOTHING",
                p![key_sealed, cert_pem],
            )?;
            Ok(())
        })
    }
}
