//! Writing apt indices: `Packages` (plain, gz, xz) and `Contents-<arch>.gz` per component and
//! architecture, and the `Release` file that lists them. Pure: records in, files out.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::io::Write as _;
use std::sync::Arc;

use rustshare_control::model::{Distribution, RepositoryConfig};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc2822;

use crate::deb::Digests;
use crate::snapshot::{PackageRecord, SourceRecord};

/// One file of a `dists/<suite>/` tree.
#[derive(Debug, Clone)]
pub struct IndexFile {
    /// Path under `dists/<suite>/`, such as `main/binary-amd64/Packages.gz`.
    pub path: String,
    /// Contents (of `Packages` kept for its pdiff though not stored; of `Contents-<arch>` not
    /// kept).
    pub data: Vec<u8>,
    /// Digests of the contents.
    pub digests: Digests,
    /// Whether the file is stored. `Packages` and `Contents-<arch>` are listed in Release
    /// (apt checks what it unpacks against them, and fetches `Contents` only when it is
    /// listed) but stored compressed only, as Debian's archive does; the packages face
    /// unpacks the `.gz` for a client that asks for one by name.
    pub stored: bool,
    /// Where [`crate::pieces`] cut the text of a `Packages` (empty otherwise).
    pub outline: Vec<crate::pieces::Span>,
}

impl IndexFile {
    /// A stored file of `data` at `path`, with its digests.
    #[must_use]
    pub fn new(path: String, data: Vec<u8>) -> Self {
        let digests = Digests::of(&data);
        Self {
            path,
            data,
            digests,
            stored: true,
            outline: Vec::new(),
        }
    }

    /// A file Release lists that is stored compressed only.
    #[must_use]
    pub fn listed(path: String, data: Vec<u8>) -> Self {
        Self {
            stored: false,
            ..Self::new(path, data)
        }
    }
}

/// The `Packages` paragraph of one record.
fn stanza(out: &mut String, r: &PackageRecord) {
    // Pushed piece by piece: `write!` costs a third of a 100,000-package text.
    for part in [
        r.control.as_str(),
        "Filename: ",
        &r.filename,
        "\nSize: ",
        itoa::Buffer::new().format(r.size),
        "\nMD5sum: ",
        &r.md5,
        "\nSHA256: ",
        &r.sha256,
        "\n\n",
    ] {
        out.push_str(part);
    }
}

/// Text of `Packages` for a component and architecture: its own packages and every `all` one.
#[must_use]
pub fn packages_text<'a>(records: impl IntoIterator<Item = &'a PackageRecord>, component: &str, arch: &str) -> String {
    packages_text_and_cuts(records, component, arch).0
}

/// [`packages_text`] and where [`crate::pieces`] cuts it.
#[must_use]
pub fn packages_text_and_cuts<'a>(
    records: impl IntoIterator<Item = &'a PackageRecord>,
    component: &str,
    arch: &str,
) -> (String, Vec<usize>) {
    let mut chosen: Vec<&PackageRecord> = records
        .into_iter()
        .filter(|r| r.component == component && (r.architecture == arch || r.architecture == "all"))
        .collect();
    chosen.sort_by(|a, b| (&a.package, &a.architecture, &a.version).cmp(&(&b.package, &b.architecture, &b.version)));
    let mut out = String::with_capacity(chosen.iter().map(|r| r.control.len() + 200).sum());
    let mut ends = Vec::with_capacity(chosen.len());
    for r in &chosen {
        stanza(&mut out, r);
        ends.push((r.package.as_str(), out.len()));
    }
    let cuts = crate::pieces::cuts(&ends);
    (out, cuts)
}

/// What each pool file installs, by the file's SHA-256 ([`crate::deb::Deb::files`]).
pub type FileLists = HashMap<String, Arc<Vec<String>>>;

/// Text of `Contents-<arch>` for a component, as Debian lays it out: every path its packages
/// (and every `all` one) install, sorted, each followed by the packages that install it as
/// `section/name`. `apt-file` reads it.
#[must_use]
pub fn contents_text(records: &[&PackageRecord], component: &str, arch: &str, lists: &FileLists) -> String {
    contents_text_and_cuts(records, component, arch, lists).0
}

