//! Reading and validating one `.deb`: the ar container, `debian-binary`, the control
//! paragraph inside `control.tar.*`, and the digests the indices list. Pure: bytes in, facts out.

use std::io::Read;
use std::str::FromStr;

use md5::Md5;
use sha2::{Digest, Sha256};

/// Why a file is not an acceptable `.deb`. Messages name the problem and what to fix.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum DebError {
    /// Not an ar archive at all.
    #[error("not a Debian package: the file is not an ar archive")]
    NotAr,
    /// The archive is cut short or a member is unreadable.
    #[error("damaged ar archive: {0}")]
    Truncated(String),
    /// `debian-binary` is missing, misplaced or not format 2.x.
    #[error("debian-binary: {0}")]
    Format(String),
    /// A required member is absent.
    #[error("missing archive member {0}")]
    MissingMember(&'static str),
    /// A member uses a compression we do not read.
    #[error("member {0} uses an unsupported compression (use gz, xz or zst)")]
    Compression(String),
    /// `control.tar.*` has no `control` file or cannot be unpacked.
    #[error("control archive: {0}")]
    ControlArchive(String),
    /// `data.tar.*` cannot be unpacked, or lists more than the limits allow.
    #[error("data archive: {0}")]
    DataArchive(String),
    /// The control file is not one deb822 paragraph.
    #[error("control file is not a valid deb822 paragraph: {0}")]
    ControlSyntax(String),
    /// A required control field is absent or empty.
    #[error("control field {0} is missing")]
    MissingField(&'static str),
    /// A control field has an invalid value.
    #[error("control field {field} is invalid ({value:?}): {reason}")]
    InvalidField {
        /// Field name.
        field: &'static str,
        /// The value found.
        value: String,
        /// What is wrong.
        reason: &'static str,
    },
}

/// Digests and size of a file, as the indices list them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Digests {
    /// Length in bytes.
    pub size: u64,
    /// MD5, hex.
    pub md5: String,
    /// SHA-256, hex.
    pub sha256: String,
}

impl Digests {
    /// Digests of what `r` reads to its end.
    ///
    /// # Errors
    /// Read errors.
    pub fn of_reader(r: impl Read) -> std::io::Result<Self> {
        let mut h = Hashing {
            inner: r,
            md5: Md5::new(),
            sha256: Sha256::new(),
            size: 0,
        };
        std::io::copy(&mut h, &mut std::io::sink())?;
        Ok(Self {
            size: h.size,
            md5: hex::encode(h.md5.finalize()),
            sha256: hex::encode(h.sha256.finalize()),
        })
    }

    /// Digests of `data`; above a few megabytes the two run side by side (a 100,000-package
    /// `Packages` is about 40 MB, and MD5 takes three times as long as SHA-256 there).
    #[must_use]
    pub fn of(data: &[u8]) -> Self {
        const SPLIT_AT: usize = 4 << 20;
        let md5 = || hex::encode(Md5::digest(data));
        let sha256 = || hex::encode(Sha256::digest(data));
        let (md5, sha256) = if data.len() < SPLIT_AT {
            (md5(), sha256())
        } else {
            std::thread::scope(|s| {
                let h = s.spawn(sha256);
                let m = md5();
                (m, h.join().unwrap_or_else(|_| sha256()))
            })
        };
        Self {
            size: data.len() as u64,
            md5,
            sha256,
        }
    }
}

/// What the publisher needs from a `.deb`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Deb {
    /// `Package`.
    pub package: String,
    /// `Version`, as written.
    pub version: String,
    /// `Architecture`.
    pub architecture: String,
    /// Source package name (`Source` without its version), else the package name.
    pub source: String,
    /// The control paragraph as written, minus fields the index sets itself; ends in a newline.
    pub control: String,
    /// Digests of the whole file.
    pub digests: Digests,
    /// What the package installs (files and links, not directories), as `Contents` lists
    /// them: relative paths without a leading `./`, in archive order.
    pub files: Vec<String>,
}

/// Fields the archive writes from the pool file, never copied from the package.
const INDEX_FIELDS: &[&str] = &["Filename", "Size", "MD5sum", "SHA1", "SHA256", "SHA512"];

/// Largest control file read; real ones are a few KiB.
const MAX_CONTROL: u64 = 4 << 20;

/// Most entries of a data archive listed: Debian's largest packages hold about 150,000.
const MAX_DATA_ENTRIES: usize = 1_000_000;

/// Most bytes of path names of a data archive kept.
const MAX_DATA_NAMES: usize = 64 << 20;

