//! The `rustshare` command line: `serve`, and admin commands that talk to the control API.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use clap::{Args, Parser, Subcommand};
use serde_json::{Value, json};

use crate::config::{Config, Overrides, RawConfig};
use client::{Client, enc, human_bytes, out};
pub use client::{parse_duration, parse_size};

/// `println!` for command output: a closed pipe ends the command quietly (see `client::write_out`).
macro_rules! outln {
    () => {
        $crate::cli::client::write_out(format_args!(""))
    };
    ($($arg:tt)*) => {
        $crate::cli::client::write_out(format_args!($($arg)*))
    };
}

pub mod client;
mod registry;
mod repo;
mod retention;

/// RustShare Object Spaces: scoped S3 storage, CDN and package publishing on one edge.
#[derive(Parser, Debug)]
#[command(
    after_help = "Exit status: 0 done; 1 a local error (configuration, files); 2 a usage error or a request the server \
refused as invalid or conflicting; 3 not authenticated, not allowed or over quota; 4 not found; 5 a server error; \
6 the server could not be reached."
)]
#[command(name = "rustshare", version, about)]
pub struct Cli {
    #[command(flatten)]
    conn: Conn,
    #[command(subcommand)]
    command: Command,
}

#[derive(Args, Debug, Clone)]
struct Conn {
    /// Control API base URL.
    #[arg(long, env = "RUSTSHARE_URL", default_value = "http://127.0.0.1:8080", global = true)]
    server: String,
    /// Admin bearer token (default: the contents of ./data/admin-token).
    #[arg(long, env = "RUSTSHARE_TOKEN", hide_env_values = true, global = true)]
    token: Option<String>,
    /// Print JSON instead of text.
    #[arg(long, global = true)]
    json: bool,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Run the edge server.
    Serve {
        /// TOML configuration file.
        #[arg(long, env = "RUSTSHARE_CONFIG")]
        config: Option<PathBuf>,
        /// Data directory (fs store, database, keys).
        #[arg(long)]
        data_dir: Option<PathBuf>,
        /// Listen address, for example 127.0.0.1:8080.
        #[arg(long)]
        listen: Option<String>,
        /// Also serve TLS (HTTP/1.1, HTTP/2) and HTTP/3 here, for example 127.0.0.1:8443.
        #[arg(long)]
        tls_listen: Option<String>,
    },
    /// Check a configuration file and the environment as `serve` would read them, without
    /// starting anything; prints the resolved settings (secrets hidden).
    CheckConfig {
        /// TOML configuration file.
        #[arg(long, env = "RUSTSHARE_CONFIG")]
        config: Option<PathBuf>,
    },
    /// Exit 0 if the URL answers 200 within 5 seconds (container health checks: the runtime
    /// image has no curl).
    Healthcheck {
        /// For example http://127.0.0.1:8080/readyz.
        #[arg(long, default_value = "http://127.0.0.1:8080/readyz")]
        url: String,
    },
    /// Tenants (operator token).
    Tenant {
        #[command(subcommand)]
        cmd: TenantCmd,
    },
    /// Object Spaces.
    Space {
        #[command(subcommand)]
        cmd: SpaceCmd,
    },
    /// S3 access keys.
    Key {
        #[command(subcommand)]
        cmd: KeyCmd,
    },
    /// Public web access (the CDN face) of a space.
    Public {
        #[command(subcommand)]
        cmd: PublicCmd,
    },
    /// Package repositories (apt): create, publish, add, snapshots, rollback.
    Repo {
        #[command(subcommand)]
        cmd: repo::RepoCmd,
    },
    /// OCI registry namespaces on CNCF Distribution: robots, config, retention, gc.
    Registry {
        #[command(subcommand)]
        cmd: registry::RegistryCmd,
    },
    /// CDN cache.
    Cdn {
        #[command(subcommand)]
        cmd: CdnCmd,
    },
    /// Installation administration (operator token): the master key.
    Admin {
        #[command(subcommand)]
        cmd: AdminCmd,
    },
    /// Storage used by a space.
    Usage {
        /// Space id, bucket or name.
        space: String,
    },
    /// Audit events, newest first.
    Audit {
        /// Only this space.
        #[arg(long)]
        space: Option<String>,
        /// Only this identity id.
        #[arg(long)]
        identity: Option<String>,
        /// Only this operation (PutObject, key.revoked, ...).
        #[arg(long)]
        operation: Option<String>,
        /// Not before (RFC 3339).
        #[arg(long)]
        since: Option<String>,
        /// Before (RFC 3339).
        #[arg(long)]
        until: Option<String>,
        /// At most this many.
        #[arg(long, default_value_t = 50)]
        limit: u32,
    },
}

