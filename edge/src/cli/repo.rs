//! `rustshare repo ...`: package repositories through the control API.

use super::client::{Client, NO_BODY, enc, human_bytes, show};
use crate::api::dto::{
    CopyBody, DistBody, KeyChanged, NewRepository, PackageList, PromoteBody, Published, RemoveBody, RepositoryChange, RepositoryList,
    RepositoryView, RollbackBody, RotateKeyBody, SnapshotList,
};
use anyhow::{Context, Result, bail};
use clap::{Args, Subcommand};

/// Settings shared by `repo create` and `repo update`.
#[derive(Args, Debug)]
pub(super) struct RepoSettings {
    /// Distribution as SUITE or SUITE:CODENAME (repeat for several); default stable.
    #[arg(long = "suite")]
    suites: Vec<String>,
    /// Component (repeat); default main.
    #[arg(long = "component")]
    components: Vec<String>,
    /// Architecture (repeat); default amd64. `all` packages go into every one.
    #[arg(long = "arch")]
    architectures: Vec<String>,
    /// Release Origin (default: the repository name).
    #[arg(long)]
    origin: Option<String>,
    /// Release Label (default: the repository name).
    #[arg(long)]
    label: Option<String>,
    /// Release Description.
    #[arg(long)]
    description: Option<String>,
    /// Prefix inside the space where CI uploads .deb files (default incoming/<repo>/).
    #[arg(long)]
    incoming_prefix: Option<String>,
    /// Snapshots kept for rollback (default 10).
    #[arg(long)]
    retain: Option<u32>,
    /// Seconds a superseded snapshot is kept anyway, for apt clients mid-update (default 600).
    #[arg(long)]
    retain_grace: Option<u32>,
    /// Release Valid-Until, this many days after each publish (0 for none).
    #[arg(long)]
    valid_until_days: Option<u32>,
    /// Versions of each package kept per distribution, component and architecture, newest by
    /// Debian version order (default 1: a new version replaces the old one).
    #[arg(long)]
    keep_versions: Option<u32>,
    /// An uploader's OpenPGP public key (armored file; repeat for several): replaces the list.
    /// A `.changes` in incoming must be signed by one of them.
    #[arg(long = "uploader-key")]
    uploader_keys: Vec<std::path::PathBuf>,
    /// Forget every uploader key.
    #[arg(long, conflicts_with = "uploader_keys")]
    no_uploader_keys: bool,
    /// Take only uploads listed in a `.changes` signed by an uploader key (true or false).
    #[arg(long)]
    signed_uploads: Option<bool>,
}

impl RepoSettings {
    /// What was given; everything left out keeps its value.
    fn to_change(&self) -> Result<RepositoryChange> {
        let distributions = if self.suites.is_empty() {
            None
        } else {
            let mut d = Vec::new();
            for s in &self.suites {
                d.push(match s.split_once(':') {
                    Some((suite, code)) if !suite.is_empty() && !code.is_empty() => DistBody {
                        suite: suite.to_owned(),
                        codename: Some(code.to_owned()),
                    },
                    Some(_) => bail!("--suite {s:?}: expected SUITE or SUITE:CODENAME"),
                    None => DistBody {
                        suite: s.clone(),
                        codename: None,
                    },
                });
            }
            Some(d)
        };
        let given = |v: &[String]| (!v.is_empty()).then(|| v.to_vec());
        let uploaders = if self.no_uploader_keys {
            Some(Vec::new())
        } else if self.uploader_keys.is_empty() {
            None
        } else {
            let mut keys = Vec::new();
            for p in &self.uploader_keys {
                keys.push(std::fs::read_to_string(p).with_context(|| format!("reading uploader key {}", p.display()))?);
            }
            Some(keys)
        };
        Ok(RepositoryChange {
            distributions,
            components: given(&self.components),
            architectures: given(&self.architectures),
            origin: self.origin.clone(),
            label: self.label.clone(),
            description: self.description.clone(),
            incoming_prefix: self.incoming_prefix.clone(),
            retain: self.retain,
            retain_grace_secs: self.retain_grace,
            valid_until_days: self.valid_until_days,
            keep_versions: self.keep_versions,
            uploaders,
            signed_uploads: self.signed_uploads,
        })
    }
}

