//! Which published packages an operation names, decided without IO: the selectors of
//! `repo remove` (`name` or `name=version`, `*` in the name matching any run of characters), the
//! queries of `repo packages` (a name pattern with an optional Debian version constraint,
//! `hello (>= 1.2)`), and the package set a removal leaves.

use std::cmp::Ordering;
use std::str::FromStr;

use debversion::Version;

use crate::plan::PackageSet;
use crate::snapshot::{PackageRecord, SourceRecord};

/// `text` matches `pattern`, where each `*` stands for any run of characters.
fn glob(pattern: &str, text: &str) -> bool {
    let mut parts = pattern.split('*');
    let first = parts.next().unwrap_or_default();
    let Some(mut rest) = text.strip_prefix(first) else {
        return false;
    };
    let tail: Vec<&str> = parts.collect();
    let Some((last, middle)) = tail.split_last() else {
        return rest.is_empty();
    };
    for p in middle {
        match rest.find(p) {
            Some(i) => rest = &rest[i + p.len()..],
            None => return false,
        }
    }
    rest.len() >= last.len() && rest.ends_with(last)
}

/// Package names: Debian's characters, and `*`.
fn check_name(name: &str) -> Result<(), String> {
    if name.is_empty()
        || !name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "+-.*".contains(c))
    {
        return Err(format!(
            "{name:?} is not a package name (lower-case letters, digits, + - . and * as a wildcard)"
        ));
    }
    Ok(())
}

/// What `repo remove` names: `name` (every version) or `name=version`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Selector {
    /// Name pattern.
    pub name: String,
    /// Exact version, if given.
    pub version: Option<String>,
}

impl Selector {
    /// Parses `name` or `name=version`.
    ///
    /// # Errors
    /// A message that says what to fix.
    pub fn parse(s: &str) -> Result<Self, String> {
        let (name, version) = match s.split_once('=') {
            Some((n, v)) => (n, Some(v)),
            None => (s, None),
        };
        check_name(name)?;
        if let Some(v) = version {
            Version::from_str(v).map_err(|e| format!("{s:?}: {v:?} is not a Debian version: {e}"))?;
        }
        Ok(Selector {
            name: name.to_owned(),
            version: version.map(str::to_owned),
        })
    }

    fn matches(&self, r: &PackageRecord) -> bool {
        self.names(&r.package, &r.version)
    }

    fn names(&self, package: &str, version: &str) -> bool {
        glob(&self.name, package) && self.version.as_ref().is_none_or(|v| v == version)
    }

    /// `name` or `name=version`, as given.
    fn label(&self) -> String {
        format!(
            "{}{}",
            self.name,
            self.version.as_ref().map(|v| format!("={v}")).unwrap_or_default()
        )
    }

    fn missing(&self, scope: &Scope<'_>) -> String {
        format!(
            "{} is not published in {}{}{}",
            self.label(),
            scope.dist,
            scope.component.map(|c| format!("/{c}")).unwrap_or_default(),
            scope.architecture.map(|a| format!(" for {a}")).unwrap_or_default()
        )
    }
}

/// Refuses an operation (`verb`: remove, copy) that names no package.
fn require_some(selectors: &[Selector], verb: &str) -> Result<(), Vec<String>> {
    if selectors.is_empty() {
        return Err(vec![format!("name at least one package to {verb}")]);
    }
    Ok(())
}

/// Refuses selectors that name nothing (`found` says whether one names a record in the scope),
/// each worded by `missing`: a typo must not publish an unchanged snapshot and report success.
fn require_found(
    selectors: &[Selector],
    found: impl Fn(&Selector) -> bool,
    missing: impl Fn(&Selector) -> String,
) -> Result<(), Vec<String>> {
    let errors: Vec<String> = selectors.iter().filter(|s| !found(s)).map(missing).collect();
    if errors.is_empty() { Ok(()) } else { Err(errors) }
}

/// Refuses a copy onto the place it copies from.
fn require_elsewhere(from: &Scope<'_>, to: &str, to_component: Option<&str>) -> Result<(), Vec<String>> {
    if from.dist == to && to_component.is_none_or(|c| from.component == Some(c)) {
        return Err(vec![format!(
            "copying from {to} to itself changes nothing; name another distribution or component"
        )]);
    }
    Ok(())
}

