//! Query strings as decoded `(name, value)` pairs, repeated names kept in order (the registry
//! token service takes several `scope`s; the S3 precheck reads signature parameters). Imports
//! nothing of ours.

/// Splits `q` on `&` and percent-decodes each side of `=` (`+` is a space).
#[must_use]
pub fn pairs(q: &str) -> Vec<(String, String)> {
    q.split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            let dec = |s: &str| {
                percent_encoding::percent_decode_str(&s.replace('+', " "))
                    .decode_utf8_lossy()
                    .into_owned()
            };
            (dec(k), dec(v))
        })
        .collect()
}
