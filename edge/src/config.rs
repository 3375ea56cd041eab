//! Configuration: a TOML file and environment overrides become a validated [`Config`].
//! Parsing does no IO; reading the file is the caller's job.

use std::net::SocketAddr;
use std::path::PathBuf;

use rustshare_store::S3StoreConfig;
use serde::Deserialize;

/// The file as written.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawConfig {
    /// Data directory (fs store, database, master key, admin token).
    pub data_dir: Option<PathBuf>,
    /// HTTP listen address.
    pub listen: Option<String>,
    /// Domain the faces live under (`s3.<domain>`, `cdn.<domain>`, ...).
    pub domain: Option<String>,
    /// Region reported to S3 clients.
    pub region: Option<String>,
    /// S3 endpoint URL shown to users in key output.
    pub endpoint: Option<String>,
    /// File holding the master key.
    pub master_key_file: Option<PathBuf>,
    /// `text` or `json`.
    pub log_format: Option<String>,
    /// Object store.
    pub store: Option<RawStore>,
    /// Database: `database = "postgres://..."`, or a `[database]` table.
    #[serde(default, deserialize_with = "database_entry")]
    pub database: Option<RawDatabase>,
    /// CDN face.
    pub cdn: Option<RawCdn>,
    /// TLS and HTTP/3.
    pub tls: Option<RawTls>,
    /// Packages face.
    pub packages: Option<RawPackages>,
    /// Web console.
    pub console: Option<RawConsole>,
    /// The lifecycle expirer.
    pub lifecycle: Option<RawLifecycle>,
    /// Listener and request limits.
    pub limits: Option<RawLimits>,
}

/// `[limits]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawLimits {
    /// Seconds a client has to send a request's headers.
    pub header_read_timeout_secs: Option<u64>,
    /// Seconds a connection may stay silent while no request is in flight.
    pub idle_timeout_secs: Option<u64>,
    /// Seconds a client has to finish a TLS or QUIC handshake.
    pub tls_handshake_timeout_secs: Option<u64>,
    /// Open TCP connections (plain and TLS together).
    pub max_connections: Option<usize>,
    /// Concurrent streams per HTTP/2 connection.
    pub http2_max_streams: Option<u32>,
    /// Open QUIC connections.
    pub quic_max_connections: Option<usize>,
    /// Concurrent request streams per QUIC connection.
    pub quic_max_streams: Option<u32>,
    /// Largest file of an S3 POST form upload, bytes (held in memory while it is checked).
    pub post_max_bytes: Option<u64>,
    /// Request log lines: "all", "off", or "sampled" (one in `request_log_sample`).
    pub request_log: Option<String>,
    /// With `request_log = "sampled"`: log one request in this many (errors always).
    pub request_log_sample: Option<u64>,
}

/// `[console]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawConsole {
    /// Lifetime of a console login, minutes.
    pub session_minutes: Option<u64>,
    /// How often this node adds its traffic figures to the database, seconds.
    pub traffic_flush_secs: Option<u64>,
}

/// `[lifecycle]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawLifecycle {
    /// Seconds between expirer passes (one node runs them at a time).
    pub interval_secs: Option<u64>,
    /// Most removals one pass makes.
    pub batch: Option<u64>,
}

/// `[packages]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawPackages {
    /// max-age of Release, InRelease and Packages responses, seconds.
    pub index_max_age_secs: Option<u32>,
    /// What the publisher may remember of all repositories together between publishes, MiB
    /// (records, file lists and index pieces; about 125 MiB per 100,000 packages).
    pub memo_mib: Option<u64>,
}

/// `[tls]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawTls {
    /// Address for TLS (TCP) and HTTP/3 (UDP, same port).
    pub listen: Option<String>,
    /// PEM certificate chain; without it a self-signed development certificate is made.
    pub cert: Option<PathBuf>,
    /// PEM private key.
    pub key: Option<PathBuf>,
    /// Production: the S3 face refuses plain HTTP.
    pub production: Option<bool>,
    /// Largest UDP payload HTTP/3 probes for (path MTU discovery's upper bound), bytes.
    pub http3_max_datagram: Option<u64>,
}

