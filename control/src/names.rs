//! The one boundary for client-supplied names: object keys, listing prefixes, markers, copy
//! sources, DeleteObjects keys, POST keys, staged file names and CDN paths all pass through
//! [`key`] or [`prefix`] after they are decoded and before any decision is made on them.
//!
//! Pure: no IO. [`crate::policy::decide`] calls these again, so a caller that forgets the
//! boundary still cannot get an allow for a name that could leave a scope.

/// Longest key S3 accepts, in bytes.
pub const MAX_KEY_LEN: usize = 1024;

/// Why a name was refused; the text says what to fix.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NameError {
    /// An object key must not be empty.
    Empty,
    /// Longer than [`MAX_KEY_LEN`] bytes.
    TooLong,
    /// NUL or another control character.
    ControlCharacter,
    /// A backslash, which some stores and tools treat as a separator.
    Backslash,
    /// A leading `/`.
    LeadingSlash,
    /// A `.` or `..` segment.
    DotSegment,
}

impl NameError {
    /// A message for the client.
    #[must_use]
    pub fn message(self) -> &'static str {
        match self {
            NameError::Empty => "the name is empty",
            NameError::TooLong => "the name is longer than 1024 bytes",
            NameError::ControlCharacter => "the name contains NUL or a control character",
            NameError::Backslash => "the name contains a backslash",
            NameError::LeadingSlash => "the name starts with '/'",
            NameError::DotSegment => "the name has a '.' or '..' segment",
        }
    }
}

impl std::fmt::Display for NameError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.message())
    }
}

impl std::error::Error for NameError {}

/// Checks an object key.
///
/// # Errors
/// The first rule the key breaks.
pub fn key(k: &str) -> Result<(), NameError> {
    if k.is_empty() {
        return Err(NameError::Empty);
    }
    prefix(k)
}

/// Checks a listing prefix, marker or start-after value: as a key, but it may be empty. Every
/// segment counts, the last one too: `releases/..` is refused although it could only match
/// keys such as `releases/..x`, so that no string a client sends can read as a climb.
///
/// # Errors
/// The first rule the prefix breaks.
pub fn prefix(p: &str) -> Result<(), NameError> {
    if p.len() > MAX_KEY_LEN {
        return Err(NameError::TooLong);
    }
    if p.chars().any(char::is_control) {
        return Err(NameError::ControlCharacter);
    }
    if p.contains('\\') {
        return Err(NameError::Backslash);
    }
    if p.starts_with('/') {
        return Err(NameError::LeadingSlash);
    }
    if p.split('/').any(|s| s == "." || s == "..") {
        return Err(NameError::DotSegment);
    }
    Ok(())
}

/// Whether `name` (already checked) lies inside `scope` (empty, or whole segments ending in
/// `/`). A scope without its trailing `/` would let `releases` reach `releases-old/`, so such a
/// scope only matches itself exactly as a segment boundary.
#[must_use]
pub fn within(scope: &str, name: &str) -> bool {
    if scope.is_empty() {
        return true;
    }
    if scope.ends_with('/') {
        name.starts_with(scope)
    } else {
        name.strip_prefix(scope).is_some_and(|rest| rest.starts_with('/'))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_and_prefixes() {
        for bad in [
            "", "../x", "a/../b", "a/./b", "/abs", "a\\b", "a\0b", "..", "a/\u{7}", "a/\u{85}", "a/..",
        ] {
            assert!(key(bad).is_err(), "{bad:?} accepted");
        }
        assert_eq!(key(&"k".repeat(1025)), Err(NameError::TooLong));
        assert!(key(&"k".repeat(1024)).is_ok());
        for good in ["a", "a/b/c.txt", "dir/", "a//b", "ünï cödé/ key?&=.tar.gz", "...", "a..b", ".x/..y"] {
            assert!(key(good).is_ok(), "{good:?} rejected");
        }
        assert!(prefix("").is_ok());
        assert_eq!(prefix("releases/../../"), Err(NameError::DotSegment));
        assert_eq!(prefix("releases/.."), Err(NameError::DotSegment));
        assert!(prefix("releases/").is_ok());
    }

    #[test]
    fn scope_is_by_segment() {
        assert!(within("", "anything"));
        assert!(within("releases/", "releases/a"));
        assert!(!within("releases/", "releases"));
        assert!(!within("releases/", "releases-old/a"));
        assert!(within("releases", "releases/a"));
        assert!(!within("releases", "releases-old/a"));
    }
}
