//! Logging that cannot leak: redaction belongs to the logging layer, not to each call site.
//!
//! Two guards, whatever `RUSTSHARE_LOG` asks for:
//! - the crates that see raw requests (s3s, hyper, h2, h3, quinn, rustls, the AWS SDK, axum,
//!   the database drivers) are capped at `info`: at `debug` and `trace` they print headers,
//!   signatures, form fields and object keys;
//! - every line goes through [`scrub`], which masks what a secret looks like (signatures,
//!   credential scopes, access key ids, bearer and console tokens, secret keys).

use std::io::Write;

use tracing_subscriber::EnvFilter;

use crate::config::LogFormat;

/// Targets capped at `info` at every log level.
pub const CAPPED: &[&str] = &[
    "s3s",
    "hyper",
    "hyper_util",
    "h2",
    "h3",
    "h3_quinn",
    "quinn",
    "quinn_proto",
    "rustls",
    "tokio_rustls",
    "aws_smithy_runtime",
    "aws_smithy_runtime_api",
    "aws_smithy_http_client",
    "aws_sdk_s3",
    "aws_sigv4",
    "aws_config",
    "axum",
    "tower",
    "tower_http",
    "tokio_postgres",
    "postgres",
    "rusqlite",
    "ureq",
];

/// The filter: `RUSTSHARE_LOG` (default `info`), with [`CAPPED`] added last so it wins.
#[must_use]
pub fn filter(spec: Option<&str>) -> EnvFilter {
    let mut f = spec
        .and_then(|s| EnvFilter::try_new(s).ok())
        .unwrap_or_else(|| EnvFilter::new("info,aws=warn,aws_smithy=warn,s3s=off,hyper=warn"));
    for t in CAPPED {
        if let Ok(d) = format!("{t}=info").parse() {
            f = f.add_directive(d);
        }
    }
    f
}

/// Installs the global subscriber.
pub fn init(format: LogFormat) {
    let spec = std::env::var("RUSTSHARE_LOG").ok();
    let b = tracing_subscriber::fmt()
        .with_env_filter(filter(spec.as_deref()))
        .with_writer(|| Scrubbed(std::io::stderr()));
    let _ = match format {
        LogFormat::Text => b.try_init(),
        LogFormat::Json => b.json().try_init(),
    };
}

/// A writer that scrubs each write (the fmt layer writes one whole event per call).
pub struct Scrubbed<W>(pub W);

impl<W: Write> Write for Scrubbed<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let text = String::from_utf8_lossy(buf);
        self.0.write_all(scrub(&text).as_bytes())?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.0.flush()
    }
}

fn is_key_char(b: u8) -> bool {
    b.is_ascii_uppercase() || b.is_ascii_digit()
}

/// Masks secrets in one log line.
#[must_use]
pub fn scrub(line: &str) -> String {
    let mut out = line.to_owned();
    // `name=value` or `name: value` pairs whose value is secret, up to the next delimiter.
    for marker in [
        "Signature=",
        "signature=",
        "X-Amz-Signature=",
        "x-amz-signature=",
        "Credential=",
        "X-Amz-Credential=",
        "x-amz-credential=",
        "X-Amz-Security-Token=",
        "Bearer ",
        "bearer ",
        "AWS4-HMAC-SHA256 ",
        "AWS ",
        "authorization: ",
        "Authorization: ",
        "\"authorization\": \"",
        "rs_console=",
        "rsat_",
        "x-csrf-token: ",
        "secret_access_key",
        "secret=",
        "token=",
    ] {
        out = mask_after(&out, marker);
    }
    mask_tokens(&out)
}

/// Replaces what follows each `marker` up to a delimiter with `***`.
fn mask_after(s: &str, marker: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(i) = rest.find(marker) {
        let (head, tail) = rest.split_at(i + marker.len());
        out.push_str(head);
        let end = tail
            .find(['&', ',', ' ', '"', '\'', '\n', ')', '}', ']', ';'])
            .unwrap_or(tail.len());
        // `secret_access_key": "..."`: skip the punctuation to reach the value.
        let (skip, tail2) = if marker == "secret_access_key" {
            let n = tail.find(|c: char| c.is_ascii_alphanumeric()).unwrap_or(tail.len());
            (n, &tail[n..])
        } else {
            (0, tail)
        };
        let end = if skip > 0 {
            tail2
                .find(|c: char| !c.is_ascii_alphanumeric() && c != '/' && c != '+')
                .unwrap_or(tail2.len())
        } else {
            end
        };
        if skip > 0 {
            out.push_str(&tail[..skip]);
        }
        if end > 0 {
            out.push_str("***");
        }
        rest = &tail2[end..];
    }
    out.push_str(rest);
    out
}

/// Masks access key ids (`RS3` + 17 of `A-Z0-9`) and our token formats (`rst_...`, `rss_...`).
fn mask_tokens(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = String::with_capacity(s.len());
    let mut i = 0;
    while i < b.len() {
        if b[i..].starts_with(b"RS3")
            && b.len() >= i + 20
            && b[i + 3..i + 20].iter().all(|&c| is_key_char(c))
            && b.get(i + 20).is_none_or(|&c| !is_key_char(c))
        {
            out.push_str("RS3***");
            i += 20;
            continue;
        }
        match s[i..].chars().next() {
            Some(c) => {
                out.push(c);
                i += c.len_utf8();
            }
            None => break,
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_masked() {
        let line = "rsat_0123456789abcdefghij GET /b/k?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=RS3ABCDEFGHIJKLMNOPQ%2F20261206%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-Signature=deadbeef authorization: AWS4-HMAC-SHA256 Credential=RS3ABCDEFGHIJKLMNOPQ/x, Signature=cafe Bearer rst_abcdef key RS3ABCDEFGHIJKLMNOPQ {\"secret_access_key\": \"AbCdEf0123\"}";
        let s = scrub(line);
        for secret in [
            "0123456789abcdefghij",
            "deadbeef",
            "cafe",
            "rst_abcdef",
            "RS3ABCDEFGHIJKLMNOPQ",
            "AbCdEf0123",
        ] {
            assert!(!s.contains(secret), "{secret} left in {s}");
        }
        assert!(s.contains("GET /b/k?"));
        assert_eq!(scrub("plain text, nothing to hide"), "plain text, nothing to hide");
        assert_eq!(scrub("RS3 is a prefix"), "RS3 is a prefix");
    }

    #[test]
    fn raw_request_crates_stay_at_info_whatever_is_asked() {
        let f = filter(Some("trace")).to_string();
        for t in ["s3s=info", "hyper=info", "h2=info", "aws_sdk_s3=info"] {
            assert!(f.contains(t), "{t} missing in {f}");
        }
    }
}
