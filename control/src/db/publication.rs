//! PublicationRepo over SQL (SQLite and PostgreSQL alike).

use super::*;

impl<B: Backend> PublicationRepo for SqlRepo<B> {
    fn set_publication(&self, space_id: &str, rules: &PublicationRules, at: OffsetDateTime) -> Result<()> {
        let json = json_text(rules, "publication rules")?;
        self.db.with(|c| {
            c.exec(
                "INSERT INTO publication_rules(space_id, public_name, enabled, rules, updated_at) VALUES (?1, ?2, ?3, ?4, ?5)
                 ON CONFLICT(space_id) DO UPDATE SET public_name = excluded.public_name, enabled = excluded.enabled,
                    rules = excluded.rules, updated_at = excluded.updated_at",
                p![space_id, &rules.public_name, rules.enabled, &json, at],
            )
            .map_err(|e| e.unique_as("a public site with this public_name"))?;
            Ok(())
        })
    }

    fn publication(&self, space_id: &str) -> Result<Option<PublicationRules>> {
        self.db.with(|c| {
            one(
                c,
                "SELECT rules FROM publication_rules WHERE space_id = ?1",
                p![space_id],
                |mut r| r.json(0),
            )
        })
    }

    fn set_cors(&self, space_id: &str, rules: Option<&[crate::cors::CorsRule]>, at: OffsetDateTime) -> Result<()> {
        let json = rules.map(|r| json_text(&r, "CORS rules")).transpose()?;
        self.db.with(|c| {
            match &json {
                Some(j) => c.exec(
                    "INSERT INTO bucket_cors(space_id, rules, updated_at) VALUES (?1, ?2, ?3)
                     ON CONFLICT(space_id) DO UPDATE SET rules = excluded.rules, updated_at = excluded.updated_at",
                    p![space_id, j, at],
                )?,
                None => c.exec("DELETE FROM bucket_cors WHERE space_id = ?1", p![space_id])?,
            };
            Ok(())
        })
    }

    fn cors(&self, space_id: &str) -> Result<Option<Vec<crate::cors::CorsRule>>> {
        self.db.with(|c| {
            one(c, "SELECT rules FROM bucket_cors WHERE space_id = ?1", p![space_id], |mut r| {
                r.json(0)
            })
        })
    }

    fn publication_by_name(&self, public_name: &str) -> Result<Option<(String, PublicationRules)>> {
        self.db.with(|c| {
            one(
                c,
                "SELECT space_id, rules FROM publication_rules WHERE public_name = ?1",
                p![public_name],
                |mut r| Ok((r.text(0)?, r.json(1)?)),
            )
        })
    }
}
