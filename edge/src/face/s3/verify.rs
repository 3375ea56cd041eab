//! A body stream that checks what the client declared: Content-MD5, `x-amz-checksum-*`
//! headers and checksum trailers. It holds back the last chunk until the stream has ended and
//! every digest matched, so a store can never commit a body that fails verification: on a
//! mismatch the consumer sees an error instead of the final bytes.

use std::sync::{Arc, Mutex};

use base64::Engine;
use bytes::Bytes;
use futures::{Stream, StreamExt};
use md5::{Digest, Md5};
use s3s::TrailingHeaders;
use s3s::checksum::ChecksumHasher;
use s3s::dto::Checksum;

use rustshare_store::ByteStream;

/// Why verification failed; carried inside the `io::Error` the stream yields.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VerifyError {
    /// A digest differs from the declared value.
    #[error("the {0} you specified did not match the calculated value")]
    BadDigest(&'static str),
    /// More bytes than declared.
    #[error("the body is larger than the declared content length")]
    TooLong,
    /// A body of unknown length passed what the space's quota still allows (`meter`).
    #[error("the body exceeds the space's quota of {0} bytes")]
    OverQuota(u64),
    /// A body of unknown length passed the largest single PUT (`meter`).
    #[error("the body exceeds the largest single upload")]
    TooLarge,
    /// A chunk of a `STREAMING-AWS4-HMAC-SHA256-PAYLOAD` body carries a wrong signature.
    #[error("a chunk signature does not match")]
    ChunkSignature,
}

/// Classifies an error from s3s's body stream. s3s 0.14 keeps its chunk-stream error type
/// private, so its message is the only way to tell a forged chunk from a cut connection.
fn classify(e: s3s::StdError) -> std::io::Error {
    if e.to_string().contains("SignatureMismatch") {
        std::io::Error::other(VerifyError::ChunkSignature)
    } else {
        std::io::Error::other(e)
    }
}

/// What the client declared about the body.
#[derive(Default)]
pub struct Expected {
    /// Raw MD5 from `Content-MD5`.
    pub md5: Option<[u8; 16]>,
    /// `x-amz-checksum-*` header values by algorithm.
    pub checksums: Checksum,
    /// Algorithms to compute even without a header (the trailer will carry the value).
    pub algorithms: Vec<String>,
    /// Trailers of an aws-chunked body.
    pub trailers: Option<TrailingHeaders>,
    /// Declared decoded length.
    pub length: Option<u64>,
}

/// Checksums the stream computed, readable once it has ended successfully.
pub type Computed = Arc<Mutex<Option<Checksum>>>;

struct State {
    inner: s3s::dto::StreamingBlob,
    pending: Option<Bytes>,
    md5: Option<Md5>,
    hasher: ChecksumHasher,
    exp: Expected,
    seen: u64,
    out: Computed,
    done: bool,
}

fn enable(h: &mut ChecksumHasher, alg: &str) {
    match alg.to_ascii_lowercase().as_str() {
        "crc32" => h.crc32 = Some(Default::default()),
        "crc32c" => h.crc32c = Some(Default::default()),
        "sha1" => h.sha1 = Some(Default::default()),
        "sha256" => h.sha256 = Some(Default::default()),
        "crc64nvme" => h.crc64nvme = Some(Default::default()),
        _ => {}
    }
}

/// The checksum S3 calls COMPOSITE for an object completed from parts: the algorithm over the
/// concatenated binary part checksums, in base64, then `-<number of parts>`. `None` when a
/// part has no valid checksum, and for crc64nvme, which S3 defines only over the whole object.
#[must_use]
pub fn composite(alg: &str, parts: &[Option<&str>]) -> Option<String> {
    if !matches!(alg, "crc32" | "crc32c" | "sha1" | "sha256") || parts.is_empty() {
        return None;
    }
    let b64 = base64::engine::general_purpose::STANDARD;
    let mut raw = Vec::new();
    for p in parts {
        raw.extend(b64.decode((*p)?).ok()?);
    }
    let mut h = ChecksumHasher::default();
    enable(&mut h, alg);
    h.update(&raw);
    let c = h.finalize();
    let v = match alg {
        "crc32" => c.checksum_crc32,
        "crc32c" => c.checksum_crc32c,
        "sha1" => c.checksum_sha1,
        _ => c.checksum_sha256,
    }?;
    Some(format!("{v}-{}", parts.len()))
}

