//! `rustshare serve`: opens the store and the database, makes sure an operator token and a
//! master key exist, and runs the server until SIGTERM or Ctrl-C.

use std::io::Write;
use std::path::Path;
use std::sync::Arc;

use anyhow::{Context, Result};
use rustshare_control::db::{PgRepo, SqliteRepo};
use rustshare_control::{ChangeKind, Control};
use rustshare_store::{FsStore, ObjectStore, S3Store};

use crate::app::App;
use crate::config::{Config, DatabaseConfig, StoreConfig};
use crate::metrics::Metrics;

/// Makes the data directory private: it holds every tenant's objects, sealed secrets, token
/// hashes and the audit log. Everything this process creates from here on is owner-only (umask
/// 077), and a directory left world-readable by an earlier version is tightened, with the
/// database files in it.
fn private_data_dir(dir: &Path) -> Result<()> {
    use std::os::unix::fs::PermissionsExt;
    rustix::process::umask(rustix::fs::Mode::from_raw_mode(0o077));
    std::fs::create_dir_all(dir).with_context(|| format!("creating data dir {}", dir.display()))?;
    let tighten = |p: &Path, mode: u32| -> Result<()> {
        match std::fs::metadata(p) {
            Ok(m) if m.permissions().mode() & 0o077 != 0 => std::fs::set_permissions(p, std::fs::Permissions::from_mode(mode))
                .with_context(|| format!("making {} private (mode {mode:o})", p.display())),
            _ => Ok(()),
        }
    };
    tighten(dir, 0o700)?;
    for d in ["objects", "objects/objects", "objects/uploads", "objects/tmp"] {
        tighten(&dir.join(d), 0o700)?;
    }
    for f in ["rustshare.db", "rustshare.db-wal", "rustshare.db-shm", "master.key", "admin-token"] {
        tighten(&dir.join(f), 0o600)?;
    }
    Ok(())
}