#[derive(Subcommand, Debug)]
enum AdminCmd {
    /// Show the fingerprint of the master key that seals secrets now.
    MasterKey,
    /// Re-seal every stored secret under a new master key, without downtime. Without --to, the
    /// server makes the key and writes it first in its key file (the old one stays accepted);
    /// with several nodes, put the new key in every node's key file first and pass --to.
    RotateMasterKey {
        /// Fingerprint of a key already listed in every node's key file.
        #[arg(long)]
        to: Option<String>,
    },
    /// After a rotation reached every node: re-seal once more and drop the old keys from this
    /// node's key file.
    RetireMasterKeys,
    /// Recompute every space's usage and object count from the store (after a crash between a
    /// write and its accounting). Operator only.
    Reconcile,
}

#[derive(Subcommand, Debug)]
enum TenantCmd {
    /// Create a tenant.
    Create { name: String },
    /// List tenants.
    List,
    /// Issue an admin token scoped to a tenant (shown once).
    Token {
        tenant: String,
        #[arg(long, default_value = "admin")]
        name: String,
    },
}

#[derive(Subcommand, Debug)]
enum SpaceCmd {
    /// Create a space.
    Create {
        name: String,
        /// Tenant id or name (operator tokens).
        #[arg(long)]
        tenant: Option<String>,
        /// generic, cdn, artifacts, packages or registry.
        #[arg(long, default_value = "generic")]
        purpose: String,
        /// private, public or cdn.
        #[arg(long, default_value = "private")]
        visibility: String,
        /// Quota, for example 10GiB or 500MB.
        #[arg(long)]
        quota: Option<String>,
    },
    /// List spaces.
    List,
    /// Show a space with usage and keys.
    Show { space: String },
    /// Disable a space.
    Disable { space: String },
    /// Set the quota (a size, or "unlimited").
    Quota { space: String, quota: String },
}

#[derive(Subcommand, Debug)]
enum PublicCmd {
    /// Enable anonymous web access (or change its rules); options left out keep their value.
    Enable {
        space: String,
        /// URL segment: cdn.<domain>/<name>/... (default: <tenant>-<space>).
        #[arg(long)]
        name: Option<String>,
        /// Published prefix (repeat; "" for the whole space).
        #[arg(long = "prefix")]
        prefixes: Vec<String>,
        /// Cache-Control for published objects.
        #[arg(long)]
        cache_control: Option<String>,
        /// Per-prefix Cache-Control, PREFIX=VALUE (repeat).
        #[arg(long = "cache-override")]
        cache_overrides: Vec<String>,
        /// Prefix of immutable objects (repeat).
        #[arg(long = "immutable")]
        immutable: Vec<String>,
        /// Allowed content type, for example text/* (repeat).
        #[arg(long = "content-type")]
        content_types: Vec<String>,
        /// Turn directory listing on or off.
        #[arg(long)]
        listing: Option<bool>,
        /// CORS origin allowed, or * (repeat).
        #[arg(long = "cors")]
        cors: Vec<String>,
        /// Public base URL to show (custom domain in front).
        #[arg(long)]
        base_url: Option<String>,
    },
    /// Disable anonymous web access; the next request gets 404.
    Disable { space: String },
    /// Show the rules.
    Show { space: String },
}

#[derive(Subcommand, Debug)]
enum CdnCmd {
    /// Drop cached copies: one key, a prefix, or the whole space.
    Purge {
        space: String,
        /// One key.
        key: Option<String>,
        /// Everything under this prefix.
        #[arg(long, conflicts_with = "key")]
        prefix: Option<String>,
    },
}

