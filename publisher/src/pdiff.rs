//! Index diffs ("pdiffs"), as Debian's archive serves them: beside `Packages`, a
//! `Packages.diff/Index` lists the file's recent past versions and, for each, an ed-style patch
//! (gzip-compressed) that takes it one publish forward. An apt client whose cached `Packages`
//! matches a past version fetches the patches from there on and applies them with its `rred`
//! method instead of downloading the whole file. Pure: texts in, texts out.

use std::fmt::Write as _;

use similar::{Algorithm, DiffOp, TextDiff};

use crate::deb::Digests;

/// How many publishes back a client can still catch up by patches (Debian keeps about 56).
pub const KEEP: usize = 20;

/// How long a diff may search for the shortest script. Myers' algorithm takes time in
/// proportion to the size times the number of differences; past this it settles for a longer,
/// still correct, script (a rollback or a promotion can change most of a large file).
const DIFF_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(2);

/// A file's SHA-256 and size, as the index lists them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sum {
    /// SHA-256, hex.
    pub sha256: String,
    /// Bytes.
    pub size: u64,
}

impl Sum {
    /// The sum of `data` (SHA-256 only: the index lists no other).
    fn of(data: &[u8]) -> Self {
        use sha2::Digest as _;
        Self {
            sha256: hex::encode(sha2::Sha256::digest(data)),
            size: data.len() as u64,
        }
    }
}

impl From<&Digests> for Sum {
    fn from(d: &Digests) -> Self {
        Self {
            sha256: d.sha256.clone(),
            size: d.size,
        }
    }
}

/// One patch of the history: it turns the version `from` into the next one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Patch {
    /// The patch's name (`Packages.diff/<name>.gz`).
    pub name: String,
    /// The version it applies to.
    pub from: Sum,
    /// The ed script.
    pub script: Sum,
    /// Its `.gz`, which clients download.
    pub download: Sum,
}

/// `Packages.diff/Index`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DiffIndex {
    /// The version the last patch ends at: the current file.
    pub current: Sum,
    /// Oldest first.
    pub patches: Vec<Patch>,
}

impl DiffIndex {
    /// The index text.
    #[must_use]
    pub fn render(&self) -> String {
        let mut out = format!("SHA256-Current: {} {}\n", self.current.sha256, self.current.size);
        let mut section = |title: &str, pick: &dyn Fn(&Patch) -> (&Sum, String)| {
            let _ = writeln!(out, "{title}:");
            for p in &self.patches {
                let (s, name) = pick(p);
                let _ = writeln!(out, " {} {:>8} {name}", s.sha256, s.size);
            }
        };
        section("SHA256-History", &|p| (&p.from, p.name.clone()));
        section("SHA256-Patches", &|p| (&p.script, p.name.clone()));
        section("SHA256-Download", &|p| (&p.download, format!("{}.gz", p.name)));
        out
    }

    /// Reads an index this module wrote; `None` for anything else (the history then starts
    /// again, which costs clients one full download).
    #[must_use]
    pub fn parse(text: &str) -> Option<Self> {
        let mut current = None;
        let mut fields: [Vec<(Sum, String)>; 3] = Default::default();
        let mut at: Option<usize> = None;
        for line in text.lines() {
            if let Some(rest) = line.strip_prefix(' ') {
                let mut w = rest.split_whitespace();
                let (sha256, size, name) = (w.next()?, w.next()?.parse().ok()?, w.next()?);
                fields[at?].push((
                    Sum {
                        sha256: sha256.to_owned(),
                        size,
                    },
                    name.to_owned(),
                ));
                continue;
            }
            let (key, value) = line.split_once(':')?;
            at = None;
            match key {
                "SHA256-Current" => {
                    let mut w = value.split_whitespace();
                    current = Some(Sum {
                        sha256: w.next()?.to_owned(),
                        size: w.next()?.parse().ok()?,
                    });
                }
                "SHA256-History" => at = Some(0),
                "SHA256-Patches" => at = Some(1),
                "SHA256-Download" => at = Some(2),
                _ => {}
            }
        }
        let [history, scripts, downloads] = fields;
        if history.len() != scripts.len() || history.len() != downloads.len() {
            return None;
        }
        let patches = history
            .into_iter()
            .zip(scripts)
            .zip(downloads)
            .map(|(((from, name), (script, n2)), (download, n3))| {
                (n2 == name && n3 == format!("{name}.gz")).then_some(Patch {
                    name,
                    from,
                    script,
                    download,
                })
            })
            .collect::<Option<Vec<_>>>()?;
        Some(Self {
            current: current?,
            patches,
        })
    }
}

