//! RFC 9110 pieces of the CDN face as pure functions: request paths, byte ranges,
//! preconditions, content negotiation and types. No IO; tested below.

use std::time::SystemTime;

/// A request path split into the public site name and the object key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublicPath {
    /// First segment.
    pub site: String,
    /// The rest, decoded; empty or ending in `/` for a directory.
    pub key: String,
}

/// Why a path was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PathError {
    /// Not a path this face serves (no site segment).
    NotFound,
    /// Malformed or trying to escape (bad escape, NUL, encoded slash, `..`).
    BadRequest,
}

/// Decodes the path once and normalises it: `.` segments drop out, `..`, NUL, backslashes and
/// encoded slashes are refused, so nothing can climb out of the published prefix.
///
/// # Errors
/// [`PathError`].
pub fn parse_path(raw: &str) -> Result<PublicPath, PathError> {
    let raw = raw.split('?').next().unwrap_or("");
    // An encoded slash, backslash or NUL would make one segment look like several.
    let escapes = raw
        .as_bytes()
        .windows(3)
        .any(|w| w[0] == b'%' && matches!((w[1], w[2].to_ascii_lowercase()), (b'2', b'f') | (b'5', b'c') | (b'0', b'0')));
    if escapes {
        return Err(PathError::BadRequest);
    }
    let mut site = None;
    let mut key = String::with_capacity(raw.len());
    for seg in raw.split('/').filter(|s| !s.is_empty()) {
        let dec = percent_encoding::percent_decode_str(seg)
            .decode_utf8()
            .map_err(|_| PathError::BadRequest)?;
        if dec.contains(['\0', '\\']) || dec.chars().any(char::is_control) {
            return Err(PathError::BadRequest);
        }
        match &*dec {
            "." => {}
            ".." => return Err(PathError::BadRequest),
            s if site.is_none() => site = Some(s.to_owned()),
            s => {
                if !key.is_empty() {
                    key.push('/');
                }
                key.push_str(s);
            }
        }
    }
    let Some(site) = site else {
        return Err(PathError::NotFound);
    };
    if raw.ends_with('/') && !key.is_empty() {
        key.push('/');
    }
    if key.len() > 1024 {
        return Err(PathError::BadRequest);
    }
    Ok(PublicPath { site, key })
}

/// A parsed `Range` header resolved against a length: inclusive `(first, last)` pairs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RangeReq {
    /// No usable Range: send the whole representation.
    Full,
    /// One or more satisfiable ranges (overlapping ones merged).
    Ranges(Vec<(u64, u64)>),
    /// None satisfiable: 416.
    Unsatisfiable,
}

/// Parses `bytes=...` against `len`. Unknown units or syntax errors are ignored, as RFC 9110
/// allows; more than 20 ranges are treated as abuse and served whole.
#[must_use]
pub fn parse_range(header: Option<&str>, len: u64) -> RangeReq {
    let Some(h) = header else { return RangeReq::Full };
    let Some(spec) = h.trim().strip_prefix("bytes=") else {
        return RangeReq::Full;
    };
    let mut out: Vec<(u64, u64)> = Vec::new();
    let parts: Vec<&str> = spec.split(',').map(str::trim).collect();
    if parts.len() > 20 {
        return RangeReq::Full;
    }
    for p in parts {
        let Some((a, b)) = p.split_once('-') else { return RangeReq::Full };
        let r = match (a.trim(), b.trim()) {
            ("", "") => return RangeReq::Full,
            ("", n) => match n.parse::<u64>() {
                Ok(0) => None,
                Ok(n) if len > 0 => Some((len.saturating_sub(n), len - 1)),
                Ok(_) => None,
                Err(_) => return RangeReq::Full,
            },
            (a, "") => match a.parse::<u64>() {
                Ok(a) if a < len => Some((a, len - 1)),
                Ok(_) => None,
                Err(_) => return RangeReq::Full,
            },
            (a, b) => match (a.parse::<u64>(), b.parse::<u64>()) {
                (Ok(a), Ok(b)) if a > b => return RangeReq::Full,
                (Ok(a), Ok(b)) if a < len => Some((a, b.min(len - 1))),
                (Ok(_), Ok(_)) => None,
                _ => return RangeReq::Full,
            },
        };
        if let Some(r) = r {
            out.push(r);
        }
    }
    if out.is_empty() {
        return RangeReq::Unsatisfiable;
    }
    out.sort_unstable();
    let mut merged: Vec<(u64, u64)> = Vec::with_capacity(out.len());
    for (a, b) in out {
        match merged.last_mut() {
            Some(last) if a <= last.1.saturating_add(1) => last.1 = last.1.max(b),
            _ => merged.push((a, b)),
        }
    }
    RangeReq::Ranges(merged)
}