#[derive(Subcommand, Debug)]
enum KeyCmd {
    /// Create an S3 key; the secret is shown once.
    Create {
        space: String,
        #[arg(long)]
        name: String,
        /// read-only, write-only, read-write, read-write-delete, publisher, registry-backend.
        #[arg(long)]
        mode: String,
        /// Allowed prefix inside the space (ends with /).
        #[arg(long, default_value = "")]
        prefix: String,
        /// Expiry, for example 90d, 12h, 30m.
        #[arg(long)]
        expires_in: Option<String>,
    },
    /// List keys of a space.
    List { space: String },
    /// Revoke a key (id or access key id).
    Revoke { key: String },
    /// Rotate a key's secret (shown once).
    Rotate { key: String },
}

fn print_key_block(v: &Value) {
    let s = |k: &str| v[k].as_str().unwrap_or("").to_owned();
    let (endpoint, bucket, prefix) = (s("endpoint"), s("bucket"), s("prefix"));
    outln!("Endpoint:   {endpoint}");
    outln!("Bucket:     {bucket}");
    outln!(
        "Prefix:     {}",
        if prefix.is_empty() {
            "(whole space)".to_owned()
        } else {
            prefix.clone()
        }
    );
    outln!("Access Key: {}", s("access_key_id"));
    outln!("Secret Key: {}", s("secret_access_key"));
    outln!("            (shown once: store it now, it cannot be displayed again)");
    outln!("Region:     {}", s("region"));
    outln!("Path-style: enabled");
    outln!("Mode:       {}", v["identity"]["mode"].as_str().unwrap_or(""));
    if let Some(e) = v["identity"]["expires_at"].as_str() {
        outln!("Expires:    {e}");
    }
    for (title, k) in [("aws-cli", "aws"), ("s3cmd", "s3cmd"), ("rclone", "rclone")] {
        outln!("\n# {title}");
        outln!("{}", v["commands"][k].as_str().unwrap_or(""));
    }
}

fn print_space(v: &Value) {
    let s = |k: &str| v[k].as_str().unwrap_or("-").to_owned();
    outln!("Space:        {} ({})", s("name"), s("id"));
    outln!("Tenant:       {}", s("tenant_id"));
    outln!("Bucket:       {}", s("bucket"));
    outln!("Purpose:      {}   Visibility: {}", s("purpose"), s("visibility"));
    outln!("S3 API:       authenticated endpoint");
    outln!("Public web:   {}", v["public_web_access"].as_str().unwrap_or("disabled"));
    let quota = v["quota_bytes"].as_u64().map_or_else(|| "unlimited".to_owned(), human_bytes);
    outln!("Quota:        {quota}");
    if v["usage"].is_object() {
        let u = &v["usage"];
        outln!(
            "Usage:        {} in {} objects (+{} in multipart uploads, +{} published packages)",
            human_bytes(u["bytes"].as_u64().unwrap_or(0)),
            u["objects"].as_u64().unwrap_or(0),
            human_bytes(u["multipart_bytes"].as_u64().unwrap_or(0)),
            human_bytes(u["published_bytes"].as_u64().unwrap_or(0))
        );
    }
    if let Some(d) = v["disabled_at"].as_str() {
        outln!("Disabled at:  {d}");
    }
    outln!("Created:      {} by {}", s("created_at"), s("created_by"));
    if let Some(keys) = v["keys"].as_array() {
        outln!("Keys:");
        print_keys(keys);
    }
}

fn print_keys(keys: &[Value]) {
    if keys.is_empty() {
        outln!("  (none)");
    }
    let now = time::OffsetDateTime::now_utc();
    for k in keys {
        let s = |f: &str| k[f].as_str().unwrap_or("").to_owned();
        let status = if !k["revoked_at"].is_null() {
            "revoked"
        } else if k["expires_at"]
            .as_str()
            .and_then(|e| time::OffsetDateTime::parse(e, &time::format_description::well_known::Rfc3339).ok())
            .is_some_and(|e| e <= now)
        {
            "expired"
        } else {
            "active"
        };
        let prefix = if s("allowed_prefix").is_empty() {
            "*".to_owned()
        } else {
            s("allowed_prefix")
        };
        outln!(
            "  {:<22} {:<20} {:<18} {:<8} prefix={} last-used={}",
            s("name"),
            s("access_key_id"),
            s("mode"),
            status,
            prefix,
            k["last_used_at"].as_str().unwrap_or("never")
        );
    }
}