/// How many items `a` and `b` begin with alike.
pub(crate) fn common_prefix<T: PartialEq>(a: &[T], b: &[T]) -> usize {
    a.iter().zip(b).take_while(|(x, y)| x == y).count()
}

/// How many items `a` and `b` end with alike, not reaching into the first `prefix` of either.
pub(crate) fn common_suffix<T: PartialEq>(a: &[T], b: &[T], prefix: usize) -> usize {
    let room = a.len().min(b.len()).saturating_sub(prefix);
    a.iter().rev().zip(b.iter().rev()).take(room).take_while(|(x, y)| x == y).count()
}

/// The lengths in bytes of the longest common prefix and suffix of `old` and `new` made of
/// whole lines, not overlapping. A publish changes a few stanzas of a large sorted file: the
/// diff then searches only the lines between.
fn common_lines(old: &[u8], new: &[u8]) -> (usize, usize) {
    let mut prefix = common_prefix(old, new);
    if prefix < old.len().min(new.len()) || old.len() != new.len() {
        // Back to the start of the line the first difference is on.
        prefix = old[..prefix].iter().rposition(|b| *b == b'\n').map_or(0, |i| i + 1);
    }
    let same = common_suffix(old, new, prefix);
    // The suffix starts after a newline inside it, so it begins a line in both files.
    let tail = &old[old.len() - same..];
    let suffix = tail.iter().position(|b| *b == b'\n').map_or(0, |i| same - i - 1);
    (prefix, suffix)
}

/// An ed script (`a`, `c`, `d` from the bottom up, as `diff --ed` writes) that turns `old` into
/// `new`. `None` when `new` holds a line that is a lone `.`, which ed cannot insert (Packages
/// never does).
#[must_use]
pub fn ed_script(old: &str, new: &str) -> Option<String> {
    ed_script_at(old, new, 0, usize::MAX)
}

/// [`ed_script`] of two parts of larger files that are the same before them (`skipped` lines)
/// and after them; `None` too when more than `limit` bytes of the new part differ (a script
/// then saves little, and the search would take longest).
fn ed_script_at(old: &str, new: &str, skipped: usize, limit: usize) -> Option<String> {
    let (prefix, suffix) = common_lines(old.as_bytes(), new.as_bytes());
    // Both cuts fall just after a newline, so these are char boundaries.
    let (old_mid, new_mid) = (&old[prefix..old.len() - suffix], &new[prefix..new.len() - suffix]);
    if new_mid.len() > limit {
        return None;
    }
    let skipped = skipped + memchr::memchr_iter(b'\n', &old.as_bytes()[..prefix]).count();
    let new_lines: Vec<&str> = new_mid.lines().collect();
    if new_lines.contains(&".") {
        return None;
    }
    let diff = TextDiff::configure()
        .algorithm(Algorithm::Myers)
        .timeout(DIFF_TIMEOUT)
        .diff_lines(old_mid, new_mid);
    let mut out = String::new();
    let text = |out: &mut String, from: usize, len: usize| {
        for l in &new_lines[from..from + len] {
            out.push_str(l);
            out.push('\n');
        }
        out.push_str(".\n");
    };
    let range = |start: usize, len: usize| {
        let start = start + skipped;
        if len == 1 {
            format!("{}", start + 1)
        } else {
            format!("{},{}", start + 1, start + len)
        }
    };
    for op in diff.ops().iter().rev() {
        match *op {
            DiffOp::Equal { .. } => {}
            DiffOp::Delete { old_index, old_len, .. } => {
                let _ = writeln!(out, "{}d", range(old_index, old_len));
            }
            DiffOp::Insert {
                old_index,
                new_index,
                new_len,
            } => {
                let _ = writeln!(out, "{}a", old_index + skipped);
                text(&mut out, new_index, new_len);
            }
            DiffOp::Replace {
                old_index,
                old_len,
                new_index,
                new_len,
            } => {
                let _ = writeln!(out, "{}c", range(old_index, old_len));
                text(&mut out, new_index, new_len);
            }
        }
    }
    Some(out)
}

/// What a publish writes for one index: the new `Packages.diff/Index`, and the new patch (its
/// name and `.gz`) when the file changed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Next {
    /// The index.
    pub index: DiffIndex,
    /// The new patch's name and gzip bytes.
    pub patch: Option<(String, Vec<u8>)>,
}