/// Runs the server.
///
/// # Errors
/// Anything that stops start-up, with context.
pub async fn run(cfg: Config) -> Result<()> {
    crate::logging::init(cfg.log_format);
    private_data_dir(&cfg.data_dir)?;
    let (key, key_source) = crate::master_key::load(&cfg.master_key_file)?;
    let repo: Arc<dyn rustshare_control::db::Repo> = match &cfg.database {
        DatabaseConfig::Sqlite(path) => {
            let p = path.clone();
            let repo = rustshare_control::exec::on_own_thread(move || SqliteRepo::open(&p))
                .await
                .with_context(|| format!("opening database {}", path.display()))?;
            Arc::new(repo)
        }
        DatabaseConfig::Postgres(url, ca_file) => {
            let (u, ca) = (url.clone(), ca_file.clone());
            // Connecting and migrating block; several nodes starting together migrate once.
            let repo = rustshare_control::exec::on_own_thread(move || PgRepo::connect(&u, ca.as_deref()))
                .await
                .with_context(|| format!("opening database {}", crate::config::redact_url(url)))?;
            Arc::new(repo)
        }
    };
    let single_node = matches!(cfg.database, DatabaseConfig::Sqlite(_));
    let control = Control::new(repo, key);
    if single_node {
        // SQLite has one node: a lease can only be a killed predecessor's.
        control.clear_leases().await.context("clearing leases of a previous run")?;
        // Likewise quota reservations: a process killed mid-upload must not hold its space's
        // quota after the restart.
        let n = control
            .clear_reservations()
            .await
            .context("clearing quota reservations of a previous run")?;
        if n > 0 {
            tracing::info!("dropped {n} quota reservation(s) left by a previous run");
        }
    }
    let explicit = std::env::var("RUSTSHARE_ADMIN_TOKEN").ok();
    let generated = control
        .bootstrap_operator(explicit.as_deref())
        .await
        .context("creating the operator token")?;
    let store: Arc<dyn ObjectStore> = match &cfg.store {
        StoreConfig::Fs(p) => Arc::new(
            FsStore::open(p)
                .await
                .with_context(|| format!("opening fs store {}", p.display()))?,
        ),
        StoreConfig::S3(s) => {
            let st = S3Store::new(s);
            match st.health().await {
                Ok(()) => {}
                // The engine answered: waiting will not make the bucket appear.
                Err(e @ rustshare_store::Error::NoBucket { .. }) => anyhow::bail!("S3 backend: {e}"),
                // It may still be starting (a compose file brings both up at once).
                Err(e) => tracing::warn!("S3 backend {} not reachable yet: {e}", s.endpoint),
            }
            Arc::new(st)
        }
    };
    // A single node marks the data directory while it runs: finding the mark at start means the
    // last run was killed, perhaps between a store write and its accounting, so usage is
    // recomputed from the store before anything is served.
    let running = cfg.data_dir.join("running");
    if single_node {
        if running.exists() {
            tracing::warn!("the previous run did not stop cleanly: reconciling usage with the store");
            let done = crate::reconcile::run(&control, &store)
                .await
                .context("reconciling usage at start")?;
            let changed = done.iter().filter(|r| r.before != r.after).count();
            tracing::info!("usage of {} spaces checked against the store, {changed} corrected", done.len());
        }
        std::fs::write(&running, format!("{}\n", std::process::id())).with_context(|| format!("writing {}", running.display()))?;
    }
    let metrics = Metrics::new();
    let cdn = Arc::new(
        crate::face::cdn::Cdn::new(store.clone(), control.clone(), metrics.clone(), cfg.cdn.clone())
            .context("opening the CDN access log")?,
    );
    let s3 = crate::face::s3::S3Face::new(store.clone(), control.clone(), metrics.clone(), cfg.region.clone())
        .with_purge(Arc::new(cdn.cache().clone()))
        .with_post_max_bytes(cfg.post_max_bytes);
    let s3_face = s3.clone();
    let expirer = s3.expirer();
    let s3 = s3.service();
    let publisher = rustshare_publisher::Publisher::new(store.clone(), control.clone()).with_memo_budget(cfg.packages_memo_bytes);
    let packages = Arc::new(crate::face::packages::Packages::new(
        publisher.clone(),
        control.clone(),
        cdn.clone(),
        cfg.packages_index_max_age,
        format!("http://packages.{}:{}", cfg.domain, cfg.listen.port()),
    ));
    let (token_key, token_cert) = control
        .registry_signing_key(|| {
            rustshare_registry_bridge::token::generate_signing_key().map_err(|e| rustshare_control::Error::Invalid(e.to_string()))
        })
        .await
        .context("loading the registry token signing key")?;
    let registry =
        Arc::new(rustshare_registry_bridge::token::Issuer::new(&token_key, &token_cert).context("loading the registry token signing key")?);
    let api = crate::api::router(crate::api::ApiState {
        control: control.clone(),
        endpoint: cfg.endpoint.clone(),
        region: cfg.region.clone(),
        purge: Arc::new(cdn.cache().clone()),
        purge_webhook: cfg.cdn.purge_webhook.clone(),
        metrics: metrics.clone(),
        cdn_base: format!("http://cdn.{}:{}", cfg.domain, cfg.listen.port()),
        publisher,
        packages_base: format!("http://packages.{}:{}", cfg.domain, cfg.listen.port()),
        session_lifetime: cfg.session_lifetime,
        registry,
        s3: s3_face,
        master_key: key_source.clone(),
    });
    let _ = rustls::crypto::ring::default_provider().install_default();
    let mut tls = None;
    let mut alt_svc = None;
    let mut tls_banner = String::new();
    if let Some(addr) = cfg.tls_listen {
        let files = if let Some(f) = &cfg.tls_files {
            f.clone()
        } else {
            let f = crate::listen::tls::self_signed(&cfg.data_dir, &cfg.domain)?;
            tls_banner.push_str(&format!("  Self-signed development certificate: {}\n", f.cert.display()));
            f
        };
        let certs = crate::listen::tls::Certs::new(files)?;
        certs.watch(std::time::Duration::from_secs(5));
        let tcp = tokio::net::TcpListener::bind(addr)
            .await
            .with_context(|| format!("binding TLS {addr}"))?;
        let bound = tcp.local_addr().context("TLS local address")?;
        let quic = crate::listen::h3::quic_endpoint(bound, certs.clone(), cfg.http3_max_datagram, &cfg.limits)?;
        alt_svc = http::HeaderValue::from_str(&format!("h3=\":{}\"; ma=86400", bound.port())).ok();
        tls_banner.insert_str(
            0,
            &format!("  TLS:          https://{bound}  (HTTP/1.1, HTTP/2; HTTP/3 on UDP {bound})\n"),
        );
        tls = Some((tcp, quic, certs));
    }
    let control_for_front = control.clone();
    let fd_limit = crate::listen::raise_fd_limit();
    let mut limits = cfg.limits.clone();
    limits.max_connections = crate::listen::effective_max(limits.max_connections, fd_limit);
    if limits.max_connections < cfg.limits.max_connections {
        tracing::warn!(
            "limits.max_connections lowered from {} to {} to stay below the open-file limit ({:?})",
            cfg.limits.max_connections,
            limits.max_connections,
            fd_limit
        );
    }
    let app = Arc::new(App {
        control,
        store,
        metrics,
        s3,
        api,
        domain: cfg.domain.clone(),
        cdn,
        packages,
        s3_requires_tls: cfg.production,
        region: cfg.region.clone(),
        request_log: cfg.request_log,
        alt_svc,
        registry: crate::face::registry::RegistryFront::new(control_for_front, format!("{}/registry/token", cfg.endpoint)),
    });
    let gate = crate::listen::Gate::new(&limits);
    let listener = tokio::net::TcpListener::bind(cfg.listen)
        .await
        .with_context(|| format!("binding {}", cfg.listen))?;
    let addr = listener.local_addr().context("local address")?;
    let port = addr.port();
    let mut banner = format!(
        "RustShare Object Spaces listening on http://{addr}\n  S3 endpoint:  {}  (also http://s3.{}:{port})\n  Control API:  http://{addr}/api/v1  (OpenAPI: /api/v1/openapi.json)\n  CDN:          http://cdn.{}:{port}\n  Packages:     http://packages.{}:{port}\n  Console:      http://console.{}:{port}\n{tls_banner}  Health:       /healthz /readyz /metrics\n",
        cfg.endpoint, cfg.domain, cfg.domain, cfg.domain, cfg.domain
    );
    if let Some(tok) = generated {
        let path = cfg.data_dir.join("admin-token");
        crate::files::write_secret(&path, format!("{tok}\n").as_bytes(), 0o600)?;
        banner.push_str(&format!(
            "\n  Operator token (shown once; also in {}, mode 0600):\n    {tok}\n",
            path.display()
        ));
    }
    println!("{banner}");
    let _ = std::io::stdout().flush();
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let stopped = move || {
        let mut rx = stop_rx.clone();
        async move {
            let _ = rx.wait_for(|s| *s).await;
        }
    };
    tokio::spawn(async move {
        shutdown_signal().await;
        let _ = stop_tx.send(true);
    });
    tokio::spawn(flush_traffic(app.control.clone(), app.metrics.clone(), cfg.traffic_flush));
    tokio::spawn(follow_changes(app.clone(), key_source, cfg.change_poll));
    tokio::spawn(run_lifecycle(
        expirer,
        app.control.clone(),
        app.metrics.clone(),
        cfg.lifecycle_interval,
        cfg.lifecycle_batch,
    ));
    let mut tasks = tokio::task::JoinSet::new();
    if let Some((tcp, quic, certs)) = tls {
        let (a, l, g, stop) = (app.clone(), limits.clone(), gate.clone(), stopped());
        tasks.spawn(async move { crate::listen::tls::serve_tls(a, tcp, certs, &l, g, stop).await });
        let (a, l, stop) = (app.clone(), limits.clone(), stopped());
        tasks.spawn(async move {
            crate::listen::h3::serve_h3(a, quic, &l, stop).await;
            Ok(())
        });
    }
    crate::listen::tcp::serve(app, listener, &limits, &gate, stopped())
        .await
        .context("serving")?;
    while let Some(r) = tasks.join_next().await {
        r.context("listener task")??;
    }
    if single_node {
        let _ = std::fs::remove_file(&running);
    }
    Ok(())
}