fn print_public(v: &Value) {
    outln!("Bucket:       {}", v["bucket"].as_str().unwrap_or(""));
    outln!("S3 API:       authenticated endpoint");
    outln!("Public web:   {}", v["public_web_access"].as_str().unwrap_or("disabled"));
    let p = &v["public"];
    if p.is_object() {
        let r = &p["rules"];
        let list = |f: &str| {
            r[f].as_array()
                .map(|a| {
                    a.iter()
                        .map(|x| format!("{:?}", x.as_str().unwrap_or("")))
                        .collect::<Vec<_>>()
                        .join(", ")
                })
                .unwrap_or_default()
        };
        outln!("URL:          {}", p["url"].as_str().unwrap_or(""));
        outln!("Prefixes:     {}", list("prefixes"));
        outln!("Cache:        {}", r["cache_control"].as_str().unwrap_or(""));
        for o in r["cache_overrides"].as_array().into_iter().flatten() {
            outln!(
                "              {:?}: {}",
                o["prefix"].as_str().unwrap_or(""),
                o["cache_control"].as_str().unwrap_or("")
            );
        }
        outln!("Immutable:    {}", list("immutable_prefixes"));
        outln!(
            "Types:        {}",
            if r["allowed_content_types"].as_array().is_some_and(|a| !a.is_empty()) {
                list("allowed_content_types")
            } else {
                "all".into()
            }
        );
        outln!(
            "Listing:      {}",
            if r["directory_listing"].as_bool() == Some(true) {
                "on"
            } else {
                "off"
            }
        );
        outln!(
            "CORS:         {}",
            if r["cors_origins"].as_array().is_some_and(|a| !a.is_empty()) {
                list("cors_origins")
            } else {
                "none".into()
            }
        );
    }
}

/// The file (if any), the environment and the flags, resolved as `serve` uses them.
fn load_config(path: Option<&std::path::Path>, o: Overrides) -> Result<Config> {
    let raw = match path {
        Some(p) => Config::parse_toml(&std::fs::read_to_string(p).with_context(|| format!("reading config {}", p.display()))?)
            .map_err(|e| anyhow::anyhow!("config {}: {e}", p.display()))?,
        None => RawConfig::default(),
    };
    Config::resolve(raw, &|k| std::env::var(k).ok(), &o).map_err(|e| anyhow::anyhow!("configuration: {e}"))
}