/// [`contents_text`] and where [`crate::pieces`] cuts it (after lines whose path hashes to a
/// boundary, so one package more moves no other cut).
#[must_use]
pub fn contents_text_and_cuts(records: &[&PackageRecord], component: &str, arch: &str, lists: &FileLists) -> (String, Vec<usize>) {
    // (path, section, package): sorted rather than mapped, it is one allocation for the lot.
    let mut rows: Vec<(&str, &str, &str)> = Vec::new();
    for r in records
        .iter()
        .filter(|r| r.component == component && (r.architecture == arch || r.architecture == "all"))
    {
        let Some(files) = lists.get(&r.sha256) else { continue };
        let section = r.control.lines().find_map(|l| l.strip_prefix("Section:")).map_or("misc", str::trim);
        rows.extend(files.iter().map(|f| (f.as_str(), section, r.package.as_str())));
    }
    rows.sort_unstable_by(|a, b| a.0.cmp(b.0));
    let mut out = String::with_capacity(rows.iter().map(|r| r.0.len().max(55) + r.1.len() + r.2.len() + 3).sum());
    let mut ends = Vec::new();
    let mut owners: Vec<(&str, &str)> = Vec::new();
    for group in rows.chunk_by(|a, b| a.0 == b.0) {
        let path = group[0].0;
        owners.clear();
        owners.extend(group.iter().map(|r| (r.1, r.2)));
        // Ordered as the `section/name` strings are.
        owners.sort_unstable_by(|a, b| {
            a.0.bytes()
                .chain(*b"/")
                .chain(a.1.bytes())
                .cmp(b.0.bytes().chain(*b"/").chain(b.1.bytes()))
        });
        owners.dedup();
        // Debian pads the path to a column; apt-file splits on the last run of blanks.
        let _ = write!(out, "{path:<55} ");
        for (i, (section, package)) in owners.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            out.push_str(section);
            out.push('/');
            out.push_str(package);
        }
        out.push('\n');
        ends.push((path, out.len()));
    }
    let cuts = crate::pieces::cuts(&ends);
    (out, cuts)
}

/// Text of `Sources` for a component, sorted by name and version.
#[must_use]
pub fn sources_text(records: &[&SourceRecord], component: &str) -> String {
    let mut chosen: Vec<&SourceRecord> = records.iter().copied().filter(|r| r.component == component).collect();
    chosen.sort_by(|a, b| (&a.package, &a.version).cmp(&(&b.package, &b.version)));
    chosen.iter().map(|r| crate::dsc::stanza(r)).collect()
}

/// gzip at the level Debian's archive uses.
///
/// # Errors
/// Never in practice (writes to memory).
pub fn gzip(data: &[u8]) -> std::io::Result<Vec<u8>> {
    let mut e = flate2::write::GzEncoder::new(Vec::with_capacity(data.len() / 4), flate2::Compression::new(6));
    e.write_all(data)?;
    e.finish()
}

/// xz at preset 1: on Packages files it compresses about as well as preset 6 in a tenth of the
/// time (measured: 3.7 MB in 0.04 s against 0.46 s, and smaller). Non-empty indices are
/// compressed in pieces instead ([`crate::pieces`]).
///
/// # Errors
/// Never in practice (writes to memory).
pub fn xz(data: &[u8]) -> std::io::Result<Vec<u8>> {
    let mut e = xz2::write::XzEncoder::new(Vec::with_capacity(data.len() / 4), 1);
    e.write_all(data)?;
    e.finish()
}

/// Whether a path under `dists/<suite>/` names a file Release lists that a snapshot stores
/// compressed only (see [`IndexFile::stored`]): `<component>/binary-<arch>/Packages` or
/// `<component>/Contents-<arch>`.
#[must_use]
pub fn packed_only(path: &str) -> bool {
    let name = path.rsplit('/').next().unwrap_or(path);
    name == "Packages" || (name.starts_with("Contents-") && !name.contains('.'))
}