/// Reads and validates a `.deb`.
///
/// # Errors
/// [`DebError`] saying what is wrong with the file.
pub fn inspect(data: &[u8]) -> Result<Deb, DebError> {
    inspect_reader(data)
}

/// Hashes and counts what is read through it.
struct Hashing<R> {
    inner: R,
    md5: Md5,
    sha256: Sha256,
    size: u64,
}

impl<R: Read> Read for Hashing<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.md5.update(&buf[..n]);
        self.sha256.update(&buf[..n]);
        self.size += n as u64;
        Ok(n)
    }
}

/// [`inspect`] over a stream: the file is hashed as it goes by and only the control member is
/// held in memory, so a package of any size costs a few MiB to inspect.
///
/// # Errors
/// [`DebError`] saying what is wrong with the file (a read error is a truncated file).
pub fn inspect_reader<R: Read>(r: R) -> Result<Deb, DebError> {
    let mut h = Hashing {
        inner: r,
        md5: Md5::new(),
        sha256: Sha256::new(),
        size: 0,
    };
    let mut magic = [0u8; 8];
    let mut got = 0;
    while got < magic.len() {
        match h.read(&mut magic[got..]) {
            Ok(0) => break,
            Ok(n) => got += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(DebError::Truncated(e.to_string())),
        }
    }
    if &magic[..got] != b"!<arch>\n" {
        return Err(DebError::NotAr);
    }
    let mut deb = inspect_members(std::io::Cursor::new(magic).chain(&mut h))?;
    // Padding after the last member, if any, is part of the file's digests too.
    std::io::copy(&mut h, &mut std::io::sink()).map_err(|e| DebError::Truncated(e.to_string()))?;
    deb.digests = Digests {
        size: h.size,
        md5: hex::encode(h.md5.finalize()),
        sha256: hex::encode(h.sha256.finalize()),
    };
    Ok(deb)
}

fn inspect_members<R: Read>(data: R) -> Result<Deb, DebError> {
    let mut ar = ar::Archive::new(data);
    let mut index = 0;
    let mut control = None;
    let mut files = None;
    while let Some(entry) = ar.next_entry() {
        let mut entry = entry.map_err(|e| DebError::Truncated(e.to_string()))?;
        let name = String::from_utf8_lossy(entry.header().identifier()).into_owned();
        let declared = entry.header().size();
        let mut body = Vec::with_capacity(usize::try_from(declared.min(MAX_CONTROL)).unwrap_or(0));
        if index == 0 || name.starts_with("control.tar") {
            entry
                .by_ref()
                .take(MAX_CONTROL + 1)
                .read_to_end(&mut body)
                .map_err(|e| DebError::Truncated(format!("{name}: {e}")))?;
        } else if name.starts_with("data.tar") && files.is_none() {
            let mut counted = Counting { inner: &mut entry, n: 0 };
            let listed = list_data(&name, &mut counted);
            // The tar ends before the member's padding: the rest must be there too. A member
            // cut short is a truncated upload, whatever the unpacking made of it.
            std::io::copy(&mut counted, &mut std::io::sink()).map_err(|e| DebError::Truncated(format!("{name}: {e}")))?;
            let n = counted.n;
            if n != declared {
                return Err(DebError::Truncated(format!("{name} is {n} of {declared} bytes")));
            }
            files = Some(listed?);
        } else {
            // Only the length matters; a short member means a cut-off upload.
            let n = std::io::copy(&mut entry, &mut std::io::sink()).map_err(|e| DebError::Truncated(format!("{name}: {e}")))?;
            if n != declared {
                return Err(DebError::Truncated(format!("{name} is {n} of {declared} bytes")));
            }
        }
        if index == 0 {
            if name != "debian-binary" {
                return Err(DebError::Format(format!("the first member is {name:?}, not debian-binary")));
            }
            let v = String::from_utf8_lossy(&body);
            if !v.starts_with("2.") {
                return Err(DebError::Format(format!("format {:?} is not 2.x", v.trim())));
            }
        } else if name.starts_with("control.tar") {
            if body.len() as u64 != declared || body.len() as u64 > MAX_CONTROL {
                return Err(DebError::Truncated(format!("{name} is cut short or too large")));
            }
            control = Some(read_control(&name, &body)?);
        }
        index += 1;
    }
    if index == 0 {
        return Err(DebError::MissingMember("debian-binary"));
    }
    let text = control.ok_or(DebError::MissingMember("control.tar.{gz,xz,zst}"))?;
    let files = files.ok_or(DebError::MissingMember("data.tar.{gz,xz,zst}"))?;
    let mut deb = parse_control(&text)?;
    deb.files = files;
    Ok(deb)
}

