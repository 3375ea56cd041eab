//! `rustshare registry ...`: OCI registry namespaces, robots, Distribution's configuration,
//! retention and garbage collection.

use std::path::PathBuf;

use anyhow::{Context, Result, bail};
use clap::Subcommand;
use rustshare_control::model::{RegistryNamespace, RetentionRules, Robot, RobotAccess};
use serde_json::json;

use super::client::{Client, NO_BODY, enc, human_bytes, parse_size, show};
use crate::api::dto::{
    NamespaceChange, NamespaceList, NamespaceReply, NamespaceView, NewNamespace, NewRobot, RegistryConfigBody, RegistryConfigReply,
    RobotCreated, RobotList, RobotReply,
};

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
        access: RobotAccess,
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

/// A namespace; with its view (`registry show`), its bucket, usage and robots too.
fn print_namespace(n: &RegistryNamespace, view: Option<&NamespaceView>) {
    outln!("Namespace:  {}", n.name);
    if let Some(v) = view {
        outln!("Bucket:     {}", v.bucket);
    }
    outln!("Public:     {}", n.public);
    outln!("Retention:  {}", serde_json::to_string(&n.retention).unwrap_or_default());
    if let Some(v) = view {
        outln!("Usage:      {} in {} objects", human_bytes(v.usage.bytes), v.usage.objects);
        for r in &v.robots {
            outln!("Robot:      {}", robot_line(r));
        }
    }
}

fn robot_line(r: &Robot) -> String {
    format!(
        "{:<32} {:<5} {}",
        r.username,
        r.access.as_str(),
        if r.revoked_at.is_some() { "revoked" } else { "active" }
    )
}

pub(super) fn run(c: &Client, json_mode: bool, cmd: RegistryCmd) -> Result<()> {
    let ns_path = |n: &str| format!("/registry/namespaces/{}", enc(n));
    match cmd {
        RegistryCmd::Create { name, tenant, quota } => {
            let body = NewNamespace {
                name: name.clone(),
                tenant,
                quota_bytes: quota.as_deref().map(parse_size).transpose()?,
            };
            let v: NamespaceReply = c.typed("POST", "/registry/namespaces", Some(&body))?;
            show(json_mode, &v, |v| {
                print_namespace(&v.namespace, None);
                outln!("\nNext: rustshare registry robot create {name} ci --access push");
                outln!("      rustshare registry config {name} --dir ./registry-{name}");
            });
        }
        RegistryCmd::List => {
            let v: NamespaceList = c.typed("GET", "/registry/namespaces", NO_BODY)?;
            show(json_mode, &v, |v| {
                for n in &v.namespaces {
                    outln!("{:<24} {}", n.name, if n.public { "public" } else { "private" });
                }
            });
        }
        RegistryCmd::Show { name } => {
            let v: NamespaceView = c.typed("GET", &ns_path(&name), NO_BODY)?;
            show(json_mode, &v, |v| print_namespace(&v.namespace, Some(v)));
        }
        RegistryCmd::Update {
            name,
            public,
            keep_last,
            max_age_days,
            protect,
        } => {
            let retention = (keep_last.is_some() || max_age_days.is_some() || !protect.is_empty()).then_some(RetentionRules {
                keep_last,
                max_age_days,
                protect,
            });
            if public.is_none() && retention.is_none() {
                bail!("nothing to change: give --public, --keep-last, --max-age-days or --protect");
            }
            let body = NamespaceChange {
                public,
                retention,
                upstream: None,
            };
            let v: NamespaceReply = c.typed("PATCH", &ns_path(&name), Some(&body))?;
            show(json_mode, &v, |v| print_namespace(&v.namespace, None));
        }
        RegistryCmd::Robot { cmd } => match cmd {
            RobotCmd::Create { namespace, name, access } => {
                let v: RobotCreated = c.typed("POST", &format!("{}/robots", ns_path(&namespace)), Some(&NewRobot { name, access }))?;
                show(json_mode, &v, |v| {
                    outln!("Username: {}", v.username);
                    outln!("Secret:   {}", v.secret);
                    outln!("          (shown once: store it now, it cannot be displayed again)");
                    outln!("Access:   {}", v.robot.access.as_str());
                    outln!(
                        "\nskopeo copy --dest-creds '{}:<secret>' oci:./image:1.0 docker://<registry>/{namespace}/app:1.0",
                        v.username
                    );
                });
            }
            RobotCmd::List { namespace } => {
                let v: RobotList = c.typed("GET", &format!("{}/robots", ns_path(&namespace)), NO_BODY)?;
                show(json_mode, &v, |v| {
                    for r in &v.robots {
                        outln!("{}", robot_line(r));
                    }
                });
            }
            RobotCmd::Revoke { namespace, name } => {
                let v: RobotReply = c.typed("POST", &format!("{}/robots/{}/revoke", ns_path(&namespace), enc(&name)), NO_BODY)?;
                show(json_mode, &v, |v| outln!("Revoked {}: its next login fails.", v.robot.username));
            }
        },
        RegistryCmd::Config { name, dir, listen } => {
            std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
            let dir = dir.canonicalize().with_context(|| format!("resolving {}", dir.display()))?;
            let cert = dir.join("token.crt");
            let body = RegistryConfigBody {
                listen: Some(listen.clone()),
                root_cert_bundle: cert.to_string_lossy().into_owned(),
            };
            let v: RegistryConfigReply = c.typed("POST", &format!("{}/config", ns_path(&name)), Some(&body))?;
            // The edge's registry front forwards this namespace's /v2/ requests there.
            let upstream = NamespaceChange {
                upstream: Some(format!("http://{listen}")),
                ..NamespaceChange::default()
            };
            let _: NamespaceReply = c.typed("PATCH", &ns_path(&name), Some(&upstream))?;
            let (config, env) = (dir.join("config.yml"), dir.join("registry.env"));
            // The config holds the notification secret, the environment file the storage secret.
            crate::files::write_secret(&config, v.config.as_bytes(), 0o600)?;
            crate::files::write_secret(&env, v.environment.as_bytes(), 0o600)?;
            crate::files::write_secret(&cert, v.certificate.as_bytes(), 0o644)?;
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
            show(json_mode, &v, |v| {
                for d in &v.deleted {
                    outln!("{} {d}", if dry_run { "would delete" } else { "deleted" });
                }
                outln!("kept {} tag(s)", v.kept);
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
