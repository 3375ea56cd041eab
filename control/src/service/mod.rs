//! [`Core`]: the domain service the edge calls. Validation, ids, secrets, caching and
//! quota arithmetic live here; rows live behind [`Repo`].

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use rand::Rng;
use rand::distributions::Alphanumeric;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use time::OffsetDateTime;

use crate::admin::{AdminAction, Target, require};
use crate::cors::CorsRule;
use crate::db::{
    Change, ObjectRecord, PartRecord, Repo, ReservationRecord, SealedTable, SessionRecord, TrafficSample, UploadExtras, UploadRecord,
};
use crate::model::{
    AdminPrincipal, AuditEvent, AuditFilter, CacheOverride, Identity, NewAuditEvent, PermissionMode, PublicationRules, Purpose,
    RegistryNamespace, Repository, RepositoryConfig, RetentionRules, Robot, RobotAccess, Space, Tenant, Usage, Versioning, Visibility,
    validate_prefix, validate_slug,
};
use crate::seal::MasterKey;
use crate::tags::TagSet;
use crate::{Error, Result};
pub use cors::BucketCors;
pub use versions::{KeyState, VersionQuery, new_version_id};

pub use facade::Control;

mod audit;
mod cluster;
mod cors;
mod facade;
mod identities;
mod lifecycle;
mod lock;
mod master_keys;
mod names_cache;
mod publication;
mod registry;
mod repositories;
mod sessions;
mod spaces;
mod tenants;
mod usage;
mod versions;

/// How long a cached credential is trusted before the database is asked again. Revocation on
/// this node clears the cache at once and other nodes learn of it through the change feed
/// ([`Core::poll_changes`]); this bounds how late they notice if the feed is not polled.
const CREDENTIAL_TTL: Duration = Duration::from_secs(2);
/// A reservation stops counting this long after its node last renewed it, so a node killed
/// mid-upload holds no quota for longer.
const RESERVATION_LIFETIME: time::Duration = time::Duration::minutes(2);
/// How often a node renews the reservations it holds.
const RESERVATION_RENEW: Duration = Duration::from_secs(30);
/// The change feed keeps this much history (a node that was away longer starts afresh).
const CHANGE_HISTORY: time::Duration = time::Duration::minutes(10);
const TOUCH_EVERY: Duration = Duration::from_secs(60);

/// What the S3 face needs to verify and authorize a request.
#[derive(Clone)]
pub struct Credential {
    /// The identity.
    pub identity: Identity,
    /// Its space.
    pub space: Space,
    /// The plain secret, for SigV4. Never logged: `Debug` hides it.
    pub secret: String,
}

impl std::fmt::Debug for Credential {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credential")
            .field("identity", &self.identity.id)
            .field("space", &self.space.id)
            .finish_non_exhaustive()
    }
}

/// Input for creating a space.
#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NewSpace {
    /// Tenant id or name; tenant tokens may omit it.
    pub tenant: Option<String>,
    /// Slug, unique in the tenant.
    pub name: String,
    /// Purpose (default generic).
    pub purpose: Option<Purpose>,
    /// Visibility (default private).
    pub visibility: Option<Visibility>,
    /// Quota in bytes.
    pub quota_bytes: Option<u64>,
    /// Workspace id.
    pub workspace_id: Option<String>,
}

/// Input for creating an S3 identity.
#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NewIdentity {
    /// Name, unique in the space.
    pub name: String,
    /// Permission mode.
    pub mode: PermissionMode,
    /// Allowed prefix inside the space (empty or ending in `/`).
    #[serde(default)]
    pub prefix: String,
    /// Absolute expiry.
    #[serde(default, with = "time::serde::rfc3339::option")]
    #[schemars(with = "Option<crate::model::DateTime>")]
    pub expires_at: Option<OffsetDateTime>,
    /// Expiry relative to now, in seconds.
    pub expires_in_seconds: Option<u64>,
}