/// `[cdn]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawCdn {
    /// Cache memory, bytes.
    pub cache_bytes: Option<u64>,
    /// Largest object held whole in the cache, bytes.
    pub max_object_bytes: Option<u64>,
    /// Seconds a 404 is remembered.
    pub negative_ttl_secs: Option<u64>,
    /// Seconds past freshness a stale object may be served while the store fails.
    pub stale_if_error_secs: Option<u64>,
    /// URL told about purges.
    pub purge_webhook: Option<String>,
    /// JSON access log file.
    pub access_log: Option<PathBuf>,
}

/// `[store]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawStore {
    /// `fs` or `s3`.
    pub backend: Option<String>,
    /// fs: directory.
    pub path: Option<PathBuf>,
    /// s3: backend settings.
    pub s3: Option<S3StoreConfig>,
}

/// `[database]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawDatabase {
    /// SQLite file (the single-node default).
    pub path: Option<PathBuf>,
    /// `postgres://user:password@host:port/db`: PostgreSQL, shared by several nodes. TLS
    /// follows the URL's `sslmode` (`prefer` by default, `require` to insist).
    pub url: Option<String>,
    /// PEM CA certificate for the database's TLS certificate, beside the system's roots.
    pub ca_file: Option<PathBuf>,
    /// How often this node reads the other nodes' changes (revocations, purges, publishes),
    /// milliseconds.
    pub poll_ms: Option<u64>,
}

/// `database = "postgres://..."` is `[database] url = "postgres://..."`; a table keeps its own
/// field checks (and their messages).
fn database_entry<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<RawDatabase>, D::Error> {
    struct V;
    impl<'de> serde::de::Visitor<'de> for V {
        type Value = Option<RawDatabase>;
        fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("a postgres:// URL or a [database] table")
        }
        fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Self::Value, E> {
            Ok(Some(RawDatabase {
                url: Some(v.to_owned()),
                ..RawDatabase::default()
            }))
        }
        fn visit_map<A: serde::de::MapAccess<'de>>(self, m: A) -> Result<Self::Value, A::Error> {
            RawDatabase::deserialize(serde::de::value::MapAccessDeserializer::new(m)).map(Some)
        }
    }
    d.deserialize_any(V)
}

/// The control database.
#[derive(Clone, PartialEq, Eq)]
pub enum DatabaseConfig {
    /// An SQLite file.
    Sqlite(PathBuf),
    /// A PostgreSQL URL (it may hold a password: `Debug` hides it) and an extra CA file.
    Postgres(String, Option<PathBuf>),
}

impl std::fmt::Debug for DatabaseConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Sqlite(p) => f.debug_tuple("Sqlite").field(p).finish(),
            Self::Postgres(url, ca) => f.debug_tuple("Postgres").field(&redact_url(url)).field(ca).finish(),
        }
    }
}

/// A URL without the password of its user part, for messages.
#[must_use]
pub fn redact_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return "<unparsed URL>".into();
    };
    let (auth, host) = match rest.rsplit_once('@') {
        Some((a, h)) => (Some(a), h),
        None => (None, rest),
    };
    match auth {
        Some(a) if a.contains(':') => format!("{scheme}://{}:***@{host}", a.split(':').next().unwrap_or_default()),
        Some(a) => format!("{scheme}://{a}@{host}"),
        None => format!("{scheme}://{host}"),
    }
}

/// Where objects go.
#[derive(Debug, Clone)]
pub enum StoreConfig {
    /// The embedded filesystem store.
    Fs(PathBuf),
    /// An S3-compatible backend.
    S3(S3StoreConfig),
}

/// Log output.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    /// Human-readable.
    Text,
    /// One JSON object per line.
    Json,
}

