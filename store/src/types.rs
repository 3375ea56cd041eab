use std::collections::BTreeMap;
use std::pin::Pin;

use bytes::Bytes;
use futures::Stream;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::{Error, Result};

/// A stream of body bytes. An `Err` item aborts the write that consumes it.
pub type ByteStream = Pin<Box<dyn Stream<Item = std::io::Result<Bytes>> + Send>>;

/// Metadata a writer sets on an object.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ObjectAttrs {
    /// `Content-Type`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content_type: Option<String>,
    /// `Cache-Control`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cache_control: Option<String>,
    /// `Content-Disposition`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content_disposition: Option<String>,
    /// `Content-Encoding`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content_encoding: Option<String>,
    /// `Content-Language`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content_language: Option<String>,
    /// `Expires`, as an HTTP date.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires: Option<String>,
    /// `x-amz-meta-*` values, names lower-case without the prefix.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub user_metadata: BTreeMap<String, String>,
    /// Verified checksums by S3 algorithm name (`crc32`, `crc32c`, `sha1`, `sha256`, `crc64nvme`), base64.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub checksums: BTreeMap<String, String>,
}

/// Metadata of a stored object.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ObjectMeta {
    /// Size in bytes.
    pub size: u64,
    /// Entity tag without quotes: MD5 hex, or `<md5-of-md5s>-<parts>` for multipart objects.
    pub etag: String,
    /// Time of the write.
    #[serde(with = "time::serde::rfc3339")]
    pub last_modified: OffsetDateTime,
    /// What the writer set.
    #[serde(flatten)]
    pub attrs: ObjectAttrs,
}

/// The span of part `n` (1-based) of an object whose part sizes are `parts` (empty: one part
/// of `size` bytes).
///
/// # Errors
/// [`Error::InvalidPartNumber`] for a part the object does not have.
pub fn part_span(size: u64, parts: &[u64], n: u32) -> Result<((u64, u64), u32)> {
    let sizes: Vec<u64> = if parts.is_empty() { vec![size] } else { parts.to_vec() };
    let count = u32::try_from(sizes.len()).unwrap_or(u32::MAX);
    let i = usize::try_from(n).unwrap_or(usize::MAX);
    if i == 0 || i > sizes.len() {
        return Err(Error::InvalidPartNumber { parts: count });
    }
    let start: u64 = sizes[..i - 1].iter().sum();
    let len = sizes[i - 1];
    // An empty object's one part is empty: its span is (0, 0) over zero bytes.
    Ok(((start, (start + len).saturating_sub(1)), count))
}

/// An object being read.
pub struct GetObject {
    /// The whole object's metadata.
    pub meta: ObjectMeta,
    /// The inclusive byte range served, when a range was asked for.
    pub range: Option<(u64, u64)>,
    /// The bytes.
    pub body: ByteStream,
}

impl std::fmt::Debug for GetObject {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GetObject")
            .field("meta", &self.meta)
            .field("range", &self.range)
            .finish_non_exhaustive()
    }
}

/// A byte range as HTTP expresses it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ByteRange {
    /// `bytes=a-b`, both inclusive.
    FromTo(u64, u64),
    /// `bytes=a-`.
    From(u64),
    /// `bytes=-n`: the last n bytes.
    Suffix(u64),
}

impl ByteRange {
    /// Resolves against an object of `size` bytes to an inclusive `(first, last)`.
    ///
    /// # Errors
    /// [`Error::InvalidRange`] when no byte of the object is selected.
    pub fn resolve(self, size: u64) -> Result<(u64, u64)> {
        let invalid = Err(Error::InvalidRange { size });
        match self {
            ByteRange::FromTo(a, b) if a <= b && a < size => Ok((a, b.min(size - 1))),
            ByteRange::From(a) if a < size => Ok((a, size - 1)),
            ByteRange::Suffix(n) if n > 0 && size > 0 => Ok((size - n.min(size), size - 1)),
            _ => invalid,
        }
    }
}

/// What to list.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ListRequest {
    /// Only keys starting with this.
    pub prefix: String,
    /// Roll keys up to common prefixes at the first occurrence of this after the prefix.
    pub delimiter: Option<String>,
    /// Only keys (or common prefixes) strictly after this.
    pub start_after: Option<String>,
    /// At most this many keys plus common prefixes (capped at 1000).
    pub max_keys: usize,
}

/// One listed object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListEntry {
    /// Full key.
    pub key: String,
    /// Size in bytes.
    pub size: u64,
    /// Entity tag without quotes.
    pub etag: String,
    /// Time of the write.
    pub last_modified: OffsetDateTime,
}

/// One page of a listing.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ListPage {
    /// Objects, in key order.
    pub entries: Vec<ListEntry>,
    /// Rolled-up prefixes, in order.
    pub common_prefixes: Vec<String>,
    /// Whether more follow.
    pub is_truncated: bool,
    /// The last key or prefix returned; pass it as `start_after` for the next page.
    pub next_marker: Option<String>,
}

/// A part as the store holds it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PartInfo {
    /// 1..=10000.
    pub part_number: u32,
    /// MD5 hex of the part.
    pub etag: String,
    /// Size in bytes.
    pub size: u64,
    /// Time of the upload.
    #[serde(with = "time::serde::rfc3339")]
    pub last_modified: OffsetDateTime,
}

/// A part named by a completion request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CompletedPart {
    /// Part number.
    pub part_number: u32,
    /// ETag the client got for it, quotes optional.
    pub etag: String,
}

/// A multipart upload in progress.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UploadInfo {
    /// Target key.
    pub key: String,
    /// Upload id.
    pub upload_id: String,
    /// Start time.
    #[serde(with = "time::serde::rfc3339")]
    pub initiated: OffsetDateTime,
}

