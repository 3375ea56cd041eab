//! LifecycleRepo over SQL (SQLite and PostgreSQL alike).

use super::*;
use crate::lifecycle::LifecycleRule;

impl<B: Backend> LifecycleRepo for SqlRepo<B> {
    fn lifecycle(&self, space_id: &str) -> Result<Option<Vec<LifecycleRule>>> {
        self.db.with(|c| {
            one(c, "SELECT rules FROM lifecycle_rules WHERE space_id = ?1", p![space_id], |mut r| {
                r.json(0)
            })
        })
    }

    fn set_lifecycle(&self, space_id: &str, rules: Option<&[LifecycleRule]>, now: OffsetDateTime) -> Result<()> {
        let json = rules.map(|r| json_text(&r, "lifecycle rules")).transpose()?;
        self.db.with(|c| {
            match &json {
                Some(j) => c.exec(
                    "INSERT INTO lifecycle_rules(space_id, rules, updated_at) VALUES (?1, ?2, ?3)
                     ON CONFLICT(space_id) DO UPDATE SET rules = excluded.rules, updated_at = excluded.updated_at",
                    p![space_id, j, now],
                )?,
                None => c.exec("DELETE FROM lifecycle_rules WHERE space_id = ?1", p![space_id])?,
            };
            Ok(())
        })
    }

    fn spaces_with_lifecycle(&self) -> Result<Vec<(Space, Vec<LifecycleRule>)>> {
        let cols = SPACE_COLS.split(", ").map(|c| format!("s.{c}")).collect::<Vec<_>>();
        // The rules come after the space's columns, however many those are.
        let rules_at = cols.len();
        let cols = cols.join(", ");
        self.db.with(|c| {
            all(
                c,
                &format!(
                    "SELECT {cols}, l.rules FROM spaces s JOIN lifecycle_rules l ON l.space_id = s.id
                     WHERE s.disabled_at IS NULL ORDER BY s.id"
                ),
                p![],
                |mut r| {
                    let rules = r.json(rules_at)?;
                    Ok((space_row(r)?, rules))
                },
            )
        })
    }
}
