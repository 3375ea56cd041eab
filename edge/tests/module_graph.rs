//! The edge's modules import one way: from `main` and the CLI down to `wire`. A module that
//! names another (`crate::a::b`, `super::x`, or a child's `child::x`) depends on it; this test
//! builds that graph from the source and fails on any cycle, naming it.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Module path (`face::s3::auth`, the crate root is `crate`) of every file under `src/`.
fn modules(src: &Path) -> BTreeMap<String, PathBuf> {
    let mut out = BTreeMap::new();
    let mut stack = vec![src.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).expect("read src dir") {
            let path = entry.expect("dir entry").path();
            if path.is_dir() {
                stack.push(path);
                continue;
            }
            if path.extension().is_none_or(|e| e != "rs") {
                continue;
            }
            let rel = path.strip_prefix(src).expect("under src").with_extension("");
            let mut parts: Vec<String> = rel.iter().map(|p| p.to_string_lossy().into_owned()).collect();
            if parts.last().is_some_and(|l| l == "mod") {
                parts.pop();
            }
            if parts == ["main"] {
                continue;
            }
            let name = if parts == ["lib"] { "crate".to_owned() } else { parts.join("::") };
            out.insert(name, path);
        }
    }
    out
}

/// The file's text up to its unit tests, which may reach anywhere.
fn code(path: &Path) -> String {
    let text = std::fs::read_to_string(path).expect("read source");
    let cut = text.find("#[cfg(test)]\nmod tests").unwrap_or(text.len());
    text[..cut].to_owned()
}

/// Every `a::b::c` path in `text` that starts with `head::`, as its segments after the head.
fn paths_after(text: &str, head: &str) -> Vec<Vec<String>> {
    let needle = format!("{head}::");
    let mut out = Vec::new();
    let mut from = 0;
    while let Some(i) = text[from..].find(&needle) {
        let start = from + i;
        from = start + needle.len();
        let before = text[..start].chars().next_back();
        if before.is_some_and(|c| c.is_alphanumeric() || c == '_' || c == ':') {
            continue;
        }
        let rest = &text[from..];
        if rest.starts_with('{') {
            // `crate::{a, b::c}`: each item of the group (one level deep is all we write).
            let end = rest.find('}').unwrap_or(rest.len());
            for item in rest[1..end].split(',') {
                let segs: Vec<String> = item
                    .trim()
                    .split("::")
                    .map(|s| s.trim().to_owned())
                    .filter(|s| !s.is_empty())
                    .collect();
                if !segs.is_empty() {
                    out.push(segs);
                }
            }
            continue;
        }
        let segs: Vec<String> = rest
            .split(|c: char| !(c.is_alphanumeric() || c == '_' || c == ':'))
            .next()
            .unwrap_or("")
            .split("::")
            .take_while(|s| !s.is_empty())
            .map(str::to_owned)
            .collect();
        if !segs.is_empty() {
            out.push(segs);
        }
    }
    out
}

/// The longest known module that `segs` (absolute, without `crate`) names.
fn resolve(mods: &BTreeMap<String, PathBuf>, segs: &[String]) -> Option<String> {
    (1..=segs.len()).rev().map(|n| segs[..n].join("::")).find(|m| mods.contains_key(m))
}