/// Validated configuration.
#[derive(Debug, Clone)]
pub struct Config {
    /// Data directory.
    pub data_dir: PathBuf,
    /// Listen address.
    pub listen: SocketAddr,
    /// Domain.
    pub domain: String,
    /// Region.
    pub region: String,
    /// Endpoint shown to users.
    pub endpoint: String,
    /// Master key file.
    pub master_key_file: PathBuf,
    /// Log format.
    pub log_format: LogFormat,
    /// Store.
    pub store: StoreConfig,
    /// Control database.
    pub database: DatabaseConfig,
    /// Interval of reading the change feed.
    pub change_poll: std::time::Duration,
    /// CDN face.
    pub cdn: crate::face::cdn::CdnConfig,
    /// TLS + HTTP/3 listen address.
    pub tls_listen: Option<SocketAddr>,
    /// Certificate files; `None` makes a self-signed one.
    pub tls_files: Option<crate::listen::tls::TlsFiles>,
    /// S3 over HTTPS only.
    pub production: bool,
    /// Upper bound of HTTP/3 path MTU discovery (UDP payload bytes).
    pub http3_max_datagram: u16,
    /// max-age of repository index files on the packages face.
    pub packages_index_max_age: u32,
    /// The publisher's memo budget, bytes.
    pub packages_memo_bytes: u64,
    /// Lifetime of a console login.
    pub session_lifetime: std::time::Duration,
    /// Interval of traffic figures written to the database (the console's bandwidth chart).
    pub traffic_flush: std::time::Duration,
    /// Time between lifecycle expirer passes.
    pub lifecycle_interval: std::time::Duration,
    /// Most removals one expirer pass makes.
    pub lifecycle_batch: usize,
    /// Listener limits.
    pub limits: crate::listen::Limits,
    /// Largest POST form upload.
    pub post_max_bytes: u64,
    /// Which requests get an INFO line.
    pub request_log: RequestLog,
}

/// Which requests are logged at INFO.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RequestLog {
    /// Every request.
    All,
    /// None (errors are still counted in metrics and audited).
    Off,
    /// One in N, and every 5xx.
    Sampled(u64),
}

/// Command-line overrides, strongest of all.
#[derive(Debug, Default, Clone)]
pub struct Overrides {
    /// `--data-dir`.
    pub data_dir: Option<PathBuf>,
    /// `--listen`.
    pub listen: Option<String>,
    /// `--tls-listen`.
    pub tls_listen: Option<String>,
}