fn run(cli: Cli) -> Result<()> {
    let conn = cli.conn;
    match cli.command {
        Command::Serve {
            config,
            data_dir,
            listen,
            tls_listen,
        } => {
            let cfg = load_config(
                config.as_deref(),
                Overrides {
                    data_dir,
                    listen,
                    tls_listen,
                },
            )?;
            let rt = tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                .build()
                .context("starting the runtime")?;
            rt.block_on(crate::start::run(cfg))?;
        }
        Command::CheckConfig { config } => {
            let cfg = load_config(config.as_deref(), Overrides::default())?;
            let mut missing = Vec::new();
            if let Some(f) = &cfg.tls_files {
                missing.extend(
                    [&f.cert, &f.key]
                        .into_iter()
                        .filter(|p| !p.exists())
                        .map(|p| p.display().to_string()),
                );
            }
            if std::env::var_os("RUSTSHARE_MASTER_KEY").is_none() && !cfg.master_key_file.exists() {
                missing.push(format!(
                    "{} (a new key would be made there on first start)",
                    cfg.master_key_file.display()
                ));
            }
            let store = match &cfg.store {
                crate::config::StoreConfig::Fs(p) => format!("fs {}", p.display()),
                crate::config::StoreConfig::S3(s) => format!("s3 {} bucket {} prefix {:?}", s.endpoint, s.bucket, s.root_prefix),
            };
            let database = match &cfg.database {
                crate::config::DatabaseConfig::Sqlite(p) => format!("sqlite {} (single node)", p.display()),
                crate::config::DatabaseConfig::Postgres(u, ca) => {
                    if let Some(p) = ca.as_ref().filter(|p| !p.exists()) {
                        missing.push(p.display().to_string());
                    }
                    format!("postgres {}", crate::config::redact_url(u))
                }
            };
            let summary = json!({
                "listen": cfg.listen.to_string(),
                "tls_listen": cfg.tls_listen.map(|a| a.to_string()),
                "domain": cfg.domain,
                "endpoint": cfg.endpoint,
                "production": cfg.production,
                "store": store,
                "database": database,
                "master_key_file": cfg.master_key_file.display().to_string(),
                "cdn_cache_bytes": cfg.cdn.cache_bytes,
                "missing_files": missing,
            });
            out(conn.json, &summary, |v| {
                outln!("Configuration is valid:");
                for (k, val) in v.as_object().into_iter().flatten() {
                    if k != "missing_files" {
                        outln!("  {k:<16} {}", val.as_str().map_or_else(|| val.to_string(), str::to_owned));
                    }
                }
                for m in v["missing_files"].as_array().into_iter().flatten() {
                    outln!("  warning: {} does not exist here", m.as_str().unwrap_or(""));
                }
            });
        }
        Command::Healthcheck { url } => {
            let agent = ureq::AgentBuilder::new().timeout(std::time::Duration::from_secs(5)).build();
            match agent.get(&url).call() {
                Ok(r) if r.status() == 200 => outln!("ok: {url}"),
                Ok(r) => bail!("{url} answered {}", r.status()),
                Err(ureq::Error::Status(code, _)) => bail!("{url} answered {code}"),
                Err(e) => bail!("{url}: {e}"),
            }
        }
        Command::Tenant { cmd } => {
            let c = Client::new(&conn.server, conn.token.as_deref())?;
            match cmd {
                TenantCmd::Create { name } => out(conn.json, &c.call("POST", "/tenants", Some(json!({"name": name})))?, |v| {
                    outln!(
                        "Created tenant {} ({})",
                        v["name"].as_str().unwrap_or(""),
                        v["id"].as_str().unwrap_or("")
                    )
                }),
                TenantCmd::List => out(conn.json, &c.call("GET", "/tenants", None)?, |v| {
                    for t in v["tenants"].as_array().into_iter().flatten() {
                        outln!("{:<24} {}", t["name"].as_str().unwrap_or(""), t["id"].as_str().unwrap_or(""));
                    }
                }),
                TenantCmd::Token { tenant, name } => out(
                    conn.json,
                    &c.call("POST", &format!("/tenants/{}/tokens", enc(&tenant)), Some(json!({"name": name})))?,
                    |v| {
                        outln!("Token for tenant {tenant} (shown once):\n{}", v["token"].as_str().unwrap_or(""));
                    },
                ),
            }
        }
        Command::Space { cmd } => {
            let c = Client::new(&conn.server, conn.token.as_deref())?;
            match cmd {
                SpaceCmd::Create {
                    name,
                    tenant,
                    purpose,
                    visibility,
                    quota,
                } => {
                    let quota_bytes = quota.as_deref().map(parse_size).transpose()?;
                    let v = c.call("POST", "/spaces", Some(json!({"name": name, "tenant": tenant, "purpose": purpose, "visibility": visibility, "quota_bytes": quota_bytes})))?;
                    out(conn.json, &v, |v| {
                        outln!("Created Object Space {}\n", v["name"].as_str().unwrap_or(""));
                        print_space(v);
                    });
                }
                SpaceCmd::List => out(conn.json, &c.call("GET", "/spaces", None)?, |v| {
                    outln!(
                        "{:<24} {:<40} {:<10} {:<9} {:<12} status",
                        "NAME",
                        "BUCKET",
                        "PURPOSE",
                        "VISIBLE",
                        "QUOTA"
                    );
                    for s in v["spaces"].as_array().into_iter().flatten() {
                        let quota = s["quota_bytes"].as_u64().map_or_else(|| "unlimited".to_owned(), human_bytes);
                        let status = if s["disabled_at"].is_null() { "active" } else { "disabled" };
                        outln!(
                            "{:<24} {:<40} {:<10} {:<9} {:<12} {status}",
                            s["name"].as_str().unwrap_or(""),
                            s["bucket"].as_str().unwrap_or(""),
                            s["purpose"].as_str().unwrap_or(""),
                            s["visibility"].as_str().unwrap_or(""),
                            quota
                        );
                    }
                }),
                SpaceCmd::Show { space } => out(conn.json, &c.call("GET", &format!("/spaces/{}", enc(&space)), None)?, print_space),
                SpaceCmd::Disable { space } => out(
                    conn.json,
                    &c.call("POST", &format!("/spaces/{}/disable", enc(&space)), None)?,
                    |v| {
                        outln!(
                            "Disabled {}: S3 requests to {} are refused from now on.",
                            v["name"].as_str().unwrap_or(""),
                            v["bucket"].as_str().unwrap_or("")
                        );
                    },
                ),
                SpaceCmd::Quota { space, quota } => {
                    let q = if quota == "unlimited" || quota == "none" {
                        None
                    } else {
                        Some(parse_size(&quota)?)
                    };
                    out(
                        conn.json,
                        &c.call("PUT", &format!("/spaces/{}/quota", enc(&space)), Some(json!({"quota_bytes": q})))?,
                        |v| {
                            outln!(
                                "Quota of {} is now {}",
                                v["name"].as_str().unwrap_or(""),
                                v["quota_bytes"].as_u64().map_or_else(|| "unlimited".to_owned(), human_bytes)
                            );
                        },
                    );
                }
            }
        }
        Command::Key { cmd } => {
            let c = Client::new(&conn.server, conn.token.as_deref())?;
            match cmd {
                KeyCmd::Create {
                    space,
                    name,
                    mode,
                    prefix,
                    expires_in,
                } => {
                    let secs = expires_in.as_deref().map(parse_duration).transpose()?;
                    let v = c.call(
                        "POST",
                        &format!("/spaces/{}/keys", enc(&space)),
                        Some(json!({"name": name, "mode": mode, "prefix": prefix, "expires_in_seconds": secs})),
                    )?;
                    out(conn.json, &v, print_key_block);
                }
                KeyCmd::List { space } => out(conn.json, &c.call("GET", &format!("/spaces/{}/keys", enc(&space)), None)?, |v| {
                    print_keys(v["keys"].as_array().map_or(&[], Vec::as_slice))
                }),
                KeyCmd::Revoke { key } => out(conn.json, &c.call("POST", &format!("/keys/{}/revoke", enc(&key)), None)?, |v| {
                    outln!(
                        "Revoked {} ({}); its next request is refused.",
                        v["name"].as_str().unwrap_or(""),
                        v["access_key_id"].as_str().unwrap_or("")
                    );
                }),
                KeyCmd::Rotate { key } => out(conn.json, &c.call("POST", &format!("/keys/{}/rotate", enc(&key)), None)?, |v| {
                    outln!("Rotated: the old secret no longer works.\n");
                    print_key_block(v);
                }),
            }
        }
        Command::Repo { cmd } => {
            let c = Client::new(&conn.server, conn.token.as_deref())?;
            repo::run(&c, conn.json, cmd)?;
        }
        Command::Registry { cmd } => {
            let c = Client::new(&conn.server, conn.token.as_deref())?;
            registry::run(&c, conn.json, cmd)?;
        }
        Command::Public { cmd } => {
            let c = Client::new(&conn.server, conn.token.as_deref())?;
            match cmd {
                PublicCmd::Enable {
                    space,
                    name,
                    prefixes,
                    cache_control,
                    cache_overrides,
                    immutable,
                    content_types,
                    listing,
                    cors,
                    base_url,
                } => {
                    let mut body = serde_json::Map::new();
                    if let Some(n) = name {
                        body.insert("public_name".into(), json!(n));
                    }
                    if !prefixes.is_empty() {
                        body.insert("prefixes".into(), json!(prefixes));
                    }
                    if let Some(cc) = cache_control {
                        body.insert("cache_control".into(), json!(cc));
                    }
                    if !cache_overrides.is_empty() {
                        let mut list = Vec::new();
                        for o in &cache_overrides {
                            let (p, v) = o
                                .split_once('=')
                                .with_context(|| format!("--cache-override {o:?}: expected PREFIX=CACHE-CONTROL"))?;
                            list.push(json!({"prefix": p, "cache_control": v}));
                        }
                        body.insert("cache_overrides".into(), json!(list));
                    }
                    if !immutable.is_empty() {
                        body.insert("immutable_prefixes".into(), json!(immutable));
                    }
                    if !content_types.is_empty() {
                        body.insert("allowed_content_types".into(), json!(content_types));
                    }
                    if let Some(l) = listing {
                        body.insert("directory_listing".into(), json!(l));
                    }
                    if !cors.is_empty() {
                        body.insert("cors_origins".into(), json!(cors));
                    }
                    if let Some(u) = base_url {
                        body.insert("public_base_url".into(), json!(u));
                    }
                    out(
                        conn.json,
                        &c.call("PUT", &format!("/spaces/{}/public", enc(&space)), Some(Value::Object(body)))?,
                        print_public,
                    );
                }
                PublicCmd::Disable { space } => out(
                    conn.json,
                    &c.call("DELETE", &format!("/spaces/{}/public", enc(&space)), None)?,
                    print_public,
                ),
                PublicCmd::Show { space } => out(
                    conn.json,
                    &c.call("GET", &format!("/spaces/{}/public", enc(&space)), None)?,
                    print_public,
                ),
            }
        }
        Command::Cdn {
            cmd: CdnCmd::Purge { space, key, prefix },
        } => {
            let c = Client::new(&conn.server, conn.token.as_deref())?;
            let body = match (key, prefix) {
                (Some(k), _) => json!({"key": k}),
                (None, p) => json!({"prefix": p.unwrap_or_default()}),
            };
            out(
                conn.json,
                &c.call("POST", &format!("/spaces/{}/purge", enc(&space)), Some(body))?,
                |v| outln!("Purged {} from the CDN cache of {space}.", v["purged"]),
            );
        }
        Command::Usage { space } => {
            let c = Client::new(&conn.server, conn.token.as_deref())?;
            out(conn.json, &c.call("GET", &format!("/spaces/{}/usage", enc(&space)), None)?, |v| {
                let u = &v["usage"];
                let quota = v["quota_bytes"].as_u64();
                let bytes = u["bytes"].as_u64().unwrap_or(0);
                outln!("Bucket:     {}", v["bucket"].as_str().unwrap_or(""));
                outln!(
                    "Stored:     {} ({bytes} bytes) in {} objects",
                    human_bytes(bytes),
                    u["objects"].as_u64().unwrap_or(0)
                );
                outln!(
                    "Multipart:  {} in uploads in progress",
                    human_bytes(u["multipart_bytes"].as_u64().unwrap_or(0))
                );
                outln!(
                    "Published:  {} of package repositories (pool, indices, snapshots)",
                    human_bytes(u["published_bytes"].as_u64().unwrap_or(0))
                );
                let cdn = &v["cdn"];
                if cdn.is_object() {
                    outln!(
                        "CDN:        {} requests, {} sent, {} hits / {} misses / {} revalidated, {} store reads (this node, since it started)",
                        cdn["requests"].as_u64().unwrap_or(0),
                        human_bytes(cdn["bytes_out"].as_u64().unwrap_or(0)),
                        cdn["hits"].as_u64().unwrap_or(0),
                        cdn["misses"].as_u64().unwrap_or(0),
                        cdn["revalidations"].as_u64().unwrap_or(0),
                        cdn["origin_fetches"].as_u64().unwrap_or(0)
                    );
                }
                match quota {
                    Some(q) => outln!(
                        "Quota:      {} ({:.1}% used)",
                        human_bytes(q),
                        if q == 0 {
                            100.0
                        } else {
                            (bytes + u["multipart_bytes"].as_u64().unwrap_or(0) + u["published_bytes"].as_u64().unwrap_or(0)) as f64 * 100.0
                                / q as f64
                        }
                    ),
                    None => outln!("Quota:      unlimited"),
                }
            });
        }
        Command::Admin { cmd } => {
            let c = Client::new(&conn.server, conn.token.as_deref())?;
            let (method, path, body) = match cmd {
                AdminCmd::Reconcile => ("POST", "/admin/reconcile", Some(json!({}))),
                AdminCmd::MasterKey => ("GET", "/admin/master-key", None),
                AdminCmd::RotateMasterKey { to } => ("POST", "/admin/master-key/rotate", Some(json!({"fingerprint": to}))),
                AdminCmd::RetireMasterKeys => ("POST", "/admin/master-key/retire", Some(json!({}))),
            };
            out(conn.json, &c.call(method, path, body)?, |v| {
                if let Some(spaces) = v["spaces"].as_array() {
                    let changed: Vec<_> = spaces.iter().filter(|s| s["before"] != s["after"]).collect();
                    outln!("{} spaces reconciled with the store, {} changed", spaces.len(), changed.len());
                    for s in changed {
                        outln!(
                            "  {}: {} -> {} bytes, {} -> {} objects",
                            s["bucket"].as_str().unwrap_or("?"),
                            s["before"]["bytes"],
                            s["after"]["bytes"],
                            s["before"]["objects"],
                            s["after"]["objects"]
                        );
                    }
                    return;
                }
                let fp = v["fingerprint"].as_str().unwrap_or("");
                match v["resealed"].as_u64() {
                    Some(n) if v["retired"].as_bool() == Some(true) => {
                        outln!("Master key {fp}: {n} secrets re-sealed, older keys removed from this node's key file");
                    }
                    Some(n) => outln!(
                        "Master key is now {fp}: {n} secrets re-sealed; the old key stays accepted in {} until `rustshare admin retire-master-keys`",
                        v["key_file"].as_str().unwrap_or("the key file")
                    ),
                    None => outln!("Master key {fp} (from {})", v["source"].as_str().unwrap_or("?")),
                }
                if let Some(n) = v["note"].as_str() {
                    outln!("Note: {n}");
                }
            });
        }
        Command::Audit {
            space,
            identity,
            operation,
            since,
            until,
            limit,
        } => {
            let c = Client::new(&conn.server, conn.token.as_deref())?;
            let mut q = vec![format!("limit={limit}")];
            for (k, v) in [
                ("space", space),
                ("identity", identity),
                ("operation", operation),
                ("since", since),
                ("until", until),
            ] {
                if let Some(v) = v {
                    q.push(format!("{k}={}", enc(&v)));
                }
            }
            out(conn.json, &c.call("GET", &format!("/audit?{}", q.join("&")), None)?, |v| {
                for e in v["events"].as_array().into_iter().flatten() {
                    let s = |f: &str| e[f].as_str().unwrap_or("-").to_owned();
                    outln!(
                        "{}  {:<8} {:<24} {:<14} {:<22} {} {}",
                        s("timestamp"),
                        s("kind"),
                        s("operation"),
                        s("status"),
                        s("actor"),
                        s("object_key"),
                        e["bytes"].as_u64().filter(|b| *b > 0).map(|b| format!("{b}B")).unwrap_or_default()
                    );
                }
            });
        }
    }
    Ok(())
}

/// Entry point: parses arguments, runs, prints the error chain once, exits 1 on failure.
#[must_use]
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("rustshare: {e:#}");
            ExitCode::from(client::exit_code(&e))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_and_durations() {
        assert_eq!(parse_size("10GiB").ok(), Some(10 << 30));
        assert_eq!(parse_size("500MB").ok(), Some(500_000_000));
        assert_eq!(parse_size("1024").ok(), Some(1024));
        assert!(parse_size("10 parsecs").is_err());
        assert!(parse_size("GiB").is_err());
        assert_eq!(parse_duration("90d").ok(), Some(90 * 86_400));
        assert_eq!(parse_duration("30m").ok(), Some(1800));
        assert!(parse_duration("soon").is_err());
        assert_eq!(human_bytes(1536), "1.5 KiB");
    }
}