/// Applies what other nodes changed: the control service drops its cached credentials and
/// sites itself; purges and repository switches are applied to this node's caches here.
async fn follow_changes(app: Arc<App>, key_source: crate::master_key::KeySource, every: std::time::Duration) {
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    // When the feed could not be read, and since when.
    let mut failing: Option<std::time::Instant> = None;
    loop {
        tick.tick().await;
        let changes = match app.control.poll_changes().await {
            Ok(v) => {
                if let Some(since) = failing.take() {
                    // Other nodes prune changes after ten minutes: after a long outage some may
                    // be gone unseen, so every cached response goes (credentials and sites
                    // expire by themselves within seconds).
                    if since.elapsed() > std::time::Duration::from_mins(1) {
                        app.cdn.cache().forget_all();
                        tracing::info!(
                            "reading the change feed again after {} s; dropped the CDN cache",
                            since.elapsed().as_secs()
                        );
                    } else {
                        tracing::info!("reading the change feed again");
                    }
                }
                v
            }
            Err(e) => {
                // Logged once per outage; cached credentials still expire on their own.
                if failing.is_none() {
                    tracing::warn!("reading the change feed: {e}");
                    failing = Some(std::time::Instant::now());
                }
                continue;
            }
        };
        for ch in changes {
            match ch {
                ChangeKind::Purge {
                    space_id,
                    key,
                    prefix: false,
                } => app.cdn.cache().forget(&space_id, &key).await,
                ChangeKind::Purge {
                    space_id,
                    key,
                    prefix: true,
                } => app.cdn.cache().forget_prefix(&space_id, &key),
                ChangeKind::Repository { name } => app.packages.publisher().forget_pointer(&name),
                ChangeKind::MasterKey { fingerprint } => {
                    // Secrets are sealed under a new key now: it must be in this node's key file.
                    match crate::master_key::reread(&key_source).map(|ring| app.control.use_master_key(ring, Some(&fingerprint))) {
                        Ok(true) => tracing::info!(%fingerprint, "now sealing with the rotated master key"),
                        Ok(false) => tracing::error!(
                            %fingerprint,
                            "another node rotated the master key to one this node's key file lacks: add it to the file; secrets sealed under it cannot be opened here"
                        ),
                        Err(e) => tracing::error!(%fingerprint, "another node rotated the master key: {e:#}"),
                    }
                }
                ChangeKind::Caches => {}
            }
        }
        // After the changes are applied: a reader of the gauge may rely on them.
        app.metrics.feed_position(app.control.feed_position());
    }
}