/// A new identity and its secret, which is shown this once.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct CreatedIdentity {
    /// The identity.
    pub identity: Identity,
    /// The secret access key.
    pub secret_access_key: String,
    /// The space it belongs to.
    pub space: Space,
}

/// Changes to a space's public web access; absent fields keep their current (or default) value.
#[derive(Debug, Clone, Default, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PublicationInput {
    /// See [`PublicationRules::public_name`].
    pub public_name: Option<String>,
    /// See [`PublicationRules::prefixes`].
    pub prefixes: Option<Vec<String>>,
    /// See [`PublicationRules::public_base_url`].
    pub public_base_url: Option<String>,
    /// See [`PublicationRules::cache_control`].
    pub cache_control: Option<String>,
    /// See [`PublicationRules::cache_overrides`].
    pub cache_overrides: Option<Vec<CacheOverride>>,
    /// See [`PublicationRules::immutable_prefixes`].
    pub immutable_prefixes: Option<Vec<String>>,
    /// See [`PublicationRules::allowed_content_types`].
    pub allowed_content_types: Option<Vec<String>>,
    /// See [`PublicationRules::directory_listing`].
    pub directory_listing: Option<bool>,
    /// See [`PublicationRules::cors_origins`].
    pub cors_origins: Option<Vec<String>>,
}

/// A published space as the CDN face needs it.
#[derive(Debug, Clone)]
pub struct PublicSite {
    /// The space.
    pub space: Space,
    /// Its rules (enabled).
    pub rules: PublicationRules,
}

impl PublicSite {
    /// A site the caller assembled itself (the packages face serves a repository this way).
    #[must_use]
    pub fn new(space: Space, rules: PublicationRules) -> Self {
        Self { space, rules }
    }
}

/// What the background writer stores, in the order it was queued.
enum AuditMsg {
    Event(OffsetDateTime, Box<NewAuditEvent>),
    /// A change for the feed, queued by request paths ([`Core::announce_soon`]).
    Change(OffsetDateTime, ChangeKind),
    Flush(mpsc::SyncSender<()>),
}

/// A repository (or its absence) as read, and when.
type CachedRepository = (Option<Arc<Repository>>, Instant);

struct Inner {
    /// The threads that call the database for async callers.
    exec: crate::exec::DbExec,
    /// Every date this service stores or compares, and every cache age it measures.
    clock: Arc<dyn crate::clock::Clock>,
    repo: Arc<dyn Repo>,
    /// Replaced whole during a master key rotation.
    key: RwLock<MasterKey>,
    /// Credentials read lately, for [`CREDENTIAL_TTL`]; a load is shared by every request that
    /// asks for the same key meanwhile (`try_get_with`).
    creds: moka::sync::Cache<String, Arc<Credential>>,
    /// Credential loads from the database, for the tests.
    cred_loads: AtomicU64,
    touched: Mutex<HashMap<String, Instant>>,
    audit_tx: Mutex<mpsc::Sender<AuditMsg>>,
    sites: names_cache::NameCache<PublicSite>,
    /// S3 CORS rules by bucket name, for preflights (which carry no credential).
    cors: names_cache::NameCache<cors::BucketCors>,
    /// Spaces by bucket name, for tenant-wide keys.
    buckets: names_cache::NameCache<Space>,
    /// Repositories the packages face served lately (or found absent), and when they were read.
    repos: RwLock<HashMap<String, CachedRepository>>,
    /// This process's name in the change feed.
    node: String,
    /// The newest change this node has applied, when old changes were last pruned, and when
    /// this node last renewed its quota reservations.
    feed: Mutex<(i64, Instant, Instant)>,
}

