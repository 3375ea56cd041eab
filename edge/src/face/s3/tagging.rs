//! Object tagging on the S3 face: the wire forms (the `x-amz-tagging` header, the `<Tagging>`
//! document, `x-amz-tagging-count`) to and from [`TagSet`], which control keeps. Pure.

use rustshare_control::tags::{TagError, TagSet};
use s3s::dto::{Tag, Tagging, TaggingDirective};
use s3s::{S3Error, S3ErrorCode, S3Result, s3_error};

/// S3 answers every broken tag rule with `InvalidTag`.
fn invalid(e: &TagError) -> S3Error {
    S3Error::with_message(S3ErrorCode::InvalidTag, e.to_string())
}

/// The tags of an `x-amz-tagging` header; none when there is no header.
pub(super) fn from_header(h: Option<&String>) -> S3Result<TagSet> {
    h.map_or(Ok(TagSet::default()), |h| TagSet::from_header(h).map_err(|e| invalid(&e)))
}

/// The tags of a PutObjectTagging document.
pub(super) fn from_document(t: &Tagging) -> S3Result<TagSet> {
    let pairs = t
        .tag_set
        .iter()
        .map(|tag| match (&tag.key, &tag.value) {
            (Some(k), Some(v)) => Ok((k.clone(), v.clone())),
            _ => Err(s3_error!(InvalidTag, "Every tag needs a Key and a Value.")),
        })
        .collect::<S3Result<Vec<_>>>()?;
    TagSet::new(pairs).map_err(|e| invalid(&e))
}

/// The `<TagSet>` of a GetObjectTagging answer.
pub(super) fn to_document(t: &TagSet) -> Vec<Tag> {
    t.pairs()
        .iter()
        .map(|(k, v)| Tag {
            key: Some(k.clone()),
            value: Some(v.clone()),
        })
        .collect()
}

/// `x-amz-tagging-count`: sent only for an object that has tags, as S3 does.
pub(super) fn count(t: &TagSet) -> Option<i32> {
    (!t.is_empty()).then(|| i32::try_from(t.len()).unwrap_or(i32::MAX))
}

/// Whether a copy takes the request's tags (`REPLACE`) or the source's (`COPY`, the default).
///
/// # Errors
/// `InvalidArgument` for any other directive.
pub(super) fn replaces(d: Option<&TaggingDirective>) -> S3Result<bool> {
    match d.map(TaggingDirective::as_str) {
        None | Some(TaggingDirective::COPY) => Ok(false),
        Some(TaggingDirective::REPLACE) => Ok(true),
        Some(other) => Err(S3Error::with_message(
            S3ErrorCode::InvalidArgument,
            format!("Unknown tagging directive {other:?}: use COPY or REPLACE."),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn documents_need_key_and_value_and_keep_s3_limits() {
        let tag = |k: Option<&str>, v: Option<&str>| Tag {
            key: k.map(str::to_owned),
            value: v.map(str::to_owned),
        };
        let doc = |tags: Vec<Tag>| Tagging { tag_set: tags };
        let ok = from_document(&doc(vec![tag(Some("a"), Some("1")), tag(Some("b"), Some(""))])).expect("valid");
        assert_eq!(to_document(&ok), vec![tag(Some("a"), Some("1")), tag(Some("b"), Some(""))]);
        assert_eq!(count(&ok), Some(2));
        assert_eq!(count(&TagSet::default()), None);
        for bad in [
            vec![tag(None, Some("1"))],
            vec![tag(Some("a"), None)],
            (0..11).map(|i| tag(Some(&format!("k{i}")), Some("v"))).collect(),
            vec![tag(Some("a"), Some("1")), tag(Some("a"), Some("2"))],
        ] {
            let e = from_document(&doc(bad)).expect_err("refused");
            assert_eq!(*e.code(), S3ErrorCode::InvalidTag);
        }
        let e = from_header(Some(&"k=v&".repeat(11))).expect_err("eleven tags");
        assert_eq!(*e.code(), S3ErrorCode::InvalidTag);
        assert_eq!(from_header(None).ok(), Some(TagSet::default()));
    }

    #[test]
    fn copies_keep_the_source_tags_unless_told_to_replace() {
        assert_eq!(replaces(None).ok(), Some(false));
        assert_eq!(replaces(Some(&TaggingDirective::from_static("COPY"))).ok(), Some(false));
        assert_eq!(replaces(Some(&TaggingDirective::from_static("REPLACE"))).ok(), Some(true));
        assert!(replaces(Some(&TaggingDirective::from("MERGE".to_owned()))).is_err());
    }
}
