//! Object tags: S3's limits, the `x-amz-tagging` header's form, and how a tag set is kept in the
//! database. Pure: no IO.
//!
//! The control database is where tags live (the `tags` column of `objects`, and of `uploads`
//! until a multipart upload completes), for both stores: a tag change then never rewrites an
//! object's bytes, and lifecycle rules can filter by tag without reading the store.

use std::fmt;

/// At most this many tags on one object.
pub const MAX_TAGS: usize = 10;
/// Longest tag key, in Unicode characters.
pub const MAX_KEY_CHARS: usize = 128;
/// Longest tag value, in Unicode characters.
pub const MAX_VALUE_CHARS: usize = 256;

/// Why a tag set was refused; the text says what to fix (S3 answers all of these with
/// `InvalidTag`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TagError {
    /// More than [`MAX_TAGS`].
    TooMany(usize),
    /// An empty key.
    EmptyKey,
    /// A key longer than [`MAX_KEY_CHARS`].
    KeyTooLong,
    /// A value longer than [`MAX_VALUE_CHARS`].
    ValueTooLong,
    /// The same key twice.
    Duplicate(String),
    /// `aws:` keys belong to AWS.
    Reserved,
    /// A control character in a key or value.
    ControlCharacter,
}

impl fmt::Display for TagError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TagError::TooMany(n) => write!(f, "Object tags cannot be greater than {MAX_TAGS} ({n} given)."),
            TagError::EmptyKey => f.write_str("A tag key must not be empty."),
            TagError::KeyTooLong => write!(f, "A tag key must be at most {MAX_KEY_CHARS} characters."),
            TagError::ValueTooLong => write!(f, "A tag value must be at most {MAX_VALUE_CHARS} characters."),
            TagError::Duplicate(k) => write!(f, "Cannot provide multiple tags with the same key ({k:?})."),
            TagError::Reserved => f.write_str("Tag keys starting with \"aws:\" are reserved."),
            TagError::ControlCharacter => f.write_str("A tag key or value contains a control character."),
        }
    }
}

impl std::error::Error for TagError {}

/// A valid tag set, in the order the client gave it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TagSet(Vec<(String, String)>);

impl TagSet {
    /// Checks pairs against S3's rules.
    ///
    /// # Errors
    /// The first rule broken.
    pub fn new(pairs: Vec<(String, String)>) -> Result<Self, TagError> {
        if pairs.len() > MAX_TAGS {
            return Err(TagError::TooMany(pairs.len()));
        }
        for (i, (k, v)) in pairs.iter().enumerate() {
            if k.is_empty() {
                return Err(TagError::EmptyKey);
            }
            if k.chars().count() > MAX_KEY_CHARS {
                return Err(TagError::KeyTooLong);
            }
            if v.chars().count() > MAX_VALUE_CHARS {
                return Err(TagError::ValueTooLong);
            }
            if k.starts_with("aws:") {
                return Err(TagError::Reserved);
            }
            if k.chars().chain(v.chars()).any(char::is_control) {
                return Err(TagError::ControlCharacter);
            }
            if pairs[..i].iter().any(|(o, _)| o == k) {
                return Err(TagError::Duplicate(k.clone()));
            }
        }
        Ok(TagSet(pairs))
    }

    /// Parses the `x-amz-tagging` header (`k1=v1&k2=v2`, URL-encoded as a query string).
    ///
    /// # Errors
    /// As [`TagSet::new`].
    pub fn from_header(h: &str) -> Result<Self, TagError> {
        TagSet::new(
            form_urlencoded::parse(h.as_bytes())
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .collect(),
        )
    }

    /// The stored form (the header's form, so one parser reads both). Empty for no tags.
    #[must_use]
    pub fn encode(&self) -> String {
        form_urlencoded::Serializer::new(String::new())
            .extend_pairs(self.0.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .finish()
    }

    /// Reads the stored form; `None` or an empty string is no tags. Stored sets were checked
    /// when they were written, so this does not check again.
    #[must_use]
    pub fn decode(stored: Option<&str>) -> Self {
        TagSet(
            stored
                .map(|s| {
                    form_urlencoded::parse(s.as_bytes())
                        .map(|(k, v)| (k.into_owned(), v.into_owned()))
                        .collect()
                })
                .unwrap_or_default(),
        )
    }

    /// The stored form, or `None` for no tags.
    #[must_use]
    pub fn stored(&self) -> Option<String> {
        (!self.0.is_empty()).then(|| self.encode())
    }

    /// The tags, in order.
    #[must_use]
    pub fn pairs(&self) -> &[(String, String)] {
        &self.0
    }

    /// How many tags.
    #[must_use]
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// No tags.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(n: usize) -> Vec<(String, String)> {
        (0..n).map(|i| (format!("k{i}"), format!("v{i}"))).collect()
    }

    #[test]
    fn s3_limits_hold_at_their_edges() {
        assert_eq!(TagSet::new(pairs(10)).map(|t| t.len()), Ok(10));
        assert_eq!(TagSet::new(pairs(11)), Err(TagError::TooMany(11)));
        let k128 = "é".repeat(128);
        assert!(TagSet::new(vec![(k128.clone(), "x".repeat(256))]).is_ok());
        assert_eq!(TagSet::new(vec![(format!("{k128}a"), String::new())]), Err(TagError::KeyTooLong));
        assert_eq!(TagSet::new(vec![("k".into(), "v".repeat(257))]), Err(TagError::ValueTooLong));
        assert_eq!(TagSet::new(vec![(String::new(), "v".into())]), Err(TagError::EmptyKey));
        assert_eq!(TagSet::new(vec![("aws:x".into(), "v".into())]), Err(TagError::Reserved));
        assert_eq!(TagSet::new(vec![("k".into(), "a\nb".into())]), Err(TagError::ControlCharacter));
        assert_eq!(
            TagSet::new(vec![("k".into(), "1".into()), ("k".into(), "2".into())]),
            Err(TagError::Duplicate("k".into()))
        );
        // An empty value is a tag.
        assert_eq!(TagSet::new(vec![("k".into(), String::new())]).map(|t| t.len()), Ok(1));
    }

    #[test]
    fn the_header_form_round_trips_through_the_stored_form() {
        let t = TagSet::from_header("team=web%20site&env=prod&a%26b=c%3Dd&empty=").expect("valid");
        assert_eq!(
            t.pairs(),
            &[
                ("team".to_owned(), "web site".to_owned()),
                ("env".to_owned(), "prod".to_owned()),
                ("a&b".to_owned(), "c=d".to_owned()),
                ("empty".to_owned(), String::new()),
            ]
        );
        assert_eq!(TagSet::decode(t.stored().as_deref()), t);
        assert_eq!(TagSet::decode(None), TagSet::default());
        assert_eq!(TagSet::default().stored(), None);
        assert_eq!(TagSet::from_header(""), Ok(TagSet::default()));
    }
}
