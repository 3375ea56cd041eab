//! Key validation and the filesystem encoding of keys. Pure: no IO.

use crate::{Error, Result};

/// Longest key S3 accepts, in bytes.
pub const MAX_KEY_LEN: usize = 1024;

/// Checks a key before any backend sees it.
///
/// Rejects what could escape a root or confuse a backend: empty keys, keys over 1024 bytes,
/// NUL and other control characters, backslashes, a leading `/`, and `.` or `..` segments.
///
/// # Errors
/// [`Error::InvalidKey`] naming the rule that failed.
pub fn validate(key: &str) -> Result<()> {
    if key.is_empty() {
        return Err(Error::InvalidKey("key is empty"));
    }
    if key.len() > MAX_KEY_LEN {
        return Err(Error::InvalidKey("key is longer than 1024 bytes"));
    }
    if key.contains('\0') {
        return Err(Error::InvalidKey("key contains NUL"));
    }
    if key.chars().any(char::is_control) {
        return Err(Error::InvalidKey("key contains a control character"));
    }
    if key.contains('\\') {
        return Err(Error::InvalidKey("key contains a backslash"));
    }
    if key.starts_with('/') {
        return Err(Error::InvalidKey("key starts with /"));
    }
    if key.split('/').any(|s| s == "." || s == "..") {
        return Err(Error::InvalidKey("key has a . or .. segment"));
    }
    Ok(())
}

/// Checks a listing prefix or start-after value: as [`validate`], but it may be empty. The fs
/// backend turns a prefix's segments into directories, so a `..` here would walk outside the
/// root; every backend refuses it alike.
///
/// # Errors
/// [`Error::InvalidKey`] naming the rule that failed.
pub fn validate_prefix(prefix: &str) -> Result<()> {
    if prefix.is_empty() {
        return Ok(());
    }
    validate(prefix)
}

/// Longest encoded path component the fs backend writes; most filesystems stop at 255.
pub(crate) const MAX_COMPONENT: usize = 240;

/// Suffix of a file holding an object; never produced by [`encode_segment`], since `@` is escaped.
pub(crate) const OBJECT_SUFFIX: &str = "@o";

/// Directory name standing for an empty segment (as in `a//b` or `dir/` keys).
pub(crate) const EMPTY_SEGMENT: &str = "@e";

/// Percent-encodes a key segment so any byte sequence maps to a safe file name.
pub(crate) fn encode_segment(seg: &str) -> String {
    let mut out = String::with_capacity(seg.len());
    for b in seg.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~' | b'+' | b'=' | b',') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Inverse of [`encode_segment`]; `None` for names the store did not write.
pub(crate) fn decode_segment(name: &str) -> Option<String> {
    let bytes = name.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = name.get(i + 1..i + 3)?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

/// The relative path components of an object's file: one directory per segment but the last,
/// then the last segment with [`OBJECT_SUFFIX`].
///
/// # Errors
/// [`Error::InvalidKey`] if the key is invalid or a component would be too long for a filesystem.
pub(crate) fn fs_components(key: &str) -> Result<Vec<String>> {
    validate(key)?;
    let segs: Vec<&str> = key.split('/').collect();
    let mut out = Vec::with_capacity(segs.len());
    for (i, s) in segs.iter().enumerate() {
        let enc = encode_segment(s);
        let comp = if i + 1 == segs.len() {
            enc + OBJECT_SUFFIX
        } else if s.is_empty() {
            EMPTY_SEGMENT.to_owned()
        } else {
            enc
        };
        if comp.len() > MAX_COMPONENT {
            return Err(Error::InvalidKey("a path segment of the key is too long"));
        }
        out.push(comp);
    }
    Ok(out)
}

/// The key segment a directory name stands for.
pub(crate) fn dir_segment(name: &str) -> Option<String> {
    if name == EMPTY_SEGMENT {
        Some(String::new())
    } else {
        decode_segment(name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rejects_escapes() {
        for bad in ["", "../x", "a/../b", "a/./b", "/abs", "a\\b", "a\0b", "..", "a/\u{7}"] {
            assert!(validate(bad).is_err(), "{bad:?} accepted");
        }
        assert!(validate(&"k".repeat(1025)).is_err());
        assert!(validate(&"k".repeat(1024)).is_ok());
        for good in ["a", "a/b/c.txt", "dir/", "a//b", "ünï cödé/ key?&=.tar.gz", "...", "a..b"] {
            assert!(validate(good).is_ok(), "{good:?} rejected");
        }
    }

    #[test]
    fn prefixes_may_be_empty_but_never_climb() {
        assert!(validate_prefix("").is_ok());
        assert!(validate_prefix("a/b/").is_ok());
        for bad in ["../", "a/../../", "a/..", "/", "a\0"] {
            assert!(validate_prefix(bad).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn encoding_round_trips_and_never_collides_with_markers() {
        for s in ["", "a b", "%", "@o", "@e", "ü", "x.y-z_~"] {
            let e = encode_segment(s);
            assert!(!e.contains('@') && !e.contains('/'));
            assert_eq!(decode_segment(&e).as_deref(), Some(s));
        }
        assert_eq!(
            fs_components("a//b/").ok(),
            Some(vec!["a".into(), "@e".into(), "b".into(), "@o".into()])
        );
    }

    #[test]
    fn overlong_segment_is_invalid() {
        assert!(fs_components(&"x".repeat(300)).is_err());
        assert!(fs_components(&format!("{}/y", "%".repeat(100))).is_err());
    }
}