/// Counts what is read through it.
struct Counting<R> {
    inner: R,
    n: u64,
}

impl<R: Read> Read for Counting<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.n += n as u64;
        Ok(n)
    }
}

/// The paths a data archive installs (not its directories), as `Contents` lists them.
fn list_data<R: Read>(name: &str, r: R) -> Result<Vec<String>, DebError> {
    let err = |e: std::io::Error| DebError::DataArchive(format!("{name}: {e}"));
    let mut tar = tar::Archive::new(decompressor(name, r)?);
    let mut files = Vec::new();
    let mut bytes = 0;
    for entry in tar.entries().map_err(err)? {
        let entry = entry.map_err(err)?;
        if entry.header().entry_type().is_dir() {
            continue;
        }
        let path = entry.path().map_err(err)?;
        let p = path.to_string_lossy();
        let p = p.trim_start_matches("./").trim_start_matches('/');
        // Contents is one path per line: a name with a line break cannot be listed.
        if p.is_empty() || p.contains(['\n', '\r']) {
            continue;
        }
        bytes += p.len();
        if files.len() >= MAX_DATA_ENTRIES || bytes > MAX_DATA_NAMES {
            return Err(DebError::DataArchive(format!(
                "{name} lists more than {MAX_DATA_ENTRIES} entries or {} MiB of names",
                MAX_DATA_NAMES >> 20
            )));
        }
        files.push(p.to_owned());
    }
    Ok(files)
}

fn decompressor<'a, R: Read + 'a>(name: &str, r: R) -> Result<Box<dyn Read + 'a>, DebError> {
    let ext = name.rsplit_once(".tar").map_or("", |(_, e)| e);
    Ok(match ext {
        "" => Box::new(r),
        ".gz" => Box::new(flate2::read::GzDecoder::new(r)),
        ".xz" => Box::new(xz2::read::XzDecoder::new(r)),
        ".zst" => Box::new(zstd::stream::read::Decoder::new(r).map_err(|e| DebError::ControlArchive(format!("{name}: {e}")))?),
        _ => return Err(DebError::Compression(name.to_owned())),
    })
}

fn read_control(name: &str, body: &[u8]) -> Result<String, DebError> {
    let mut tar = tar::Archive::new(decompressor(name, body)?);
    let entries = tar.entries().map_err(|e| DebError::ControlArchive(format!("{name}: {e}")))?;
    for entry in entries {
        let entry = entry.map_err(|e| DebError::ControlArchive(format!("{name}: {e}")))?;
        let path = entry.path().map_err(|e| DebError::ControlArchive(e.to_string()))?.into_owned();
        let p = path.to_string_lossy();
        if p == "./control" || p == "control" {
            let mut text = String::new();
            entry
                .take(MAX_CONTROL)
                .read_to_string(&mut text)
                .map_err(|e| DebError::ControlArchive(format!("control: {e}")))?;
            return Ok(text);
        }
    }
    Err(DebError::ControlArchive(format!("{name} holds no control file")))
}

pub(crate) fn valid_package_name(s: &str) -> bool {
    s.len() >= 2
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"+-.".contains(&b))
        && s.as_bytes()[0].is_ascii_alphanumeric()
}

/// A paragraph's fields as written, without those named in `skip` (the archive writes them
/// itself). Trailing blanks go: clear-signing and some apt versions dislike them.
pub(crate) fn fields_without(para: &deb822_lossless::Paragraph, skip: &[&str]) -> String {
    let mut out = String::new();
    for entry in para.entries() {
        let Some(key) = entry.key() else { continue };
        if skip.iter().any(|f| f.eq_ignore_ascii_case(&key)) {
            continue;
        }
        for line in entry.to_string().lines() {
            let line = line.trim_end();
            if !line.is_empty() {
                out.push_str(line);
                out.push('\n');
            }
        }
    }
    out
}

/// Checks a `Version` field.
///
/// # Errors
/// [`DebError::InvalidField`] when it is not a Debian version.
pub(crate) fn check_version(version: &str) -> Result<(), DebError> {
    let parsed = debversion::Version::from_str(version).ok();
    let charset = version.bytes().all(|b| b.is_ascii_alphanumeric() || b".+~:-".contains(&b));
    if !charset || version.ends_with('-') || !parsed.is_some_and(|v| v.upstream_version.starts_with(|c: char| c.is_ascii_digit())) {
        return Err(DebError::InvalidField {
            field: "Version",
            value: version.to_owned(),
            reason: "not a Debian version ([epoch:]upstream[-revision], upstream starting with a digit)",
        });
    }
    Ok(())
}

