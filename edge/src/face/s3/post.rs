//! The uploaded file's name in a POST Object form, for `${filename}` in the form's `key`.
//!
//! s3s 0.14 parses the form but drops the file part's `filename`; this body wrapper reads it
//! from the bytes as they pass through to s3s. Only the first [`SCAN_LIMIT`] bytes are looked
//! at (the form fields come before the file, and s3s bounds them), so memory stays bounded.

use std::pin::Pin;
use std::sync::{Arc, OnceLock};
use std::task::{Context, Poll};

use bytes::Bytes;
use http_body::{Body, Frame};

/// How much of a form is searched for the file part's header.
pub(crate) const SCAN_LIMIT: usize = 256 * 1024 + 4096;

/// The file name a POST form gave, once the part header has gone by.
#[derive(Clone, Default, Debug)]
pub struct FormFile(Arc<OnceLock<String>>);

impl FormFile {
    /// The `filename` of the form's `file` part, if it has been seen.
    #[must_use]
    pub fn name(&self) -> Option<String> {
        self.0.get().cloned()
    }
}

/// Whether a request is a POST form upload.
pub(crate) fn is_form(method: &http::Method, headers: &http::HeaderMap) -> bool {
    method == http::Method::POST
        && headers
            .get(http::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.trim_start().to_ascii_lowercase().starts_with("multipart/form-data"))
}

/// Passes `inner` through unchanged, recording the file name into the returned [`FormFile`].
pub(crate) fn sniff<B>(inner: B) -> (Sniff<B>, FormFile) {
    let file = FormFile::default();
    (
        Sniff {
            inner,
            seen: Vec::new(),
            file: file.clone(),
            done: false,
        },
        file,
    )
}

/// See [`sniff`].
pub(crate) struct Sniff<B> {
    inner: B,
    seen: Vec<u8>,
    file: FormFile,
    done: bool,
}

/// The `filename` of the part named `file` in `buf`, if its header is complete.
fn file_name(buf: &[u8]) -> Option<String> {
    const NEEDLE: &[u8] = b"name=\"file\"; filename=\"";
    let at = buf.windows(NEEDLE.len()).position(|w| w.eq_ignore_ascii_case(NEEDLE))?;
    let rest = &buf[at + NEEDLE.len()..];
    let end = rest.iter().position(|&b| b == b'"' || b == b'\r' || b == b'\n')?;
    (rest.get(end) == Some(&b'"')).then(|| String::from_utf8_lossy(&rest[..end]).into_owned())
}

impl<B> Body for Sniff<B>
where
    B: Body<Data = Bytes> + Unpin,
{
    type Data = Bytes;
    type Error = B::Error;

    fn poll_frame(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        let this = &mut *self;
        let r = Pin::new(&mut this.inner).poll_frame(cx);
        if !this.done
            && let Poll::Ready(Some(Ok(f))) = &r
            && let Some(d) = f.data_ref()
        {
            let seen = &mut this.seen;
            let room = SCAN_LIMIT.saturating_sub(seen.len());
            seen.extend_from_slice(&d[..d.len().min(room)]);
            if let Some(n) = file_name(seen) {
                let _ = this.file.0.set(n);
                this.done = true;
            } else if seen.len() >= SCAN_LIMIT {
                this.done = true;
            }
            if this.done {
                *seen = Vec::new();
            }
        }
        r
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.inner.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::{BodyExt, StreamBody};

    #[tokio::test]
    async fn finds_the_name_across_chunks() {
        let form = b"--b\r\nContent-Disposition: form-data; name=\"key\"\r\n\r\nup/${filename}\r\n--b\r\nContent-Disposition: form-data; name=\"file\"; filename=\"report.pdf\"\r\nContent-Type: application/pdf\r\n\r\nDATA\r\n--b--\r\n";
        for split in [1, 7, 40, 80, form.len()] {
            let chunks: Vec<Result<Frame<Bytes>, std::convert::Infallible>> =
                form.chunks(split).map(|c| Ok(Frame::data(Bytes::copy_from_slice(c)))).collect();
            let (body, file) = sniff(StreamBody::new(futures::stream::iter(chunks)));
            let out = body.collect().await.map(http_body_util::Collected::to_bytes).unwrap_or_default();
            assert_eq!(&out[..], &form[..], "passes bytes through unchanged");
            assert_eq!(file.name().as_deref(), Some("report.pdf"), "split {split}");
        }
        assert_eq!(file_name(b"name=\"file\"; filename=\"unterminated"), None);
    }
}