#[derive(Subcommand, Debug)]
pub(super) enum RepoCmd {
    /// Create a repository in a `packages` space, with a new signing key (or an imported one).
    Create {
        /// Repository name: packages.<domain>/<name>/.
        name: String,
        /// The space (of purpose packages) CI uploads into.
        #[arg(long)]
        space: String,
        /// Import this unprotected OpenPGP secret key (armored) instead of generating one.
        #[arg(long)]
        signing_key: Option<std::path::PathBuf>,
        #[command(flatten)]
        settings: RepoSettings,
    },
    /// List repositories.
    List,
    /// Show a repository, its key fingerprint and apt setup.
    Show {
        /// Repository name.
        name: String,
    },
    /// Change distributions, components, architectures or Release fields (from the next publish).
    Update {
        /// Repository name.
        name: String,
        #[command(flatten)]
        settings: RepoSettings,
    },
    /// Publish what CI uploaded into the incoming prefix.
    Publish {
        /// Repository name.
        name: String,
        /// Write a new snapshot even if nothing changed (fresh Date, Valid-Until, signatures).
        #[arg(long)]
        refresh: bool,
    },
    /// Upload .deb files and publish them in one go.
    Add {
        /// Repository name.
        name: String,
        /// Distribution (suite or codename).
        #[arg(long)]
        dist: String,
        /// Component.
        #[arg(long, default_value = "main")]
        component: String,
        /// The files (.deb, .dsc with its files, .changes), or directories whose files are all
        /// uploaded (more than a command line holds).
        #[arg(required = true)]
        files: Vec<std::path::PathBuf>,
    },
    /// Retained snapshots, newest first.
    Snapshots {
        /// Repository name.
        name: String,
    },
    /// Publish an earlier snapshot's package set again (fresh Date and signatures).
    Rollback {
        /// Repository name.
        name: String,
        /// Snapshot id (see `repo snapshots`).
        snapshot: String,
    },
    /// Publish a snapshot without the named packages (`rollback` brings them back).
    Remove {
        /// Repository name.
        name: String,
        /// Suite or codename.
        #[arg(long)]
        dist: String,
        /// Only this component (default: every one).
        #[arg(long)]
        component: Option<String>,
        /// Only this architecture (default: every one).
        #[arg(long)]
        arch: Option<String>,
        /// `name` (every version) or `name=version`; `*` in a name is a wildcard.
        #[arg(required = true)]
        packages: Vec<String>,
    },
    /// Publish a snapshot where distribution --to also holds the named packages of --from.
    Copy {
        /// Repository name.
        name: String,
        /// Source suite or codename.
        #[arg(long)]
        from: String,
        /// Target suite or codename.
        #[arg(long)]
        to: String,
        /// Only from this component (default: every one).
        #[arg(long)]
        from_component: Option<String>,
        /// Into this component (default: the source's).
        #[arg(long)]
        to_component: Option<String>,
        /// Only this architecture (default: every one).
        #[arg(long)]
        arch: Option<String>,
        /// `name` (every version) or `name=version`; `*` in a name is a wildcard.
        #[arg(required = true)]
        packages: Vec<String>,
    },
    /// Start a signing-key rotation: a new key (or an imported one) signs beside the current
    /// one, and key.gpg carries both, until `retire-key`.
    RotateKey {
        /// Repository name.
        name: String,
        /// Import this unprotected OpenPGP secret key (armored) instead of generating one.
        #[arg(long)]
        signing_key: Option<std::path::PathBuf>,
    },
    /// End a signing-key rotation: the new key signs alone and key.gpg carries it alone.
    /// Clients must trust the new key first.
    RetireKey {
        /// Repository name.
        name: String,
    },
    /// Publish a snapshot where --to holds exactly what --from holds (testing becomes stable).
    Promote {
        /// Repository name.
        name: String,
        /// Source suite or codename.
        #[arg(long)]
        from: String,
        /// Target suite or codename.
        #[arg(long)]
        to: String,
    },
    /// Published packages of the current snapshot.
    Packages {
        /// Repository name.
        name: String,
        /// One suite or codename (default: every one).
        #[arg(long)]
        dist: Option<String>,
        /// One architecture (default: every one).
        #[arg(long)]
        arch: Option<String>,
        /// A name pattern (`*` wildcard) with an optional version constraint as in Debian's
        /// fields: `hello`, `lib*`, `'hello (>= 1.2)'`, `'hello (= 1.2-1)'`.
        query: Option<String>,
    },
}