/// Parses and checks a control paragraph (also used on stored index entries).
///
/// # Errors
/// [`DebError`] for syntax, a missing field or an invalid value.
pub fn parse_control(text: &str) -> Result<Deb, DebError> {
    let para = deb822_lossless::Paragraph::from_str(text).map_err(|e| DebError::ControlSyntax(e.to_string()))?;
    let get = |f: &'static str| -> Result<String, DebError> {
        para.get(f)
            .map(|v| v.trim().to_owned())
            .filter(|v| !v.is_empty())
            .ok_or(DebError::MissingField(f))
    };
    let package = get("Package")?;
    let version = get("Version")?;
    let architecture = get("Architecture")?;
    get("Maintainer")?;
    get("Description")?;
    if !valid_package_name(&package) {
        return Err(DebError::InvalidField {
            field: "Package",
            value: package,
            reason: "use at least two of a-z, 0-9, '+', '-', '.', starting with a letter or digit",
        });
    }
    check_version(&version)?;
    if architecture.contains(char::is_whitespace)
        || !architecture
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
    {
        return Err(DebError::InvalidField {
            field: "Architecture",
            value: architecture,
            reason: "a binary package has exactly one architecture, such as amd64 or all",
        });
    }
    let source = para
        .get("Source")
        .and_then(|s| s.split_whitespace().next().map(str::to_owned))
        .filter(|s| valid_package_name(s))
        .unwrap_or_else(|| package.clone());
    let control = fields_without(&para, INDEX_FIELDS);
    Ok(Deb {
        package,
        version,
        architecture,
        source,
        control,
        digests: Digests {
            size: 0,
            md5: String::new(),
            sha256: String::new(),
        },
        files: Vec::new(),
    })
}

/// The version without its epoch, as it appears in file names.
#[must_use]
pub fn version_in_filename(version: &str) -> &str {
    version.split_once(':').map_or(version, |(_, v)| v)
}

/// Debian's pool directory of a source package: `pool/<component>/<l or libX>/<source>`.
#[must_use]
pub fn pool_dir(component: &str, source: &str) -> String {
    let s = source;
    let initial = if s.starts_with("lib") && s.len() > 3 { &s[..4] } else { &s[..1] };
    format!("pool/{component}/{initial}/{s}")
}

/// Debian's pool path: `pool/<component>/<l or libX>/<source>/<package>_<version>_<arch>.deb`.
#[must_use]
pub fn pool_path(component: &str, deb: &Deb) -> String {
    format!(
        "{}/{}_{}_{}.deb",
        pool_dir(component, &deb.source),
        deb.package,
        version_in_filename(&deb.version),
        deb.architecture
    )
}

