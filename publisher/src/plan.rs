//! What a publish will do, decided without IO: which inspected uploads are accepted, whether any
//! contradicts what is published or already in the pool, and the resulting package set, the
//! change list and the pool files to link. [`crate::Publisher::publish`] reads the store, calls
//! these, and writes what the plan says.

use std::collections::{HashMap, HashSet};
use std::str::FromStr;

use crate::deb::{self, Deb, Digests};
use crate::snapshot::PackageRecord;

/// An upload the inspection accepted, with where it goes.
#[derive(Debug, Clone)]
pub struct Candidate {
    /// Its key in the store (under the incoming prefix).
    pub key: String,
    /// Suite.
    pub dist: String,
    /// Component.
    pub component: String,
    /// What the `.deb` says.
    pub deb: Deb,
}

/// One upload after inspection: its key, its name relative to the incoming prefix, its suite and
/// component, and the package or why it is not one.
pub type Inspected = (String, String, String, String, Result<Deb, String>);

/// What the pool holds at a candidate's pool path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PoolFile {
    /// Nothing yet.
    Absent,
    /// A file of this size and ETag (an MD5 when 32 hex characters; other engines' multipart
    /// ETags say nothing of the content).
    Present {
        /// Bytes.
        size: u64,
        /// ETag without quotes.
        etag: String,
    },
}

/// What a publish writes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    /// The package set of the new snapshot, the parent's order kept, new slots appended.
    pub packages: Vec<PackageRecord>,
    /// For people: `stable: +hello 1.0 (amd64)`, `stable: hello 1.0 -> 1.1 (amd64)`.
    pub changes: Vec<String>,
    /// Uploads identical to what is published.
    pub unchanged: usize,
    /// (incoming key, pool key) to link, each pool file once.
    pub to_copy: Vec<(String, String)>,
    /// (incoming key, pool key, digests) the pool must hold after linking.
    pub expected: Vec<(String, String, Digests)>,
}

/// The uploads the inspection accepted, in key order, and the reasons for the others.
#[must_use]
pub fn accept(inspected: Vec<Inspected>, architectures: &[String]) -> (Vec<Candidate>, Vec<String>) {
    let mut errors = Vec::new();
    let mut candidates = Vec::new();
    for (key, rel, dist, component, r) in inspected {
        match r {
            Err(e) => errors.push(format!("{rel}: {e}")),
            Ok(d) if d.architecture != "all" && !architectures.contains(&d.architecture) => errors.push(format!(
                "{rel}: architecture {} is not one of this repository's ({}, or all)",
                d.architecture,
                architectures.join(", ")
            )),
            Ok(deb) => candidates.push(Candidate { key, dist, component, deb }),
        }
    }
    candidates.sort_by(|a, b| a.key.cmp(&b.key));
    (candidates, errors)
}

/// The pool path (relative to the repository root) of each candidate, for the pool check.
#[must_use]
pub fn pool_paths(candidates: &[Candidate]) -> Vec<String> {
    candidates.iter().map(|c| deb::pool_path(&c.component, &c.deb)).collect()
}

/// Uploads that contradict what is published, or each other: a package, version and
/// architecture must always be the same bytes. Checked before the pool is read, so a refused
/// publish names these together with every other reason.
#[must_use]
pub fn contradictions(incoming: &str, parent: &[PackageRecord], candidates: &[Candidate]) -> Vec<String> {
    let mut errors = Vec::new();
    // Only what the candidates name is looked up: one upload against 100,000 published
    // packages builds a map of one, not of 100,000.
    let named: HashSet<(&str, &str, &str)> = candidates
        .iter()
        .map(|c| (c.deb.package.as_str(), c.deb.version.as_str(), c.deb.architecture.as_str()))
        .collect();
    let mut known: HashMap<(&str, &str, &str), &str> = parent
        .iter()
        .map(|r| ((r.package.as_str(), r.version.as_str(), r.architecture.as_str()), r.sha256.as_str()))
        .filter(|(k, _)| named.contains(k))
        .collect();
    for c in candidates {
        let k = (c.deb.package.as_str(), c.deb.version.as_str(), c.deb.architecture.as_str());
        match known.get(&k) {
            Some(sha) if *sha != c.deb.digests.sha256 => errors.push(format!(
                "{}: {} {} ({}) is already published with different contents; publish it under a new version",
                c.key.strip_prefix(incoming).unwrap_or(&c.key),
                k.0,
                k.1,
                k.2
            )),
            Some(_) => {}
            None => {
                known.insert(k, &c.deb.digests.sha256);
            }
        }
    }
    errors
}

