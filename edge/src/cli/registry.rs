//! `rustshare registry ...`: OCI registry namespaces, robots, Distribution's configuration,
//! retention and garbage collection.

use std::path::PathBuf;

use anyhow::{Context, Result, bail};
use clap::Subcommand;
use serde_json::{Value, json};

use super::client::{Client, enc, human_bytes, out, parse_size};

#[derive(Subcommand, Debug)]
pub(super) enum RegistryCmd {
    /// Create a namespace: a space of purpose registry and its storage identity.
    Create {
        /// Namespace (the first segment of image names: <registry>/<namespace>/<image>).
        name: String,
        /// Tenant (operators; tenant tokens use their own).
        #[arg(long)]
        tenant: Option<String>,
        /// Quota of the namespace's space, for example 50GiB.
        #[arg(long)]
        quota: Option<String>,
    },
    /// List namespaces.
    List,
    /// Show a namespace, its robots and usage.
    Show {
        /// Namespace.
        name: String,
    },
    /// Anonymous pulls and tag retention.
    Update {
        /// Namespace.
        name: String,
        /// Allow anonymous pulls (true or false).
        #[arg(long)]
        public: Option<bool>,
        /// Keep the newest N tags of each repository.
        #[arg(long)]
        keep_last: Option<u32>,
        /// Delete tags older than D days.
        #[arg(long)]
        max_age_days: Option<u32>,
        /// Never delete tags matching this pattern (`*` wildcard; repeat).
        #[arg(long)]
        protect: Vec<String>,
    },
    /// Robot accounts (registry logins for CI).
    Robot {
        #[command(subcommand)]
        cmd: RobotCmd,
    },
    /// Write Distribution's config.yml, its environment file (storage credentials) and the
    /// token certificate into DIR, and print how to start it.
    Config {
        /// Namespace.
        name: String,
        /// Directory for the files (created; files are private to you).
        #[arg(long)]
        dir: PathBuf,
        /// Address the registry listens on.
        #[arg(long, default_value = "127.0.0.1:5000")]
        listen: String,
    },
    /// Apply the namespace's retention rules now through the registry's API.
    Retention {
        /// Namespace.
        name: String,
        /// The registry's URL.
        #[arg(long, default_value = "http://127.0.0.1:5000")]
        registry: String,
        /// Show what would go without deleting.
        #[arg(long)]
        dry_run: bool,
    },
    /// Reclaim the storage of deleted images: runs `docker-registry garbage-collect` on a config
    /// written by `registry config`. Stop the registry (or make it read-only) first.
    Gc {
        /// The directory given to `registry config`.
        #[arg(long)]
        dir: PathBuf,
        /// The docker-registry binary.
        #[arg(long, default_value = "docker-registry")]
        binary: String,
    },
}

#[derive(Subcommand, Debug)]
pub(super) enum RobotCmd {
    /// Create a robot; the secret is shown once.
    Create {
        /// Namespace.
        namespace: String,
        /// Robot name.
        name: String,
        /// pull or push (push includes pull).
        #[arg(long, default_value = "pull")]
        access: String,
    },
    /// List robots.
    List {
        /// Namespace.
        namespace: String,
    },
    /// Revoke a robot; its next login fails.
    Revoke {
        /// Namespace.
        namespace: String,
        /// Robot name.
        name: String,
    },
}

fn print_namespace(v: &Value) {
    let n = &v["namespace"];
    outln!("Namespace:  {}", n["name"].as_str().unwrap_or(""));
    if let Some(b) = v["bucket"].as_str() {
        outln!("Bucket:     {b}");
    }
    outln!("Public:     {}", n["public"].as_bool().unwrap_or(false));
    outln!("Retention:  {}", n["retention"]);
    if v["usage"].is_object() {
        outln!(
            "Usage:      {} in {} objects",
            human_bytes(v["usage"]["bytes"].as_u64().unwrap_or(0)),
            v["usage"]["objects"]
        );
    }
    for r in v["robots"].as_array().into_iter().flatten() {
        outln!("Robot:      {}", robot_line(r));
    }
}

fn robot_line(r: &Value) -> String {
    format!(
        "{:<32} {:<5} {}",
        r["username"].as_str().unwrap_or(""),
        r["access"].as_str().unwrap_or(""),
        if r["revoked_at"].is_string() { "revoked" } else { "active" }
    )
}