fn print_repo(v: &RepositoryView) {
    let r = &v.repository;
    let c = &r.config;
    let dists: Vec<String> = c.distributions.iter().map(|d| format!("{} ({})", d.suite, d.codename)).collect();
    outln!("Repository:    {}", r.name);
    outln!("URL:           {}", v.url);
    outln!("Fingerprint:   {}", r.fingerprint);
    if let Some(next) = &r.next_fingerprint {
        outln!("Next key:      {next} (signs too; retire the old key with `repo retire-key`)");
    }
    outln!("Distributions: {}", dists.join(", "));
    outln!("Components:    {}", c.components.join(", "));
    outln!("Architectures: {}", c.architectures.join(", "));
    outln!("Incoming:      {}", c.incoming_prefix);
    outln!(
        "Retain:        {} snapshots, and any superseded in the last {} s",
        c.retain,
        c.retain_grace_secs
    );
    outln!("Versions kept: {} per package, distribution and architecture", c.keep_versions);
    outln!(
        "Uploads:       {}{}",
        if c.signed_uploads { "signed only" } else { "any" },
        if c.uploaders.is_empty() {
            String::new()
        } else {
            format!(" ({} uploader key(s))", c.uploaders.len())
        }
    );
    outln!("Current:       {}", v.current_snapshot.as_deref().unwrap_or("none"));
    outln!("\nKey:  curl -fsSL {} -o /etc/apt/keyrings/{}.gpg", v.key_url, r.name);
    outln!("\n{}.sources:\n{}", r.name, v.sources);
}

fn print_key_change(v: &KeyChanged) {
    print_report(&v.published);
    outln!();
    print_repo(&v.repository);
}

fn print_report(v: &Published) {
    let s = &v.snapshot;
    outln!(
        "Published snapshot {} ({} packages; {} unchanged upload(s) skipped)",
        s.id,
        s.packages,
        v.unchanged
    );
    for c in &s.changes {
        outln!("  {c}");
    }
}

/// A long-running agent for uploads and publishes.
/// Concurrent uploads of `repo add`.
const UPLOADS_IN_FLIGHT: usize = 8;

/// `paths` with each directory replaced by the files in it (sorted; not its subdirectories).
fn expand(paths: &[std::path::PathBuf]) -> Result<Vec<std::path::PathBuf>> {
    let mut out = Vec::new();
    for p in paths {
        if p.is_dir() {
            let mut inside = Vec::new();
            for e in std::fs::read_dir(p).with_context(|| format!("{}: cannot list", p.display()))? {
                let e = e.with_context(|| format!("{}: cannot list", p.display()))?;
                if e.file_type().is_ok_and(|t| t.is_file()) {
                    inside.push(e.path());
                }
            }
            if inside.is_empty() {
                bail!("{}: the directory holds no files", p.display());
            }
            inside.sort();
            out.extend(inside);
        } else {
            out.push(p.clone());
        }
    }
    Ok(out)
}