/// What one node tells the others through the change feed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChangeKind {
    /// Identities, spaces or publication rules changed: drop cached credentials and sites.
    Caches,
    /// Drop cached responses of a space: one key, or every key under a prefix.
    Purge {
        /// Space id (or the packages face's `repo:<name>` namespace).
        space_id: String,
        /// One key, or (with `prefix`) a prefix.
        key: String,
        /// Whether `key` is a prefix.
        prefix: bool,
    },
    /// A repository's current snapshot changed (publish or rollback).
    Repository {
        /// Repository name.
        name: String,
    },
    /// Secrets are now sealed under the master key with this fingerprint: re-read the key file
    /// and seal with that key.
    MasterKey {
        /// [`MasterKey::fingerprint`] of the new key.
        fingerprint: String,
    },
}

impl ChangeKind {
    fn to_row(&self) -> (&'static str, Option<&str>, Option<&str>) {
        match self {
            Self::Caches => ("caches", None, None),
            Self::Purge {
                space_id,
                key,
                prefix: false,
            } => ("purge-key", Some(space_id), Some(key)),
            Self::Purge {
                space_id,
                key,
                prefix: true,
            } => ("purge-prefix", Some(space_id), Some(key)),
            Self::Repository { name } => ("repository", None, Some(name)),
            Self::MasterKey { fingerprint } => ("master-key", None, Some(fingerprint)),
        }
    }

    fn from_row(c: Change) -> Option<Self> {
        Some(match c.kind.as_str() {
            "caches" => Self::Caches,
            "purge-key" | "purge-prefix" => Self::Purge {
                prefix: c.kind == "purge-prefix",
                space_id: c.space_id?,
                key: c.detail.unwrap_or_default(),
            },
            "repository" => Self::Repository { name: c.detail? },
            "master-key" => Self::MasterKey { fingerprint: c.detail? },
            _ => return None,
        })
    }
}

/// The control service. Cheap to clone.
#[derive(Clone)]
pub struct Core {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Core {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Core").finish_non_exhaustive()
    }
}

/// Bytes promised to an upload in progress (in the database, so every node counts them);
/// released when dropped.
pub struct Reservation {
    inner: Arc<Inner>,
    /// `None` for a space without a quota: nothing to count against.
    id: Option<String>,
    space_id: String,
    bytes: u64,
}

impl std::fmt::Debug for Reservation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Reservation")
            .field("space_id", &self.space_id)
            .field("bytes", &self.bytes)
            .finish_non_exhaustive()
    }
}

impl Reservation {
    /// Releases the reservation and waits until the space no longer counts it: what a request
    /// does once its bytes are accounted, so the next request sees the quota exactly.
    pub async fn release(mut self) {
        if let Some(id) = self.id.take() {
            let (inner, space) = (self.inner.clone(), self.space_id.clone());
            let r = self.inner.exec.run(move || inner.repo.release(&id)).await;
            if let Err(e) = r {
                // It expires by itself; until then the space counts it.
                tracing::warn!(%space, "releasing a quota reservation: {e}");
            }
        }
    }
}

impl Drop for Reservation {
    /// A reservation dropped without [`Reservation::release`] (an upload that failed) is
    /// released at once on a thread that may block, else on the database executor without
    /// waiting.
    fn drop(&mut self) {
        if let Some(id) = self.id.take() {
            let (inner, space) = (self.inner.clone(), self.space_id.clone());
            let release = move || {
                if let Err(e) = inner.repo.release(&id) {
                    tracing::warn!(%space, "releasing a quota reservation: {e}");
                }
            };
            self.inner.exec.spawn(release);
        }
    }
}

/// A cluster-wide lease from [`Core::try_lease`]; released when dropped.
pub struct Lease {
    inner: Arc<Inner>,
    name: String,
    holder: String,
}

impl std::fmt::Debug for Lease {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Lease").field("name", &self.name).finish_non_exhaustive()
    }
}