/// What the preconditions say.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Precondition {
    /// Go on.
    Proceed,
    /// 304.
    NotModified,
    /// 412.
    Failed,
}

fn etag_list_matches(header: &str, etag: &str, weak: bool) -> bool {
    header.split(',').map(str::trim).any(|t| {
        if t == "*" {
            return true;
        }
        let (is_weak, v) = match t.strip_prefix("W/") {
            Some(v) => (true, v),
            None => (false, t),
        };
        (weak || !is_weak) && v.trim_matches('"') == etag
    })
}

/// The request's validators.
#[derive(Debug, Clone, Copy, Default)]
pub struct Validators<'a> {
    /// If-Match.
    pub if_match: Option<&'a str>,
    /// If-None-Match.
    pub if_none_match: Option<&'a str>,
    /// If-Modified-Since.
    pub if_modified_since: Option<&'a str>,
    /// If-Unmodified-Since.
    pub if_unmodified_since: Option<&'a str>,
}

/// RFC 9110 section 13.2.2, in order. `etag` without quotes; times truncate to seconds.
#[must_use]
pub fn evaluate(v: &Validators<'_>, etag: &str, last_modified: SystemTime) -> Precondition {
    let lm = httpdate::HttpDate::from(last_modified);
    if let Some(im) = v.if_match {
        if !etag_list_matches(im, etag, false) {
            return Precondition::Failed;
        }
    } else if let Some(t) = v.if_unmodified_since.and_then(|s| httpdate::parse_http_date(s).ok())
        && lm > httpdate::HttpDate::from(t)
    {
        return Precondition::Failed;
    }
    if let Some(inm) = v.if_none_match {
        if etag_list_matches(inm, etag, true) {
            return Precondition::NotModified;
        }
    } else if let Some(t) = v.if_modified_since.and_then(|s| httpdate::parse_http_date(s).ok())
        && lm <= httpdate::HttpDate::from(t)
    {
        return Precondition::NotModified;
    }
    Precondition::Proceed
}

/// Whether `If-Range` lets the Range apply: a strong ETag match or an exact date match.
#[must_use]
pub fn if_range_holds(if_range: Option<&str>, etag: &str, last_modified: SystemTime) -> bool {
    match if_range.map(str::trim) {
        None => true,
        Some(v) if v.starts_with('"') => v.trim_matches('"') == etag,
        Some(v) if v.starts_with("W/") => false,
        Some(v) => httpdate::parse_http_date(v).is_ok_and(|t| httpdate::HttpDate::from(t) == httpdate::HttpDate::from(last_modified)),
    }
}

/// A content coding the face produces.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Coding {
    /// br.
    Brotli,
    /// zstd.
    Zstd,
    /// gzip.
    Gzip,
}

impl Coding {
    /// Token for Content-Encoding.
    #[must_use]
    pub fn token(self) -> &'static str {
        match self {
            Coding::Brotli => "br",
            Coding::Zstd => "zstd",
            Coding::Gzip => "gzip",
        }
    }
}

/// Picks the best coding the client accepts (q > 0), preferring br, then zstd, then gzip on ties.
#[must_use]
pub fn negotiate(accept_encoding: Option<&str>) -> Option<Coding> {
    let h = accept_encoding?;
    let mut best: Option<(Coding, f32)> = None;
    let mut star: Option<f32> = None;
    let mut named = Vec::new();
    for item in h.split(',') {
        let mut it = item.split(';');
        let name = it.next().unwrap_or("").trim().to_ascii_lowercase();
        let q = it
            .find_map(|p| p.trim().strip_prefix("q=").and_then(|q| q.parse::<f32>().ok()))
            .unwrap_or(1.0);
        match name.as_str() {
            "*" => star = Some(q),
            n => named.push((n.to_owned(), q)),
        }
    }
    for c in [Coding::Brotli, Coding::Zstd, Coding::Gzip] {
        let q = named
            .iter()
            .find(|(n, _)| n == c.token() || (c == Coding::Gzip && n == "x-gzip"))
            .map(|(_, q)| *q)
            .or(star)
            .unwrap_or(0.0);
        if q > 0.0 && best.is_none_or(|(_, bq)| q > bq) {
            best = Some((c, q));
        }
    }
    best.map(|(c, _)| c)
}