/// The multipart ETag: MD5 of the concatenated binary part MD5s, then `-<count>`.
///
/// # Errors
/// [`Error::InvalidPart`] if a part ETag is not hex MD5.
pub fn multipart_etag(part_etags: &[&str]) -> Result<String> {
    use md5::{Digest, Md5};
    let mut h = Md5::new();
    for e in part_etags {
        let raw = hex::decode(e.trim_matches('"')).map_err(|_| Error::InvalidPart(format!("malformed ETag {e}")))?;
        h.update(raw);
    }
    Ok(format!("{}-{}", hex::encode(h.finalize()), part_etags.len()))
}

/// Applies prefix, delimiter, start-after and max-keys to keys already in lexicographic order.
/// Shared by backends that enumerate keys themselves.
pub(crate) fn paginate(sorted: Vec<ListEntry>, req: &ListRequest) -> ListPage {
    let max = req.max_keys.clamp(1, 1000);
    let mut page = ListPage::default();
    let mut count = 0;
    for e in sorted {
        if !e.key.starts_with(&req.prefix) {
            continue;
        }
        let rolled = req.delimiter.as_deref().filter(|d| !d.is_empty()).and_then(|d| {
            let rest = &e.key[req.prefix.len()..];
            rest.find(d).map(|i| e.key[..req.prefix.len() + i + d.len()].to_owned())
        });
        let marker = rolled.clone().unwrap_or_else(|| e.key.clone());
        if let Some(after) = &req.start_after
            && marker.as_str() <= after.as_str()
        {
            continue;
        }
        if let Some(cp) = rolled {
            if page.common_prefixes.last() == Some(&cp) {
                continue;
            }
            if count == max {
                page.is_truncated = true;
                break;
            }
            page.common_prefixes.push(cp.clone());
            page.next_marker = Some(cp);
        } else {
            if count == max {
                page.is_truncated = true;
                break;
            }
            page.next_marker = Some(e.key.clone());
            page.entries.push(e);
        }
        count += 1;
    }
    if !page.is_truncated {
        page.next_marker = None;
    }
    page
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parts_are_found_by_their_sizes() {
        let parts = [5, 5, 2];
        assert_eq!(part_span(12, &parts, 1).ok(), Some(((0, 4), 3)));
        assert_eq!(part_span(12, &parts, 2).ok(), Some(((5, 9), 3)));
        assert_eq!(part_span(12, &parts, 3).ok(), Some(((10, 11), 3)));
        assert!(matches!(part_span(12, &parts, 4), Err(Error::InvalidPartNumber { parts: 3 })));
        assert!(matches!(part_span(12, &parts, 0), Err(Error::InvalidPartNumber { .. })));
        assert_eq!(part_span(7, &[], 1).ok(), Some(((0, 6), 1)), "one piece, one part");
        assert!(part_span(7, &[], 2).is_err());
    }

    #[test]
    fn ranges_resolve_like_rfc9110() {
        assert_eq!(ByteRange::FromTo(0, 9).resolve(100).ok(), Some((0, 9)));
        assert_eq!(ByteRange::FromTo(90, 200).resolve(100).ok(), Some((90, 99)));
        assert_eq!(ByteRange::From(10).resolve(100).ok(), Some((10, 99)));
        assert_eq!(ByteRange::Suffix(10).resolve(100).ok(), Some((90, 99)));
        assert_eq!(ByteRange::Suffix(500).resolve(100).ok(), Some((0, 99)));
        assert!(ByteRange::FromTo(100, 120).resolve(100).is_err());
        assert!(ByteRange::FromTo(5, 4).resolve(100).is_err());
        assert!(ByteRange::Suffix(0).resolve(100).is_err());
        assert!(ByteRange::From(0).resolve(0).is_err());
    }

    #[test]
    fn multipart_etag_matches_s3() {
        // Two parts whose MD5s are those of "a" and "b"; value computed with Python's hashlib.
        let a = "0cc175b9c0f1b6a831c399e269772661";
        let b = "92eb5ffee6ae2fec3ad71c777531578f";
        let etag = multipart_etag(&[a, b]).ok();
        assert_eq!(etag.as_deref(), Some("96e024ba2074fe77e8e965ba43a704be-2"));
    }

    fn entry(k: &str) -> ListEntry {
        ListEntry {
            key: k.into(),
            size: 1,
            etag: String::new(),
            last_modified: OffsetDateTime::UNIX_EPOCH,
        }
    }

    #[test]
    fn paginate_rolls_up_and_pages() {
        let keys = ["a/1", "a/2", "b", "c/x/1", "c/y", "d"].map(entry).to_vec();
        let req = ListRequest {
            delimiter: Some("/".into()),
            max_keys: 2,
            ..Default::default()
        };
        let p1 = paginate(keys.clone(), &req);
        assert_eq!(p1.common_prefixes, vec!["a/"]);
        assert_eq!(p1.entries.iter().map(|e| e.key.as_str()).collect::<Vec<_>>(), vec!["b"]);
        assert!(p1.is_truncated);
        let req2 = ListRequest {
            start_after: p1.next_marker.clone(),
            ..req.clone()
        };
        let p2 = paginate(keys.clone(), &req2);
        assert_eq!(p2.common_prefixes, vec!["c/"]);
        assert_eq!(p2.entries.iter().map(|e| e.key.as_str()).collect::<Vec<_>>(), vec!["d"]);
        assert!(!p2.is_truncated);
        let req3 = ListRequest {
            prefix: "c/".into(),
            delimiter: Some("/".into()),
            max_keys: 1000,
            ..Default::default()
        };
        let p3 = paginate(keys, &req3);
        assert_eq!(p3.common_prefixes, vec!["c/x/"]);
        assert_eq!(p3.entries.len(), 1);
    }
}