/// Plans a publish of `candidates` over the `parent` snapshot's packages.
///
/// `incoming` is the incoming prefix (stripped from keys in messages), `base` the repository's
/// root in the store, `pool` what the pool holds at each candidate's [`pool_paths`] entry, and
/// `keep` how many versions of a package one distribution, component and architecture hold:
/// with 1 a new version replaces the old one; with more the newest `keep` by Debian version
/// order stay (reprepro's `Limit`), the others leave the snapshot.
///
/// # Errors
/// Every reason the publish must not happen: a package, version and architecture already
/// published (or uploaded twice) with other bytes; a pool file with other contents.
pub fn plan(
    incoming: &str,
    base: &str,
    parent: Vec<PackageRecord>,
    candidates: Vec<Candidate>,
    pool: &[PoolFile],
    keep: usize,
) -> Result<Plan, Vec<String>> {
    let keep = keep.max(1);
    let name = |c: &Candidate| c.key.strip_prefix(incoming).unwrap_or(&c.key).to_owned();
    let mut errors = contradictions(incoming, &parent, &candidates);
    if !errors.is_empty() {
        return Err(errors);
    }
    // Pool files are immutable: one already there must be these bytes.
    let mut in_pool = HashSet::new();
    for (c, p) in candidates.iter().zip(pool) {
        let path = deb::pool_path(&c.component, &c.deb);
        match p {
            PoolFile::Present { size, etag } if *size != c.deb.digests.size || (etag.len() == 32 && *etag != c.deb.digests.md5) => {
                errors.push(format!("{}: {path} already exists in the pool with other contents", name(c)));
            }
            PoolFile::Present { .. } => {
                in_pool.insert(path);
            }
            PoolFile::Absent => {}
        }
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    let mut set = PackageSet::new(parent, keep);
    let mut changes = Vec::new();
    let mut unchanged = 0;
    let mut to_copy = Vec::new();
    let mut expected = Vec::new();
    // The candidates' strings move into the records (100,000 of them are some tens of
    // megabytes that would otherwise be held twice).
    for c in candidates {
        let filename = deb::pool_path(&c.component, &c.deb);
        let digests = c.deb.digests;
        let rec = PackageRecord {
            dist: c.dist,
            component: c.component,
            package: c.deb.package,
            version: c.deb.version,
            architecture: c.deb.architecture,
            filename: filename.clone(),
            size: digests.size,
            md5: digests.md5.clone(),
            sha256: digests.sha256.clone(),
            control: c.deb.control,
            lists: None,
        };
        match set.put(rec, &mut changes) {
            Put::Unchanged => {
                unchanged += 1;
                continue;
            }
            // A version older than every kept one left at once: nothing to pool.
            Put::LeftAtOnce => continue,
            Put::Kept => {}
        }
        if in_pool.insert(filename.clone()) {
            to_copy.push((c.key.clone(), format!("{base}{filename}")));
            expected.push((c.key, format!("{base}{filename}"), digests));
        }
    }
    Ok(Plan {
        packages: set.into_packages(),
        changes,
        unchanged,
        to_copy,
        expected,
    })
}

/// What [`PackageSet::put`] did with a record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Put {
    /// The set already held it as it is.
    Unchanged,
    /// It is in the set (added, or replacing the record of its slot or version).
    Kept,
    /// It was older than every version its slot keeps, and left at once.
    LeftAtOnce,
}