impl Config {
    /// Resolves file, environment (`env` is the lookup, injected for tests) and flags.
    ///
    /// # Errors
    /// A message naming the setting to fix.
    pub fn resolve(raw: RawConfig, env: &dyn Fn(&str) -> Option<String>, o: &Overrides) -> Result<Self, String> {
        let data_dir = o
            .data_dir
            .clone()
            .or_else(|| env("RUSTSHARE_DATA_DIR").map(PathBuf::from))
            .or(raw.data_dir)
            .unwrap_or_else(|| PathBuf::from("./data"));
        let listen_s = o
            .listen
            .clone()
            .or_else(|| env("RUSTSHARE_LISTEN"))
            .or(raw.listen)
            .unwrap_or_else(|| "127.0.0.1:8080".into());
        let listen: SocketAddr = listen_s
            .parse()
            .map_err(|_| format!("listen address {listen_s:?} is not host:port (for example 127.0.0.1:8080)"))?;
        let domain = env("RUSTSHARE_DOMAIN").or(raw.domain).unwrap_or_else(|| "localhost".into());
        if domain.is_empty() || domain.contains(['/', ':', ' ']) {
            return Err(format!("domain {domain:?} must be a bare DNS name such as example.com"));
        }
        let region = env("RUSTSHARE_REGION").or(raw.region).unwrap_or_else(|| "us-east-1".into());
        let endpoint = env("RUSTSHARE_ENDPOINT")
            .or(raw.endpoint)
            .unwrap_or_else(|| format!("http://{listen}"));
        let master_key_file = env("RUSTSHARE_MASTER_KEY_FILE")
            .map(PathBuf::from)
            .or(raw.master_key_file)
            .unwrap_or_else(|| data_dir.join("master.key"));
        let log_format = match env("RUSTSHARE_LOG_FORMAT").or(raw.log_format).as_deref() {
            None | Some("text") => LogFormat::Text,
            Some("json") => LogFormat::Json,
            Some(other) => return Err(format!("log_format {other:?} must be \"text\" or \"json\"")),
        };
        let raw_store = raw.store.unwrap_or_default();
        let store = match env("RUSTSHARE_STORE").or(raw_store.backend).as_deref() {
            None | Some("fs") => StoreConfig::Fs(raw_store.path.unwrap_or_else(|| data_dir.join("objects"))),
            Some("s3") => {
                let mut s3 = match raw_store.s3 {
                    Some(s) => s,
                    None => S3StoreConfig {
                        endpoint: String::new(),
                        region: "us-east-1".into(),
                        access_key_id: String::new(),
                        secret_access_key: String::new(),
                        bucket: String::new(),
                        root_prefix: String::new(),
                        path_style: true,
                    },
                };
                for (var, field) in [
                    ("RUSTSHARE_S3_ENDPOINT", &mut s3.endpoint),
                    ("RUSTSHARE_S3_REGION", &mut s3.region),
                    ("RUSTSHARE_S3_ACCESS_KEY_ID", &mut s3.access_key_id),
                    ("RUSTSHARE_S3_SECRET_ACCESS_KEY", &mut s3.secret_access_key),
                    ("RUSTSHARE_S3_BUCKET", &mut s3.bucket),
                    ("RUSTSHARE_S3_ROOT_PREFIX", &mut s3.root_prefix),
                ] {
                    if let Some(v) = env(var) {
                        *field = v;
                    }
                }
                for (name, v) in [
                    ("endpoint", &s3.endpoint),
                    ("access_key_id", &s3.access_key_id),
                    ("secret_access_key", &s3.secret_access_key),
                    ("bucket", &s3.bucket),
                ] {
                    if v.is_empty() {
                        return Err(format!(
                            "store.s3.{name} is required when store.backend = \"s3\" (or set RUSTSHARE_S3_{})",
                            name.to_uppercase()
                        ));
                    }
                }
                if !s3.root_prefix.is_empty() && !s3.root_prefix.ends_with('/') {
                    return Err("store.s3.root_prefix must end with '/'".into());
                }
                StoreConfig::S3(s3)
            }
            Some(other) => return Err(format!("store.backend {other:?} must be \"fs\" or \"s3\"")),
        };
        let raw_db = raw.database.unwrap_or_default();
        let database = match (env("RUSTSHARE_DATABASE_URL").or(raw_db.url), raw_db.path) {
            (Some(url), _) if url.starts_with("postgres://") || url.starts_with("postgresql://") => {
                DatabaseConfig::Postgres(url, env("RUSTSHARE_DATABASE_CA_FILE").map(PathBuf::from).or(raw_db.ca_file))
            }
            (Some(url), _) => {
                return Err(format!(
                    "database.url {:?} must be a postgres:// URL (use database.path for SQLite)",
                    redact_url(&url)
                ));
            }
            (None, path) => DatabaseConfig::Sqlite(path.unwrap_or_else(|| data_dir.join("rustshare.db"))),
        };
        let poll_ms = match env("RUSTSHARE_DATABASE_POLL_MS") {
            Some(v) => v
                .parse()
                .map_err(|_| format!("RUSTSHARE_DATABASE_POLL_MS={v:?} must be a whole number"))?,
            None => raw_db.poll_ms.unwrap_or(250),
        };
        if !(10..=1000).contains(&poll_ms) {
            return Err(format!(
                "database.poll_ms {poll_ms} must be between 10 and 1000: it bounds how late other nodes see a revocation"
            ));
        }
        let rc = raw.cdn.unwrap_or_default();
        let d = crate::face::cdn::CdnConfig::default();
        let num = |var: &str, file: Option<u64>, default: u64| -> Result<u64, String> {
            match env(var) {
                Some(v) => v.parse().map_err(|_| format!("{var}={v:?} must be a whole number")),
                None => Ok(file.unwrap_or(default)),
            }
        };
        let cdn = crate::face::cdn::CdnConfig {
            cache_bytes: num("RUSTSHARE_CDN_CACHE_BYTES", rc.cache_bytes, d.cache_bytes)?,
            max_object_bytes: num("RUSTSHARE_CDN_MAX_OBJECT_BYTES", rc.max_object_bytes, d.max_object_bytes)?,
            negative_ttl: std::time::Duration::from_secs(num(
                "RUSTSHARE_CDN_NEGATIVE_TTL_SECS",
                rc.negative_ttl_secs,
                d.negative_ttl.as_secs(),
            )?),
            stale_if_error: std::time::Duration::from_secs(num(
                "RUSTSHARE_CDN_STALE_IF_ERROR_SECS",
                rc.stale_if_error_secs,
                d.stale_if_error.as_secs(),
            )?),
            purge_webhook: env("RUSTSHARE_CDN_PURGE_WEBHOOK").or(rc.purge_webhook),
            access_log: env("RUSTSHARE_CDN_ACCESS_LOG").map(PathBuf::from).or(rc.access_log),
        };
        if let Some(u) = &cdn.purge_webhook
            && !(u.starts_with("http://") || u.starts_with("https://"))
        {
            return Err(format!("cdn.purge_webhook {u:?} must be an http:// or https:// URL"));
        }
        let rt = raw.tls.unwrap_or_default();
        let tls_listen = match o.tls_listen.clone().or_else(|| env("RUSTSHARE_TLS_LISTEN")).or(rt.listen) {
            Some(a) => Some(
                a.parse::<SocketAddr>()
                    .map_err(|_| format!("TLS listen address {a:?} is not host:port (for example 127.0.0.1:8443)"))?,
            ),
            None => None,
        };
        let tls_files = match (
            env("RUSTSHARE_TLS_CERT").map(PathBuf::from).or(rt.cert),
            env("RUSTSHARE_TLS_KEY").map(PathBuf::from).or(rt.key),
        ) {
            (Some(cert), Some(key)) => Some(crate::listen::tls::TlsFiles { cert, key }),
            (None, None) => None,
            _ => return Err("tls.cert and tls.key go together: give both, or neither for a self-signed development certificate".into()),
        };
        let production = match env("RUSTSHARE_PRODUCTION").as_deref() {
            Some("1" | "true") => true,
            Some("0" | "false") => false,
            Some(v) => return Err(format!("RUSTSHARE_PRODUCTION={v:?} must be true or false")),
            None => rt.production.unwrap_or(false),
        };
        if production && tls_listen.is_none() {
            return Err("production mode serves S3 over HTTPS only: set tls.listen (or --tls-listen)".into());
        }
        let http3_max_datagram = num(
            "RUSTSHARE_HTTP3_MAX_DATAGRAM",
            rt.http3_max_datagram,
            crate::listen::h3::HTTP3_DEFAULT_MAX_DATAGRAM.into(),
        )?;
        let Some(http3_max_datagram) = u16::try_from(http3_max_datagram)
            .ok()
            .filter(|d| (1200..=crate::listen::h3::HTTP3_MAX_DATAGRAM_LIMIT).contains(d))
        else {
            return Err(format!(
                "tls.http3_max_datagram = {http3_max_datagram} must be from 1200 (QUIC's minimum) to {} (ten datagrams must fit one 64 KiB send); the default {} suits the internet, more only paths with jumbo frames",
                crate::listen::h3::HTTP3_MAX_DATAGRAM_LIMIT,
                crate::listen::h3::HTTP3_DEFAULT_MAX_DATAGRAM
            ));
        };
        let rcon = raw.console.unwrap_or_default();
        let session_minutes = num("RUSTSHARE_CONSOLE_SESSION_MINUTES", rcon.session_minutes, 12 * 60)?;
        let traffic_flush_secs = num("RUSTSHARE_CONSOLE_TRAFFIC_FLUSH_SECS", rcon.traffic_flush_secs, 10)?;
        if session_minutes == 0 || traffic_flush_secs == 0 {
            return Err("console.session_minutes and console.traffic_flush_secs must be at least 1".into());
        }
        let rlc = raw.lifecycle.unwrap_or_default();
        let lifecycle_interval = num("RUSTSHARE_LIFECYCLE_INTERVAL_SECS", rlc.interval_secs, 3600)?;
        let lifecycle_batch = num("RUSTSHARE_LIFECYCLE_BATCH", rlc.batch, 10_000)?;
        if lifecycle_interval == 0 || lifecycle_batch == 0 {
            return Err("lifecycle.interval_secs and lifecycle.batch must be at least 1".into());
        }
        let rl = raw.limits.unwrap_or_default();
        let dl = crate::listen::Limits::default();
        let secs = |var: &str, file: Option<u64>, default: std::time::Duration| -> Result<std::time::Duration, String> {
            let v = num(var, file, default.as_secs())?;
            if v == 0 {
                return Err(format!(
                    "{var} (limits.{}) must be at least 1 second",
                    var.trim_start_matches("RUSTSHARE_").to_lowercase()
                ));
            }
            Ok(std::time::Duration::from_secs(v))
        };
        let count = |var: &str, file: Option<u64>, default: u64| -> Result<u64, String> {
            let v = num(var, file, default)?;
            if v == 0 {
                return Err(format!(
                    "{var} (limits.{}) must be at least 1",
                    var.trim_start_matches("RUSTSHARE_").to_lowercase()
                ));
            }
            Ok(v)
        };
        let as_usize = |v: u64| usize::try_from(v).unwrap_or(usize::MAX);
        let as_u32 = |v: u64| u32::try_from(v).unwrap_or(u32::MAX);
        let limits = crate::listen::Limits {
            header_read_timeout: secs(
                "RUSTSHARE_HEADER_READ_TIMEOUT_SECS",
                rl.header_read_timeout_secs,
                dl.header_read_timeout,
            )?,
            idle_timeout: secs("RUSTSHARE_IDLE_TIMEOUT_SECS", rl.idle_timeout_secs, dl.idle_timeout)?,
            tls_handshake_timeout: secs(
                "RUSTSHARE_TLS_HANDSHAKE_TIMEOUT_SECS",
                rl.tls_handshake_timeout_secs,
                dl.tls_handshake_timeout,
            )?,
            max_connections: as_usize(count(
                "RUSTSHARE_MAX_CONNECTIONS",
                rl.max_connections.map(|v| v as u64),
                dl.max_connections as u64,
            )?),
            http2_max_streams: as_u32(count(
                "RUSTSHARE_HTTP2_MAX_STREAMS",
                rl.http2_max_streams.map(u64::from),
                dl.http2_max_streams.into(),
            )?),
            quic_max_connections: as_usize(count(
                "RUSTSHARE_QUIC_MAX_CONNECTIONS",
                rl.quic_max_connections.map(|v| v as u64),
                dl.quic_max_connections as u64,
            )?),
            quic_max_streams: as_u32(count(
                "RUSTSHARE_QUIC_MAX_STREAMS",
                rl.quic_max_streams.map(u64::from),
                dl.quic_max_streams.into(),
            )?),
        };
        let post_max_bytes = count("RUSTSHARE_POST_MAX_BYTES", rl.post_max_bytes, crate::face::s3::DEFAULT_POST_MAX)?;
        let sample = count("RUSTSHARE_REQUEST_LOG_SAMPLE", rl.request_log_sample, 100)?;
        let request_log = match env("RUSTSHARE_REQUEST_LOG").or(rl.request_log).as_deref() {
            None | Some("all") => RequestLog::All,
            Some("off") => RequestLog::Off,
            Some("sampled") => RequestLog::Sampled(sample),
            Some(other) => return Err(format!("limits.request_log {other:?} must be \"all\", \"sampled\" or \"off\"")),
        };
        Ok(Self {
            limits,
            post_max_bytes,
            request_log,
            data_dir,
            listen,
            domain,
            region,
            endpoint,
            master_key_file,
            log_format,
            store,
            database,
            change_poll: std::time::Duration::from_millis(poll_ms),
            cdn,
            tls_listen,
            tls_files,
            production,
            http3_max_datagram,
            packages_index_max_age: raw.packages.as_ref().and_then(|p| p.index_max_age_secs).unwrap_or(60),
            packages_memo_bytes: raw
                .packages
                .as_ref()
                .and_then(|p| p.memo_mib)
                .map_or(rustshare_publisher::DEFAULT_MEMO_BUDGET, |m| m.saturating_mul(1 << 20)),
            session_lifetime: std::time::Duration::from_secs(session_minutes.saturating_mul(60)),
            traffic_flush: std::time::Duration::from_secs(traffic_flush_secs),
            lifecycle_interval: std::time::Duration::from_secs(lifecycle_interval),
            lifecycle_batch: usize::try_from(lifecycle_batch).unwrap_or(usize::MAX),
        })
    }