impl Lease {
    /// Extends the lease to `ttl` from now; `false` if it was lost (expired and taken).
    ///
    /// # Errors
    /// Database errors.
    pub async fn renew(&self, ttl: Duration) -> Result<bool> {
        let (inner, name, holder) = (self.inner.clone(), self.name.clone(), self.holder.clone());
        self.inner
            .exec
            .run(move || {
                let t = inner.now();
                inner.repo.try_lease(&name, &holder, t, lease_end(t, ttl))
            })
            .await
    }
}

/// A [`Lease`] kept alive: renewed every third of its lifetime while held, released when
/// dropped. For work that may outlast one lifetime (a publish, a large conditional upload); a
/// node that dies stops renewing, and the lease lapses `ttl` later.
#[derive(Debug)]
pub struct HeldLease {
    renew: tokio::task::JoinHandle<()>,
    // Dropped after the renewal is stopped: the lease is released then.
    lease: Arc<Lease>,
}

impl Lease {
    /// Keeps this lease alive with lifetime `ttl` until the returned value is dropped. Must be
    /// called within a tokio runtime.
    #[must_use]
    pub fn hold(self, ttl: Duration) -> HeldLease {
        let lease = Arc::new(self);
        let held = lease.clone();
        let renew = tokio::spawn(async move {
            loop {
                tokio::time::sleep(ttl / 3).await;
                match held.renew(ttl).await {
                    Ok(true) => {}
                    Ok(false) => {
                        tracing::error!(lease = %held.name, "a held lease was lost (expired and taken by another holder)");
                        return;
                    }
                    Err(e) => tracing::warn!(lease = %held.name, "renewing a lease: {e}"),
                }
            }
        });
        HeldLease { renew, lease }
    }
}

impl HeldLease {
    /// Releases the lease and waits until the database no longer holds it, so that the
    /// holder's next request finds it free (dropping releases it too, but in the background).
    pub async fn release(self) {
        self.renew.abort();
        let lease = self.lease.clone();
        let (inner, name, holder) = (lease.inner.clone(), lease.name.clone(), lease.holder.clone());
        let r = lease.inner.exec.run(move || inner.repo.release_lease(&name, &holder)).await;
        if let Err(e) = r {
            // It expires by itself.
            tracing::warn!(lease = %lease.name, "releasing a lease: {e}");
        }
        // The drop's own release finds nothing of this holder's left: a no-op.
    }
}

impl Drop for HeldLease {
    fn drop(&mut self) {
        self.renew.abort();
    }
}

fn lease_end(from: OffsetDateTime, ttl: Duration) -> OffsetDateTime {
    from + time::Duration::seconds(i64::try_from(ttl.as_secs()).unwrap_or(i64::MAX / 2))
}

impl Drop for Lease {
    fn drop(&mut self) {
        let (inner, name, holder) = (self.inner.clone(), self.name.clone(), self.holder.clone());
        let release = move || {
            if let Err(e) = inner.repo.release_lease(&name, &holder) {
                // It expires by itself.
                tracing::warn!(lease = %name, "releasing a lease: {e}");
            }
        };
        self.inner.exec.spawn(release);
    }
}

fn random(n: usize) -> String {
    rand::thread_rng().sample_iter(&Alphanumeric).take(n).map(char::from).collect()
}

/// A random lower-case name for test fixtures (database schemas).
#[cfg(test)]
pub(crate) fn test_id() -> String {
    random(12).to_lowercase()
}

fn new_id(prefix: &str) -> String {
    format!("{prefix}{}", random(16).to_lowercase())
}

/// `RS3` + 17 upper-case alphanumerics.
fn new_access_key() -> String {
    format!("RS3{}", random(17).to_uppercase())
}

fn hash_token(t: &str) -> String {
    hex::encode(Sha256::digest(t.as_bytes()))
}

impl Inner {
    fn now(&self) -> OffsetDateTime {
        self.clock.wall()
    }

    /// How long ago `t` (read from this clock) was.
    fn age(&self, t: Instant) -> Duration {
        self.clock.now().saturating_duration_since(t)
    }
}