/// The parent's side of a publish's diff: its file's sum and diff index, and the part of its
/// text that differs from the new file's, with that part of the new text. Both files are the
/// same before the parts (`skipped` lines) and after them.
#[derive(Debug)]
pub struct Old<'a> {
    /// The parent's file.
    pub sum: Sum,
    /// The parent's diff index, if it had one.
    pub index: Option<DiffIndex>,
    /// The parent's part.
    pub old: std::borrow::Cow<'a, str>,
    /// The new file's part.
    pub new: &'a str,
    /// Lines before the parts.
    pub skipped: usize,
}

impl<'a> Old<'a> {
    /// The whole of the parent's file `old` against the whole new file `new`.
    #[must_use]
    pub fn whole(old: &'a str, new: &'a str, index: Option<DiffIndex>) -> Self {
        Self {
            sum: Sum::of(old.as_bytes()),
            index,
            old: std::borrow::Cow::Borrowed(old),
            new,
            skipped: 0,
        }
    }
}

/// The diff index after a publish that turns the parent's file (`parent`) into the new one,
/// whose digests are `new_sums` (computed once, for Release too). The history goes on when the
/// parent's index ends at the parent's file, and keeps the newest [`KEEP`] patches; otherwise
/// it starts again there.
///
/// # Errors
/// Compression failures (none in practice).
pub fn next(parent: Option<Old<'_>>, new_sums: &Digests, name: &str) -> std::io::Result<Next> {
    let current = Sum::from(new_sums);
    let Some(Old {
        sum: from,
        index: old_index,
        old,
        new,
        skipped,
    }) = parent
    else {
        return Ok(Next {
            index: DiffIndex {
                current,
                patches: Vec::new(),
            },
            patch: None,
        });
    };
    let mut patches = old_index.filter(|i| i.current == from).map(|i| i.patches).unwrap_or_default();
    if from == current {
        return Ok(Next {
            index: DiffIndex { current, patches },
            patch: None,
        });
    }
    // A script larger than the file itself saves nobody anything (apt would download the file
    // instead), and a change of more than half the file (the first publish of a large
    // repository, a promotion that replaces most of a distribution) saves little: the history
    // starts again here.
    let limit = usize::try_from(new_sums.size / 2).unwrap_or(usize::MAX);
    let Some(script) = ed_script_at(&old, new, skipped, limit).filter(|s| s.len() as u64 <= new_sums.size) else {
        return Ok(Next {
            index: DiffIndex {
                current,
                patches: Vec::new(),
            },
            patch: None,
        });
    };
    let gz = crate::index::gzip(script.as_bytes())?;
    patches.push(Patch {
        name: name.to_owned(),
        from,
        script: Sum::from(&Digests::of(script.as_bytes())),
        download: Sum::from(&Digests::of(&gz)),
    });
    let excess = patches.len().saturating_sub(KEEP);
    patches.drain(..excess);
    Ok(Next {
        index: DiffIndex { current, patches },
        patch: Some((name.to_owned(), gz)),
    })
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// Applies an ed script as apt's rred does (a, c, d with line numbers of the old file,
    /// commands from the bottom up), to check the scripts without apt.
    pub(crate) fn apply(old: &str, script: &str) -> String {
        let mut lines: Vec<String> = old.lines().map(str::to_owned).collect();
        let mut cmds = script.lines();
        while let Some(cmd) = cmds.next() {
            let (range, op) = cmd.split_at(cmd.len() - 1);
            let (a, b) = range.split_once(',').unwrap_or((range, range));
            let (a, b) = (a.parse::<usize>().expect("num"), b.parse::<usize>().expect("num"));
            let mut text = Vec::new();
            if op != "d" {
                for l in cmds.by_ref() {
                    if l == "." {
                        break;
                    }
                    text.push(l.to_owned());
                }
            }
            match op {
                "d" => {
                    lines.drain(a - 1..b);
                }
                "c" => {
                    lines.splice(a - 1..b, text);
                }
                "a" => {
                    lines.splice(a..a, text);
                }
                _ => panic!("{cmd}"),
            }
        }
        lines.iter().fold(String::new(), |mut out, l| {
            out.push_str(l);
            out.push('\n');
            out
        })
    }

    fn packages(names: &[&str]) -> String {
        names.iter().fold(String::new(), |mut out, n| {
            let _ = write!(out, "Package: {n}\nVersion: 1.0\nDescription: x\n .\n more\n\n");
            out
        })
    }

    #[test]
    fn scripts_turn_the_old_file_into_the_new_one() {
        let cases = [
            (packages(&[]), packages(&["a"])),
            (packages(&["a", "b", "c"]), packages(&["a", "c"])),
            (packages(&["a", "c"]), packages(&["a", "b", "c", "d"])),
            (packages(&["a", "b"]), packages(&["z"])),
            (packages(&["a", "b"]), String::new()),
            (packages(&["a", "b", "c"]), packages(&["a", "b", "c"])),
            (packages(&["a", "b", "c"]), packages(&["a", "bb", "c"])),
            (packages(&["a", "b"]), packages(&["a", "b", "b"])),
            (packages(&["b", "b"]), packages(&["b"])),
            ("x\ny".into(), "x\nyz".into()),
            ("x\ny\n".into(), "x\n".into()),
            ("same\n".into(), "same\nsame\n".into()),
        ];
        for (old, new) in cases {
            let s = ed_script(&old, &new).expect("script");
            assert_eq!(
                apply(&old, &s),
                if new.is_empty() || new.ends_with('\n') {
                    new.clone()
                } else {
                    new.clone() + "\n"
                },
                "{old:?} -> {new:?}: {s}"
            );
        }
        // Only the changed stanza is in the script, with the line numbers of the whole file.
        let names: Vec<String> = (0..1000).map(|i| format!("p{i:04}")).collect();
        let refs: Vec<&str> = names.iter().map(String::as_str).collect();
        let old = packages(&refs);
        let mut fewer = refs.clone();
        fewer.remove(500);
        let s = ed_script(&old, &packages(&fewer)).expect("script");
        assert_eq!(s, "3001,3006d\n");
        assert_eq!(apply(&old, &s), packages(&fewer));
        assert_eq!(ed_script("a\n", "a\n.\n"), None);
    }

    #[test]
    fn a_file_that_changes_everywhere_is_diffed_in_bounded_time_or_not_patched() {
        // 100,000 stanzas whose every version changed: the worst case of a promotion.
        let index = |v: &str| {
            (0..100_000).fold(String::new(), |mut out, i| {
                let _ = write!(out, "Package: p{i}\nVersion: {v}\n\n");
                out
            })
        };
        let (old, new) = (index("1.0"), index("2.0"));
        let t = std::time::Instant::now();
        let s = ed_script(&old, &new).expect("script");
        assert!(t.elapsed() < DIFF_TIMEOUT * 5, "{:?}", t.elapsed());
        assert_eq!(apply(&old, &s), new);
        // More than half the file changed: no patch (none is searched for), and the history
        // restarts.
        let base = next(None, &Digests::of(old.as_bytes()), "0").expect("first").index;
        let t = std::time::Instant::now();
        let n = next(Some(Old::whole(&old, &new, Some(base))), &Digests::of(new.as_bytes()), "1").expect("next");
        assert!(n.patch.is_none() && n.index.patches.is_empty());
        assert!(t.elapsed() < DIFF_TIMEOUT, "not searched: {:?}", t.elapsed());
    }

    #[test]
    fn the_history_grows_keeps_the_newest_and_restarts_when_broken() {
        let v: Vec<String> = (0..KEEP + 3).map(|i| packages(&["a", &format!("p{i}")])).collect();
        let mut index = next(None, &Digests::of(v[0].as_bytes()), "0").expect("first").index;
        assert!(index.patches.is_empty());
        for i in 1..v.len() {
            let n = next(
                Some(Old::whole(&v[i - 1], &v[i], Some(index.clone()))),
                &Digests::of(v[i].as_bytes()),
                &i.to_string(),
            )
            .expect("next");
            let (name, gz) = n.patch.expect("a change makes a patch");
            assert_eq!(name, i.to_string());
            assert_eq!(Sum::from(&Digests::of(&gz)), n.index.patches.last().expect("patch").download);
            index = n.index;
            // The text round-trips.
            assert_eq!(DiffIndex::parse(&index.render()).as_ref(), Some(&index));
        }
        assert_eq!(index.patches.len(), KEEP);
        assert_eq!(index.patches[0].name, "3");
        assert_eq!(index.current, Sum::from(&Digests::of(v[v.len() - 1].as_bytes())));
        // Nothing changed: same history, no patch.
        let same = next(
            Some(Old::whole(&v[v.len() - 1], &v[v.len() - 1], Some(index.clone()))),
            &Digests::of(v[v.len() - 1].as_bytes()),
            "x",
        )
        .expect("same");
        assert_eq!((same.index.clone(), same.patch), (index.clone(), None));
        // A parent index that does not end at the parent's file (rolled back by hand, lost):
        // the history starts again from the parent's file.
        let broken = next(Some(Old::whole(&v[0], &v[1], Some(index))), &Digests::of(v[1].as_bytes()), "y").expect("restart");
        assert_eq!(broken.index.patches.len(), 1);
        assert!(DiffIndex::parse("SHA256-Current: x\n").is_none());
    }
}
