//! Object versioning, decided here and nowhere else: what a write or a delete does to a key's
//! versions in each state of the space ([`on_write`], [`on_delete`]), which version ids a client
//! may name ([`check_id`]), and how a `ListObjectVersions` page is cut from rows in key order
//! ([`Paginator`]). Pure: no IO; the S3 face does the store work the plans name, and
//! [`crate::db::VersionRepo`] the rows.
//!
//! The current version of a key lives at the key itself (so the CDN and packages faces, which
//! serve current versions only, read it as before); a version that stops being current is
//! first copied beside the space ([`crate::model::Space::version_key`]) and then recorded as
//! noncurrent.

use crate::db::VersionRow;
use crate::model::Versioning;

/// The id S3 gives versions written while versioning was off or suspended.
pub const NULL_VERSION: &str = "null";

/// The name of the cluster lease one writer of a key holds (conditional writes, every write
/// and delete in a versioned space, and reconciliation finishing a change a killed process
/// left): the space and a digest of the key, so that no key reaches the lease table.
#[must_use]
pub fn key_lease(space_id: &str, key: &str) -> String {
    use sha2::Digest as _;
    format!("write:{space_id}:{}", hex::encode(sha2::Sha256::digest(key.as_bytes())))
}

/// Longest version id accepted from a client.
const MAX_ID: usize = 128;

/// Checks a client-supplied version id: `null`, or up to 128 of `A-Z a-z 0-9 . _ -` (ours are
/// 32 alphanumerics; anything else that could be an id is looked up and not found).
///
/// # Errors
/// A message for S3's `InvalidArgument`.
pub fn check_id(v: &str) -> Result<(), &'static str> {
    if v.is_empty() || v.len() > MAX_ID || !v.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-')) {
        return Err("Invalid version id specified");
    }
    Ok(())
}

/// What a write does to the key's versions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WritePlan {
    /// The new current version's id.
    pub id: String,
    /// The current version stays as a noncurrent one (its bytes copied beside the space before
    /// the write replaces them).
    pub preserve: bool,
    /// A noncurrent `null` version is replaced by this write.
    pub drop_null: bool,
}

/// What a write does, given the space's state and the key's current version id (`None`: no
/// current version). `fresh` is a new id, used when the state gives versions ids.
#[must_use]
pub fn on_write(state: Versioning, current: Option<&str>, fresh: &str) -> WritePlan {
    match state {
        Versioning::Unversioned => WritePlan {
            id: NULL_VERSION.to_owned(),
            preserve: false,
            drop_null: false,
        },
        Versioning::Enabled => WritePlan {
            id: fresh.to_owned(),
            preserve: current.is_some(),
            drop_null: false,
        },
        // The write is the `null` version: a current `null` version is overwritten, any other
        // current one is kept, and a noncurrent `null` one is replaced.
        Versioning::Suspended => WritePlan {
            id: NULL_VERSION.to_owned(),
            preserve: current.is_some_and(|v| v != NULL_VERSION),
            drop_null: true,
        },
    }
}

/// What a delete without a version id does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeletePlan {
    /// A delete marker with this id becomes the current version (`None`: the object is simply
    /// removed, as in a space never versioned).
    pub marker: Option<String>,
    /// The current version stays as a noncurrent one.
    pub preserve: bool,
    /// A noncurrent `null` version is replaced by the marker.
    pub drop_null: bool,
}

/// What a delete without a version id does, given the state and the key's current version.
#[must_use]
pub fn on_delete(state: Versioning, current: Option<&str>, fresh: &str) -> DeletePlan {
    match state {
        Versioning::Unversioned => DeletePlan {
            marker: None,
            preserve: false,
            drop_null: false,
        },
        Versioning::Enabled => DeletePlan {
            marker: Some(fresh.to_owned()),
            preserve: current.is_some(),
            drop_null: false,
        },
        Versioning::Suspended => DeletePlan {
            marker: Some(NULL_VERSION.to_owned()),
            preserve: current.is_some_and(|v| v != NULL_VERSION),
            drop_null: true,
        },
    }
}

