//! Source packages: reading a `.dsc` (clear-signed or not) and writing its `Sources` paragraph.
//! Pure: text in, facts out; the files a `.dsc` lists are hashed by the caller.

use std::fmt::Write as _;
use std::str::FromStr;

use crate::deb::{DebError, valid_package_name, version_in_filename};
use crate::snapshot::SourceRecord;

/// Largest `.dsc` read; real ones are a few KiB.
pub const MAX_DSC: u64 = 1 << 20;

/// Fields the archive writes itself (from the files it holds), never copied from the `.dsc`.
const OWN_FIELDS: &[&str] = &[
    "Source",
    "Files",
    "Checksums-Sha1",
    "Checksums-Sha256",
    "Checksums-Sha512",
    "Directory",
];

/// A file a `.dsc` lists, with what the `.dsc` says of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listed {
    /// File name (no directory).
    pub name: String,
    /// Bytes.
    pub size: u64,
    /// SHA-256, hex (lower case).
    pub sha256: String,
}

/// What the publisher needs from a `.dsc`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dsc {
    /// `Source`.
    pub source: String,
    /// `Version`.
    pub version: String,
    /// The files it names (`Checksums-Sha256`).
    pub files: Vec<Listed>,
    /// The paragraph's other fields as written (without `Source`, `Files`, `Checksums-*`).
    pub control: String,
}

/// The text of a clear-signed message (dash-escaping undone), or `text` when it is not signed.
/// The signature is not checked here: signed uploads are checked against their `.changes`.
#[must_use]
pub fn cleartext(text: &str) -> String {
    let Some(rest) = text.trim_start().strip_prefix("-----BEGIN PGP SIGNED MESSAGE-----") else {
        return text.to_owned();
    };
    // Armor headers ("Hash: SHA256") end at the first blank line.
    let body = rest.split_once("\n\n").map_or("", |(_, b)| b);
    let body = body.split("\n-----BEGIN PGP SIGNATURE-----").next().unwrap_or("");
    let mut out = String::with_capacity(body.len() + 1);
    for line in body.lines() {
        out.push_str(line.strip_prefix("- ").unwrap_or(line));
        out.push('\n');
    }
    out
}

/// Reads and checks a `.dsc`.
///
/// # Errors
/// [`DebError`] naming the field that is missing or wrong.
pub fn parse(text: &str) -> Result<Dsc, DebError> {
    let text = cleartext(text);
    let para = deb822_lossless::Paragraph::from_str(&text).map_err(|e| DebError::ControlSyntax(e.to_string()))?;
    let get = |f: &'static str| -> Result<String, DebError> {
        para.get(f)
            .map(|v| v.trim().to_owned())
            .filter(|v| !v.is_empty())
            .ok_or(DebError::MissingField(f))
    };
    let source = get("Source")?;
    let version = get("Version")?;
    get("Maintainer")?;
    if !valid_package_name(&source) {
        return Err(DebError::InvalidField {
            field: "Source",
            value: source,
            reason: "use at least two of a-z, 0-9, '+', '-', '.', starting with a letter or digit",
        });
    }
    crate::deb::check_version(&version)?;
    let files = checksums(&get("Checksums-Sha256")?)?;
    let control = crate::deb::fields_without(&para, OWN_FIELDS);
    Ok(Dsc {
        source,
        version,
        files,
        control,
    })
}

/// The files a `Checksums-Sha256` field lists (of a `.dsc` or a `.changes`).
///
/// # Errors
/// [`DebError`] for a line that is not `<sha256> <size> <plain file name>`, or none at all.
pub fn checksums(field: &str) -> Result<Vec<Listed>, DebError> {
    let mut files = Vec::new();
    for line in field.lines().map(str::trim).filter(|l| !l.is_empty()) {
        let mut w = line.split_whitespace();
        let parsed = (|| {
            let sha256 = w.next()?.to_ascii_lowercase();
            let size = w.next()?.parse().ok()?;
            let name = w.next()?.to_owned();
            let plain = !name.is_empty() && !name.starts_with('.') && !name.contains(['/', '\\', '\0']);
            (w.next().is_none() && sha256.len() == 64 && sha256.bytes().all(|b| b.is_ascii_hexdigit()) && plain).then_some(Listed {
                name,
                size,
                sha256,
            })
        })();
        files.push(parsed.ok_or_else(|| DebError::InvalidField {
            field: "Checksums-Sha256",
            value: line.to_owned(),
            reason: "each line is <sha256> <size> <plain file name>",
        })?);
    }
    if files.is_empty() {
        return Err(DebError::MissingField("Checksums-Sha256"));
    }
    Ok(files)
}