/// A package set being changed by a publish, copy or promotion: the versions of each slot
/// (suite, component, name, architecture) indexed, records that leave marked and dropped at the
/// end, so that many changes stay linear in the set's size.
pub(crate) struct PackageSet {
    packages: Vec<PackageRecord>,
    /// Indices by a hash of their slot (no copies of 400,000 strings for a set of 100,000);
    /// records of another slot that share a hash are told apart by comparing slots.
    slots: HashMap<u64, Vec<usize>>,
    dropped: Vec<bool>,
    keep: usize,
}

fn slot_hash(r: &PackageRecord) -> u64 {
    use std::hash::{Hash as _, Hasher as _};
    let mut h = std::hash::DefaultHasher::new();
    r.slot().hash(&mut h);
    h.finish()
}

impl PackageSet {
    /// `packages`, holding at most `keep` versions per slot from the next change on.
    pub(crate) fn new(packages: Vec<PackageRecord>, keep: usize) -> Self {
        let mut slots: HashMap<u64, Vec<usize>> = HashMap::with_capacity(packages.len());
        for (i, r) in packages.iter().enumerate() {
            slots.entry(slot_hash(r)).or_default().push(i);
        }
        let dropped = vec![false; packages.len()];
        PackageSet {
            packages,
            slots,
            dropped,
            keep: keep.max(1),
        }
    }

    /// Puts `rec` in as a publish does: the same version replaces itself; with a limit of one a
    /// record replaces what holds its slot; with more it is added and the slot keeps its newest
    /// versions (Debian order). Each change is a line in `changes`
    /// (`stable: +hello 2.0 (amd64)`, `stable: hello 1.0 -> 2.0 (amd64)`,
    /// `stable: -hello 0.9 (amd64)`).
    pub(crate) fn put(&mut self, rec: PackageRecord, changes: &mut Vec<String>) -> Put {
        let bucket = self.slots.entry(slot_hash(&rec)).or_default();
        let packages = &mut self.packages;
        let (mut mine, others): (Vec<usize>, Vec<usize>) = bucket.iter().partition(|&&i| packages[i].slot() == rec.slot());
        let idxs = &mut mine;
        let same = idxs.iter().copied().find(|&i| packages[i].version == rec.version);
        let placed = match same.or_else(|| (self.keep == 1).then(|| idxs.first().copied()).flatten()) {
            Some(i) if packages[i].same_package(&rec) => return Put::Unchanged,
            Some(i) => {
                changes.push(format!(
                    "{}: {} {} -> {} ({})",
                    rec.dist, rec.package, packages[i].version, rec.version, rec.architecture
                ));
                packages[i] = rec;
                i
            }
            None => {
                changes.push(format!("{}: +{} {} ({})", rec.dist, rec.package, rec.version, rec.architecture));
                idxs.push(packages.len());
                packages.push(rec);
                self.dropped.push(false);
                packages.len() - 1
            }
        };
        if idxs.len() > self.keep {
            // Newest first; a version that does not parse sorts last, so it is the first to go.
            idxs.sort_by(|&a, &b| {
                let v = |i: usize| debversion::Version::from_str(&packages[i].version).ok();
                v(b).cmp(&v(a))
            });
            for &i in &idxs[self.keep..] {
                self.dropped[i] = true;
                let r = &packages[i];
                changes.push(format!("{}: -{} {} ({})", r.dist, r.package, r.version, r.architecture));
            }
            idxs.truncate(self.keep);
        }
        *bucket = others;
        bucket.extend(mine);
        if self.dropped[placed] { Put::LeftAtOnce } else { Put::Kept }
    }

