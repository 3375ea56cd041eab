//! Which tags a namespace's retention rules delete. Pure: tags and their times in, tags out.

use rustshare_control::model::RetentionRules;
use time::OffsetDateTime;

/// Whether `tag` matches `pattern`, where `*` stands for any run of characters.
#[must_use]
pub fn matches(pattern: &str, tag: &str) -> bool {
    let parts: Vec<&str> = pattern.split('*').collect();
    if parts.len() == 1 {
        return pattern == tag;
    }
    let (first, last) = (parts[0], parts[parts.len() - 1]);
    if !tag.starts_with(first) || tag.len() < first.len() + last.len() || !tag.ends_with(last) {
        return false;
    }
    let mut rest = &tag[first.len()..tag.len() - last.len()];
    for mid in &parts[1..parts.len() - 1] {
        match rest.find(mid) {
            Some(i) => rest = &rest[i + mid.len()..],
            None => return false,
        }
    }
    true
}

/// The tags of one repository to delete: never a protected one; of the others, those beyond
/// the newest `keep_last` (counting every tag, newest first) or older than `max_age_days`.
#[must_use]
pub fn expired(rules: &RetentionRules, tags: &[(String, OffsetDateTime)], now: OffsetDateTime) -> Vec<String> {
    let mut by_age: Vec<&(String, OffsetDateTime)> = tags.iter().collect();
    // Newest first; equal times by name so the outcome does not depend on input order.
    by_age.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    by_age
        .iter()
        .enumerate()
        .filter(|(_, (tag, _))| !rules.protect.iter().any(|p| matches(p, tag)))
        .filter(|(rank, (_, created))| {
            let beyond = rules.keep_last.is_some_and(|n| *rank >= n as usize);
            let old = rules
                .max_age_days
                .is_some_and(|d| now - *created > time::Duration::days(i64::from(d)));
            beyond || old
        })
        .map(|(_, (tag, _))| tag.clone())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn glob_patterns() {
        assert!(matches("latest", "latest"));
        assert!(!matches("latest", "latest2"));
        assert!(matches("v*", "v1.2"));
        assert!(matches("*-stable", "1.0-stable"));
        assert!(matches("release-*-lts", "release-2024-lts"));
        assert!(!matches("release-*-lts", "release-2024"));
        assert!(matches("*", "anything"));
        assert!(!matches("a*a", "a"));
    }

    #[test]
    fn keeps_the_newest_and_the_protected() {
        let now = datetime!(2026-11-25 12:00 UTC);
        let tags: Vec<(String, OffsetDateTime)> = [
            ("1.0", datetime!(2026-11-01 00:00 UTC)),
            ("1.1", datetime!(2026-11-10 00:00 UTC)),
            ("1.2", datetime!(2026-11-20 00:00 UTC)),
            ("latest", datetime!(2026-10-01 00:00 UTC)),
            ("1.3", datetime!(2026-11-24 00:00 UTC)),
        ]
        .into_iter()
        .map(|(t, d)| (t.to_owned(), d))
        .collect();
        let keep2 = RetentionRules {
            keep_last: Some(2),
            max_age_days: None,
            protect: vec!["latest".into()],
        };
        let mut gone = expired(&keep2, &tags, now);
        gone.sort();
        assert_eq!(gone, ["1.0", "1.1"]);
        let young = RetentionRules {
            keep_last: None,
            max_age_days: Some(10),
            protect: vec![],
        };
        let mut gone = expired(&young, &tags, now);
        gone.sort();
        assert_eq!(gone, ["1.0", "1.1", "latest"]);
        assert!(
            expired(&RetentionRules::default(), &tags, now).is_empty(),
            "no rules delete nothing"
        );
    }
}