/// `Packages`, `.gz` and `.xz` of a component and architecture, and the pieces they used.
fn packages_files(
    records: &[&PackageRecord],
    comp: &str,
    arch: &str,
    cache: &crate::pieces::Cache,
) -> std::io::Result<(Vec<IndexFile>, crate::pieces::Cache)> {
    let mut used = crate::pieces::Cache::new();
    let (text, cuts) = packages_text_and_cuts(records.iter().copied(), comp, arch);
    let dir = format!("{comp}/binary-{arch}");
    let (gz, xz, outline) = if cuts.is_empty() {
        (gzip(text.as_bytes())?, xz(text.as_bytes())?, Vec::new())
    } else {
        // Pieces compress on every core; only those whose text changed are compressed.
        crate::pieces::compress_indexed(text.as_bytes(), &cuts, cache, &mut used)?
    };
    // Digests of the three files side by side.
    let (mut plain, gz, xz) = std::thread::scope(|s| {
        let g = s.spawn(|| IndexFile::new(format!("{dir}/Packages.gz"), gz));
        let x = s.spawn(|| IndexFile::new(format!("{dir}/Packages.xz"), xz));
        let p = IndexFile::listed(format!("{dir}/Packages"), text.into_bytes());
        (p, g.join(), x.join())
    });
    plain.outline = outline;
    let gz = gz.map_err(|_| std::io::Error::other("digest thread panicked"))?;
    let xz = xz.map_err(|_| std::io::Error::other("digest thread panicked"))?;
    Ok((vec![plain, gz, xz], used))
}

/// `Contents-<arch>.gz` of a component, and the pieces it used. apt fetches an optional index
/// such as Contents only when Release lists it under its uncompressed name, so that name is
/// listed too (its digests verify the unpacked .gz).
fn contents_files(
    records: &[&PackageRecord],
    comp: &str,
    arch: &str,
    lists: &FileLists,
    cache: &crate::pieces::Cache,
) -> std::io::Result<(Vec<IndexFile>, crate::pieces::Cache)> {
    let mut used = crate::pieces::Cache::new();
    let (contents, cuts) = contents_text_and_cuts(records, comp, arch, lists);
    let gz = if cuts.is_empty() {
        gzip(contents.as_bytes())?
    } else {
        crate::pieces::gzip_indexed(contents.as_bytes(), &cuts, cache, &mut used)?
    };
    Ok((
        vec![
            IndexFile::new(format!("{comp}/Contents-{arch}.gz"), gz),
            IndexFile {
                data: Vec::new(),
                ..IndexFile::listed(format!("{comp}/Contents-{arch}"), contents.into_bytes())
            },
        ],
        used,
    ))
}

/// Every index file of one distribution, before the Release file. Compressed pieces found in
/// `cache` are reused; the pieces used are added to `used` (see [`crate::pieces`]).
///
/// # Errors
/// Compression failures (none in practice).
pub fn distribution_indices(
    cfg: &RepositoryConfig,
    dist: &Distribution,
    records: &[&PackageRecord],
    sources: &[&SourceRecord],
    lists: &FileLists,
    cache: &crate::pieces::Cache,
    used: &mut crate::pieces::Cache,
) -> std::io::Result<Vec<IndexFile>> {
    let mut jobs = Vec::new();
    for comp in &cfg.components {
        for arch in &cfg.architectures {
            jobs.push((comp.clone(), arch.clone()));
        }
    }
    let mut files = Vec::new();
    for (comp, arch) in &jobs {
        // `Contents` on a core of its own while `Packages` is made on this one; they share
        // nothing but the records, and the pieces cache is only read until both are done.
        let (packages, contents) = std::thread::scope(|s| {
            let contents = s.spawn(|| contents_files(records, comp, arch, lists, cache));
            let packages = packages_files(records, comp, arch, cache);
            (packages, contents.join())
        });
        let (pk, pk_used) = packages?;
        let (ct, ct_used) = contents.map_err(|_| std::io::Error::other("Contents thread panicked"))??;
        files.extend(pk);
        files.extend(ct);
        used.extend(pk_used);
        for (k, p) in ct_used {
            // A `Packages` piece (with its xz block) is kept over the same text made for gzip alone.
            used.entry(k).or_insert(p);
        }
    }
    for comp in &cfg.components {
        let text = sources_text(sources, comp);
        let dir = format!("{comp}/source");
        files.push(IndexFile::new(format!("{dir}/Sources.gz"), gzip(text.as_bytes())?));
        files.push(IndexFile::new(format!("{dir}/Sources.xz"), xz(text.as_bytes())?));
        files.push(IndexFile::new(format!("{dir}/Sources"), text.into_bytes()));
        let release = format!(
            "Archive: {}\nOrigin: {}\nLabel: {}\nComponent: {comp}\nArchitecture: source\n",
            dist.suite, cfg.origin, cfg.label
        );
        files.push(IndexFile::new(format!("{dir}/Release"), release.into_bytes()));
    }
    Ok(files)
}