fn upload(c: &Client, name: &str, dist: &str, component: &str, files: &[std::path::PathBuf]) -> Result<()> {
    let files = &expand(files)?;
    let mut total = 0;
    for f in files {
        let m = std::fs::metadata(f).with_context(|| format!("{}: cannot read", f.display()))?;
        if !m.is_file() {
            bail!("{}: not a file", f.display());
        }
        total += m.len();
    }
    let bar = indicatif::ProgressBar::new(total);
    bar.set_style(
        indicatif::ProgressStyle::with_template("{msg:30!} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec}")
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar())
            .progress_chars("=> "),
    );
    let agent = super::client::slow_agent();
    // Without a terminal (CI logs) the bar is hidden; print a line per file instead.
    let lines = bar.is_hidden();
    let done = std::sync::atomic::AtomicUsize::new(0);
    let put = |f: &std::path::PathBuf| -> Result<()> {
        let file_name = f
            .file_name()
            .and_then(|n| n.to_str())
            .with_context(|| format!("{}: the file name is not UTF-8", f.display()))?;
        bar.set_message(file_name.to_owned());
        let fh = std::fs::File::open(f).with_context(|| format!("{}: cannot open", f.display()))?;
        let len = fh.metadata().map_or(0, |m| m.len());
        let url = format!(
            "{}/api/v1/repos/{}/incoming/{}/{}/{}",
            c.base,
            enc(name),
            enc(dist),
            enc(component),
            enc(file_name)
        );
        agent
            .put(&url)
            .set("Authorization", &format!("Bearer {}", c.token))
            .set("Content-Type", "application/vnd.debian.binary-package")
            .set("Content-Length", &len.to_string())
            .send(bar.wrap_read(fh))
            .map_err(|e| c.explain(e))
            .with_context(|| format!("uploading {}", f.display()))?;
        let n = done.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1;
        if lines {
            eprintln!("uploaded {file_name} ({n}/{}, {})", files.len(), human_bytes(len));
        }
        Ok(())
    };
    // Several uploads at once: each is stored durably before it is answered, and the server
    // makes many such writes durable together far faster than one after another.
    let next = std::sync::atomic::AtomicUsize::new(0);
    let failed: std::sync::Mutex<Option<anyhow::Error>> = std::sync::Mutex::new(None);
    std::thread::scope(|s| {
        for _ in 0..UPLOADS_IN_FLIGHT.min(files.len()) {
            s.spawn(|| {
                loop {
                    let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    let Some(f) = files.get(i) else { break };
                    if let Err(e) = put(f) {
                        let mut slot = failed.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
                        slot.get_or_insert(e);
                        // The others stop at their next file.
                        next.store(files.len(), std::sync::atomic::Ordering::Relaxed);
                        break;
                    }
                }
            });
        }
    });
    if let Some(e) = failed.into_inner().unwrap_or_else(std::sync::PoisonError::into_inner) {
        bar.abandon();
        return Err(e);
    }
    let summary = format!("{} file(s), {}", files.len(), human_bytes(total));
    if lines {
        eprintln!("uploaded {summary}");
    }
    bar.finish_with_message(summary);
    Ok(())
}