/// Whether a state change is allowed: a space never returns to unversioned.
///
/// # Errors
/// A message saying what to do instead.
pub fn check_transition(from: Versioning, to: Versioning) -> Result<(), &'static str> {
    if to == Versioning::Unversioned && from != Versioning::Unversioned {
        return Err("a space whose versioning was enabled cannot be unversioned again; suspend it instead");
    }
    Ok(())
}

/// One entry of a version listing: a version, or a common prefix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Listed {
    /// A version (with whether it is the key's latest).
    Version(Box<VersionRow>, bool),
    /// Keys rolled up under a delimiter.
    Prefix(String),
}

/// Where a listing resumes: after this key's version of this rank (or after the whole key).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cursor {
    /// The key.
    pub key: String,
    /// Resume below this rank within the key; `None`: after every version of the key.
    pub below: Option<i64>,
}

/// Cuts one `ListObjectVersions` page out of rows fed in S3's order (key ascending, newest
/// version first), with prefix, delimiter and a page size. The caller fetches rows in batches
/// from [`Paginator::start`] and feeds them until [`Paginator::feed`] says the page is done.
#[derive(Debug)]
pub struct Paginator {
    prefix: String,
    delimiter: Option<String>,
    max: usize,
    after: Option<Cursor>,
    /// The key whose rows were seen last, so that only a key's first row can be its latest.
    last_key: Option<String>,
    /// Entries so far.
    pub out: Vec<Listed>,
    /// Set when the page filled with rows left over.
    pub truncated: bool,
    /// Where the next request resumes (S3's `NextKeyMarker`, `NextVersionIdMarker`).
    pub next: Option<(String, Option<String>)>,
    /// Past the prefix: nothing more can match.
    pub done: bool,
}

impl Paginator {
    /// A page of at most `max` entries (versions and prefixes) under `prefix`, resuming after
    /// `after`.
    #[must_use]
    pub fn new(prefix: &str, delimiter: Option<&str>, max: usize, after: Option<Cursor>) -> Self {
        Paginator {
            prefix: prefix.to_owned(),
            delimiter: delimiter.filter(|d| !d.is_empty()).map(str::to_owned),
            max,
            last_key: after.as_ref().filter(|c| c.below.is_some()).map(|c| c.key.clone()),
            after,
            out: Vec::new(),
            truncated: false,
            next: None,
            done: false,
        }
    }

    /// Where the next batch of rows should start: this key (inclusive), and within it only
    /// versions below this rank.
    #[must_use]
    pub fn start(&self) -> (String, Option<i64>) {
        let mut start = (self.prefix.clone(), None);
        if let Some(a) = &self.after
            && a.key >= start.0
        {
            start = (a.key.clone(), a.below);
            if a.below.is_none() {
                // After the whole key: anything longer sorts after it.
                start.0.push('\0');
            }
        }
        if let Some(Listed::Prefix(p)) = self.out.last() {
            // Everything under the prefix rolled up is skipped.
            let past = format!("{p}\u{10FFFF}");
            if past > start.0 {
                start = (past, None);
            }
        }
        start
    }

    /// The rows up to `key`'s version of `rank` were fed: the next batch starts after them.
    pub fn resume_at(&mut self, key: String, rank: i64) {
        if matches!(self.out.last(), Some(Listed::Prefix(p)) if key.starts_with(p.as_str())) {
            return;
        }
        self.after = Some(Cursor { key, below: Some(rank) });
    }

    /// Feeds one row; answers `false` once the page is complete (or past the prefix).
    pub fn feed(&mut self, row: VersionRow) -> bool {
        if self.done {
            return false;
        }
        if let Some(a) = &self.after {
            let skip = match a.below {
                None => row.key <= a.key,
                Some(rank) => row.key < a.key || (row.key == a.key && row.rank >= rank),
            };
            if skip {
                return true;
            }
        }
        if !row.key.starts_with(&self.prefix) {
            if row.key > self.prefix {
                self.done = true;
                return false;
            }
            return true;
        }
        let rolled = self.delimiter.as_ref().and_then(|d| {
            let rest = &row.key[self.prefix.len()..];
            rest.find(d.as_str()).map(|i| format!("{}{}", self.prefix, &rest[..i + d.len()]))
        });
        if let Some(p) = rolled {
            if matches!(self.out.last(), Some(Listed::Prefix(q)) if *q == p) {
                return true;
            }
            if self.out.len() == self.max {
                self.truncated = true;
                self.done = true;
                return false;
            }
            self.next = Some((p.clone(), None));
            self.after = Some(Cursor {
                key: p.clone(),
                below: None,
            });
            self.out.push(Listed::Prefix(p));
            self.last_key = None;
            return true;
        }
        if self.out.len() == self.max {
            self.truncated = true;
            self.done = true;
            return false;
        }
        let first = self.last_key.as_deref() != Some(row.key.as_str());
        let latest = first && (row.is_current() || row.delete_marker);
        self.last_key = Some(row.key.clone());
        self.next = Some((row.key.clone(), Some(row.version_id.clone())));
        self.out.push(Listed::Version(Box::new(row), latest));
        true
    }
}