fn date(t: OffsetDateTime) -> String {
    // apt wants RFC 2822 dates in UTC ("Sat, 01 Jan 2000 00:00:00 UTC").
    t.to_offset(time::UtcOffset::UTC)
        .format(&Rfc2822)
        .map(|s| s.replace("+0000", "UTC"))
        .unwrap_or_default()
}

/// The `Release` file of a distribution listing `files`.
#[must_use]
pub fn release_text(cfg: &RepositoryConfig, dist: &Distribution, files: &[IndexFile], now: OffsetDateTime) -> String {
    let mut r = String::new();
    let _ = writeln!(r, "Origin: {}", cfg.origin.trim());
    let _ = writeln!(r, "Label: {}", cfg.label.trim());
    let _ = writeln!(r, "Suite: {}", dist.suite);
    let _ = writeln!(r, "Codename: {}", dist.codename);
    let _ = writeln!(r, "Date: {}", date(now));
    if let Some(days) = cfg.valid_until_days {
        let _ = writeln!(r, "Valid-Until: {}", date(now + time::Duration::days(i64::from(days))));
    }
    let _ = writeln!(r, "Architectures: {}", cfg.architectures.join(" "));
    let _ = writeln!(r, "Components: {}", cfg.components.join(" "));
    if !cfg.description.trim().is_empty() {
        let _ = writeln!(r, "Description: {}", cfg.description.trim());
    }
    r.push_str("Acquire-By-Hash: yes\n");
    let width = files.iter().map(|f| f.digests.size.to_string().len()).max().unwrap_or(1);
    r.push_str("MD5Sum:\n");
    for f in files {
        let _ = writeln!(r, " {} {:>width$} {}", f.digests.md5, f.digests.size, f.path);
    }
    r.push_str("SHA256:\n");
    for f in files {
        let _ = writeln!(r, " {} {:>width$} {}", f.digests.sha256, f.digests.size, f.path);
    }
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(pkg: &str, arch: &str, comp: &str) -> PackageRecord {
        PackageRecord {
            dist: "stable".into(),
            component: comp.into(),
            package: pkg.into(),
            version: "1.0".into(),
            architecture: arch.into(),
            filename: format!("pool/{comp}/{}/{pkg}/{pkg}_1.0_{arch}.deb", &pkg[..1]),
            size: 10,
            md5: "m".into(),
            sha256: "s".into(),
            control: format!("Package: {pkg}\nVersion: 1.0\nArchitecture: {arch}\n"),
            lists: None,
        }
    }

    fn cfg() -> RepositoryConfig {
        RepositoryConfig {
            distributions: vec![Distribution {
                suite: "stable".into(),
                codename: "stable".into(),
            }],
            components: vec!["main".into()],
            architectures: vec!["amd64".into(), "arm64".into()],
            origin: "O".into(),
            label: "L".into(),
            description: String::new(),
            incoming_prefix: "incoming/".into(),
            retain: 10,
            retain_grace_secs: 600,
            keep_versions: 1,
            uploaders: Vec::new(),
            signed_uploads: false,
            valid_until_days: Some(7),
        }
    }

    #[test]
    fn all_packages_go_to_every_architecture() {
        let rs = [
            rec("zed", "amd64", "main"),
            rec("alpha", "all", "main"),
            rec("other", "arm64", "main"),
        ];
        let amd = packages_text(&rs, "main", "amd64");
        assert!(amd.starts_with("Package: alpha\n"), "sorted: {amd}");
        assert!(amd.contains("Package: zed\n") && !amd.contains("Package: other"));
        assert!(amd.contains("Filename: pool/main/a/alpha/alpha_1.0_all.deb\nSize: 10\nMD5sum: m\nSHA256: s\n\n"));
        assert!(packages_text(&rs, "main", "arm64").contains("Package: alpha\n"));
        assert!(packages_text(&rs, "contrib", "arm64").is_empty());
    }

    #[test]
    fn whole_file_compressors_round_trip() {
        let text = (0..2_000)
            .map(|i| format!("Package: p{i}\nVersion: 1.{i}\n\n"))
            .collect::<Vec<_>>()
            .concat();
        let mut back = Vec::new();
        std::io::Read::read_to_end(&mut xz2::read::XzDecoder::new(&xz(text.as_bytes()).expect("xz")[..]), &mut back).expect("unxz");
        assert_eq!(back, text.as_bytes());
        let mut back = Vec::new();
        std::io::Read::read_to_end(
            &mut flate2::read::GzDecoder::new(&gzip(text.as_bytes()).expect("gz")[..]),
            &mut back,
        )
        .expect("gunzip");
        assert_eq!(back, text.as_bytes());
    }

    #[test]
    fn release_lists_every_file_under_md5_and_sha256() {
        let c = cfg();
        let files = distribution_indices(
            &c,
            &c.distributions[0],
            &[&rec("a1", "amd64", "main")],
            &[],
            &FileLists::new(),
            &Default::default(),
            &mut Default::default(),
        )
        .expect("indices");
        assert_eq!(
            files.len(),
            14,
            "Packages and Contents (plain, gz; Packages xz too) for each architecture, Sources (plain, gz, xz) and source/Release"
        );
        let now = time::macros::datetime!(2026-01-02 03:04:05 UTC);
        let r = release_text(&c, &c.distributions[0], &files, now);
        assert!(r.contains("Date: Fri, 02 Jan 2026 03:04:05 UTC\n"), "{r}");
        assert!(r.contains("Valid-Until: Fri, 09 Jan 2026 03:04:05 UTC\n"));
        assert!(r.contains("Architectures: amd64 arm64\n") && !r.contains(" all"));
        assert_eq!(r.matches("main/binary-arm64/Packages.xz").count(), 2);
        assert_eq!(r.matches("main/Contents-amd64.gz").count(), 2);
        assert_eq!(r.matches("main/Contents-amd64\n").count(), 2);
        assert_eq!(r.matches(" main/source/Sources.xz\n").count(), 2);
        assert_eq!(r.matches(" main/source/Release\n").count(), 2);
        assert!(r.lines().all(|l| l == l.trim_end()), "no trailing blanks");
    }

    #[test]
    fn contents_lists_each_path_once_with_its_owners_in_string_order() {
        let mut one = rec("one", "amd64", "main");
        one.control.push_str("Section: a\n");
        one.sha256 = "s1".into();
        let mut two = rec("two", "all", "main");
        two.control.push_str("Section: a-x\n");
        two.sha256 = "s2".into();
        let lists: FileLists = [
            (
                "s1".to_owned(),
                Arc::new(vec!["usr/bin/shared".to_owned(), "usr/bin/one".to_owned()]),
            ),
            ("s2".to_owned(), Arc::new(vec!["usr/bin/shared".to_owned()])),
        ]
        .into_iter()
        .collect();
        let text = contents_text(&[&one, &two], "main", "amd64", &lists);
        // "a-x/two" sorts before "a/one" as strings ('-' before '/').
        assert_eq!(
            text,
            format!("{:<55} a/one\n{:<55} a-x/two,a/one\n", "usr/bin/one", "usr/bin/shared")
        );
        let (_, cuts) = contents_text_and_cuts(&[&one, &two], "main", "amd64", &lists);
        assert_eq!(cuts.last(), Some(&text.len()));
    }
}
