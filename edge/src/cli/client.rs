//! How every CLI command talks to the server and prints: the API client, its error messages,
//! and the size, duration and byte-count formats the commands share.

use anyhow::{Context, Result, bail};
use serde_json::Value;

/// Parses `10GiB`, `500MB`, `1024`.
///
/// # Errors
/// A message with the accepted forms.
pub fn parse_size(s: &str) -> Result<u64> {
    let t = s.trim();
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let n: u64 = num
        .parse()
        .with_context(|| format!("size {s:?}: expected a number with an optional unit (B, KB, MB, GB, TB, KiB, MiB, GiB, TiB)"))?;
    let mult: u64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "kb" => 1_000,
        "mb" => 1_000_000,
        "gb" => 1_000_000_000,
        "tb" => 1_000_000_000_000,
        "kib" | "k" => 1 << 10,
        "mib" | "m" => 1 << 20,
        "gib" | "g" => 1 << 30,
        "tib" | "t" => 1 << 40,
        other => bail!("size {s:?}: unknown unit {other:?}; use B, KB, MB, GB, TB, KiB, MiB, GiB or TiB"),
    };
    n.checked_mul(mult).with_context(|| format!("size {s:?} is too large"))
}

/// Parses `90d`, `12h`, `30m`, `45s` (or `2h 30m`) into seconds.
///
/// # Errors
/// A message with the accepted forms, also for a duration too long to count.
pub fn parse_duration(s: &str) -> Result<u64> {
    humantime::parse_duration(s.trim())
        .map(|d| d.as_secs())
        .map_err(|e| anyhow::anyhow!("duration {s:?}: {e}; write a number and a unit, for example 90d, 12h, 30m or 45s"))
}

pub(super) fn human_bytes(n: u64) -> String {
    const U: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut v = n as f64;
    let mut i = 0;
    while v >= 1024.0 && i < U.len() - 1 {
        v /= 1024.0;
        i += 1;
    }
    if i == 0 { format!("{n} B") } else { format!("{v:.1} {}", U[i]) }
}

/// The control API, as the CLI calls it.
pub(super) struct Client {
    pub(super) base: String,
    pub(super) token: String,
    agent: ureq::Agent,
}

impl Client {
    pub(super) fn new(server: &str, token: Option<&str>) -> Result<Self> {
        let token = match token {
            Some(t) => t.to_owned(),
            None => std::fs::read_to_string("data/admin-token")
                .map(|t| t.trim().to_owned())
                .context("no admin token: pass --token or set RUSTSHARE_TOKEN (the operator token is printed on first `rustshare serve` and kept in <data-dir>/admin-token)")?,
        };
        Ok(Self {
            base: server.trim_end_matches('/').to_owned(),
            token,
            agent: ureq::AgentBuilder::new().timeout(std::time::Duration::from_mins(1)).build(),
        })
    }

    pub(super) fn call(&self, method: &str, path: &str, body: Option<Value>) -> Result<Value> {
        self.call_with(&self.agent, method, path, body)
    }

    /// [`Client::call`] with the request and reply as the API's own types
    /// ([`crate::api::dto`]), the ones the server writes and its OpenAPI schemas come from.
    pub(super) fn typed<R: serde::de::DeserializeOwned>(
        &self,
        method: &str,
        path: &str,
        body: Option<&impl serde::Serialize>,
    ) -> Result<R> {
        self.typed_with(&self.agent, method, path, body)
    }

    /// [`Client::typed`] through `agent` (one with longer timeouts, for publishes).
    pub(super) fn typed_with<R: serde::de::DeserializeOwned>(
        &self,
        agent: &ureq::Agent,
        method: &str,
        path: &str,
        body: Option<&impl serde::Serialize>,
    ) -> Result<R> {
        let body = body.map(serde_json::to_value).transpose().context("writing the request")?;
        let v = self.call_with(agent, method, path, body)?;
        serde_json::from_value(v).context("the server's reply is not what this client understands (a different version?)")
    }

    pub(super) fn call_with(&self, agent: &ureq::Agent, method: &str, path: &str, body: Option<Value>) -> Result<Value> {
        let url = format!("{}/api/v1{path}", self.base);
        let req = agent.request(method, &url).set("Authorization", &format!("Bearer {}", self.token));
        let res = match body {
            Some(b) => req.send_json(b),
            None => req.call(),
        };
        match res {
            Ok(r) => r.into_json().context("reading the server's reply"),
            Err(e) => Err(self.explain(e)),
        }
    }