/// The architecture name that selects source packages in a [`Scope`] (as in `Sources`).
pub const SOURCE: &str = "source";

impl Scope<'_> {
    fn holds_source(&self, r: &SourceRecord) -> bool {
        r.dist == self.dist && self.component.is_none_or(|c| c == r.component)
    }
}

/// [`remove`] for source packages (a scope whose architecture is [`SOURCE`]).
///
/// # Errors
/// As [`remove`].
pub fn remove_sources(
    parent: &[SourceRecord],
    scope: Scope<'_>,
    selectors: &[Selector],
) -> Result<(Vec<SourceRecord>, Vec<String>), Vec<String>> {
    require_some(selectors, "remove")?;
    let named = |r: &SourceRecord| scope.holds_source(r) && selectors.iter().any(|s| s.names(&r.package, &r.version));
    require_found(
        selectors,
        |s| parent.iter().any(|r| scope.holds_source(r) && s.names(&r.package, &r.version)),
        |s| s.missing(&scope),
    )?;
    let mut changes = Vec::new();
    let mut kept = Vec::with_capacity(parent.len());
    for r in parent {
        if named(r) {
            changes.push(format!("{}: -{} {} (source)", r.dist, r.package, r.version));
        } else {
            kept.push(r.clone());
        }
    }
    Ok((kept, changes))
}

/// [`copy`] for source packages: what `selectors` name in `from` goes to `to` (and
/// `to_component`), at most `keep` versions of each there.
///
/// # Errors
/// As [`copy`].
pub fn copy_sources(
    parent: &[SourceRecord],
    from: Scope<'_>,
    to: &str,
    to_component: Option<&str>,
    selectors: &[Selector],
    keep: usize,
) -> Result<(Vec<SourceRecord>, Vec<String>), Vec<String>> {
    require_some(selectors, "copy")?;
    require_elsewhere(&from, to, to_component)?;
    require_found(
        selectors,
        |s| parent.iter().any(|r| from.holds_source(r) && s.names(&r.package, &r.version)),
        |s| s.missing(&from),
    )?;
    let copies: Vec<SourceRecord> = parent
        .iter()
        .filter(|r| from.holds_source(r) && selectors.iter().any(|s| s.names(&r.package, &r.version)))
        .map(|r| SourceRecord {
            dist: to.to_owned(),
            component: to_component.unwrap_or(&r.component).to_owned(),
            ..r.clone()
        })
        .collect();
    let mut changes = Vec::new();
    let mut out: Vec<SourceRecord> = parent
        .iter()
        .filter(|r| {
            !copies
                .iter()
                .any(|c| c.dist == r.dist && c.component == r.component && c.package == r.package && c.version == r.version)
        })
        .cloned()
        .collect();
    for c in copies {
        changes.push(format!("{}: +{} {} (source)", c.dist, c.package, c.version));
        out.push(c);
    }
    Ok((limit_sources(out, keep, &mut changes), changes))
}

/// Where an operation applies: a distribution, and optionally one component and one
/// architecture.
#[derive(Debug, Clone, Copy)]
pub struct Scope<'a> {
    /// Suite.
    pub dist: &'a str,
    /// Component, or every one.
    pub component: Option<&'a str>,
    /// Architecture, or every one.
    pub architecture: Option<&'a str>,
}

impl Scope<'_> {
    fn holds(&self, r: &PackageRecord) -> bool {
        r.dist == self.dist && self.component.is_none_or(|c| c == r.component) && self.architecture.is_none_or(|a| a == r.architecture)
    }
}

/// What removing what `selectors` name in `scope` does to the package set.
///
/// # Errors
/// A selector that names nothing in the scope (a typo must not publish an unchanged snapshot and
/// report success), or no selector at all.
pub fn remove(parent: &[PackageRecord], scope: Scope<'_>, selectors: &[Selector]) -> Result<Edit, Vec<String>> {
    require_some(selectors, "remove")?;
    require_found(
        selectors,
        |s| parent.iter().any(|r| scope.holds(r) && s.matches(r)),
        |s| s.missing(&scope),
    )?;
    let mut edit = Edit::default();
    for (i, r) in parent.iter().enumerate() {
        if scope.holds(r) && selectors.iter().any(|s| s.matches(r)) {
            edit.changes
                .push(format!("{}: -{} {} ({})", r.dist, r.package, r.version, r.architecture));
            edit.drop.push(i);
        }
    }
    Ok(edit)
}

