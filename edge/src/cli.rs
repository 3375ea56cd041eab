//! The `rustshare` command line: `serve`, and admin commands that talk to the control API.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use clap::{Args, Parser, Subcommand};
use serde_json::json;

use crate::config::{Config, Overrides, RawConfig};
use client::{Client, show};
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

mod admin;
mod audit;
pub mod client;
mod key;
mod object;
mod public;
mod registry;
mod repo;
mod retention;
mod space;
mod tenant;

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
        cmd: tenant::TenantCmd,
    },
    /// Object Spaces.
    Space {
        #[command(subcommand)]
        cmd: space::SpaceCmd,
    },
    /// Object versions: list them, restore one.
    Object {
        #[command(subcommand)]
        cmd: object::ObjectCmd,
    },
    /// S3 access keys.
    Key {
        #[command(subcommand)]
        cmd: key::KeyCmd,
    },
    /// Public web access (the CDN face) of a space.
    Public {
        #[command(subcommand)]
        cmd: public::PublicCmd,
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
        cmd: admin::AdminCmd,
    },
    /// Storage used by a space.
    Usage {
        /// Space id, bucket or name.
        space: String,
    },
    /// Audit events, newest first.
    Audit {
        #[command(flatten)]
        filter: audit::Filter,
    },
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

/// The file (if any), the environment and the flags, resolved as `serve` uses them.
fn load_config(path: Option<&std::path::Path>, o: &Overrides) -> Result<Config> {
    let raw = match path {
        Some(p) => Config::parse_toml(&std::fs::read_to_string(p).with_context(|| format!("reading config {}", p.display()))?)
            .map_err(|e| anyhow::anyhow!("config {}: {e}", p.display()))?,
        None => RawConfig::default(),
    };
    Config::resolve(raw, &|k| std::env::var(k).ok(), o).map_err(|e| anyhow::anyhow!("configuration: {e}"))
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
                &Overrides {
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
            let cfg = load_config(config.as_deref(), &Overrides::default())?;
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
            show(conn.json, &summary, |v| {
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
        Command::Tenant { cmd } => tenant::run(&Client::new(&conn.server, conn.token.as_deref())?, conn.json, cmd)?,
        Command::Space { cmd } => space::run(&Client::new(&conn.server, conn.token.as_deref())?, conn.json, cmd)?,
        Command::Object { cmd } => object::run(&Client::new(&conn.server, conn.token.as_deref())?, conn.json, cmd)?,
        Command::Key { cmd } => key::run(&Client::new(&conn.server, conn.token.as_deref())?, conn.json, cmd)?,
        Command::Repo { cmd } => {
            let c = Client::new(&conn.server, conn.token.as_deref())?;
            repo::run(&c, conn.json, cmd)?;
        }
        Command::Registry { cmd } => {
            let c = Client::new(&conn.server, conn.token.as_deref())?;
            registry::run(&c, conn.json, cmd)?;
        }
        Command::Public { cmd } => public::run(&Client::new(&conn.server, conn.token.as_deref())?, conn.json, cmd)?,
        Command::Cdn {
            cmd: CdnCmd::Purge { space, key, prefix },
        } => public::purge(&Client::new(&conn.server, conn.token.as_deref())?, conn.json, &space, key, prefix)?,
        Command::Usage { space } => space::usage(&Client::new(&conn.server, conn.token.as_deref())?, conn.json, &space)?,
        Command::Admin { cmd } => admin::run(&Client::new(&conn.server, conn.token.as_deref())?, conn.json, cmd)?,
        Command::Audit { filter } => audit::run(&Client::new(&conn.server, conn.token.as_deref())?, conn.json, filter)?,
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
    use client::human_bytes;

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