/// An algorithm's value in a computed [`Checksum`].
#[must_use]
pub fn value_of(c: &Checksum, alg: &str) -> Option<String> {
    match alg {
        "crc32" => c.checksum_crc32.clone(),
        "crc32c" => c.checksum_crc32c.clone(),
        "sha1" => c.checksum_sha1.clone(),
        "sha256" => c.checksum_sha256.clone(),
        "crc64nvme" => c.checksum_crc64nvme.clone(),
        _ => None,
    }
}

/// The value a trailer carries for an algorithm.
fn trailer_value(t: &TrailingHeaders, name: &str) -> Option<String> {
    t.read(|h| h.get(name).and_then(|v| v.to_str().ok()).map(str::to_owned)).flatten()
}

fn check(state: &mut State) -> Result<(), VerifyError> {
    if let (Some(want), Some(h)) = (state.exp.md5, state.md5.take())
        && h.finalize().as_slice() != want
    {
        return Err(VerifyError::BadDigest("Content-MD5"));
    }
    let got = std::mem::take(&mut state.hasher).finalize();
    let e = &state.exp.checksums;
    let pairs: [(&'static str, &Option<String>, &Option<String>); 5] = [
        ("x-amz-checksum-crc32", &e.checksum_crc32, &got.checksum_crc32),
        ("x-amz-checksum-crc32c", &e.checksum_crc32c, &got.checksum_crc32c),
        ("x-amz-checksum-sha1", &e.checksum_sha1, &got.checksum_sha1),
        ("x-amz-checksum-sha256", &e.checksum_sha256, &got.checksum_sha256),
        ("x-amz-checksum-crc64nvme", &e.checksum_crc64nvme, &got.checksum_crc64nvme),
    ];
    for (name, header, computed) in pairs {
        let declared = header
            .clone()
            .or_else(|| state.exp.trailers.as_ref().and_then(|t| trailer_value(t, name)));
        if let (Some(d), Some(c)) = (declared, computed)
            && d.trim() != c
        {
            return Err(VerifyError::BadDigest(name));
        }
    }
    *state.out.lock().unwrap_or_else(std::sync::PoisonError::into_inner) = Some(got);
    Ok(())
}

/// Wraps `body`; the returned handle holds the computed checksums once the stream ended well.
#[must_use]
pub fn verifying(body: s3s::dto::StreamingBlob, exp: Expected) -> (ByteStream, Computed) {
    let mut hasher = ChecksumHasher::default();
    let e = &exp.checksums;
    for (alg, v) in [
        ("crc32", &e.checksum_crc32),
        ("crc32c", &e.checksum_crc32c),
        ("sha1", &e.checksum_sha1),
        ("sha256", &e.checksum_sha256),
        ("crc64nvme", &e.checksum_crc64nvme),
    ] {
        if v.is_some() {
            enable(&mut hasher, alg);
        }
    }
    for a in &exp.algorithms {
        enable(&mut hasher, a);
    }
    let out: Computed = Arc::default();
    let state = State {
        inner: body,
        pending: None,
        md5: exp.md5.map(|_| Md5::new()),
        hasher,
        exp,
        seen: 0,
        out: out.clone(),
        done: false,
    };
    let stream = futures::stream::unfold(state, |mut st| async move {
        if st.done {
            return None;
        }
        loop {
            match st.inner.next().await {
                Some(Ok(chunk)) => {
                    if chunk.is_empty() {
                        continue;
                    }
                    st.seen += chunk.len() as u64;
                    if st.exp.length.is_some_and(|l| st.seen > l) {
                        st.done = true;
                        return Some((Err(std::io::Error::other(VerifyError::TooLong)), st));
                    }
                    if let Some(h) = st.md5.as_mut() {
                        h.update(&chunk);
                    }
                    st.hasher.update(&chunk);
                    if let Some(prev) = st.pending.replace(chunk) {
                        return Some((Ok(prev), st));
                    }
                }
                Some(Err(e)) => {
                    st.done = true;
                    return Some((Err(classify(e)), st));
                }
                None => {
                    st.done = true;
                    return match check(&mut st) {
                        Ok(()) => st.pending.take().map(|last| (Ok(last), st)),
                        Err(e) => Some((Err(std::io::Error::other(e)), st)),
                    };
                }
            }
        }
    });
    (Box::pin(sync_wrapper::SyncStream::new(stream)), out)
}

/// Decodes a `Content-MD5` header.
///
/// `None` when it is not base64 of 16 bytes.
#[must_use]
pub fn parse_content_md5(v: &str) -> Option<[u8; 16]> {
    let raw = base64::engine::general_purpose::STANDARD.decode(v.trim()).ok()?;
    raw.try_into().ok()
}

/// The [`VerifyError`] inside a store body error, if that is what it was.
#[must_use]
pub fn verify_error(e: &std::io::Error) -> Option<&VerifyError> {
    e.get_ref().and_then(|inner| inner.downcast_ref::<VerifyError>())
}

#[allow(dead_code)]
fn _assert_stream_send(s: ByteStream) -> impl Stream + Send {
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn blob(chunks: &[&'static [u8]]) -> s3s::dto::StreamingBlob {
        let items: Vec<Result<Bytes, std::io::Error>> = chunks.iter().map(|c| Ok(Bytes::from_static(c))).collect();
        s3s::dto::StreamingBlob::wrap(futures::stream::iter(items))
    }

    async fn drain(mut s: ByteStream) -> (Vec<u8>, Option<std::io::Error>) {
        let mut out = Vec::new();
        while let Some(c) = s.next().await {
            match c {
                Ok(b) => out.extend_from_slice(&b),
                Err(e) => return (out, Some(e)),
            }
        }
        (out, None)
    }

    #[tokio::test]
    async fn good_md5_passes_all_bytes() {
        let md5: [u8; 16] = Md5::digest(b"hello world").into();
        let (s, out) = verifying(
            blob(&[b"hello ", b"world"]),
            Expected {
                md5: Some(md5),
                algorithms: vec!["crc32".into()],
                ..Default::default()
            },
        );
        let (bytes, err) = drain(s).await;
        assert_eq!(bytes, b"hello world");
        assert!(err.is_none());
        assert!(out.lock().expect("lock").as_ref().and_then(|c| c.checksum_crc32.clone()).is_some());
    }

    #[tokio::test]
    async fn bad_digest_withholds_the_last_chunk() {
        let md5: [u8; 16] = Md5::digest(b"something else").into();
        let (s, _) = verifying(
            blob(&[b"hello ", b"world"]),
            Expected {
                md5: Some(md5),
                ..Default::default()
            },
        );
        let (bytes, err) = drain(s).await;
        assert_eq!(bytes, b"hello ", "the final chunk must not be released");
        let err = err.expect("an error");
        assert_eq!(verify_error(&err), Some(&VerifyError::BadDigest("Content-MD5")));
    }

    #[tokio::test]
    async fn bad_checksum_header_fails() {
        let c = Checksum {
            checksum_crc32: Some("AAAAAA==".into()),
            ..Default::default()
        };
        let (s, _) = verifying(
            blob(&[b"data"]),
            Expected {
                checksums: c,
                ..Default::default()
            },
        );
        let (bytes, err) = drain(s).await;
        assert!(bytes.is_empty());
        assert_eq!(
            err.as_ref().and_then(verify_error),
            Some(&VerifyError::BadDigest("x-amz-checksum-crc32"))
        );
    }

    #[tokio::test]
    async fn overlong_body_fails() {
        let (s, _) = verifying(
            blob(&[b"12345", b"678"]),
            Expected {
                length: Some(6),
                ..Default::default()
            },
        );
        let (_, err) = drain(s).await;
        assert_eq!(err.as_ref().and_then(verify_error), Some(&VerifyError::TooLong));
    }

    #[test]
    fn content_md5_parsing() {
        assert!(parse_content_md5("XrY7u+Ae7tCTyyK7j1rNww==").is_some());
        assert!(parse_content_md5("not base64!").is_none());
        assert!(parse_content_md5("AAAA").is_none());
    }
}

#[cfg(test)]
mod composite_tests {
    use super::*;

    /// CRC32 of the two parts' binary CRC32s, then the part count (values from Python's
    /// zlib.crc32, an independent implementation).
    #[test]
    fn composite_checksums_hash_the_binary_part_checksums() {
        let (a, b) = ("7YH59g==", "OncRQw==");
        assert_eq!(composite("crc32", &[Some(a), Some(b)]).as_deref(), Some("1Fu2mQ==-2"));
        assert_eq!(composite("crc32", &[Some(a), None]), None);
        assert_eq!(composite("crc32", &[Some("not base64!")]), None);
        assert_eq!(composite("crc64nvme", &[Some(a)]), None);
        assert_eq!(composite("crc32", &[]), None);
    }
}