/// A change to a package set, decided on a borrowed set and applied to the owned one, so the
/// set (100,000 records) is never copied: records to drop (indices, ascending) and records to
/// place as a publish would ([`PackageSet::put`], at most `keep` versions per slot).
#[derive(Debug, Default)]
pub struct Edit {
    drop: Vec<usize>,
    place: Vec<PackageRecord>,
    keep: usize,
    changes: Vec<String>,
}

impl Edit {
    /// The set after the edit, and what changed (`stable: -hello 1.0 (amd64)`).
    #[must_use]
    pub fn apply(self, parent: Vec<PackageRecord>) -> (Vec<PackageRecord>, Vec<String>) {
        let Edit {
            drop,
            place,
            keep,
            mut changes,
        } = self;
        let mut gone = drop.into_iter().peekable();
        let kept: Vec<PackageRecord> = parent
            .into_iter()
            .enumerate()
            .filter(|(i, _)| gone.next_if_eq(i).is_none())
            .map(|(_, r)| r)
            .collect();
        if place.is_empty() {
            return (kept, changes);
        }
        let mut set = PackageSet::new(kept, keep);
        for r in place {
            set.put(r, &mut changes);
        }
        (set.into_packages(), changes)
    }
}

/// `records` as copies in distribution `dist` (and component `component`, if given). The pool
/// file is shared: a record names it by path.
fn retarget(records: &[&PackageRecord], dist: &str, component: Option<&str>) -> Vec<PackageRecord> {
    records
        .iter()
        .map(|r| {
            let mut n = (*r).clone();
            dist.clone_into(&mut n.dist);
            if let Some(c) = component {
                c.clone_into(&mut n.component);
            }
            n
        })
        .collect()
}

/// Copies what `selectors` name in `from` to distribution `to` (and component `to_component`,
/// else the same component), replacing what holds the same slot there.
///
/// # Errors
/// A selector that names nothing in `from`, no selector, or a copy onto itself.
pub fn copy(
    parent: &[PackageRecord],
    from: Scope<'_>,
    to: &str,
    to_component: Option<&str>,
    selectors: &[Selector],
    keep: usize,
) -> Result<Edit, Vec<String>> {
    require_some(selectors, "copy")?;
    require_elsewhere(&from, to, to_component)?;
    require_found(
        selectors,
        |s| parent.iter().any(|r| from.holds(r) && s.matches(r)),
        |s| format!("{} is not published in {}", s.label(), from.dist),
    )?;
    let chosen: Vec<&PackageRecord> = parent
        .iter()
        .filter(|r| from.holds(r) && selectors.iter().any(|s| s.matches(r)))
        .collect();
    Ok(Edit {
        place: retarget(&chosen, to, to_component),
        keep,
        ..Edit::default()
    })
}

/// Promotes distribution `from`'s whole package set to `to`: afterwards `to` holds exactly what
/// `from` holds (what only `to` had is removed), as one snapshot.
///
/// # Errors
/// `from` is `to`.
pub fn promote(parent: &[PackageRecord], from: &str, to: &str, keep: usize) -> Result<Edit, Vec<String>> {
    if from == to {
        return Err(vec![format!("promoting {to} to itself changes nothing")]);
    }
    let source: Vec<&PackageRecord> = parent.iter().filter(|r| r.dist == from).collect();
    // Slots (component, name, architecture) `from` does not have leave `to`; the rest is placed
    // as a copy would. `from` was built under the same version limit, so `to` ends up exactly
    // `from`.
    let slots: std::collections::HashSet<(&str, &str, &str)> = source
        .iter()
        .map(|s| (s.component.as_str(), s.package.as_str(), s.architecture.as_str()))
        .collect();
    let mut edit = Edit {
        place: retarget(&source, to, None),
        keep,
        ..Edit::default()
    };
    for (i, r) in parent.iter().enumerate() {
        if r.dist == to && !slots.contains(&(r.component.as_str(), r.package.as_str(), r.architecture.as_str())) {
            edit.changes
                .push(format!("{}: -{} {} ({})", r.dist, r.package, r.version, r.architecture));
            edit.drop.push(i);
        }
    }
    Ok(edit)
}