/// Adds this node's traffic since the last tick to the database, per space and minute, for the
/// console's bandwidth chart (every node adds its own share, so the rows are cluster totals).
async fn flush_traffic(control: Control, metrics: Metrics, every: std::time::Duration) {
    let mut last: std::collections::HashMap<String, [u64; 3]> = std::collections::HashMap::new();
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let now = time::OffsetDateTime::now_utc();
        let minute = now - time::Duration::seconds(i64::from(now.second())) - time::Duration::nanoseconds(i64::from(now.nanosecond()));
        let totals = metrics.traffic_totals();
        let samples: Vec<_> = totals
            .iter()
            .filter_map(|(space, t)| {
                let before = last.get(space).copied().unwrap_or_default();
                let d = [0, 1, 2].map(|i| t[i].saturating_sub(before[i]));
                (d != [0; 3]).then(|| rustshare_control::db::TrafficSample {
                    space_id: space.clone(),
                    minute,
                    bytes_in: d[0],
                    bytes_out: d[1],
                    requests: d[2],
                })
            })
            .collect();
        match control.record_traffic(&samples).await {
            Ok(()) => last = totals,
            Err(e) => tracing::warn!("recording traffic figures: {e}"),
        }
    }
}

async fn shutdown_signal() {
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        () = term => {}
    }
    tracing::info!("shutdown signal received");
}

/// The lifecycle expirer on this node: a pass every `every` while this node holds the
/// `lifecycle` lease (one node of a cluster at a time; held from pass to pass, renewed in the
/// background, so another node takes over only when this one stops or dies and the lease
/// lapses, within three intervals, at least 5 s and at most 10 min).
async fn run_lifecycle(
    exp: crate::face::s3::expirer::Expirer,
    control: Control,
    metrics: Metrics,
    every: std::time::Duration,
    batch: usize,
) {
    let ttl = (every * 3).clamp(std::time::Duration::from_secs(5), std::time::Duration::from_mins(10));
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut held = None;
    loop {
        tick.tick().await;
        if held.is_none() {
            match control.try_lease("lifecycle", ttl).await {
                Ok(Some(l)) => {
                    tracing::info!("this node runs the lifecycle expirer");
                    held = Some(l.hold(ttl));
                }
                Ok(None) => {}
                Err(e) => tracing::warn!("lifecycle lease: {e}"),
            }
            metrics.lifecycle_holder(held.is_some());
        }
        if held.is_none() {
            continue;
        }
        let now = control.now() + lifecycle_skew();
        match exp.pass(now, batch).await {
            Ok(r) => {
                if r.expired + r.noncurrent_removed + r.markers_removed + r.uploads_aborted > 0 {
                    tracing::info!(
                        expired = r.expired,
                        noncurrent = r.noncurrent_removed,
                        markers = r.markers_removed,
                        uploads = r.uploads_aborted,
                        bytes = r.bytes,
                        complete = r.complete,
                        "lifecycle pass"
                    );
                }
                metrics.lifecycle_pass(&r.removed(), r.bytes, r.complete);
            }
            Err(e) => tracing::warn!("lifecycle pass: {e:#}"),
        }
    }
}

/// How far ahead of the control clock the expirer looks: test builds read
/// `RUSTSHARE_LIFECYCLE_SKEW_DAYS` so the cluster tests need not wait days; release builds
/// never look ahead.
fn lifecycle_skew() -> time::Duration {
    #[cfg(debug_assertions)]
    if let Some(d) = std::env::var("RUSTSHARE_LIFECYCLE_SKEW_DAYS")
        .ok()
        .and_then(|v| v.parse::<i64>().ok())
    {
        return time::Duration::days(d);
    }
    time::Duration::ZERO
}