impl Core {
    /// Now, by this service's clock.
    #[must_use]
    pub fn now(&self) -> OffsetDateTime {
        self.inner.now()
    }

    /// This service's clock, for the components that decide by the same time.
    #[must_use]
    pub fn clock(&self) -> Arc<dyn crate::clock::Clock> {
        self.inner.clock.clone()
    }

    /// The database executor.
    pub(crate) fn exec(&self) -> &crate::exec::DbExec {
        &self.inner.exec
    }

    /// A service on `repo`, sealing secrets under `key`, on the system clock. Starts the audit
    /// writer thread.
    #[must_use]
    pub fn new(repo: Arc<dyn Repo>, key: MasterKey) -> Self {
        Self::with_clock(repo, key, crate::clock::system())
    }

    /// [`Core::new`] on the given clock: tests move it to expire keys, sessions and leases.
    #[must_use]
    pub fn with_clock(repo: Arc<dyn Repo>, key: MasterKey, clock: Arc<dyn crate::clock::Clock>) -> Self {
        let (tx, rx) = mpsc::channel::<AuditMsg>();
        let writer_repo = repo.clone();
        let node = new_id("node_");
        let writer_node = node.clone();
        std::thread::Builder::new()
            .name("audit-writer".into())
            .spawn(move || audit_writer(&*writer_repo, &writer_node, &rx))
            .map_or_else(|e| tracing::error!("cannot start the audit writer: {e}"), |_| ());
        // Changes made before this start concern caches this node does not have yet. Read on a
        // thread of its own: this may run on an async runtime's thread.
        let seen = std::thread::scope(|s| s.spawn(|| repo.last_change()).join())
            .unwrap_or_else(|_| Err(Error::Db("reading the change feed panicked".into())))
            .unwrap_or_else(|e| {
                tracing::warn!("reading the change feed: {e}");
                0
            });
        Self {
            inner: Arc::new(Inner {
                exec: crate::exec::DbExec::new(repo.parallelism()),
                feed: Mutex::new((seen, clock.now(), clock.now())),
                clock,
                repo,
                key: RwLock::new(key),
                creds: moka::sync::Cache::builder()
                    .max_capacity(100_000)
                    .time_to_live(CREDENTIAL_TTL)
                    .build(),
                cred_loads: AtomicU64::new(0),
                touched: Mutex::new(HashMap::new()),
                audit_tx: Mutex::new(tx),
                sites: names_cache::NameCache::new(),
                cors: names_cache::NameCache::new(),
                buckets: names_cache::NameCache::new(),
                repos: RwLock::new(HashMap::new()),
                node,
            }),
        }
    }
}

fn add_change(repo: &dyn Repo, node: &str, at: OffsetDateTime, change: &ChangeKind) {
    let (kind, space, detail) = change.to_row();
    if let Err(e) = repo.add_change(at, node, kind, space, detail) {
        tracing::warn!("announcing a {kind} change to other nodes: {e}");
    }
}

fn audit_writer(repo: &dyn Repo, node: &str, rx: &mpsc::Receiver<AuditMsg>) {
    while let Ok(first) = rx.recv() {
        let mut batch = Vec::new();
        let mut changes = Vec::new();
        let mut flushes = Vec::new();
        let mut next = Some(first);
        while let Some(m) = next.take() {
            match m {
                AuditMsg::Event(t, e) => batch.push((t, *e)),
                AuditMsg::Change(t, c) => changes.push((t, c)),
                AuditMsg::Flush(f) => flushes.push(f),
            }
            if batch.len() + changes.len() < 500 {
                next = rx.try_recv().ok();
            }
        }
        if !batch.is_empty()
            && let Err(e) = repo.insert_audit(&batch)
        {
            tracing::error!("writing {} audit events: {e}", batch.len());
        }
        for (t, c) in &changes {
            add_change(repo, node, *t, c);
        }
        for f in flushes {
            let _ = f.send(());
        }
    }
}

#[cfg(test)]
mod tests;