pub(super) fn run(c: &Client, json_mode: bool, cmd: RegistryCmd) -> Result<()> {
    let ns_path = |n: &str| format!("/registry/namespaces/{}", enc(n));
    match cmd {
        RegistryCmd::Create { name, tenant, quota } => {
            let quota_bytes = quota.as_deref().map(parse_size).transpose()?;
            let v = c.call(
                "POST",
                "/registry/namespaces",
                Some(json!({"name": name, "tenant": tenant, "quota_bytes": quota_bytes})),
            )?;
            out(json_mode, &v, |v| {
                print_namespace(v);
                outln!("\nNext: rustshare registry robot create {name} ci --access push");
                outln!("      rustshare registry config {name} --dir ./registry-{name}");
            });
        }
        RegistryCmd::List => out(json_mode, &c.call("GET", "/registry/namespaces", None)?, |v| {
            for n in v["namespaces"].as_array().into_iter().flatten() {
                outln!(
                    "{:<24} {}",
                    n["name"].as_str().unwrap_or(""),
                    if n["public"].as_bool().unwrap_or(false) {
                        "public"
                    } else {
                        "private"
                    }
                );
            }
        }),
        RegistryCmd::Show { name } => out(json_mode, &c.call("GET", &ns_path(&name), None)?, print_namespace),
        RegistryCmd::Update {
            name,
            public,
            keep_last,
            max_age_days,
            protect,
        } => {
            let mut body = serde_json::Map::new();
            if let Some(p) = public {
                body.insert("public".into(), json!(p));
            }
            if keep_last.is_some() || max_age_days.is_some() || !protect.is_empty() {
                body.insert(
                    "retention".into(),
                    json!({"keep_last": keep_last, "max_age_days": max_age_days, "protect": protect}),
                );
            }
            if body.is_empty() {
                bail!("nothing to change: give --public, --keep-last, --max-age-days or --protect");
            }
            out(
                json_mode,
                &c.call("PATCH", &ns_path(&name), Some(Value::Object(body)))?,
                print_namespace,
            );
        }
        RegistryCmd::Robot { cmd } => match cmd {
            RobotCmd::Create { namespace, name, access } => {
                let v = c.call(
                    "POST",
                    &format!("{}/robots", ns_path(&namespace)),
                    Some(json!({"name": name, "access": access})),
                )?;
                out(json_mode, &v, |v| {
                    outln!("Username: {}", v["username"].as_str().unwrap_or(""));
                    outln!("Secret:   {}", v["secret"].as_str().unwrap_or(""));
                    outln!("          (shown once: store it now, it cannot be displayed again)");
                    outln!("Access:   {}", v["robot"]["access"].as_str().unwrap_or(""));
                    outln!(
                        "\nskopeo copy --dest-creds '{}:<secret>' oci:./image:1.0 docker://<registry>/{namespace}/app:1.0",
                        v["username"].as_str().unwrap_or("")
                    );
                });
            }
            RobotCmd::List { namespace } => out(json_mode, &c.call("GET", &format!("{}/robots", ns_path(&namespace)), None)?, |v| {
                for r in v["robots"].as_array().into_iter().flatten() {
                    outln!("{}", robot_line(r));
                }
            }),
            RobotCmd::Revoke { namespace, name } => out(
                json_mode,
                &c.call("POST", &format!("{}/robots/{}/revoke", ns_path(&namespace), enc(&name)), None)?,
                |v| outln!("Revoked {}: its next login fails.", v["robot"]["username"].as_str().unwrap_or("")),
            ),
        },
        RegistryCmd::Config { name, dir, listen } => {
            std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
            let dir = dir.canonicalize().with_context(|| format!("resolving {}", dir.display()))?;
            let cert = dir.join("token.crt");
            let v = c.call(
                "POST",
                &format!("{}/config", ns_path(&name)),
                Some(json!({"listen": listen, "root_cert_bundle": cert.to_string_lossy()})),
            )?;
            let s = |k: &str| {
                v[k].as_str()
                    .map(str::to_owned)
                    .with_context(|| format!("the server's answer has no {k}"))
            };
            // The edge's registry front forwards this namespace's /v2/ requests there.
            c.call("PATCH", &ns_path(&name), Some(json!({"upstream": format!("http://{listen}")})))?;
            let (config, env) = (dir.join("config.yml"), dir.join("registry.env"));
            // The config holds the notification secret, the environment file the storage secret.
            crate::files::write_secret(&config, s("config")?.as_bytes(), 0o600)?;
            crate::files::write_secret(&env, s("environment")?.as_bytes(), 0o600)?;
            crate::files::write_secret(&cert, s("certificate")?.as_bytes(), 0o644)?;
            if json_mode {
                outln!("{}", json!({"config": config, "environment": env, "certificate": cert}));
            } else {
                outln!(
                    "Wrote {} and {} (mode 0600) and {}.",
                    config.display(),
                    env.display(),
                    cert.display()
                );
                outln!("\nStart the registry (Debian's docker-registry 2.8; it must not see AWS_CA_BUNDLE):");
                outln!(
                    "  env -u AWS_CA_BUNDLE $(cat {}) docker-registry serve {}",
                    env.display(),
                    config.display()
                );
                outln!("\nThen push and pull through the edge (it forwards /v2/{name}/... to {listen}):");
                outln!("  skopeo copy --dest-creds '{name}+<robot>:<secret>' oci:./image:1.0 docker://<edge>/{name}/app:1.0");
            }
        }
        RegistryCmd::Retention { name, registry, dry_run } => {
            let v = crate::cli::retention::apply(c, &name, registry.trim_end_matches('/'), dry_run)?;
            out(json_mode, &v, |v| {
                for d in v["deleted"].as_array().into_iter().flatten() {
                    outln!("{} {}", if dry_run { "would delete" } else { "deleted" }, d.as_str().unwrap_or(""));
                }
                outln!("kept {} tag(s)", v["kept"]);
            });
        }
        RegistryCmd::Gc { dir, binary } => {
            let env =
                std::fs::read_to_string(dir.join("registry.env")).with_context(|| format!("reading {}/registry.env", dir.display()))?;
            let mut cmd = std::process::Command::new(&binary);
            cmd.arg("garbage-collect").arg("--delete-untagged").arg(dir.join("config.yml"));
            cmd.env_remove("AWS_CA_BUNDLE");
            for line in env.lines() {
                if let Some((k, v)) = line.split_once('=') {
                    cmd.env(k, v);
                }
            }
            let status = cmd.status().with_context(|| format!("running {binary}"))?;
            if !status.success() {
                bail!("{binary} garbage-collect failed ({status})");
            }
        }
    }
    Ok(())
}