    /// Parses TOML text.
    ///
    /// # Errors
    /// The parser's message, which names the line and the unknown or malformed key.
    pub fn parse_toml(text: &str) -> Result<RawConfig, String> {
        toml::from_str(text).map_err(|e| e.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn none(_: &str) -> Option<String> {
        None
    }

    #[test]
    fn defaults_are_embedded() {
        let c = Config::resolve(RawConfig::default(), &none, &Overrides::default()).expect("defaults");
        assert_eq!(c.listen.to_string(), "127.0.0.1:8080");
        assert_eq!(c.domain, "localhost");
        assert!(matches!(c.store, StoreConfig::Fs(ref p) if p.ends_with("objects")));
        assert_eq!(c.endpoint, "http://127.0.0.1:8080");
    }

    #[test]
    fn file_env_and_flags_layer() {
        let raw = Config::parse_toml("listen = \"127.0.0.1:9000\"\ndomain = \"example.com\"\n[store]\nbackend = \"s3\"\n[store.s3]\nendpoint = \"http://127.0.0.1:9001\"\naccess_key_id = \"a\"\nsecret_access_key = \"b\"\nbucket = \"c\"\n").expect("toml");
        let env = |k: &str| (k == "RUSTSHARE_S3_BUCKET").then(|| "from-env".to_owned());
        let c = Config::resolve(
            raw,
            &env,
            &Overrides {
                listen: Some("127.0.0.1:9100".into()),
                ..Default::default()
            },
        )
        .expect("resolve");
        assert_eq!(c.listen.port(), 9100);
        assert_eq!(c.domain, "example.com");
        assert!(matches!(c.store, StoreConfig::S3(ref s) if s.bucket == "from-env" && s.endpoint == "http://127.0.0.1:9001"));
    }

    #[test]
    fn cdn_and_tls_sections() {
        let raw = Config::parse_toml(
            "[cdn]\ncache_bytes = 1024\nmax_object_bytes = 10\nnegative_ttl_secs = 3\npurge_webhook = \"http://127.0.0.1:9/p\"\n[tls]\nlisten = \"127.0.0.1:8443\"\ncert = \"c.pem\"\nkey = \"k.pem\"\nproduction = true\n",
        )
        .expect("toml");
        let c = Config::resolve(raw, &none, &Overrides::default()).expect("resolve");
        assert_eq!(
            (c.cdn.cache_bytes, c.cdn.max_object_bytes, c.cdn.negative_ttl.as_secs()),
            (1024, 10, 3)
        );
        assert!(c.production && c.tls_listen.is_some_and(|a| a.port() == 8443));
        assert!(c.tls_files.is_some_and(|f| f.cert.ends_with("c.pem") && f.key.ends_with("k.pem")));
        let bad =
            |t: &str| Config::resolve(Config::parse_toml(t).expect("toml"), &none, &Overrides::default()).expect_err("must be rejected");
        assert!(bad("[tls]\nlisten = \"127.0.0.1:8443\"\ncert = \"c.pem\"\n").contains("go together"));
        assert!(bad("[tls]\nproduction = true\n").contains("HTTPS only"));
        assert!(bad("[cdn]\npurge_webhook = \"ftp://x\"\n").contains("purge_webhook"));
        assert!(bad("[tls]\nlisten = \"nope\"\n").contains("host:port"));
        assert_eq!(c.http3_max_datagram, 1452, "quinn's internet default unless asked");
        let jumbo = Config::parse_toml("[tls]\nhttp3_max_datagram = 6500\n").expect("toml");
        assert_eq!(
            Config::resolve(jumbo, &none, &Overrides::default())
                .expect("resolve")
                .http3_max_datagram,
            6500
        );
        for n in ["1199", "6501", "70000", "0"] {
            assert!(
                bad(&format!("[tls]\nhttp3_max_datagram = {n}\n")).contains("from 1200 (QUIC's minimum) to 6500"),
                "{n}"
            );
        }
        let env = |k: &str| (k == "RUSTSHARE_CDN_CACHE_BYTES").then(|| "lots".to_owned());
        assert!(
            Config::resolve(RawConfig::default(), &env, &Overrides::default())
                .expect_err("must be rejected")
                .contains("whole number")
        );
    }

    #[test]
    fn console_section() {
        let raw = Config::parse_toml("[console]\nsession_minutes = 30\ntraffic_flush_secs = 2\n").expect("toml");
        let c = Config::resolve(raw, &none, &Overrides::default()).expect("resolve");
        assert_eq!((c.session_lifetime.as_secs(), c.traffic_flush.as_secs()), (1800, 2));
        let d = Config::resolve(RawConfig::default(), &none, &Overrides::default()).expect("defaults");
        assert_eq!((d.session_lifetime.as_secs(), d.traffic_flush.as_secs()), (12 * 3600, 10));
        let raw = Config::parse_toml("[console]\nsession_minutes = 0\n").expect("toml");
        assert!(
            Config::resolve(raw, &none, &Overrides::default())
                .expect_err("must be rejected")
                .contains("at least 1")
        );
        assert!(Config::parse_toml("[console]\nsesion_minutes = 1\n").is_err());
    }

    #[test]
    fn database_sqlite_by_default_postgres_by_url() {
        let d = Config::resolve(RawConfig::default(), &none, &Overrides::default()).expect("defaults");
        assert!(matches!(d.database, DatabaseConfig::Sqlite(ref p) if p.ends_with("rustshare.db")));
        assert_eq!(d.change_poll.as_millis(), 250);
        for text in [
            "database = \"postgres://rs:s3cret@127.0.0.1:5432/rs\"\n",
            "[database]\nurl = \"postgres://rs:s3cret@127.0.0.1:5432/rs\"\npoll_ms = 100\n",
        ] {
            let c = Config::resolve(Config::parse_toml(text).expect("toml"), &none, &Overrides::default()).expect("resolve");
            assert!(matches!(c.database, DatabaseConfig::Postgres(ref u, _) if u.ends_with("/rs")));
            let shown = format!("{:?}", c.database);
            assert!(!shown.contains("s3cret") && shown.contains("rs:***@127.0.0.1"), "{shown}");
        }
        let env = |k: &str| (k == "RUSTSHARE_DATABASE_URL").then(|| "postgresql://127.0.0.1/x".to_owned());
        let c = Config::resolve(RawConfig::default(), &env, &Overrides::default()).expect("env");
        assert!(matches!(c.database, DatabaseConfig::Postgres(_, None)));
        let raw = Config::parse_toml("[database]\nurl = \"postgres://h/db?sslmode=require\"\nca_file = \"/etc/rustshare/db-ca.pem\"\n")
            .expect("toml");
        let c = Config::resolve(raw, &none, &Overrides::default()).expect("resolve");
        assert!(matches!(c.database, DatabaseConfig::Postgres(_, Some(ref p)) if p.ends_with("db-ca.pem")));
        let bad =
            |t: &str| Config::resolve(Config::parse_toml(t).expect("toml"), &none, &Overrides::default()).expect_err("must be rejected");
        let e = bad("database = \"mysql://u:pw@h/db\"\n");
        assert!(e.contains("postgres://") && !e.contains("pw"), "{e}");
        assert!(bad("[database]\npoll_ms = 5000\n").contains("between 10 and 1000"));
        assert!(
            Config::parse_toml("[database]\nurll = \"x\"\n")
                .expect_err("unknown field")
                .contains("urll")
        );
        assert!(Config::parse_toml("database = 5\n").is_err());
    }

    #[test]
    fn the_shipped_production_config_resolves() {
        let raw = Config::parse_toml(include_str!("../../deploy/rustshare.toml")).expect("deploy/rustshare.toml parses");
        let env = |k: &str| match k {
            "RUSTSHARE_DATABASE_URL" => Some("postgres://rustshare:pw@db.internal:5432/rustshare".to_owned()),
            "RUSTSHARE_S3_ACCESS_KEY_ID" => Some("edge".to_owned()),
            "RUSTSHARE_S3_SECRET_ACCESS_KEY" => Some("edge-secret".to_owned()),
            _ => None,
        };
        let c = Config::resolve(raw, &env, &Overrides::default()).expect("deploy/rustshare.toml resolves");
        assert!(c.production && c.tls_files.is_some() && c.log_format == LogFormat::Json);
        assert!(matches!(c.database, DatabaseConfig::Postgres(..)));
        assert!(matches!(c.store, StoreConfig::S3(ref s) if s.secret_access_key == "edge-secret"));
        // Without the secrets from the environment it says which one is missing.
        let raw = Config::parse_toml(include_str!("../../deploy/rustshare.toml")).expect("parses");
        let e = Config::resolve(raw, &none, &Overrides::default()).expect_err("secrets missing");
        assert!(e.contains("access_key_id"), "{e}");
    }

    #[test]
    fn bad_settings_say_what_to_fix() {
        assert!(
            Config::parse_toml("listne = \"x\"")
                .expect_err("must be rejected")
                .contains("listne")
        );
        let e = Config::resolve(
            RawConfig {
                listen: Some("nope".into()),
                ..Default::default()
            },
            &none,
            &Overrides::default(),
        )
        .expect_err("must be rejected");
        assert!(e.contains("host:port"));
        let raw = Config::parse_toml("[store]\nbackend = \"s3\"\n").expect("toml");
        let e = Config::resolve(raw, &none, &Overrides::default()).expect_err("must be rejected");
        assert!(e.contains("store.s3.endpoint"), "{e}");
        let raw = Config::parse_toml("[store]\nbackend = \"ceph\"\n").expect("toml");
        assert!(
            Config::resolve(raw, &none, &Overrides::default())
                .expect_err("must be rejected")
                .contains("fs")
        );
    }
}