pub(super) fn run(c: &Client, json_mode: bool, cmd: RepoCmd) -> Result<()> {
    match cmd {
        RepoCmd::Create {
            name,
            space,
            signing_key,
            settings,
        } => {
            let signing_key = signing_key
                .map(|p| std::fs::read_to_string(&p).with_context(|| format!("reading signing key {}", p.display())))
                .transpose()?;
            let body = NewRepository {
                name,
                space,
                signing_key,
                config: settings.to_change()?,
            };
            let v: RepositoryView = c.typed("POST", "/repos", Some(&body))?;
            show(json_mode, &v, print_repo);
        }
        RepoCmd::List => {
            let v: RepositoryList = c.typed("GET", "/repos", NO_BODY)?;
            show(json_mode, &v, |v| {
                for r in &v.repositories {
                    outln!("{:<24} {}", r.name, r.fingerprint);
                }
            });
        }
        RepoCmd::Show { name } => {
            let v: RepositoryView = c.typed("GET", &format!("/repos/{}", enc(&name)), NO_BODY)?;
            show(json_mode, &v, print_repo);
        }
        RepoCmd::Update { name, settings } => {
            let v: RepositoryView = c.typed("PATCH", &format!("/repos/{}", enc(&name)), Some(&settings.to_change()?))?;
            show(json_mode, &v, print_repo);
        }
        RepoCmd::Publish { name, refresh } => {
            let path = format!("/repos/{}/publish{}", enc(&name), if refresh { "?refresh=true" } else { "" });
            let v: Published = c.typed_with(&super::client::slow_agent(), "POST", &path, NO_BODY)?;
            show(json_mode, &v, print_report);
        }
        RepoCmd::Add {
            name,
            dist,
            component,
            files,
        } => {
            upload(c, &name, &dist, &component, &files)?;
            let v: Published = c.typed_with(
                &super::client::slow_agent(),
                "POST",
                &format!("/repos/{}/publish", enc(&name)),
                NO_BODY,
            )?;
            show(json_mode, &v, print_report);
        }
        RepoCmd::Snapshots { name } => {
            let v: SnapshotList = c.typed("GET", &format!("/repos/{}/snapshots", enc(&name)), NO_BODY)?;
            show(json_mode, &v, |v| {
                let current = v.current_snapshot.as_deref().unwrap_or("");
                outln!("{:<2}{:<18} {:<22} {:>8}  CHANGES", "", "SNAPSHOT", "CREATED", "PACKAGES");
                for s in &v.snapshots {
                    let created = s.created.format(&time::format_description::well_known::Rfc3339).unwrap_or_default();
                    outln!(
                        "{:<2}{:<18} {created:<22} {:>8}  {}",
                        if s.id == current { "*" } else { "" },
                        s.id,
                        s.packages,
                        s.changes.join("; ")
                    );
                }
            });
        }
        RepoCmd::Rollback { name, snapshot } => {
            let v: Published = c.typed_with(
                &super::client::slow_agent(),
                "POST",
                &format!("/repos/{}/rollback", enc(&name)),
                Some(&RollbackBody { snapshot }),
            )?;
            show(json_mode, &v, print_report);
        }
        RepoCmd::Remove {
            name,
            dist,
            component,
            arch,
            packages,
        } => {
            let body = RemoveBody {
                dist,
                component,
                architecture: arch,
                packages,
            };
            let v: Published = c.typed_with(
                &super::client::slow_agent(),
                "POST",
                &format!("/repos/{}/remove", enc(&name)),
                Some(&body),
            )?;
            show(json_mode, &v, print_report);
        }
        RepoCmd::Copy {
            name,
            from,
            to,
            from_component,
            to_component,
            arch,
            packages,
        } => {
            let body = CopyBody {
                from,
                from_component,
                to,
                to_component,
                architecture: arch,
                packages,
            };
            let v: Published = c.typed_with(
                &super::client::slow_agent(),
                "POST",
                &format!("/repos/{}/copy", enc(&name)),
                Some(&body),
            )?;
            show(json_mode, &v, print_report);
        }
        RepoCmd::RotateKey { name, signing_key } => {
            let signing_key = signing_key
                .map(|p| std::fs::read_to_string(&p).with_context(|| format!("reading signing key {}", p.display())))
                .transpose()?;
            let v: KeyChanged = c.typed_with(
                &super::client::slow_agent(),
                "POST",
                &format!("/repos/{}/rotate-key", enc(&name)),
                Some(&RotateKeyBody { signing_key }),
            )?;
            show(json_mode, &v, print_key_change);
        }
        RepoCmd::RetireKey { name } => {
            let v: KeyChanged = c.typed_with(
                &super::client::slow_agent(),
                "POST",
                &format!("/repos/{}/retire-key", enc(&name)),
                NO_BODY,
            )?;
            show(json_mode, &v, print_key_change);
        }
        RepoCmd::Promote { name, from, to } => {
            let v: Published = c.typed_with(
                &super::client::slow_agent(),
                "POST",
                &format!("/repos/{}/promote", enc(&name)),
                Some(&PromoteBody { from, to }),
            )?;
            show(json_mode, &v, print_report);
        }
        RepoCmd::Packages { name, dist, arch, query } => {
            let mut q: Vec<(&str, String)> = Vec::new();
            for (k, v) in [("dist", dist), ("arch", arch), ("q", query)] {
                if let Some(v) = v {
                    q.push((k, v));
                }
            }
            let qs = q.iter().map(|(k, v)| format!("{k}={}", enc(v))).collect::<Vec<_>>().join("&");
            let path = format!("/repos/{}/packages{}{qs}", enc(&name), if qs.is_empty() { "" } else { "?" });
            let v: PackageList = c.typed("GET", &path, NO_BODY)?;
            show(json_mode, &v, |v| {
                if v.packages.is_empty() {
                    outln!("No packages match.");
                }
                for r in &v.packages {
                    outln!(
                        "{:<10} {:<10} {:<32} {:<24} {:<8} {:>10}",
                        r.dist,
                        r.component,
                        r.package,
                        r.version,
                        r.architecture,
                        human_bytes(r.size)
                    );
                }
            });
        }
    }
    Ok(())
}