/// Types worth compressing.
#[must_use]
pub fn compressible(content_type: &str) -> bool {
    let e = content_type.split(';').next().unwrap_or("").trim().to_ascii_lowercase();
    e.starts_with("text/")
        || matches!(
            e.as_str(),
            "application/javascript"
                | "application/json"
                | "application/xml"
                | "application/wasm"
                | "image/svg+xml"
                | "application/manifest+json"
                | "application/rss+xml"
                | "font/ttf"
                | "font/otf"
        )
}

/// The Content-Type to send: what the uploader set (unless it is a generic placeholder), else a
/// guess from the extension, else `application/octet-stream`; text gets `charset=utf-8`.
#[must_use]
pub fn content_type(stored: Option<&str>, key: &str) -> String {
    let generic = |t: &str| {
        matches!(
            t.split(';').next().unwrap_or("").trim(),
            "binary/octet-stream" | "application/octet-stream" | ""
        )
    };
    let t = match stored {
        Some(t) if !generic(t) => t.to_owned(),
        _ => mime_guess::from_path(key)
            .first_raw()
            .unwrap_or("application/octet-stream")
            .to_owned(),
    };
    let essence = t.split(';').next().unwrap_or("").trim().to_ascii_lowercase();
    let texty = essence.starts_with("text/") || matches!(essence.as_str(), "application/javascript" | "application/json" | "image/svg+xml");
    if texty && !t.to_ascii_lowercase().contains("charset=") {
        format!("{t}; charset=utf-8")
    } else {
        t
    }
}

/// `max-age` (or `s-maxage`) of a Cache-Control value, for the edge's own freshness.
#[must_use]
pub fn max_age(cache_control: &str) -> Option<u64> {
    let mut max = None;
    for d in cache_control.split(',').map(str::trim) {
        let lower = d.to_ascii_lowercase();
        if lower == "no-store" || lower == "no-cache" || lower == "private" {
            return Some(0);
        }
        if let Some(v) = lower.strip_prefix("s-maxage=") {
            return v.parse().ok();
        }
        if let Some(v) = lower.strip_prefix("max-age=") {
            max = v.parse().ok();
        }
    }
    max
}