/// Keeps the newest `keep` versions (by Debian order) of each source package per distribution
/// and component, noting each one dropped in `changes`.
#[must_use]
pub fn limit_sources(mut sources: Vec<SourceRecord>, keep: usize, changes: &mut Vec<String>) -> Vec<SourceRecord> {
    let version = |v: &str| debversion::Version::from_str(v).ok();
    sources.sort_by(|a, b| {
        (&a.dist, &a.component, &a.package)
            .cmp(&(&b.dist, &b.component, &b.package))
            .then_with(|| version(&b.version).cmp(&version(&a.version)))
    });
    let mut out: Vec<SourceRecord> = Vec::with_capacity(sources.len());
    let mut run = 0;
    for r in sources {
        let same_slot = out
            .last()
            .is_some_and(|l| l.dist == r.dist && l.component == r.component && l.package == r.package);
        run = if same_slot { run + 1 } else { 1 };
        if run > keep.max(1) {
            changes.push(format!("{}: -{} {} (source)", r.dist, r.package, r.version));
        } else {
            out.push(r);
        }
    }
    out
}

/// The source packages after a promotion of `from` to `to`: `to` holds exactly `from`'s.
#[must_use]
pub fn promote_sources(parent: &[SourceRecord], from: &str, to: &str) -> (Vec<SourceRecord>, Vec<String>) {
    let mut changes = Vec::new();
    let mut out: Vec<SourceRecord> = Vec::with_capacity(parent.len());
    let had = |r: &SourceRecord, dist: &str| {
        parent
            .iter()
            .any(|o| o.dist == dist && o.component == r.component && o.package == r.package && o.version == r.version)
    };
    for r in parent {
        if r.dist != to {
            out.push(r.clone());
        } else if !had(r, from) {
            changes.push(format!("{to}: -{} {} (source)", r.package, r.version));
        }
    }
    for r in parent.iter().filter(|r| r.dist == from) {
        if !had(r, to) {
            changes.push(format!("{to}: +{} {} (source)", r.package, r.version));
        }
        out.push(SourceRecord {
            dist: to.to_owned(),
            ..r.clone()
        });
    }
    (out, changes)
}

/// A `repo packages` query: a name pattern and an optional version constraint, written as in
/// Debian's relationship fields: `hello`, `lib*`, `hello (>= 1.2)`, `hello (= 1.2-1)`, with
/// `=`, `>=`, `<=`, `>>` and `<<`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Query {
    name: String,
    constraint: Option<(Ordering, bool, Version)>,
}

impl Query {
    /// Parses a query.
    ///
    /// # Errors
    /// A message that says what to fix.
    pub fn parse(q: &str) -> Result<Self, String> {
        let q = q.trim();
        let (name, rest) = match q.split_once('(') {
            Some((n, r)) => (n.trim(), Some(r)),
            None => (q, None),
        };
        check_name(name)?;
        let constraint = match rest {
            None => None,
            Some(r) => {
                let inner = r
                    .strip_suffix(')')
                    .ok_or_else(|| format!("{q:?}: close the version constraint with ')'"))?
                    .trim();
                let (op, v) = ["<=", ">=", "<<", ">>", "="]
                    .iter()
                    .find_map(|op| inner.strip_prefix(op).map(|v| (*op, v.trim())))
                    .ok_or_else(|| format!("{q:?}: a constraint is (OP VERSION) with OP one of = >= <= >> <<"))?;
                let v = Version::from_str(v).map_err(|e| format!("{q:?}: {v:?} is not a Debian version: {e}"))?;
                // (the ordering that satisfies, whether equality also does)
                Some(match op {
                    "=" => (Ordering::Equal, true, v),
                    ">=" => (Ordering::Greater, true, v),
                    "<=" => (Ordering::Less, true, v),
                    ">>" => (Ordering::Greater, false, v),
                    _ => (Ordering::Less, false, v),
                })
            }
        };
        Ok(Query {
            name: name.to_owned(),
            constraint,
        })
    }

