//! Bucket CORS on the S3 face: the rules a space keeps (S3's `CORSConfiguration`), their
//! checks, and the decision for a preflight or an actual request. Pure: no IO.
//!
//! Matching follows S3: the first rule whose origins, method and (for a preflight) every
//! requested header match decides; `*` in an origin or header pattern matches any run of
//! characters; methods and origins compare exactly, headers without regard to case.

use serde::{Deserialize, Serialize};

/// At most this many rules (S3's bound).
pub const MAX_RULES: usize = 100;
/// The methods a rule may allow.
pub const METHODS: [&str; 5] = ["GET", "PUT", "HEAD", "POST", "DELETE"];

/// One CORS rule.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct CorsRule {
    /// An optional name for the rule.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// Origins (`https://app.example.com`, `https://*.example.com`, `*`).
    pub allowed_origins: Vec<String>,
    /// Methods: GET, PUT, HEAD, POST, DELETE.
    pub allowed_methods: Vec<String>,
    /// Request headers a preflight may ask for (`*` for any).
    #[serde(default)]
    pub allowed_headers: Vec<String>,
    /// Response headers the browser may show the page.
    #[serde(default)]
    pub expose_headers: Vec<String>,
    /// How long a browser may cache the preflight's answer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_age_seconds: Option<u32>,
}

/// Why a rule set was refused; the text says what to fix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CorsError(pub String);

impl std::fmt::Display for CorsError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for CorsError {}

/// Checks a rule set as S3 does.
///
/// # Errors
/// The first rule broken.
pub fn check(rules: &[CorsRule]) -> Result<(), CorsError> {
    let bad = |m: String| Err(CorsError(m));
    if rules.is_empty() {
        return bad("A CORS configuration needs at least one rule.".into());
    }
    if rules.len() > MAX_RULES {
        return bad(format!("A CORS configuration may have at most {MAX_RULES} rules."));
    }
    for r in rules {
        if r.allowed_origins.is_empty() || r.allowed_methods.is_empty() {
            return bad("Every CORS rule needs an AllowedOrigin and an AllowedMethod.".into());
        }
        if let Some(m) = r.allowed_methods.iter().find(|m| !METHODS.contains(&m.as_str())) {
            return bad(format!("Found unsupported HTTP method in CORS config. Unsupported method is {m}"));
        }
        for o in &r.allowed_origins {
            if o.matches('*').count() > 1 {
                return bad(format!("AllowedOrigin \"{o}\" can not have more than one wildcard."));
            }
        }
        for h in &r.allowed_headers {
            if h.matches('*').count() > 1 {
                return bad(format!("AllowedHeader \"{h}\" can not have more than one wildcard."));
            }
        }
        let names = r.allowed_origins.iter().chain(&r.allowed_headers).chain(&r.expose_headers);
        if names.chain(&r.id).any(|s| s.chars().any(char::is_control)) {
            return bad("A CORS rule contains a control character.".into());
        }
    }
    Ok(())
}

/// `text` matches `pattern`, where one `*` stands for any run of characters.
fn matches(pattern: &str, text: &str) -> bool {
    match pattern.split_once('*') {
        None => pattern == text,
        Some((head, tail)) => text.len() >= head.len() + tail.len() && text.starts_with(head) && text.ends_with(tail),
    }
}

/// The CORS response headers for an allowed request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Allowed {
    /// `Access-Control-Allow-Origin`: `*` for a rule that allows any origin, else the origin.
    pub origin: String,
    /// `Access-Control-Allow-Methods`.
    pub methods: String,
    /// `Access-Control-Allow-Headers` (preflight only: the headers asked for).
    pub headers: Option<String>,
    /// `Access-Control-Expose-Headers`.
    pub expose: Option<String>,
    /// `Access-Control-Max-Age`.
    pub max_age: Option<u32>,
    /// `Access-Control-Allow-Credentials: true` (never with `*`).
    pub credentials: bool,
}

fn allowed(r: &CorsRule, origin: &str, headers: Option<String>) -> Allowed {
    let any = r.allowed_origins.iter().any(|o| o == "*");
    Allowed {
        origin: if any { "*".to_owned() } else { origin.to_owned() },
        methods: r.allowed_methods.join(", "),
        headers,
        expose: (!r.expose_headers.is_empty()).then(|| r.expose_headers.join(", ")),
        max_age: r.max_age_seconds,
        credentials: !any,
    }
}