/// Escapes text for HTML.
#[must_use]
pub fn html_escape(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => o.push_str("&amp;"),
            '<' => o.push_str("&lt;"),
            '>' => o.push_str("&gt;"),
            '"' => o.push_str("&quot;"),
            '\'' => o.push_str("&#39;"),
            c => o.push(c),
        }
    }
    o
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, UNIX_EPOCH};

    #[test]
    fn paths_decode_once_and_never_escape() {
        assert_eq!(
            parse_path("/site/a/b%20c.txt"),
            Ok(PublicPath {
                site: "site".into(),
                key: "a/b c.txt".into()
            })
        );
        assert_eq!(
            parse_path("/site/./a//b/"),
            Ok(PublicPath {
                site: "site".into(),
                key: "a/b/".into()
            })
        );
        assert_eq!(
            parse_path("/site/"),
            Ok(PublicPath {
                site: "site".into(),
                key: String::new()
            })
        );
        assert_eq!(
            parse_path("/site/%252e%252e/x").map(|p| p.key),
            Ok("%2e%2e/x".into()),
            "decoded once only"
        );
        for bad in [
            "/site/../other/x",
            "/site/a/%2e%2e/x",
            "/site/a%2Fb",
            "/site/a%00b",
            "/site/a%5cb",
            "/site/%ff",
        ] {
            assert_eq!(parse_path(bad), Err(PathError::BadRequest), "{bad}");
        }
        assert_eq!(parse_path("/"), Err(PathError::NotFound));
    }

    #[test]
    fn ranges() {
        assert_eq!(parse_range(Some("bytes=0-9"), 100), RangeReq::Ranges(vec![(0, 9)]));
        assert_eq!(parse_range(Some("bytes=-10"), 100), RangeReq::Ranges(vec![(90, 99)]));
        assert_eq!(parse_range(Some("bytes=95-"), 100), RangeReq::Ranges(vec![(95, 99)]));
        assert_eq!(parse_range(Some("bytes=0-1, 5-6"), 100), RangeReq::Ranges(vec![(0, 1), (5, 6)]));
        assert_eq!(parse_range(Some("bytes=0-5,3-8"), 100), RangeReq::Ranges(vec![(0, 8)]));
        assert_eq!(parse_range(Some("bytes=200-300"), 100), RangeReq::Unsatisfiable);
        assert_eq!(parse_range(Some("bytes=-0"), 100), RangeReq::Unsatisfiable);
        assert_eq!(parse_range(Some("bytes=5-1"), 100), RangeReq::Full);
        assert_eq!(parse_range(Some("items=0-1"), 100), RangeReq::Full);
        assert_eq!(parse_range(None, 100), RangeReq::Full);
    }

    #[test]
    fn preconditions_follow_rfc9110_order() {
        let lm = UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        let later = httpdate::fmt_http_date(lm + Duration::from_mins(1));
        let earlier = httpdate::fmt_http_date(lm - Duration::from_mins(1));
        let v = |f: fn(&mut Validators<'static>)| {
            let mut x = Validators::default();
            f(&mut x);
            x
        };
        assert_eq!(
            evaluate(&v(|x| x.if_none_match = Some("\"abc\"")), "abc", lm),
            Precondition::NotModified
        );
        assert_eq!(
            evaluate(&v(|x| x.if_none_match = Some("W/\"abc\", \"x\"")), "abc", lm),
            Precondition::NotModified
        );
        assert_eq!(evaluate(&v(|x| x.if_none_match = Some("\"x\"")), "abc", lm), Precondition::Proceed);
        assert_eq!(evaluate(&v(|x| x.if_match = Some("\"x\"")), "abc", lm), Precondition::Failed);
        assert_eq!(
            evaluate(&v(|x| x.if_match = Some("W/\"abc\"")), "abc", lm),
            Precondition::Failed,
            "If-Match is strong"
        );
        assert_eq!(evaluate(&v(|x| x.if_match = Some("*")), "abc", lm), Precondition::Proceed);
        let mut x = Validators {
            if_modified_since: Some(&later),
            ..Default::default()
        };
        assert_eq!(evaluate(&x, "abc", lm), Precondition::NotModified);
        x.if_modified_since = Some(&earlier);
        assert_eq!(evaluate(&x, "abc", lm), Precondition::Proceed);
        let y = Validators {
            if_unmodified_since: Some(&earlier),
            ..Default::default()
        };
        assert_eq!(evaluate(&y, "abc", lm), Precondition::Failed);
        // If-None-Match wins over If-Modified-Since.
        let z = Validators {
            if_none_match: Some("\"x\""),
            if_modified_since: Some(&later),
            ..Default::default()
        };
        assert_eq!(evaluate(&z, "abc", lm), Precondition::Proceed);
        assert!(if_range_holds(Some("\"abc\""), "abc", lm));
        assert!(!if_range_holds(Some("\"old\""), "abc", lm));
        assert!(if_range_holds(Some(&httpdate::fmt_http_date(lm)), "abc", lm));
        assert!(!if_range_holds(Some(&earlier), "abc", lm));
    }

    #[test]
    fn negotiation_types_and_ages() {
        assert_eq!(negotiate(Some("gzip, deflate, br")), Some(Coding::Brotli));
        assert_eq!(negotiate(Some("gzip;q=1.0, br;q=0.5")), Some(Coding::Gzip));
        assert_eq!(negotiate(Some("zstd, gzip")), Some(Coding::Zstd));
        assert_eq!(negotiate(Some("identity")), None);
        assert_eq!(negotiate(Some("br;q=0, *")), Some(Coding::Zstd));
        assert_eq!(negotiate(None), None);
        assert_eq!(content_type(None, "a/site.css"), "text/css; charset=utf-8");
        assert_eq!(content_type(Some("binary/octet-stream"), "x.woff2"), "font/woff2");
        assert_eq!(content_type(Some("application/x-custom"), "x.txt"), "application/x-custom");
        assert_eq!(content_type(None, "noext"), "application/octet-stream");
        assert!(compressible("text/html; charset=utf-8") && !compressible("image/png"));
        assert_eq!(max_age("public, max-age=300"), Some(300));
        assert_eq!(max_age("public, max-age=300, s-maxage=60"), Some(60));
        assert_eq!(max_age("no-cache"), Some(0));
        assert_eq!(html_escape("<a href=\"x\">&'"), "&lt;a href=&quot;x&quot;&gt;&amp;&#39;");
    }
}