/// The `.dsc`'s own file name, as Debian names it.
#[must_use]
pub fn file_name(source: &str, version: &str) -> String {
    format!("{source}_{}.dsc", version_in_filename(version))
}

/// The `Sources` paragraph of a record (ends with a blank line).
#[must_use]
pub fn stanza(r: &SourceRecord) -> String {
    let mut out = format!("Package: {}\n", r.package);
    out.push_str(&r.control);
    let _ = writeln!(out, "Directory: {}", r.directory);
    out.push_str("Files:\n");
    for f in &r.files {
        let _ = writeln!(out, " {} {} {}", f.md5, f.size, f.name);
    }
    out.push_str("Checksums-Sha256:\n");
    for f in &r.files {
        let _ = writeln!(out, " {} {} {}", f.sha256, f.size, f.name);
    }
    out.push('\n');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const DSC: &str = "-----BEGIN PGP SIGNED MESSAGE-----\nHash: SHA256\n\nFormat: 3.0 (native)\nSource: hello\nBinary: hello\nArchitecture: any\nVersion: 1.0\nMaintainer: A <a@example.com>\nStandards-Version: 4.6.2\nChecksums-Sha256:\n 2f1ef3b9f1d2b0bbd1c0e2b1f6c0d4b9b1a7c3c1d1e5f6a7b8c9d0e1f2a3b4c5 1234 hello_1.0.tar.xz\nFiles:\n 0123456789abcdef0123456789abcdef 1234 hello_1.0.tar.xz\n- X-Dashed: no\n\n-----BEGIN PGP SIGNATURE-----\n\nabc\n-----END PGP SIGNATURE-----\n";

    #[test]
    fn a_signed_dsc_is_read_and_its_own_fields_dropped() {
        let d = parse(DSC).expect("valid");
        assert_eq!((d.source.as_str(), d.version.as_str()), ("hello", "1.0"));
        assert_eq!(d.files.len(), 1);
        assert_eq!((d.files[0].name.as_str(), d.files[0].size), ("hello_1.0.tar.xz", 1234));
        assert!(d.control.starts_with("Format: 3.0 (native)\nBinary: hello\n"), "{}", d.control);
        assert!(!d.control.contains("Files") && !d.control.contains("Source:") && !d.control.contains("Checksums"));
        assert!(d.control.ends_with("X-Dashed: no\n"), "dash-escaping undone: {}", d.control);
        assert_eq!(file_name("hello", "2:1.0-1"), "hello_1.0-1.dsc");
    }

    #[test]
    fn bad_dscs_name_what_is_wrong() {
        assert_eq!(parse(&DSC.replace("Source: hello\n", "")), Err(DebError::MissingField("Source")));
        let no_sums = DSC.replace(
            "Checksums-Sha256:\n 2f1ef3b9f1d2b0bbd1c0e2b1f6c0d4b9b1a7c3c1d1e5f6a7b8c9d0e1f2a3b4c5 1234 hello_1.0.tar.xz\n",
            "",
        );
        assert_eq!(parse(&no_sums), Err(DebError::MissingField("Checksums-Sha256")));
        for bad in ["../../etc/passwd", "a/b.tar.xz", ".hidden"] {
            let r = parse(&DSC.replace(" 1234 hello_1.0.tar.xz\nFiles", &format!(" 1234 {bad}\nFiles")));
            assert!(
                matches!(
                    r,
                    Err(DebError::InvalidField {
                        field: "Checksums-Sha256",
                        ..
                    })
                ),
                "{bad}: {r:?}"
            );
        }
        assert!(matches!(
            parse(&DSC.replace("Version: 1.0", "Version: x1")),
            Err(DebError::InvalidField { field: "Version", .. })
        ));
    }
}