/// Merges a batch of current rows and a batch of noncurrent rows (each in order, each cut at
/// `limit`) into S3's order, keeping only what is certainly complete: a side that came back
/// full may have more rows after its last one. Answers the merged rows and whether either
/// side may have more.
#[must_use]
pub fn merge(current: Vec<VersionRow>, noncurrent: Vec<VersionRow>, limit: usize) -> (Vec<VersionRow>, bool) {
    let order = |r: &VersionRow| (r.key.clone(), std::cmp::Reverse(r.rank));
    let cut_c = (current.len() >= limit).then(|| current.last().map(order)).flatten();
    let cut_n = (noncurrent.len() >= limit).then(|| noncurrent.last().map(order)).flatten();
    let cut = match (cut_c, cut_n) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    };
    let mut all: Vec<VersionRow> = current.into_iter().chain(noncurrent).collect();
    all.sort_by(|a, b| a.key.as_bytes().cmp(b.key.as_bytes()).then(b.rank.cmp(&a.rank)));
    if let Some(cut) = &cut {
        all.retain(|r| order(r) <= *cut);
    }
    (all, cut.is_some())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(key: &str, vid: &str, rank: i64, marker: bool) -> VersionRow {
        VersionRow {
            key: key.into(),
            version_id: vid.into(),
            rank,
            delete_marker: marker,
            size: 1,
            etag: None,
            modified: None,
            noncurrent_at: None,
            store_name: None,
            parts: None,
            tags: None,
            checksum: None,
            lock: crate::lock::ObjectLock::default(),
        }
    }

    #[test]
    fn writes_keep_what_s3_keeps_in_each_state() {
        let w = on_write(Versioning::Unversioned, Some("null"), "v2");
        assert_eq!((w.id.as_str(), w.preserve, w.drop_null), ("null", false, false));
        let w = on_write(Versioning::Enabled, Some("null"), "v2");
        assert_eq!((w.id.as_str(), w.preserve, w.drop_null), ("v2", true, false));
        let w = on_write(Versioning::Enabled, None, "v2");
        assert!(!w.preserve);
        // Suspended: the null version is overwritten, a real one kept, a noncurrent null replaced.
        let w = on_write(Versioning::Suspended, Some("null"), "v2");
        assert_eq!((w.id.as_str(), w.preserve, w.drop_null), ("null", false, true));
        let w = on_write(Versioning::Suspended, Some("v1"), "v2");
        assert_eq!((w.id.as_str(), w.preserve, w.drop_null), ("null", true, true));
    }

    #[test]
    fn deletes_leave_markers_only_in_versioned_spaces() {
        let d = on_delete(Versioning::Unversioned, Some("null"), "m");
        assert_eq!((d.marker, d.preserve), (None, false));
        let d = on_delete(Versioning::Enabled, Some("v1"), "m");
        assert_eq!((d.marker.as_deref(), d.preserve, d.drop_null), (Some("m"), true, false));
        let d = on_delete(Versioning::Enabled, None, "m");
        assert_eq!((d.marker.as_deref(), d.preserve), (Some("m"), false));
        let d = on_delete(Versioning::Suspended, Some("null"), "m");
        assert_eq!((d.marker.as_deref(), d.preserve, d.drop_null), (Some("null"), false, true));
        let d = on_delete(Versioning::Suspended, Some("v1"), "m");
        assert_eq!((d.marker.as_deref(), d.preserve), (Some("null"), true));
    }

    #[test]
    fn version_ids_from_clients_are_checked() {
        assert!(check_id("null").is_ok());
        assert!(check_id("AbC123_-.x").is_ok());
        for bad in ["", "a/b", "a b", "../x", "ü", &"a".repeat(129)] {
            assert!(check_id(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn no_way_back_to_unversioned() {
        assert!(check_transition(Versioning::Enabled, Versioning::Unversioned).is_err());
        assert!(check_transition(Versioning::Suspended, Versioning::Unversioned).is_err());
        assert!(check_transition(Versioning::Unversioned, Versioning::Unversioned).is_ok());
        assert!(check_transition(Versioning::Suspended, Versioning::Enabled).is_ok());
        assert!(check_transition(Versioning::Enabled, Versioning::Suspended).is_ok());
    }

    fn feed_all(p: &mut Paginator, rows: Vec<VersionRow>) {
        for r in rows {
            if !p.feed(r) {
                break;
            }
        }
    }

    fn names(p: &Paginator) -> Vec<String> {
        p.out
            .iter()
            .map(|l| match l {
                Listed::Version(r, latest) => format!("{}@{}{}", r.key, r.version_id, if *latest { "*" } else { "" }),
                Listed::Prefix(p) => format!("{p}/"),
            })
            .collect()
    }

    fn sample() -> Vec<VersionRow> {
        vec![
            row("a", "a3", VersionRow::CURRENT, false),
            row("a", "a2", 2, false),
            row("a", "a1", 1, false),
            row("b", "bm", 2, true),
            row("b", "b1", 1, false),
            row("d/x", "x1", VersionRow::CURRENT, false),
            row("d/y", "y1", VersionRow::CURRENT, false),
            row("e", "e1", 1, false),
        ]
    }

    #[test]
    fn pages_mark_latest_and_resume_inside_a_key() {
        let mut p = Paginator::new("", None, 4, None);
        feed_all(&mut p, sample());
        assert_eq!(names(&p), ["a@a3*", "a@a2", "a@a1", "b@bm*"]);
        assert!(p.truncated);
        let (k, v) = p.next.clone().expect("next");
        assert_eq!((k.as_str(), v.as_deref()), ("b", Some("bm")));
        // Resume after b's marker (rank 2): b1 is not latest, and nothing before it repeats.
        let mut p = Paginator::new(
            "",
            None,
            10,
            Some(Cursor {
                key: "b".into(),
                below: Some(2),
            }),
        );
        feed_all(&mut p, sample());
        assert_eq!(names(&p), ["b@b1", "d/x@x1*", "d/y@y1*", "e@e1"]);
        assert!(!p.truncated);
    }

    #[test]
    fn delimiters_roll_up_and_prefixes_bound_the_page() {
        let mut p = Paginator::new("", Some("/"), 10, None);
        feed_all(&mut p, sample());
        assert_eq!(names(&p), ["a@a3*", "a@a2", "a@a1", "b@bm*", "b@b1", "d//", "e@e1"]);
        let mut p = Paginator::new("d/", None, 10, None);
        assert_eq!(p.start(), ("d/".to_owned(), None));
        feed_all(&mut p, sample());
        assert_eq!(names(&p), ["d/x@x1*", "d/y@y1*"]);
        assert!(p.done && !p.truncated);
        // A rolled-up prefix moves the next batch past everything under it.
        let mut p = Paginator::new("", Some("/"), 10, None);
        feed_all(&mut p, sample()[..6].to_vec());
        let (start, below) = p.start();
        assert!(start.starts_with("d/") && start.as_str() > "d/y" && below.is_none());
    }

    #[test]
    fn merging_stops_where_a_full_side_may_continue() {
        let cur = vec![
            row("a", "a3", VersionRow::CURRENT, false),
            row("c", "c1", VersionRow::CURRENT, false),
        ];
        let non = vec![row("a", "a2", 2, false), row("b", "b1", 1, false)];
        // Both sides full (limit 2): rows after b@1 might be missing from the noncurrent side.
        let (rows, more) = merge(cur.clone(), non.clone(), 2);
        let got: Vec<_> = rows.iter().map(|r| r.version_id.as_str()).collect();
        assert_eq!(got, ["a3", "a2", "b1"]);
        assert!(more);
        let (rows, more) = merge(cur, non, 3);
        assert_eq!(rows.len(), 4);
        assert!(!more);
    }
}