fn graph(src: &Path) -> BTreeMap<String, BTreeSet<String>> {
    let mods = modules(src);
    let mut edges: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (name, path) in &mods {
        let text = code(path);
        let own: Vec<String> = if name == "crate" {
            vec![]
        } else {
            name.split("::").map(str::to_owned).collect()
        };
        let mut targets = Vec::new();
        for segs in paths_after(&text, "crate") {
            targets.push(segs);
        }
        // `super::` is relative to the file's module (mod.rs files are their directory).
        for segs in paths_after(&text, "super") {
            let mut abs = own[..own.len().saturating_sub(1)].to_vec();
            abs.extend(segs);
            targets.push(abs);
        }
        for segs in paths_after(&text, "self") {
            let mut abs = own.clone();
            abs.extend(segs);
            targets.push(abs);
        }
        // A child module named by its bare name (`child::f()`, `use child::X`).
        for (other, _) in mods.range(format!("{}::", own.join("::"))..) {
            let Some(child) = other
                .strip_prefix(&format!("{}::", own.join("::")))
                .or(if own.is_empty() { Some(other) } else { None })
            else {
                break;
            };
            if child.contains("::") || other == "crate" {
                continue;
            }
            for segs in paths_after(&text, child) {
                let mut abs = own.clone();
                abs.push(child.to_owned());
                abs.extend(segs);
                targets.push(abs);
            }
        }
        let set = edges.entry(name.clone()).or_default();
        for t in targets {
            if let Some(m) = resolve(&mods, &t).filter(|m| m != name) {
                set.insert(m);
            }
        }
    }
    edges
}

/// A cycle, if the graph has one.
fn find_cycle(edges: &BTreeMap<String, BTreeSet<String>>) -> Option<Vec<String>> {
    #[derive(Clone, Copy, PartialEq)]
    enum Mark {
        New,
        Open,
        Done,
    }
    fn visit(
        n: &str,
        edges: &BTreeMap<String, BTreeSet<String>>,
        marks: &mut BTreeMap<String, Mark>,
        stack: &mut Vec<String>,
    ) -> Option<Vec<String>> {
        marks.insert(n.to_owned(), Mark::Open);
        stack.push(n.to_owned());
        for m in edges.get(n).into_iter().flatten() {
            match marks.get(m).copied().unwrap_or(Mark::New) {
                Mark::Open => {
                    let at = stack.iter().position(|s| s == m).unwrap_or(0);
                    let mut cycle = stack[at..].to_vec();
                    cycle.push(m.clone());
                    return Some(cycle);
                }
                Mark::New => {
                    if let Some(c) = visit(m, edges, marks, stack) {
                        return Some(c);
                    }
                }
                Mark::Done => {}
            }
        }
        stack.pop();
        marks.insert(n.to_owned(), Mark::Done);
        None
    }
    let mut marks = BTreeMap::new();
    for n in edges.keys() {
        if marks.get(n).copied().unwrap_or(Mark::New) == Mark::New {
            let mut stack = Vec::new();
            if let Some(c) = visit(n, edges, &mut marks, &mut stack) {
                return Some(c);
            }
        }
    }
    None
}

#[test]
fn the_edge_modules_have_no_import_cycle() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let edges = graph(&src);
    // The checker must see the edges it is meant to see, or it proves nothing.
    assert!(
        edges.get("cli").is_some_and(|e| e.contains("config")),
        "cli -> config not seen: {edges:?}"
    );
    assert!(edges.len() > 20, "too few modules found: {}", edges.len());
    if let Some(cycle) = find_cycle(&edges) {
        panic!("import cycle among the edge's modules: {}", cycle.join(" -> "));
    }
}

#[test]
fn the_checker_finds_a_planted_cycle() {
    let mut edges: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    edges.entry("a".into()).or_default().insert("b".into());
    edges.entry("b".into()).or_default().insert("c".into());
    edges.entry("c".into()).or_default().insert("a".into());
    assert_eq!(find_cycle(&edges), Some(vec!["a".into(), "b".into(), "c".into(), "a".into()]));
    edges.get_mut("c").expect("c").clear();
    assert_eq!(find_cycle(&edges), None);
}

#[test]
fn paths_are_read_from_groups_super_and_bare_children() {
    let p = paths_after(
        "use crate::{api::state::X, wire};\nlet x = crate::face::s3::f(); foo_crate::no",
        "crate",
    );
    assert_eq!(
        p,
        vec![
            vec!["api".to_owned(), "state".into(), "X".into()],
            vec!["wire".to_owned()],
            vec!["face".to_owned(), "s3".into(), "f".into()]
        ]
    );
}