/// A real `.deb` made in memory, for tests.
#[cfg(test)]
pub(crate) mod testing {
    pub(crate) fn deb(name: &str, version: &str, payload: &[u8]) -> bytes::Bytes {
        let tgz = |files: &[(&str, &[u8])]| {
            let mut t = tar::Builder::new(flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast()));
            for (path, data) in files {
                let mut h = tar::Header::new_gnu();
                if path.ends_with('/') {
                    h.set_entry_type(tar::EntryType::Directory);
                }
                h.set_size(data.len() as u64);
                h.set_mode(0o644);
                h.set_cksum();
                t.append_data(&mut h, path, *data).expect("tar entry");
            }
            t.into_inner().expect("tar").finish().expect("gzip")
        };
        let control =
            format!("Package: {name}\nVersion: {version}\nArchitecture: amd64\nMaintainer: CI <ci@example.com>\nDescription: test\n");
        let mut a = ar::Builder::new(Vec::new());
        for (n, data) in [
            ("debian-binary", b"2.0\n".to_vec()),
            ("control.tar.gz", tgz(&[("./control", control.as_bytes())])),
            ("data.tar.gz", tgz(&[("./usr/share/", b""), ("./usr/share/x", payload)])),
        ] {
            a.append(&ar::Header::new(n.as_bytes().to_vec(), data.len() as u64), &data[..])
                .expect("ar entry");
        }
        bytes::Bytes::from(a.into_inner().expect("ar"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CONTROL: &str = "Package: hello\nVersion: 1:2.0-1\nArchitecture: amd64\nMaintainer: A <a@example.com>\nSource: hello-src (2.0-1)\nSHA256: bogus\nDescription: greets  \n Long text.\n .\n   verbatim  line\n";

    #[test]
    fn control_keeps_text_and_drops_index_fields() {
        let d = parse_control(CONTROL).expect("valid");
        assert_eq!(d.package, "hello");
        assert_eq!(d.source, "hello-src");
        assert!(!d.control.contains("SHA256"));
        assert!(d.control.contains("Description: greets\n Long text.\n .\n   verbatim  line\n"));
        assert_eq!(pool_path("main", &d), "pool/main/h/hello-src/hello_2.0-1_amd64.deb");
    }

    #[test]
    fn lib_packages_get_four_letter_prefix() {
        let d = parse_control(&CONTROL.replace("Source: hello-src (2.0-1)", "Source: libfoo")).expect("valid");
        assert_eq!(pool_path("main", &d), "pool/main/libf/libfoo/hello_2.0-1_amd64.deb");
    }

    #[test]
    fn bad_controls_name_the_field() {
        assert_eq!(
            parse_control(&CONTROL.replace("Maintainer: A <a@example.com>\n", "")),
            Err(DebError::MissingField("Maintainer"))
        );
        for bad in ["1 0", "abc", "1.0-", ""] {
            let r = parse_control(&CONTROL.replace("1:2.0-1", bad));
            assert!(
                matches!(
                    r,
                    Err(DebError::InvalidField { field: "Version", .. } | DebError::MissingField("Version"))
                ),
                "{bad}: {r:?}"
            );
        }
        assert!(matches!(
            parse_control(&CONTROL.replace("amd64", "amd64 i386")),
            Err(DebError::InvalidField { field: "Architecture", .. })
        ));
    }

    #[test]
    fn non_ar_is_refused() {
        assert_eq!(inspect(b"hello"), Err(DebError::NotAr));
        assert!(matches!(
            inspect(b"!<arch>\ndebian-binary   0"),
            Err(DebError::Truncated(_) | DebError::MissingMember(_))
        ));
    }

    /// Streamed a byte at a time (the worst a network read can do), the inspector finds what it
    /// finds in memory, digests included.
    #[test]
    fn streamed_inspection_matches_in_memory() {
        struct Trickle<'a>(&'a [u8]);
        impl Read for Trickle<'_> {
            fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
                let Some((first, rest)) = self.0.split_first() else { return Ok(0) };
                if buf.is_empty() {
                    return Ok(0);
                }
                buf[0] = *first;
                self.0 = rest;
                Ok(1)
            }
        }
        let data = super::testing::deb("streamed", "2.0-1", &vec![7u8; 300_000]);
        let whole = inspect(&data).expect("in memory");
        assert_eq!(whole.digests, Digests::of(&data));
        assert_eq!(inspect_reader(Trickle(&data)).expect("streamed"), whole);
        assert_eq!(inspect_reader(Trickle(b"not a deb at all")), Err(DebError::NotAr));
        let cut = &data[..data.len() - 1000];
        assert!(matches!(inspect_reader(Trickle(cut)), Err(DebError::Truncated(_))));
    }

    #[test]
    fn the_data_archive_is_listed_without_directories() {
        let data = super::testing::deb("lister", "1.0", b"x");
        assert_eq!(inspect(&data).expect("valid").files, vec!["usr/share/x".to_owned()]);
        // A data member that is not an archive at all is refused, naming the member.
        let mut a = ar::Builder::new(Vec::new());
        for (n, body) in [
            ("debian-binary", b"2.0\n".to_vec()),
            ("control.tar.gz", member(&data, "control.tar.gz")),
            ("data.tar.gz", b"not gzip".to_vec()),
        ] {
            a.append(&ar::Header::new(n.as_bytes().to_vec(), body.len() as u64), &body[..])
                .expect("ar");
        }
        let bad = a.into_inner().expect("ar");
        assert!(matches!(inspect(&bad), Err(DebError::DataArchive(m)) if m.contains("data.tar.gz")));
    }

    fn member(deb: &[u8], name: &str) -> Vec<u8> {
        let mut ar = ar::Archive::new(deb);
        while let Some(e) = ar.next_entry() {
            let mut e = e.expect("entry");
            if e.header().identifier() == name.as_bytes() {
                let mut v = Vec::new();
                e.read_to_end(&mut v).expect("read");
                return v;
            }
        }
        panic!("no {name}");
    }
}