fn rule_allows(r: &CorsRule, origin: &str, method: &str) -> bool {
    r.allowed_origins.iter().any(|o| matches(o, origin)) && r.allowed_methods.iter().any(|m| m == method)
}

/// A preflight (`OPTIONS` with `Access-Control-Request-Method` and maybe
/// `Access-Control-Request-Headers`, a comma-separated list): the headers to answer with, or
/// `None` when no rule allows it.
#[must_use]
pub fn preflight(rules: &[CorsRule], origin: &str, method: &str, request_headers: Option<&str>) -> Option<Allowed> {
    let asked: Vec<String> = request_headers
        .unwrap_or("")
        .split(',')
        .map(|h| h.trim().to_ascii_lowercase())
        .filter(|h| !h.is_empty())
        .collect();
    rules
        .iter()
        .find(|r| {
            rule_allows(r, origin, method)
                && asked
                    .iter()
                    .all(|h| r.allowed_headers.iter().any(|p| matches(&p.to_ascii_lowercase(), h)))
        })
        .map(|r| allowed(r, origin, (!asked.is_empty()).then(|| asked.join(", "))))
}

/// An actual request from `origin` with `method`: the headers to add, or `None`.
#[must_use]
pub fn actual(rules: &[CorsRule], origin: &str, method: &str) -> Option<Allowed> {
    rules
        .iter()
        .find(|r| rule_allows(r, origin, method))
        .map(|r| allowed(r, origin, None))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(origins: &[&str], methods: &[&str], headers: &[&str]) -> CorsRule {
        CorsRule {
            id: None,
            allowed_origins: origins.iter().map(|s| (*s).to_owned()).collect(),
            allowed_methods: methods.iter().map(|s| (*s).to_owned()).collect(),
            allowed_headers: headers.iter().map(|s| (*s).to_owned()).collect(),
            expose_headers: vec!["ETag".into()],
            max_age_seconds: Some(600),
        }
    }

    #[test]
    fn the_first_matching_rule_decides() {
        let rules = vec![
            rule(&["https://app.example.com"], &["PUT", "POST"], &["content-type", "x-amz-*"]),
            rule(&["https://*.example.com"], &["GET"], &[]),
            rule(&["*"], &["HEAD"], &[]),
        ];
        let a = preflight(&rules, "https://app.example.com", "PUT", Some("Content-Type, X-Amz-Date")).expect("allowed");
        assert_eq!(a.origin, "https://app.example.com");
        assert_eq!(a.methods, "PUT, POST");
        assert_eq!(a.headers.as_deref(), Some("content-type, x-amz-date"));
        assert_eq!((a.expose.as_deref(), a.max_age, a.credentials), (Some("ETag"), Some(600), true));
        // A header the rule does not allow, a method no rule allows for the origin.
        assert_eq!(preflight(&rules, "https://app.example.com", "PUT", Some("authorization")), None);
        assert_eq!(preflight(&rules, "https://app.example.com", "DELETE", None), None);
        // Wildcard origins: one label's worth or more, but not a different suffix.
        assert!(actual(&rules, "https://cdn.example.com", "GET").is_some());
        assert_eq!(actual(&rules, "https://example.com.evil.test", "GET"), None);
        assert_eq!(actual(&rules, "http://cdn.example.com", "GET"), None);
        // `*` answers `*` and no credentials.
        let any = actual(&rules, "https://anyone.test", "HEAD").expect("any origin");
        assert_eq!((any.origin.as_str(), any.credentials), ("*", false));
        assert_eq!(actual(&rules, "https://anyone.test", "GET"), None);
    }

    #[test]
    fn rule_sets_are_checked_as_s3_does() {
        assert!(check(&[rule(&["*"], &["GET"], &["*"])]).is_ok());
        assert!(check(&[]).is_err());
        assert!(check(&[rule(&[], &["GET"], &[])]).is_err());
        assert!(check(&[rule(&["*"], &["PATCH"], &[])]).is_err());
        assert!(check(&[rule(&["https://*.*.example.com"], &["GET"], &[])]).is_err());
        assert!(check(&[rule(&["*"], &["GET"], &["x-*-*"])]).is_err());
        assert!(check(&vec![rule(&["*"], &["GET"], &[]); 101]).is_err());
        assert!(check(&vec![rule(&["*"], &["GET"], &[]); 100]).is_ok());
    }
}