    /// The API's error message, or what to check when the server cannot be reached.
    pub(super) fn explain(&self, e: ureq::Error) -> anyhow::Error {
        match e {
            ureq::Error::Status(code, r) => {
                let v: Value = r.into_json().unwrap_or(Value::Null);
                let msg = v["error"]["message"].as_str().unwrap_or("request failed");
                let ecode = v["error"]["code"].as_str().unwrap_or("error");
                anyhow::Error::new(Failure {
                    kind: Failure::of_status(code),
                    message: format!("{msg} ({ecode}, HTTP {code})"),
                })
            }
            e @ ureq::Error::Transport(_) => anyhow::Error::new(Failure {
                kind: Kind::Unreachable,
                message: format!(
                    "cannot reach {}; is `rustshare serve` running? (set --server or RUSTSHARE_URL): {e}",
                    self.base
                ),
            }),
        }
    }
}

/// Why a command failed, as its exit status tells scripts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// The server refused the request as malformed or conflicting (HTTP 400, 409, 422): exit 2,
    /// like a usage error, since the command line asked for it.
    Invalid,
    /// Not authenticated, not allowed, or over quota (HTTP 401, 403): exit 3.
    Refused,
    /// No such tenant, space, key or repository (HTTP 404): exit 4.
    NotFound,
    /// The server failed (HTTP 5xx or another status): exit 5.
    Server,
    /// The server could not be reached: exit 6.
    Unreachable,
}

/// A failure the server reported (or the absence of a server), with its exit status.
#[derive(Debug)]
pub struct Failure {
    /// What kind of failure.
    pub kind: Kind,
    /// What to tell the user.
    pub message: String,
}

impl Failure {
    fn of_status(code: u16) -> Kind {
        match code {
            400 | 409 | 422 => Kind::Invalid,
            401 | 403 => Kind::Refused,
            404 => Kind::NotFound,
            _ => Kind::Server,
        }
    }
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Failure {}

/// The exit status for an error: the server's verdict when there was one, else 1.
#[must_use]
pub fn exit_code(e: &anyhow::Error) -> u8 {
    // anyhow's downcast looks through the context callers added.
    match e.downcast_ref::<Failure>().map(|f| f.kind) {
        Some(Kind::Invalid) => 2,
        Some(Kind::Refused) => 3,
        Some(Kind::NotFound) => 4,
        Some(Kind::Server) => 5,
        Some(Kind::Unreachable) => 6,
        None => 1,
    }
}

/// Writes a line to standard output; a reader that went away (`rustshare … | head`) ends the
/// command quietly, as a closed pipe ends other Unix tools, instead of a panic.
pub fn write_out(args: std::fmt::Arguments<'_>) {
    use std::io::Write as _;
    let mut out = std::io::stdout().lock();
    if let Err(e) = out.write_fmt(args).and_then(|()| out.write_all(b"\n")) {
        if e.kind() == std::io::ErrorKind::BrokenPipe {
            std::process::exit(0);
        }
        eprintln!("rustshare: writing to standard output: {e}");
        std::process::exit(1);
    }
}

pub(super) fn enc(s: &str) -> String {
    percent_encoding::utf8_percent_encode(s, percent_encoding::NON_ALPHANUMERIC).to_string()
}

/// The body of a request that has none, for [`Client::typed`].
pub(super) const NO_BODY: Option<&()> = None;

/// Prints a typed reply as JSON, or as `human` writes it.
pub(super) fn show<T: serde::Serialize>(json_mode: bool, v: &T, human: impl FnOnce(&T)) {
    if json_mode {
        outln!("{}", serde_json::to_string_pretty(v).unwrap_or_default());
    } else {
        human(v);
    }
}

/// An agent for calls that may run for minutes (publishes, lifecycle passes).
pub(super) fn slow_agent() -> ureq::Agent {
    ureq::AgentBuilder::new()
        .timeout_connect(std::time::Duration::from_secs(10))
        .timeout_read(std::time::Duration::from_mins(30))
        .timeout_write(std::time::Duration::from_mins(30))
        .build()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exit_statuses_follow_the_servers_verdict_through_context() {
        let f = |code| {
            anyhow::Error::new(Failure {
                kind: Failure::of_status(code),
                message: String::new(),
            })
        };
        let codes: Vec<u8> = [400, 409, 401, 403, 404, 500, 502, 418]
            .into_iter()
            .map(|c| exit_code(&f(c)))
            .collect();
        assert_eq!(codes, [2, 2, 3, 3, 4, 5, 5, 5]);
        assert_eq!(exit_code(&f(404).context("showing space x")), 4);
        assert_eq!(exit_code(&anyhow::anyhow!("bad config")), 1);
    }
}