    /// Whether a published package answers the query.
    #[must_use]
    pub fn matches(&self, r: &PackageRecord) -> bool {
        if !glob(&self.name, &r.package) {
            return false;
        }
        let Some((want, or_equal, v)) = &self.constraint else {
            return true;
        };
        let Ok(have) = Version::from_str(&r.version) else {
            return false;
        };
        match have.cmp(v) {
            Ordering::Equal => *or_equal,
            o => o == *want && *want != Ordering::Equal,
        }
    }
}

/// The packages of `scope`'s distribution (or of every distribution) answering `query`, in
/// the snapshot's order.
#[must_use]
pub fn matching<'a>(
    packages: &'a [PackageRecord],
    dist: Option<&str>,
    architecture: Option<&str>,
    query: Option<&Query>,
) -> Vec<&'a PackageRecord> {
    packages
        .iter()
        .filter(|r| dist.is_none_or(|d| d == r.dist))
        .filter(|r| architecture.is_none_or(|a| a == r.architecture))
        .filter(|r| query.is_none_or(|q| q.matches(r)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(dist: &str, component: &str, package: &str, version: &str, arch: &str) -> PackageRecord {
        PackageRecord {
            dist: dist.into(),
            component: component.into(),
            package: package.into(),
            version: version.into(),
            architecture: arch.into(),
            filename: format!("pool/{component}/{package}_{version}_{arch}.deb"),
            size: 1,
            md5: String::new(),
            sha256: String::new(),
            control: String::new(),
            lists: None,
        }
    }

    fn set() -> Vec<PackageRecord> {
        vec![
            rec("stable", "main", "hello", "1.0-1", "amd64"),
            rec("stable", "main", "hello", "1.0-1", "arm64"),
            rec("stable", "main", "hello-doc", "1.0-1", "all"),
            rec("stable", "contrib", "libfoo1", "2.3~rc1", "amd64"),
            rec("testing", "main", "hello", "2.0-1", "amd64"),
        ]
    }

    /// The edit decided on `parent`, applied to a copy of it.
    fn applied(parent: &[PackageRecord], edit: Result<Edit, Vec<String>>) -> Result<(Vec<PackageRecord>, Vec<String>), Vec<String>> {
        edit.map(|e| e.apply(parent.to_vec()))
    }

    #[test]
    fn globs() {
        assert!(glob("hello", "hello") && !glob("hello", "hello-doc"));
        assert!(glob("hello*", "hello-doc") && glob("*doc", "hello-doc") && glob("h*l*c", "hello-doc"));
        assert!(glob("*", "") && !glob("a*b", "ab-c") && glob("a*b*", "ab-c"));
        assert!(!glob("lo*lo", "lo"), "the two ends may not overlap");
    }

    #[test]
    fn removal_takes_what_the_selectors_name_in_the_scope_only() {
        let sel = |s: &str| Selector::parse(s).expect("selector");
        let scope = Scope {
            dist: "stable",
            component: None,
            architecture: None,
        };
        let (kept, changes) = applied(&set(), remove(&set(), scope, &[sel("hello")])).expect("removed");
        assert_eq!(changes, ["stable: -hello 1.0-1 (amd64)", "stable: -hello 1.0-1 (arm64)"]);
        assert_eq!(kept.len(), 3);
        assert!(
            kept.iter().any(|r| r.dist == "testing" && r.package == "hello"),
            "other suites keep theirs"
        );
        let arm = Scope {
            architecture: Some("arm64"),
            ..scope
        };
        let (kept, changes) = applied(&set(), remove(&set(), arm, &[sel("hello=1.0-1")])).expect("removed");
        assert_eq!((kept.len(), changes.len()), (4, 1));
        let (_, changes) = applied(&set(), remove(&set(), scope, &[sel("lib*")])).expect("glob");
        assert_eq!(changes, ["stable: -libfoo1 2.3~rc1 (amd64)"]);
        // Names nothing: refused, with every reason.
        let main = Scope {
            component: Some("main"),
            ..scope
        };
        let e = applied(&set(), remove(&set(), main, &[sel("libfoo1"), sel("hello=9")])).expect_err("nothing named");
        assert_eq!(
            e,
            ["libfoo1 is not published in stable/main", "hello=9 is not published in stable/main"]
        );
        assert!(applied(&set(), remove(&set(), scope, &[])).is_err());
        assert!(Selector::parse("Hello").is_err() && Selector::parse("hello=").is_err() && Selector::parse("").is_err());
    }

    #[test]
    fn copies_and_promotions_move_records_between_distributions() {
        let sel = |s: &str| Selector::parse(s).expect("selector");
        let testing = Scope {
            dist: "testing",
            component: None,
            architecture: None,
        };
        let (pkgs, changes) = applied(&set(), copy(&set(), testing, "stable", None, &[sel("hello")], 1)).expect("copied");
        assert_eq!(changes, ["stable: hello 1.0-1 -> 2.0-1 (amd64)"]);
        let stable_hello: Vec<_> = pkgs.iter().filter(|r| r.dist == "stable" && r.package == "hello").collect();
        assert_eq!(stable_hello.len(), 2, "the arm64 slot is untouched");
        assert!(
            stable_hello.iter().any(|r| r.version == "2.0-1" && r.filename.contains("2.0-1")),
            "the pool file is shared"
        );
        // Into another component, and a copy that changes nothing.
        let (_, changes) = applied(&set(), copy(&set(), testing, "stable", Some("contrib"), &[sel("hello")], 1)).expect("copied");
        assert_eq!(changes, ["stable: +hello 2.0-1 (amd64)"]);
        let (again, _) = applied(&set(), copy(&set(), testing, "stable", None, &[sel("hello")], 1)).expect("copied");
        let (_, none) = applied(&again, copy(&again, testing, "stable", None, &[sel("hello")], 1)).expect("copied");
        assert!(none.is_empty());
        assert!(applied(&set(), copy(&set(), testing, "stable", None, &[sel("nosuch")], 1)).is_err());
        assert!(applied(&set(), copy(&set(), testing, "testing", None, &[sel("hello")], 1)).is_err());

        // Promotion: stable becomes exactly testing.
        let (pkgs, mut changes) = applied(&set(), promote(&set(), "testing", "stable", 1)).expect("promoted");
        changes.sort();
        assert_eq!(
            changes,
            [
                "stable: -hello 1.0-1 (arm64)",
                "stable: -hello-doc 1.0-1 (all)",
                "stable: -libfoo1 2.3~rc1 (amd64)",
                "stable: hello 1.0-1 -> 2.0-1 (amd64)",
            ]
        );
        let stable: Vec<_> = pkgs
            .iter()
            .filter(|r| r.dist == "stable")
            .map(|r| (r.package.as_str(), r.version.as_str()))
            .collect();
        assert_eq!(stable, [("hello", "2.0-1")]);
        assert_eq!(pkgs.iter().filter(|r| r.dist == "testing").count(), 1);
        assert!(applied(&set(), promote(&set(), "stable", "stable", 1)).is_err());

        // Keeping two versions: a copy adds beside the old one; a third pushes the oldest out.
        let mut base = set();
        base.push(rec("testing", "main", "hello", "3.0-1", "amd64"));
        let (two, changes) = applied(&base, copy(&base, testing, "stable", None, &[sel("hello=2.0-1")], 2)).expect("copied");
        assert_eq!(changes, ["stable: +hello 2.0-1 (amd64)"]);
        let (three, changes) = applied(&two, copy(&two, testing, "stable", None, &[sel("hello=3.0-1")], 2)).expect("copied");
        assert_eq!(changes, ["stable: +hello 3.0-1 (amd64)", "stable: -hello 1.0-1 (amd64)"]);
        let versions: Vec<_> = three
            .iter()
            .filter(|r| r.dist == "stable" && r.package == "hello" && r.architecture == "amd64")
            .map(|r| r.version.as_str())
            .collect();
        assert_eq!(versions, ["2.0-1", "3.0-1"]);
        // Promotion under the same limit: stable becomes testing's two versions.
        let (promoted, _) = applied(&three, promote(&three, "testing", "stable", 2)).expect("promoted");
        let mut stable: Vec<_> = promoted
            .iter()
            .filter(|r| r.dist == "stable")
            .map(|r| (r.package.as_str(), r.version.as_str()))
            .collect();
        stable.sort_unstable();
        assert_eq!(stable, [("hello", "2.0-1"), ("hello", "3.0-1")]);
    }

    #[test]
    fn queries_compare_debian_versions() {
        let q = |s: &str| Query::parse(s).expect("query");
        let pkgs = set();
        let names = |q: &Query| {
            matching(&pkgs, Some("stable"), None, Some(q))
                .iter()
                .map(|r| format!("{} {}", r.package, r.architecture))
                .collect::<Vec<_>>()
        };
        assert_eq!(names(&q("hello")), ["hello amd64", "hello arm64"]);
        assert_eq!(names(&q("hello*")).len(), 3);
        assert_eq!(names(&q("hello (>= 1.0-1)")).len(), 2);
        assert_eq!(names(&q("hello (>> 1.0-1)")).len(), 0);
        assert_eq!(names(&q("hello (<< 1.0-2)")).len(), 2);
        assert_eq!(names(&q("hello (= 1.0-1)")).len(), 2);
        assert_eq!(names(&q("hello (<= 1.0)")).len(), 0);
        // ~ sorts before the release: 2.3~rc1 << 2.3.
        assert_eq!(names(&q("libfoo1 (<< 2.3)")), ["libfoo1 amd64"]);
        assert_eq!(names(&q("libfoo1 (>= 2.3)")).len(), 0);
        assert_eq!(matching(&pkgs, None, Some("amd64"), None).len(), 3);
        for bad in ["hello (>= 1.0", "hello (~ 1.0)", "hello (>= )", "Hello"] {
            assert!(Query::parse(bad).is_err(), "{bad}");
        }
    }

    fn src(dist: &str, package: &str, version: &str) -> SourceRecord {
        SourceRecord {
            dist: dist.into(),
            component: "main".into(),
            package: package.into(),
            version: version.into(),
            directory: format!("pool/main/{}/{package}", &package[..1]),
            files: Vec::new(),
            control: String::new(),
        }
    }

    #[test]
    fn sources_are_removed_copied_promoted_and_limited() {
        let sel = |s: &str| Selector::parse(s).expect("selector");
        let stable = Scope {
            dist: "stable",
            component: None,
            architecture: Some(SOURCE),
        };
        let all = vec![
            src("stable", "hello", "1.0-1"),
            src("stable", "other", "2.0"),
            src("testing", "hello", "1.1-1"),
        ];
        let (kept, changes) = remove_sources(&all, stable, &[sel("hello")]).expect("removed");
        assert_eq!(kept.len(), 2);
        assert_eq!(changes, vec!["stable: -hello 1.0-1 (source)".to_owned()]);
        assert!(
            remove_sources(&all, stable, &[sel("hello=9")]).is_err(),
            "naming nothing is refused"
        );

        let testing = Scope { dist: "testing", ..stable };
        let (copied, changes) = copy_sources(&all, testing, "stable", None, &[sel("hello")], 1).expect("copied");
        assert!(changes.contains(&"stable: +hello 1.1-1 (source)".to_owned()));
        assert!(
            changes.contains(&"stable: -hello 1.0-1 (source)".to_owned()),
            "keep 1 drops the older: {changes:?}"
        );
        assert_eq!(copied.iter().filter(|r| r.dist == "stable" && r.package == "hello").count(), 1);
        let (copied, _) = copy_sources(&all, testing, "stable", None, &[sel("hello")], 2).expect("copied");
        assert_eq!(copied.iter().filter(|r| r.dist == "stable" && r.package == "hello").count(), 2);

        let (promoted, changes) = promote_sources(&all, "testing", "stable");
        let stable_now: Vec<(&str, &str)> = promoted
            .iter()
            .filter(|r| r.dist == "stable")
            .map(|r| (r.package.as_str(), r.version.as_str()))
            .collect();
        assert_eq!(stable_now, vec![("hello", "1.1-1")]);
        assert_eq!(changes.len(), 3, "{changes:?}");

        let mut changes = Vec::new();
        let limited = limit_sources(
            vec![src("s", "a", "1.0"), src("s", "a", "1.10"), src("s", "a", "1.9")],
            2,
            &mut changes,
        );
        let versions: Vec<&str> = limited.iter().map(|r| r.version.as_str()).collect();
        assert_eq!(versions, vec!["1.10", "1.9"], "Debian order, not text order");
        assert_eq!(changes, vec!["s: -a 1.0 (source)".to_owned()]);
    }
}