    /// The set, in its order (the parent's, new slots appended), without what left.
    pub(crate) fn into_packages(self) -> Vec<PackageRecord> {
        self.packages
            .into_iter()
            .zip(self.dropped)
            .filter(|(_, d)| !d)
            .map(|(r, _)| r)
            .collect()
    }
}

/// Which snapshots a retention pass keeps and which it deletes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Retention {
    /// Kept: the current one, the newest `keep`, and any superseded within the grace.
    pub kept: Vec<String>,
    /// Deleted: older than the current one and not kept (or never completed).
    pub dropped: Vec<String>,
}

/// Retention over snapshot `ids` (oldest first; each is its creation time in milliseconds, so a
/// snapshot was current until the next one's id), with `complete[i]` telling whether snapshot
/// `i` has its manifest (one without is an interrupted publish). Keeps the current snapshot,
/// the newest `keep`, and every snapshot superseded less than `grace_ms` before `now_ms`, which
/// clients that fetched its Release may still be reading.
#[must_use]
pub fn retention(ids: &[String], complete: &[bool], current: &str, keep: usize, grace_ms: i128, now_ms: i128) -> Retention {
    let mut kept = Vec::new();
    let mut dropped = Vec::new();
    for (i, id) in ids.iter().enumerate() {
        let done = complete.get(i).copied().unwrap_or(false);
        let superseded_ms = ids.get(i + 1).and_then(|n| n.parse::<i128>().ok()).unwrap_or(now_ms);
        let recent = now_ms - superseded_ms < grace_ms;
        if id == current || (done && (i + keep >= ids.len() || recent)) {
            kept.push(id.clone());
        } else if id.as_str() < current {
            // Newer incomplete snapshots cannot exist under the publish lock; older ones are debris.
            dropped.push(id.clone());
        }
    }
    Retention { kept, dropped }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn deb(package: &str, version: &str, arch: &str, bytes: &[u8]) -> Deb {
        Deb {
            package: package.into(),
            version: version.into(),
            architecture: arch.into(),
            source: package.into(),
            control: format!("Package: {package}\nVersion: {version}\nArchitecture: {arch}\n"),
            digests: Digests::of(bytes),
            files: vec![format!("usr/share/{package}/version")],
        }
    }

    fn cand(key: &str, dist: &str, d: Deb) -> Candidate {
        Candidate {
            key: format!("in/{key}"),
            dist: dist.into(),
            component: "main".into(),
            deb: d,
        }
    }

    fn absent(n: usize) -> Vec<PoolFile> {
        vec![PoolFile::Absent; n]
    }

    #[test]
    fn accept_sorts_and_says_why_it_refused() {
        let archs = vec!["amd64".to_owned()];
        let ok = |k: &str, a: &str| {
            (
                format!("in/{k}"),
                k.to_owned(),
                "stable".to_owned(),
                "main".to_owned(),
                Ok(deb("p", "1", a, k.as_bytes())),
            )
        };
        let (c, e) = accept(
            vec![
                ok("b.deb", "amd64"),
                ok("a.deb", "all"),
                ok("c.deb", "arm64"),
                (
                    "in/d.deb".into(),
                    "d.deb".into(),
                    "stable".into(),
                    "main".into(),
                    Err("not a Debian package".into()),
                ),
            ],
            &archs,
        );
        assert_eq!(c.iter().map(|c| c.key.as_str()).collect::<Vec<_>>(), ["in/a.deb", "in/b.deb"]);
        assert_eq!(
            e,
            [
                "c.deb: architecture arm64 is not one of this repository's (amd64, or all)",
                "d.deb: not a Debian package"
            ]
        );
    }

    #[test]
    fn new_upgraded_and_unchanged_packages() {
        let first = [cand("hello.deb", "stable", deb("hello", "1.0", "amd64", b"h1"))];
        let p1 = plan("in/", "repos/t/r/", Vec::new(), first.to_vec(), &absent(1), 1).expect("plan");
        assert_eq!(p1.changes, ["stable: +hello 1.0 (amd64)"]);
        assert_eq!(
            p1.to_copy,
            [(
                "in/hello.deb".to_owned(),
                "repos/t/r/pool/main/h/hello/hello_1.0_amd64.deb".to_owned()
            )]
        );
        assert_eq!(p1.expected.len(), 1);

        // Again, with the file in the pool: nothing changes, nothing is copied.
        let present = vec![PoolFile::Present {
            size: 2,
            etag: Digests::of(b"h1").md5,
        }];
        let p2 = plan("in/", "repos/t/r/", p1.packages.clone(), first.to_vec(), &present, 1).expect("plan");
        assert_eq!((p2.unchanged, p2.changes.len(), p2.to_copy.len()), (1, 0, 0));
        assert_eq!(p2.packages, p1.packages);

        // An upgrade replaces the slot in place; a new package is appended.
        let next = [
            cand("hello2.deb", "stable", deb("hello", "1.1", "amd64", b"h2")),
            cand("world.deb", "stable", deb("world", "2", "all", b"w")),
        ];
        let p3 = plan("in/", "repos/t/r/", p1.packages.clone(), next.to_vec(), &absent(2), 1).expect("plan");
        assert_eq!(p3.changes, ["stable: hello 1.0 -> 1.1 (amd64)", "stable: +world 2 (all)"]);
        assert_eq!(
            p3.packages
                .iter()
                .map(|r| (r.package.as_str(), r.version.as_str()))
                .collect::<Vec<_>>(),
            [("hello", "1.1"), ("world", "2")]
        );
    }

    /// With a limit of two versions: a newer one is added beside, the oldest leaves, and an
    /// upload older than every kept version leaves at once and is not pooled.
    #[test]
    fn versions_are_kept_up_to_the_limit_newest_first() {
        let up = |v: &str| cand(&format!("hello_{v}.deb"), "stable", deb("hello", v, "amd64", v.as_bytes()));
        let p1 = plan("in/", "r/", Vec::new(), vec![up("1.0")], &absent(1), 2).expect("plan");
        let p2 = plan("in/", "r/", p1.packages.clone(), vec![up("2.0~rc1")], &absent(1), 2).expect("plan");
        assert_eq!(p2.changes, ["stable: +hello 2.0~rc1 (amd64)"]);
        let p3 = plan("in/", "r/", p2.packages.clone(), vec![up("2.0")], &absent(1), 2).expect("plan");
        assert_eq!(p3.changes, ["stable: +hello 2.0 (amd64)", "stable: -hello 1.0 (amd64)"]);
        let versions: Vec<_> = p3.packages.iter().map(|r| r.version.as_str()).collect();
        assert_eq!(versions, ["2.0~rc1", "2.0"]);
        let old = plan("in/", "r/", p3.packages.clone(), vec![up("0.9")], &absent(1), 2).expect("plan");
        assert_eq!(old.changes, ["stable: +hello 0.9 (amd64)", "stable: -hello 0.9 (amd64)"]);
        assert!(
            old.to_copy.is_empty() && old.expected.is_empty(),
            "nothing to pool for a version that left"
        );
        assert_eq!(old.packages, p3.packages);
        // Lowering the limit to one replaces again, as before.
        let p4 = plan("in/", "r/", p3.packages.clone(), vec![up("3.0")], &absent(1), 1).expect("plan");
        assert!(p4.changes.contains(&"stable: +hello 3.0 (amd64)".to_owned()) || p4.changes[0].contains("-> 3.0"));
        assert_eq!(p4.packages.iter().filter(|r| r.version == "3.0").count(), 1);
        assert_eq!(p4.packages.len(), 1, "the limit applies to the slot as it is now");
    }

    #[test]
    fn one_pool_file_for_the_same_package_in_two_distributions() {
        let d = deb("hello", "1.0", "amd64", b"h1");
        let c = [cand("a/hello.deb", "stable", d.clone()), cand("b/hello.deb", "testing", d)];
        let p = plan("in/", "r/", Vec::new(), c.to_vec(), &absent(2), 1).expect("plan");
        assert_eq!(p.packages.len(), 2);
        assert_eq!(p.to_copy.len(), 1, "the second upload of the same file links nothing");
    }

    #[test]
    fn contradictions_are_refused_with_every_reason() {
        let published = plan(
            "in/",
            "r/",
            Vec::new(),
            vec![cand("h.deb", "stable", deb("hello", "1.0", "amd64", b"h1"))],
            &absent(1),
            1,
        )
        .expect("plan")
        .packages;
        // Same version, other bytes: refused, whether against the parent or within one upload.
        let e = plan(
            "in/",
            "r/",
            published.clone(),
            vec![cand("h.deb", "stable", deb("hello", "1.0", "amd64", b"other"))],
            &absent(1),
            1,
        )
        .expect_err("refused");
        assert_eq!(
            e,
            ["h.deb: hello 1.0 (amd64) is already published with different contents; publish it under a new version"]
        );
        let twice = [
            cand("x.deb", "stable", deb("x", "1", "amd64", b"1")),
            cand("y.deb", "testing", deb("x", "1", "amd64", b"2")),
        ];
        assert_eq!(
            plan("in/", "r/", Vec::new(), twice.to_vec(), &absent(2), 1)
                .expect_err("refused")
                .len(),
            1
        );
        // A pool file with other contents (size or MD5 ETag) is refused; a multipart ETag is
        // judged by size only.
        let c = [cand("z.deb", "stable", deb("z", "1", "amd64", b"zz"))];
        let other = |size, etag: &str| {
            vec![PoolFile::Present {
                size,
                etag: etag.to_owned(),
            }]
        };
        let e = plan(
            "in/",
            "r/",
            Vec::new(),
            c.to_vec(),
            &other(2, "00000000000000000000000000000000"),
            1,
        )
        .expect_err("refused");
        assert_eq!(
            e,
            ["z.deb: pool/main/z/z/z_1_amd64.deb already exists in the pool with other contents"]
        );
        assert!(plan("in/", "r/", Vec::new(), c.to_vec(), &other(3, "abc-2"), 1).is_err());
        assert!(plan("in/", "r/", Vec::new(), c.to_vec(), &other(2, "abc-2"), 1).is_ok());
    }

    #[test]
    fn retention_keeps_the_newest_and_the_recently_superseded() {
        let ids: Vec<String> = [1_000, 2_000, 3_000, 4_000, 5_000, 6_000]
            .iter()
            .map(|t| format!("{t:013}"))
            .collect();
        let all = vec![true; ids.len()];
        let current = ids[5].clone();
        // Long after: the newest three stay.
        let r = retention(&ids, &all, &current, 3, 5_000, 100_000);
        assert_eq!(r.kept, ids[3..].to_vec());
        assert_eq!(r.dropped, ids[..3].to_vec());
        // Within the grace of their supersession (the next id), older ones stay too: at 8 s,
        // snapshots superseded at 4, 5 and 6 s (ids 3, 4 and 5 s) are recent.
        let r = retention(&ids, &all, &current, 3, 5_000, 8_000);
        assert_eq!(r.kept, ids[2..].to_vec());
        // The current one is kept even when it is older than the newest (after a rollback).
        let r = retention(&ids, &all, &ids[1], 1, 0, 100_000);
        assert_eq!(r.kept, vec![ids[1].clone(), ids[5].clone()]);
        assert_eq!(r.dropped, vec![ids[0].clone()]);
        // An interrupted publish (no manifest) older than the current one goes at once.
        let mut some = all.clone();
        some[4] = false;
        let r = retention(&ids, &some, &current, 3, 0, 100_000);
        assert!(r.dropped.contains(&ids[4]) && !r.kept.contains(&ids[4]));
    }
}
