//! [`Control`]: the domain service the edge calls. Validation, ids, secrets, caching and
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
use crate::db::{Change, PartRecord, Repo, ReservationRecord, SealedTable, SessionRecord, TrafficSample, UploadRecord};
use crate::model::{
    AdminPrincipal, AuditEvent, AuditFilter, CacheOverride, Identity, NewAuditEvent, PermissionMode, PublicationRules, Purpose,
    RegistryNamespace, Repository, RepositoryConfig, RetentionRules, Robot, RobotAccess, Space, Tenant, Usage, Visibility, validate_prefix,
    validate_slug,
};
use crate::seal::MasterKey;
use crate::{Error, Result};

/// How long a cached credential is trusted before the database is asked again. Revocation on
/// this node clears the cache at once and other nodes learn of it through the change feed
/// ([`Control::poll_changes`]); this bounds how late they notice if the feed is not polled.
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
    loaded: Instant,
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
#[derive(Debug, Clone, Deserialize)]
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
#[derive(Debug, Clone, Deserialize)]
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
    pub expires_at: Option<OffsetDateTime>,
    /// Expiry relative to now, in seconds.
    pub expires_in_seconds: Option<u64>,
}

/// A new identity and its secret, which is shown this once.
#[derive(Debug, Clone, Serialize)]
pub struct CreatedIdentity {
    /// The identity.
    pub identity: Identity,
    /// The secret access key.
    pub secret_access_key: String,
    /// The space it belongs to.
    pub space: Space,
}

/// Changes to a space's public web access; absent fields keep their current (or default) value.
#[derive(Debug, Clone, Default, Deserialize)]
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
    loaded: Instant,
}

impl PublicSite {
    /// A site the caller assembled itself (the packages face serves a repository this way).
    #[must_use]
    pub fn new(space: Space, rules: PublicationRules) -> Self {
        Self {
            space,
            rules,
            loaded: Instant::now(),
        }
    }
}

/// What the background writer stores, in the order it was queued.
enum AuditMsg {
    Event(OffsetDateTime, Box<NewAuditEvent>),
    /// A change for the feed, queued by request paths ([`Control::announce_soon`]).
    Change(OffsetDateTime, ChangeKind),
    Flush(mpsc::SyncSender<()>),
}

struct Inner {
    repo: Arc<dyn Repo>,
    /// Replaced whole during a master key rotation.
    key: RwLock<MasterKey>,
    creds: RwLock<HashMap<String, Arc<Credential>>>,
    /// One gate per access key being loaded, so the requests in flight when a cached credential
    /// expires wait for one query rather than each making its own.
    cred_gates: Mutex<HashMap<String, Arc<Mutex<()>>>>,
    /// Credentials read from the database (for tests of the gate).
    cred_loads: AtomicU64,
    touched: Mutex<HashMap<String, Instant>>,
    audit_tx: Mutex<mpsc::Sender<AuditMsg>>,
    sites: RwLock<HashMap<String, Option<Arc<PublicSite>>>>,
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
pub struct Control {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Control {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Control").finish_non_exhaustive()
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
            .finish()
    }
}

impl Drop for Reservation {
    fn drop(&mut self) {
        if let Some(id) = self.id.take()
            && let Err(e) = self.inner.repo.release(&id)
        {
            // It expires by itself; until then the space counts it.
            tracing::warn!(space = %self.space_id, "releasing a quota reservation: {e}");
        }
    }
}

/// A cluster-wide lease from [`Control::try_lease`]; released when dropped.
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
    pub fn renew(&self, ttl: Duration) -> Result<bool> {
        let t = now();
        self.inner.repo.try_lease(&self.name, &self.holder, t, lease_end(t, ttl))
    }
}

fn lease_end(from: OffsetDateTime, ttl: Duration) -> OffsetDateTime {
    from + time::Duration::seconds(i64::try_from(ttl.as_secs()).unwrap_or(i64::MAX / 2))
}

impl Drop for Lease {
    fn drop(&mut self) {
        if let Err(e) = self.inner.repo.release_lease(&self.name, &self.holder) {
            // It expires by itself.
            tracing::warn!(lease = %self.name, "releasing a lease: {e}");
        }
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

fn now() -> OffsetDateTime {
    OffsetDateTime::now_utc()
}

impl Control {
    /// A service on `repo`, sealing secrets under `key`. Starts the audit writer thread.
    #[must_use]
    pub fn new(repo: Arc<dyn Repo>, key: MasterKey) -> Self {
        let (tx, rx) = mpsc::channel::<AuditMsg>();
        let writer_repo = repo.clone();
        let node = new_id("node_");
        let writer_node = node.clone();
        std::thread::Builder::new()
            .name("audit-writer".into())
            .spawn(move || audit_writer(&*writer_repo, &writer_node, &rx))
            .map(|_| ())
            .unwrap_or_else(|e| tracing::error!("cannot start the audit writer: {e}"));
        // Changes made before this start concern caches this node does not have yet.
        let seen = repo.last_change().unwrap_or_else(|e| {
            tracing::warn!("reading the change feed: {e}");
            0
        });
        Self {
            inner: Arc::new(Inner {
                repo,
                key: RwLock::new(key),
                creds: RwLock::new(HashMap::new()),
                cred_gates: Mutex::new(HashMap::new()),
                cred_loads: AtomicU64::new(0),
                touched: Mutex::new(HashMap::new()),
                audit_tx: Mutex::new(tx),
                sites: RwLock::new(HashMap::new()),
                node,
                feed: Mutex::new((seen, Instant::now(), Instant::now())),
            }),
        }
    }

    /// Takes a cluster-wide lease (one holder at a time across every node) for `ttl`, unless
    /// another holder has it. Dropping the lease releases it; a node that dies loses it after
    /// `ttl`.
    ///
    /// # Errors
    /// Database errors.
    pub fn try_lease(&self, name: &str, ttl: Duration) -> Result<Option<Lease>> {
        let holder = format!("{}:{}", self.inner.node, new_id(""));
        let t = now();
        Ok(self.inner.repo.try_lease(name, &holder, t, lease_end(t, ttl))?.then(|| Lease {
            inner: self.inner.clone(),
            name: name.to_owned(),
            holder,
        }))
    }

    /// Drops every lease: for a single node's start (SQLite), where a lease can only be left
    /// over from this node's previous, killed process.
    ///
    /// # Errors
    /// Database errors.
    pub fn clear_leases(&self) -> Result<u64> {
        self.inner.repo.clear_leases()
    }

    /// Every space of every tenant, for maintenance passes (reconciliation).
    ///
    /// # Errors
    /// Database errors.
    pub fn all_spaces(&self) -> Result<Vec<Space>> {
        self.inner.repo.list_spaces(None)
    }

    /// Every package repository of every tenant, for maintenance passes (reconciliation).
    ///
    /// # Errors
    /// Database errors.
    pub fn all_repositories(&self) -> Result<Vec<Repository>> {
        self.inner.repo.list_repositories(None)
    }

    /// Replaces a space's object list and usage with what the store holds (`entries`: keys in
    /// the space's own namespace and their sizes), and its uploads in progress with the store's
    /// (`uploads`: upload id and the parts the store holds, for the uploads this space knows and
    /// the store still has); returns the usage before and after. For `rustshare admin reconcile`
    /// and a single node's start after an unclean stop, when a crash fell between a store write
    /// and its accounting: an upload the store completed or dropped is forgotten, and parts the
    /// store kept count.
    ///
    /// # Errors
    /// Database errors.
    pub fn reconcile_space(
        &self,
        space_id: &str,
        entries: &[(String, u64)],
        uploads: &[(String, Vec<PartRecord>)],
    ) -> Result<(Usage, Usage)> {
        let before = self.inner.repo.usage(space_id)?;
        self.inner.repo.replace_objects(space_id, entries)?;
        let in_store: HashMap<&str, &Vec<PartRecord>> = uploads.iter().map(|(id, parts)| (id.as_str(), parts)).collect();
        for u in self.inner.repo.list_uploads(space_id, "")? {
            match in_store.get(u.upload_id.as_str()) {
                None => self.inner.repo.remove_upload(&u.upload_id)?,
                Some(parts) => {
                    if self.inner.repo.parts(&u.upload_id)? != **parts {
                        self.inner.repo.replace_parts(&u.upload_id, parts)?;
                    }
                }
            }
        }
        let after = self.inner.repo.usage(space_id)?;
        Ok((before, after))
    }

    /// Drops every quota reservation: for a single node's start (SQLite), where a reservation
    /// can only be left over from this node's previous, killed process.
    ///
    /// # Errors
    /// Database errors.
    pub fn clear_reservations(&self) -> Result<u64> {
        self.inner.repo.clear_reservations()
    }

    /// Keeps this node's reservations alive for another [`RESERVATION_LIFETIME`] from `at`.
    ///
    /// # Errors
    /// Database errors.
    pub fn renew_reservations(&self, at: OffsetDateTime) -> Result<u64> {
        self.inner.repo.renew_reservations(&self.inner.node, at + RESERVATION_LIFETIME)
    }

    /// Tells every other node of a change (this node has applied it already); stored before
    /// this returns.
    pub fn announce(&self, change: &ChangeKind) {
        add_change(&*self.inner.repo, &self.inner.node, now(), change);
    }

    /// [`Control::announce`] off the caller's path: the background writer stores it within
    /// milliseconds, in order with the others. For request paths (every S3 write drops cached
    /// copies), where a database round trip per request would be paid by the client.
    pub fn announce_soon(&self, change: ChangeKind) {
        let tx = self.inner.audit_tx.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if tx.send(AuditMsg::Change(now(), change)).is_err() {
            tracing::error!("the background writer has stopped; a change for other nodes was lost");
        }
    }

    /// Applies the other nodes' changes made since the last call: cached credentials and sites
    /// are dropped here; purges and repository switches are returned for the edge's own caches.
    /// Every node calls this a few times a second.
    ///
    /// # Errors
    /// Database errors (the next call picks up where this one failed).
    pub fn poll_changes(&self) -> Result<Vec<ChangeKind>> {
        let mut feed = self.inner.feed.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let mut out = Vec::new();
        loop {
            let batch = self.inner.repo.changes_after(feed.0, 1000)?;
            let Some(last) = batch.last() else { break };
            feed.0 = last.seq;
            let full = batch.len() == 1000;
            for c in batch {
                if c.origin == self.inner.node {
                    continue;
                }
                match ChangeKind::from_row(c) {
                    Some(ChangeKind::Caches) => self.clear_caches(),
                    Some(other) => out.push(other),
                    None => {}
                }
            }
            if !full {
                break;
            }
        }
        if feed.2.elapsed() >= RESERVATION_RENEW {
            feed.2 = Instant::now();
            if let Err(e) = self.renew_reservations(now()) {
                tracing::warn!("renewing quota reservations: {e}");
            }
        }
        if feed.1.elapsed() > Duration::from_secs(60) {
            feed.1 = Instant::now();
            let t = now();
            if let Err(e) = self.inner.repo.prune(t - CHANGE_HISTORY, t) {
                tracing::warn!("pruning the change feed: {e}");
            }
        }
        Ok(out)
    }

    fn key(&self) -> std::sync::RwLockReadGuard<'_, MasterKey> {
        self.inner.key.read().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The fingerprint of the key that seals now.
    #[must_use]
    pub fn master_key_fingerprint(&self) -> String {
        self.key().fingerprint()
    }

    /// Rotates the master key without downtime: `ring` (the new key first, the old ones after
    /// it, as [`MasterKey::rotated_to`] makes) replaces this node's key, every stored secret
    /// (S3 secrets, repository signing keys, registry secrets) is re-sealed under the new key in
    /// one transaction, and the other nodes are told to switch to it (their key files must list
    /// it). Returns how many secrets were re-sealed.
    ///
    /// # Errors
    /// [`Error::Seal`] if a secret opens under no key of `ring` (nothing is changed then);
    /// database errors (nothing is changed either).
    pub fn rotate_master_key(&self, p: &AdminPrincipal, ring: MasterKey) -> Result<usize> {
        require(p, AdminAction::ManageMasterKey, Target::Installation, "installation")?;
        let rows = self.inner.repo.sealed_secrets()?;
        let mut resealed: Vec<(SealedTable, String, Vec<u8>)> = Vec::with_capacity(rows.len());
        for (table, id, sealed) in rows {
            let plain = ring.unseal(&sealed)?;
            resealed.push((table, id, ring.seal(&plain)?));
        }
        // The ring opens old and new secrets alike, so this node reads everything whether or
        // not the re-seal below commits.
        let fingerprint = ring.fingerprint();
        *self.inner.key.write().unwrap_or_else(std::sync::PoisonError::into_inner) = ring;
        self.inner.repo.reseal(&resealed)?;
        self.clear_caches();
        self.announce(&ChangeKind::MasterKey {
            fingerprint: fingerprint.clone(),
        });
        self.audit_security(
            p,
            None,
            None,
            None,
            "master_key.rotated",
            Some(format!("fingerprint={fingerprint} resealed={}", resealed.len())),
        );
        Ok(resealed.len())
    }

    /// Replaces this node's key ring (a re-read key file), promoting the key named by
    /// `fingerprint` to seal, if given and present. Returns whether the ring now seals with
    /// that key.
    pub fn use_master_key(&self, ring: MasterKey, fingerprint: Option<&str>) -> bool {
        let (ring, sealing) = match fingerprint.map(|fp| ring.promoted(fp)) {
            Some(Some(promoted)) => (promoted, true),
            Some(None) => (ring, false),
            None => (ring, true),
        };
        *self.inner.key.write().unwrap_or_else(std::sync::PoisonError::into_inner) = ring;
        self.clear_caches();
        sealing
    }

    /// The repository, for health checks.
    #[must_use]
    pub fn repo(&self) -> &dyn Repo {
        &*self.inner.repo
    }

    // ---- admin tokens ----

    /// Makes sure an operator token exists. With `explicit`, that value becomes one (if it is
    /// not already known). Without, and if none exists, one is generated and returned so the
    /// caller can show it once.
    ///
    /// # Errors
    /// Database errors.
    pub fn bootstrap_operator(&self, explicit: Option<&str>) -> Result<Option<String>> {
        let r = &self.inner.repo;
        if let Some(t) = explicit {
            if t.len() < 16 {
                return Err(Error::Invalid("RUSTSHARE_ADMIN_TOKEN must be at least 16 characters".into()));
            }
            if r.token_by_hash(&hash_token(t))?.is_none() {
                match r.insert_token(&new_id("tok_"), None, "operator", &hash_token(t), now()) {
                    // Another node starting with the same token stored it first.
                    Ok(()) | Err(Error::Conflict(_)) => {}
                    Err(e) => return Err(e),
                }
            }
            return Ok(None);
        }
        if r.operator_token_count()? > 0 {
            return Ok(None);
        }
        let token = format!("rsat_{}", random(40));
        r.insert_token(&new_id("tok_"), None, "operator", &hash_token(&token), now())?;
        Ok(Some(token))
    }

    /// Resolves a bearer token.
    ///
    /// # Errors
    /// [`Error::Unauthorized`] if unknown or revoked.
    pub fn authenticate(&self, token: &str) -> Result<AdminPrincipal> {
        self.inner.repo.token_by_hash(&hash_token(token))?.ok_or(Error::Unauthorized)
    }

    // ---- tenants ----

    /// Creates a tenant (operator only).
    ///
    /// # Errors
    /// [`Error::Forbidden`], [`Error::Invalid`], [`Error::Conflict`].
    pub fn create_tenant(&self, p: &AdminPrincipal, name: &str) -> Result<Tenant> {
        require(p, AdminAction::CreateTenant, Target::Installation, "installation")?;
        validate_slug("tenant name", name)?;
        let t = Tenant {
            id: new_id("t_"),
            name: name.to_owned(),
            created_at: now(),
        };
        self.inner.repo.insert_tenant(&t)?;
        self.audit_security(p, Some(&t.id), None, None, "tenant.created", Some(format!("name={name}")));
        Ok(t)
    }

    /// Tenants the principal can see.
    ///
    /// # Errors
    /// Database errors.
    pub fn list_tenants(&self, p: &AdminPrincipal) -> Result<Vec<Tenant>> {
        Ok(self
            .inner
            .repo
            .list_tenants()?
            .into_iter()
            .filter(|t| require(p, AdminAction::Read, Target::Tenant(&t.id), "tenant").is_ok())
            .collect())
    }

    /// The tenant named (a tenant admin's own when none is), once `p` may do `action` on it.
    fn tenant_for(&self, p: &AdminPrincipal, id_or_name: Option<&str>, action: AdminAction) -> Result<Tenant> {
        let key = match (id_or_name, &p.tenant_id) {
            (Some(k), _) => k.to_owned(),
            (None, Some(t)) => t.clone(),
            (None, None) => return Err(Error::Invalid("tenant is required for operator tokens".into())),
        };
        let t = self.inner.repo.tenant(&key)?.ok_or(Error::NotFound("tenant"))?;
        require(p, action, Target::Tenant(&t.id), "tenant")?;
        Ok(t)
    }

    /// Issues a token scoped to one tenant (operator only); returns it once.
    ///
    /// # Errors
    /// [`Error::Forbidden`], [`Error::NotFound`], [`Error::Invalid`].
    pub fn create_tenant_token(&self, p: &AdminPrincipal, tenant: &str, name: &str) -> Result<String> {
        validate_slug("token name", name)?;
        let t = self.tenant_for(p, Some(tenant), AdminAction::IssueTenantToken)?;
        let token = format!("rsat_{}", random(40));
        self.inner
            .repo
            .insert_token(&new_id("tok_"), Some(&t.id), name, &hash_token(&token), now())?;
        self.audit_security(p, Some(&t.id), None, None, "token.created", Some(format!("name={name}")));
        Ok(token)
    }

    // ---- spaces ----

    /// Creates a space. Its bucket is `rs-<tenant>-<name>`.
    ///
    /// # Errors
    /// [`Error::Invalid`], [`Error::Conflict`], [`Error::NotFound`].
    pub fn create_space(&self, p: &AdminPrincipal, n: NewSpace) -> Result<Space> {
        validate_slug("space name", &n.name)?;
        let t = self.tenant_for(p, n.tenant.as_deref(), AdminAction::CreateSpace)?;
        let bucket = format!("rs-{}-{}", t.name, n.name);
        if bucket.len() > 63 {
            return Err(Error::Invalid(format!(
                "bucket name {bucket:?} would exceed 63 characters; choose a shorter space name"
            )));
        }
        // `rs-<tenant>-<space>` is unique in the database; tenant and space names may both hold
        // '-', so two tenants can reach the same name (`sq` + `x-art`, `sq-x` + `art`). Say so
        // rather than answer a bare conflict.
        if let Some(other) = self.inner.repo.space_by_bucket(&bucket)? {
            return Err(Error::Conflict(if other.tenant_id == t.id {
                format!("this tenant already has a space with bucket {bucket:?}")
            } else {
                format!("bucket name {bucket:?} is already taken by another tenant's space; choose another space name")
            }));
        }
        let id = new_id("sp_");
        let s = Space {
            base_prefix: format!("object-spaces/{}/{}/", t.id, id),
            id,
            tenant_id: t.id.clone(),
            workspace_id: n.workspace_id,
            name: n.name,
            bucket,
            visibility: n.visibility.unwrap_or(Visibility::Private),
            purpose: n.purpose.unwrap_or(Purpose::Generic),
            quota_bytes: n.quota_bytes,
            created_by: p.name.clone(),
            created_at: now(),
            disabled_at: None,
        };
        self.inner.repo.insert_space(&s)?;
        self.audit_security(
            p,
            Some(&s.tenant_id),
            Some(&s.id),
            None,
            "space.created",
            Some(format!("bucket={} purpose={}", s.bucket, s.purpose)),
        );
        Ok(s)
    }

    /// Spaces the principal can see.
    ///
    /// # Errors
    /// Database errors.
    pub fn list_spaces(&self, p: &AdminPrincipal) -> Result<Vec<Space>> {
        self.inner.repo.list_spaces(p.tenant_id.as_deref())
    }

    /// One space by id, bucket, or name within the principal's tenant.
    ///
    /// # Errors
    /// [`Error::NotFound`] if absent or not the principal's.
    pub fn space(&self, p: &AdminPrincipal, id: &str) -> Result<Space> {
        let r = &self.inner.repo;
        let found = match r.space(id)? {
            Some(s) => Some(s),
            None => match r.space_by_bucket(id)? {
                Some(s) => Some(s),
                None => match &p.tenant_id {
                    Some(t) => r.space_by_name(t, id)?,
                    None => None,
                },
            },
        };
        let s = found.ok_or(Error::NotFound("space"))?;
        require(p, AdminAction::Read, Target::Tenant(&s.tenant_id), "space")?;
        Ok(s)
    }

    /// Disables a space: every S3 request to it is refused from the next one on.
    ///
    /// # Errors
    /// [`Error::NotFound`].
    pub fn disable_space(&self, p: &AdminPrincipal, id: &str) -> Result<Space> {
        let s = self.space(p, id)?;
        require(p, AdminAction::Manage, Target::Tenant(&s.tenant_id), "space")?;
        if s.disabled_at.is_none() {
            self.inner.repo.set_space_disabled(&s.id, Some(now()))?;
            self.invalidate();
            self.audit_security(p, Some(&s.tenant_id), Some(&s.id), None, "space.disabled", None);
        }
        self.space(p, &s.id)
    }

    /// Sets or clears a space's quota.
    ///
    /// # Errors
    /// [`Error::NotFound`].
    pub fn set_quota(&self, p: &AdminPrincipal, id: &str, quota: Option<u64>) -> Result<Space> {
        let s = self.space(p, id)?;
        let action = AdminAction::SetQuota {
            current: s.quota_bytes,
            requested: quota,
        };
        require(p, action, Target::Tenant(&s.tenant_id), "space")?;
        self.inner.repo.set_space_quota(&s.id, quota)?;
        self.invalidate();
        let detail = quota.map_or_else(|| "quota=unlimited".to_owned(), |q| format!("quota={q}"));
        self.audit_security(p, Some(&s.tenant_id), Some(&s.id), None, "quota.changed", Some(detail));
        self.space(p, &s.id)
    }

    /// Usage of a space.
    ///
    /// # Errors
    /// [`Error::NotFound`].
    pub fn usage(&self, p: &AdminPrincipal, id: &str) -> Result<(Space, Usage)> {
        let s = self.space(p, id)?;
        let u = self.inner.repo.usage(&s.id)?;
        Ok((s, u))
    }

    // ---- identities ----

    /// Creates an S3 identity in a space; the secret is returned this once.
    ///
    /// # Errors
    /// [`Error::Invalid`], [`Error::Conflict`], [`Error::NotFound`].
    pub fn create_identity(&self, p: &AdminPrincipal, space: &str, n: NewIdentity) -> Result<CreatedIdentity> {
        let s = self.space(p, space)?;
        require(p, AdminAction::Manage, Target::Tenant(&s.tenant_id), "space")?;
        validate_slug("key name", &n.name)?;
        validate_prefix(&n.prefix)?;
        let t = now();
        let expires_at = match (n.expires_at, n.expires_in_seconds) {
            (Some(_), Some(_)) => return Err(Error::Invalid("give expires_at or expires_in_seconds, not both".into())),
            (Some(e), None) => Some(e),
            (None, Some(secs)) => Some(t + Duration::from_secs(secs)),
            (None, None) => None,
        };
        if expires_at.is_some_and(|e| e <= t) {
            return Err(Error::Invalid("expiry must be in the future".into()));
        }
        let secret = random(40);
        let identity = Identity {
            id: new_id("id_"),
            tenant_id: s.tenant_id.clone(),
            space_id: s.id.clone(),
            name: n.name,
            access_key_id: new_access_key(),
            mode: n.mode,
            allowed_prefix: n.prefix,
            expires_at,
            last_used_at: None,
            revoked_at: None,
            created_by: p.name.clone(),
            created_at: t,
            rotated_at: None,
        };
        let sealed = self.key().seal(secret.as_bytes())?;
        self.inner.repo.insert_identity(&identity, &sealed)?;
        self.audit_security(
            p,
            Some(&s.tenant_id),
            Some(&s.id),
            Some(&identity.id),
            "key.created",
            Some(format!(
                "access_key_id={} mode={} prefix={:?}",
                identity.access_key_id, identity.mode, identity.allowed_prefix
            )),
        );
        Ok(CreatedIdentity {
            identity,
            secret_access_key: secret,
            space: s,
        })
    }

    /// Identities of a space.
    ///
    /// # Errors
    /// [`Error::NotFound`].
    pub fn list_identities(&self, p: &AdminPrincipal, space: &str) -> Result<Vec<Identity>> {
        let s = self.space(p, space)?;
        self.inner.repo.list_identities(&s.id)
    }

    fn identity_for(&self, p: &AdminPrincipal, id_or_key: &str) -> Result<Identity> {
        let r = &self.inner.repo;
        let found = match r.identity(id_or_key)? {
            Some(i) => Some(i),
            None => r.identity_by_key(id_or_key)?.map(|(i, _)| i),
        };
        let i = found.ok_or(Error::NotFound("key"))?;
        require(p, AdminAction::Read, Target::Tenant(&i.tenant_id), "key")?;
        Ok(i)
    }

    /// Revokes an identity: its next request fails.
    ///
    /// # Errors
    /// [`Error::NotFound`].
    pub fn revoke_identity(&self, p: &AdminPrincipal, id_or_key: &str) -> Result<Identity> {
        let i = self.identity_for(p, id_or_key)?;
        require(p, AdminAction::Manage, Target::Tenant(&i.tenant_id), "key")?;
        self.inner.repo.revoke_identity(&i.id, now())?;
        self.invalidate();
        self.audit_security(
            p,
            Some(&i.tenant_id),
            Some(&i.space_id),
            Some(&i.id),
            "key.revoked",
            Some(format!("access_key_id={}", i.access_key_id)),
        );
        self.identity_for(p, &i.id)
    }

    /// Gives an identity a new secret, returned this once; the old one stops working at once.
    ///
    /// # Errors
    /// [`Error::NotFound`], [`Error::Invalid`] for a revoked key.
    pub fn rotate_identity(&self, p: &AdminPrincipal, id_or_key: &str) -> Result<CreatedIdentity> {
        let i = self.identity_for(p, id_or_key)?;
        require(p, AdminAction::Manage, Target::Tenant(&i.tenant_id), "key")?;
        if i.revoked_at.is_some() {
            return Err(Error::Invalid("a revoked key cannot be rotated; create a new key".into()));
        }
        let secret = random(40);
        self.inner
            .repo
            .rotate_identity(&i.id, &self.key().seal(secret.as_bytes())?, now())?;
        self.invalidate();
        self.audit_security(
            p,
            Some(&i.tenant_id),
            Some(&i.space_id),
            Some(&i.id),
            "key.rotated",
            Some(format!("access_key_id={}", i.access_key_id)),
        );
        let identity = self.identity_for(p, &i.id)?;
        let space = self.space(p, &identity.space_id)?;
        Ok(CreatedIdentity {
            identity,
            secret_access_key: secret,
            space,
        })
    }

    // ---- the S3 face ----

    /// The credential for an access key, from cache when fresh. Revoked and expired keys are
    /// returned too: the caller decides (policy) so the error can say why.
    ///
    /// # Errors
    /// Database or unsealing errors.
    pub fn credential(&self, access_key_id: &str) -> Result<Option<Arc<Credential>>> {
        if let Some(c) = self.credential_cached(access_key_id) {
            return Ok(Some(c));
        }
        let gate = self
            .inner
            .cred_gates
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .entry(access_key_id.to_owned())
            .or_default()
            .clone();
        let loaded = {
            let _turn = gate.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            match self.credential_cached(access_key_id) {
                Some(c) => Ok(Some(c)),
                None => self.load_credential(access_key_id),
            }
        };
        let mut gates = self.inner.cred_gates.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        // Clones are taken under this lock, so two references (the map's and this one) mean
        // nobody else is waiting on the gate.
        if Arc::strong_count(&gate) == 2 && gates.get(access_key_id).is_some_and(|g| Arc::ptr_eq(g, &gate)) {
            gates.remove(access_key_id);
        }
        loaded
    }

    /// [`Control::credential`] from memory only: `None` when the database must be asked, so
    /// callers on an async runtime can skip the blocking pool for a fresh hit.
    #[must_use]
    pub fn credential_cached(&self, access_key_id: &str) -> Option<Arc<Credential>> {
        self.inner
            .creds
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get(access_key_id)
            .filter(|c| c.loaded.elapsed() < CREDENTIAL_TTL)
            .cloned()
    }

    fn load_credential(&self, access_key_id: &str) -> Result<Option<Arc<Credential>>> {
        self.inner.cred_loads.fetch_add(1, Ordering::Relaxed);
        let Some((identity, sealed)) = self.inner.repo.identity_by_key(access_key_id)? else {
            return Ok(None);
        };
        let Some(space) = self.inner.repo.space(&identity.space_id)? else {
            return Ok(None);
        };
        let secret = self.key().unseal_text(&sealed)?;
        let c = Arc::new(Credential {
            identity,
            space,
            secret,
            loaded: Instant::now(),
        });
        self.inner
            .creds
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .insert(access_key_id.to_owned(), c.clone());
        Ok(Some(c))
    }

    /// Records that an identity was used (at most once a minute per identity).
    pub fn touch(&self, identity_id: &str) {
        let mut m = self.inner.touched.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if m.get(identity_id).is_some_and(|t| t.elapsed() < TOUCH_EVERY) {
            return;
        }
        m.insert(identity_id.to_owned(), Instant::now());
        drop(m);
        if let Err(e) = self.inner.repo.touch_identity(identity_id, now()) {
            tracing::warn!("recording key use: {e}");
        }
    }

    /// Drops cached credentials and sites here and on every other node.
    fn invalidate(&self) {
        self.clear_caches();
        self.announce(&ChangeKind::Caches);
    }

    fn clear_caches(&self) {
        self.inner.creds.write().unwrap_or_else(std::sync::PoisonError::into_inner).clear();
        self.inner.sites.write().unwrap_or_else(std::sync::PoisonError::into_inner).clear();
    }

    // ---- package repositories ----

    /// Registers a repository in a `packages` space. The caller made the signing key; its
    /// secret part arrives sealed by [`Control::seal`].
    ///
    /// # Errors
    /// [`Error::Invalid`], [`Error::Conflict`] for a taken name, [`Error::NotFound`] for the space.
    pub fn create_repository(&self, p: &AdminPrincipal, space: &str, mut repo: Repository, signing_sealed: &[u8]) -> Result<Repository> {
        validate_slug("a repository name", &repo.name)?;
        repo.config.validate()?;
        let s = self.space(p, space)?;
        require(p, AdminAction::Manage, Target::Tenant(&s.tenant_id), "space")?;
        if s.purpose != Purpose::Packages {
            return Err(Error::Invalid(format!(
                "space {:?} has purpose {}; repositories live in a space of purpose packages",
                s.name, s.purpose
            )));
        }
        repo.tenant_id.clone_from(&s.tenant_id);
        repo.space_id.clone_from(&s.id);
        repo.created_by.clone_from(&p.name);
        repo.created_at = now();
        self.inner.repo.insert_repository(&repo, signing_sealed)?;
        self.audit_admin(
            p,
            &s,
            "repo.created",
            Some(format!("repo={} fingerprint={}", repo.name, repo.fingerprint)),
        );
        Ok(repo)
    }

    /// One repository the principal may see.
    ///
    /// # Errors
    /// [`Error::NotFound`].
    pub fn repository(&self, p: &AdminPrincipal, name: &str) -> Result<Repository> {
        self.inner
            .repo
            .repository(name)?
            .map(|(r, _)| r)
            .ok_or(Error::NotFound("repository"))
            .and_then(|r| require(p, AdminAction::Read, Target::Tenant(&r.tenant_id), "repository").map(|()| r))
    }

    /// A repository by name, for anonymous reads on the packages face.
    ///
    /// # Errors
    /// Database errors.
    pub fn repository_public(&self, name: &str) -> Result<Option<Repository>> {
        let Some((r, _)) = self.inner.repo.repository(name)? else {
            return Ok(None);
        };
        // Disabled means disabled on every face: the repository of a disabled space is gone
        // for apt as its objects are for S3 and the CDN.
        match self.inner.repo.space(&r.space_id)? {
            Some(s) if s.disabled_at.is_none() => Ok(Some(r)),
            _ => Ok(None),
        }
    }

    /// The repository's signing key, unsealed, for the publisher only.
    ///
    /// # Errors
    /// [`Error::NotFound`], [`Error::Seal`].
    pub fn repository_signing_key(&self, name: &str) -> Result<Vec<u8>> {
        let (_, sealed) = self.inner.repo.repository(name)?.ok_or(Error::NotFound("repository"))?;
        self.key().unseal(&sealed)
    }

    /// Repositories the principal may see.
    ///
    /// # Errors
    /// Database errors.
    pub fn list_repositories(&self, p: &AdminPrincipal) -> Result<Vec<Repository>> {
        self.inner.repo.list_repositories(p.tenant_id.as_deref())
    }

    /// Replaces a repository's configuration; it applies from the next publish.
    ///
    /// # Errors
    /// [`Error::Invalid`], [`Error::NotFound`].
    pub fn update_repository(&self, p: &AdminPrincipal, name: &str, config: RepositoryConfig) -> Result<Repository> {
        let mut r = self.repository(p, name)?;
        require(p, AdminAction::Manage, Target::Tenant(&r.tenant_id), "repository")?;
        config.validate()?;
        self.inner.repo.set_repository_config(name, &config)?;
        r.config = config;
        let s = self.space(p, &r.space_id)?;
        self.audit_admin(p, &s, "repo.changed", Some(format!("repo={name}")));
        Ok(r)
    }

    /// Seals a secret under the master key.
    ///
    /// # Errors
    /// [`Error::Seal`].
    pub fn seal(&self, plain: &[u8]) -> Result<Vec<u8>> {
        self.key().seal(plain)
    }

    // ---- public web access ----

    /// A space's publication rules, if it ever had any.
    ///
    /// # Errors
    /// [`Error::NotFound`].
    pub fn publication(&self, p: &AdminPrincipal, space: &str) -> Result<(Space, Option<PublicationRules>)> {
        let s = self.space(p, space)?;
        let r = self.inner.repo.publication(&s.id)?;
        Ok((s, r))
    }

    /// Enables public web access (or changes its rules); takes effect on the next request.
    ///
    /// # Errors
    /// [`Error::Invalid`], [`Error::Conflict`] for a taken public name, [`Error::NotFound`].
    pub fn enable_publication(&self, p: &AdminPrincipal, space: &str, input: PublicationInput) -> Result<(Space, PublicationRules)> {
        let (s, current) = self.publication(p, space)?;
        require(p, AdminAction::Manage, Target::Tenant(&s.tenant_id), "space")?;
        let was_enabled = current.as_ref().is_some_and(|r| r.enabled);
        let mut r = current.unwrap_or_else(|| PublicationRules::defaults(s.bucket.strip_prefix("rs-").unwrap_or(&s.bucket)));
        r.enabled = true;
        let PublicationInput {
            public_name,
            prefixes,
            public_base_url,
            cache_control,
            cache_overrides,
            immutable_prefixes,
            allowed_content_types,
            directory_listing,
            cors_origins,
        } = input;
        if let Some(v) = public_name {
            r.public_name = v;
        }
        if let Some(v) = prefixes {
            r.prefixes = v;
        }
        if let Some(v) = public_base_url {
            r.public_base_url = Some(v).filter(|u| !u.is_empty());
        }
        if let Some(v) = cache_control {
            r.cache_control = v;
        }
        if let Some(v) = cache_overrides {
            r.cache_overrides = v;
        }
        if let Some(v) = immutable_prefixes {
            r.immutable_prefixes = v;
        }
        if let Some(v) = allowed_content_types {
            r.allowed_content_types = v;
        }
        if let Some(v) = directory_listing {
            r.directory_listing = v;
        }
        if let Some(v) = cors_origins {
            r.cors_origins = v;
        }
        r.validate()?;
        self.inner.repo.set_publication(&s.id, &r, now())?;
        self.invalidate();
        let op = if was_enabled { "public.changed" } else { "public.enabled" };
        let detail = format!(
            "public_name={} prefixes={:?} listing={} cors={:?}",
            r.public_name, r.prefixes, r.directory_listing, r.cors_origins
        );
        self.audit_security(p, Some(&s.tenant_id), Some(&s.id), None, op, Some(detail));
        Ok((s, r))
    }

    /// Disables public web access; the next anonymous request gets 404.
    ///
    /// # Errors
    /// [`Error::NotFound`].
    pub fn disable_publication(&self, p: &AdminPrincipal, space: &str) -> Result<(Space, Option<PublicationRules>)> {
        let (s, current) = self.publication(p, space)?;
        require(p, AdminAction::Manage, Target::Tenant(&s.tenant_id), "space")?;
        let Some(mut r) = current else { return Ok((s, None)) };
        if r.enabled {
            r.enabled = false;
            self.inner.repo.set_publication(&s.id, &r, now())?;
            self.invalidate();
            self.audit_security(
                p,
                Some(&s.tenant_id),
                Some(&s.id),
                None,
                "public.disabled",
                Some(format!("public_name={}", r.public_name)),
            );
        }
        Ok((s, Some(r)))
    }

    /// [`Control::public_site`] from memory only: `None` when the database must be asked.
    #[must_use]
    pub fn public_site_cached(&self, public_name: &str) -> Option<Option<Arc<PublicSite>>> {
        let m = self.inner.sites.read().unwrap_or_else(std::sync::PoisonError::into_inner);
        m.get(public_name)
            .filter(|hit| hit.as_ref().is_none_or(|s| s.loaded.elapsed() < CREDENTIAL_TTL))
            .cloned()
    }

    /// The published, enabled, not disabled space behind a public name, from cache when fresh.
    ///
    /// # Errors
    /// Database errors.
    pub fn public_site(&self, public_name: &str) -> Result<Option<Arc<PublicSite>>> {
        if let Some(hit) = self
            .inner
            .sites
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get(public_name)
            && hit.as_ref().is_none_or(|s| s.loaded.elapsed() < CREDENTIAL_TTL)
        {
            return Ok(hit.clone());
        }
        let site = match self.inner.repo.publication_by_name(public_name)? {
            Some((space_id, rules)) if rules.enabled => match self.inner.repo.space(&space_id)? {
                Some(space) if space.disabled_at.is_none() => Some(Arc::new(PublicSite {
                    space,
                    rules,
                    loaded: Instant::now(),
                })),
                _ => None,
            },
            _ => None,
        };
        let mut m = self.inner.sites.write().unwrap_or_else(std::sync::PoisonError::into_inner);
        // Unknown names are remembered too, but the map is bounded so scans cannot grow it.
        if m.len() > 10_000 {
            m.clear();
        }
        m.insert(public_name.to_owned(), site.clone());
        Ok(site)
    }

    /// The space a client-visible bucket names.
    ///
    /// # Errors
    /// Database errors.
    pub fn space_by_bucket(&self, bucket: &str) -> Result<Option<Space>> {
        self.inner.repo.space_by_bucket(bucket)
    }

    /// Reserves `bytes` against the space's quota before any byte is accepted; counts stored
    /// objects, parts of uploads in progress and other reservations.
    ///
    /// # Errors
    /// [`Error::QuotaExceeded`].
    pub fn reserve(&self, space: &Space, bytes: u64) -> Result<Reservation> {
        // The quota is read fresh: a change made through the API applies to the next upload.
        let quota = self.inner.repo.space(&space.id)?.and_then(|s| s.quota_bytes);
        let id = match quota {
            Some(q) => {
                let t = now();
                let r = ReservationRecord {
                    id: new_id("rsv_"),
                    space_id: space.id.clone(),
                    bytes,
                    expires_at: t + RESERVATION_LIFETIME,
                    node: self.inner.node.clone(),
                };
                // Checked and stored in one transaction under the space's lock, so writers on
                // several nodes cannot together pass the quota.
                self.inner.repo.reserve(&r, q, t)?;
                Some(r.id)
            }
            None => None,
        };
        Ok(Reservation {
            inner: self.inner.clone(),
            id,
            space_id: space.id.clone(),
            bytes,
        })
    }

    /// Records a stored object (after the store committed it).
    ///
    /// # Errors
    /// Database errors.
    pub fn object_stored(&self, space_id: &str, key: &str, size: u64) -> Result<()> {
        self.inner.repo.record_object(space_id, key, size).map(|_| ())
    }

    /// Records a deleted object.
    ///
    /// # Errors
    /// Database errors.
    pub fn object_deleted(&self, space_id: &str, key: &str) -> Result<()> {
        self.inner.repo.remove_object(space_id, key).map(|_| ())
    }

    /// Records the bytes a repository's published data takes (the publisher measures them after
    /// each change); they count against the repository's space.
    ///
    /// # Errors
    /// [`Error::NotFound`], database errors.
    pub fn repository_published(&self, name: &str, bytes: u64) -> Result<()> {
        self.inner.repo.set_published_bytes(name, bytes)
    }

    /// Records many deleted objects at once (one transaction).
    ///
    /// # Errors
    /// Database errors.
    pub fn objects_deleted(&self, space_id: &str, keys: &[String]) -> Result<()> {
        self.inner.repo.remove_objects(space_id, keys)
    }

    /// Registers a multipart upload the store started.
    ///
    /// # Errors
    /// Database errors.
    pub fn upload_started(&self, upload_id: &str, space_id: &str, key: &str, identity_id: &str) -> Result<()> {
        self.inner.repo.insert_upload(&UploadRecord {
            upload_id: upload_id.to_owned(),
            space_id: space_id.to_owned(),
            key: key.to_owned(),
            identity_id: identity_id.to_owned(),
            initiated: now(),
        })
    }

    /// An upload of this space and key, if it is in progress.
    ///
    /// # Errors
    /// Database errors.
    pub fn upload(&self, upload_id: &str, space_id: &str, key: &str) -> Result<Option<UploadRecord>> {
        Ok(self
            .inner
            .repo
            .upload(upload_id)?
            .filter(|u| u.space_id == space_id && u.key == key))
    }

    /// Records a stored part.
    ///
    /// # Errors
    /// Database errors.
    pub fn part_stored(&self, upload_id: &str, part_number: u32, size: u64, etag: &str) -> Result<()> {
        self.inner.repo.record_part(
            upload_id,
            &PartRecord {
                part_number,
                size,
                etag: etag.to_owned(),
            },
        )
    }

    /// Parts of an upload.
    ///
    /// # Errors
    /// Database errors.
    pub fn parts(&self, upload_id: &str) -> Result<Vec<PartRecord>> {
        self.inner.repo.parts(upload_id)
    }

    /// Checks, before completion, that the object the parts form fits the quota: parts already
    /// count, so this fails only if the quota was lowered while the upload ran.
    ///
    /// # Errors
    /// [`Error::QuotaExceeded`].
    pub fn check_completion(&self, space: &Space, upload_id: &str, key: &str, final_size: u64) -> Result<()> {
        let Some(q) = self.inner.repo.space(&space.id)?.and_then(|s| s.quota_bytes) else {
            return Ok(());
        };
        let u = self.inner.repo.usage(&space.id)?;
        let own_parts: u64 = self.inner.repo.parts(upload_id)?.iter().map(|p| p.size).sum();
        let replaced = self.inner.repo.object_size(&space.id, key)?.unwrap_or(0);
        let reserved = self.inner.repo.reserved(&space.id, now())?;
        let after = u.counted() - replaced.min(u.bytes) - own_parts.min(u.multipart_bytes) + reserved + final_size;
        if after > q {
            return Err(Error::QuotaExceeded {
                used: after - final_size,
                quota: q,
                requested: final_size,
            });
        }
        Ok(())
    }

    /// Forgets an upload (completed or aborted).
    ///
    /// # Errors
    /// Database errors.
    pub fn upload_finished(&self, upload_id: &str) -> Result<()> {
        self.inner.repo.remove_upload(upload_id)
    }

    /// Uploads in progress in a space under a prefix.
    ///
    /// # Errors
    /// Database errors.
    pub fn list_uploads(&self, space_id: &str, prefix: &str) -> Result<Vec<UploadRecord>> {
        self.inner.repo.list_uploads(space_id, prefix)
    }

    // ---- audit ----

    /// Queues an audit event; it is written in the background, in order.
    pub fn audit(&self, e: NewAuditEvent) {
        let tx = self.inner.audit_tx.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if tx.send(AuditMsg::Event(now(), Box::new(e))).is_err() {
            tracing::error!("audit writer has stopped; an audit event was lost");
        }
    }

    fn audit_security(
        &self,
        p: &AdminPrincipal,
        tenant: Option<&str>,
        space: Option<&str>,
        identity: Option<&str>,
        op: &str,
        detail: Option<String>,
    ) {
        self.audit(NewAuditEvent {
            tenant_id: tenant.map(str::to_owned),
            object_space_id: space.map(str::to_owned),
            identity_id: identity.map(str::to_owned),
            actor: p.name.clone(),
            kind: "security".into(),
            operation: op.to_owned(),
            status: "ok".into(),
            detail,
            ..NewAuditEvent::default()
        });
    }

    /// Records a security event on behalf of an admin principal (public access, purges, ...).
    pub fn audit_admin(&self, p: &AdminPrincipal, space: &Space, op: &str, detail: Option<String>) {
        self.audit_security(p, Some(&space.tenant_id), Some(&space.id), None, op, detail);
    }

    /// Waits until every queued audit event is written.
    pub fn flush_audit(&self) {
        let (tx, rx) = mpsc::sync_channel(1);
        let sent = self
            .inner
            .audit_tx
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .send(AuditMsg::Flush(tx))
            .is_ok();
        if sent {
            let _ = rx.recv_timeout(Duration::from_secs(10));
        }
    }

    /// Reads the audit log; tenant tokens see only their tenant.
    ///
    /// # Errors
    /// Database errors.
    pub fn audit_events(&self, p: &AdminPrincipal, mut f: AuditFilter) -> Result<Vec<AuditEvent>> {
        if let Some(t) = &p.tenant_id {
            f.tenant_id = Some(t.clone());
        }
        if let Some(sp) = f.space_id.clone() {
            f.space_id = Some(self.space(p, &sp)?.id);
        }
        // The console filters by access key id, which people see; rows carry the identity id.
        if let Some(key) = f.identity_id.clone().filter(|k| k.starts_with("RS3")) {
            let id = match self.inner.repo.identity_by_key(&key)? {
                Some((i, _)) if require(p, AdminAction::Read, Target::Tenant(&i.tenant_id), "key").is_ok() => i.id,
                _ => return Ok(Vec::new()),
            };
            f.identity_id = Some(id);
        }
        self.flush_audit();
        self.inner.repo.query_audit(&f)
    }

    // ---- registry namespaces ----

    /// Creates a registry namespace: a space of purpose `registry` (named after it) and the
    /// storage identity Distribution uses for it.
    ///
    /// # Errors
    /// [`Error::Invalid`], [`Error::Conflict`], [`Error::Forbidden`].
    pub fn create_namespace(
        &self,
        p: &AdminPrincipal,
        tenant: Option<&str>,
        name: &str,
        quota_bytes: Option<u64>,
    ) -> Result<RegistryNamespace> {
        validate_slug("a registry namespace", name)?;
        if self.inner.repo.namespace(name)?.is_some() {
            return Err(Error::Conflict(format!("a registry namespace named {name:?} already exists")));
        }
        let space = self.create_space(
            p,
            NewSpace {
                tenant: tenant.map(str::to_owned),
                name: name.to_owned(),
                purpose: Some(Purpose::Registry),
                visibility: None,
                quota_bytes,
                workspace_id: None,
            },
        )?;
        let storage = self.create_identity(
            p,
            &space.id,
            NewIdentity {
                name: "registry-storage".into(),
                mode: PermissionMode::RegistryBackend,
                prefix: String::new(),
                expires_at: None,
                expires_in_seconds: None,
            },
        )?;
        let ns = RegistryNamespace {
            name: name.to_owned(),
            tenant_id: space.tenant_id.clone(),
            space_id: space.id.clone(),
            storage_identity_id: storage.identity.id,
            public: false,
            retention: RetentionRules::default(),
            upstream: None,
            created_by: p.name.clone(),
            created_at: now(),
        };
        let events = self.key().seal(random(40).as_bytes())?;
        self.inner.repo.insert_namespace(&ns, &events)?;
        self.audit_admin(p, &space, "registry.namespace.created", Some(format!("namespace={name}")));
        Ok(ns)
    }

    /// One namespace the principal may see.
    ///
    /// # Errors
    /// [`Error::NotFound`].
    pub fn namespace(&self, p: &AdminPrincipal, name: &str) -> Result<RegistryNamespace> {
        self.inner
            .repo
            .namespace(name)?
            .ok_or(Error::NotFound("registry namespace"))
            .and_then(|n| require(p, AdminAction::Read, Target::Tenant(&n.tenant_id), "registry namespace").map(|()| n))
    }

    /// A namespace by name, for the token service (which has no admin principal).
    ///
    /// # Errors
    /// Database errors.
    pub fn namespace_for_token(&self, name: &str) -> Result<Option<RegistryNamespace>> {
        let Some(ns) = self.inner.repo.namespace(name)? else {
            return Ok(None);
        };
        // Disabled means disabled on the registry face too: a namespace whose space is
        // disabled is granted nothing, as if it did not exist.
        match self.inner.repo.space(&ns.space_id)? {
            Some(s) if s.disabled_at.is_none() => Ok(Some(ns)),
            _ => Ok(None),
        }
    }

    /// Namespaces the principal may see.
    ///
    /// # Errors
    /// Database errors.
    pub fn list_namespaces(&self, p: &AdminPrincipal) -> Result<Vec<RegistryNamespace>> {
        self.inner.repo.list_namespaces(p.tenant_id.as_deref())
    }

    /// Changes anonymous pulls, retention and the upstream registry (absent values stay).
    ///
    /// # Errors
    /// [`Error::NotFound`], [`Error::Invalid`].
    pub fn update_namespace(
        &self,
        p: &AdminPrincipal,
        name: &str,
        public: Option<bool>,
        retention: Option<RetentionRules>,
        upstream: Option<String>,
    ) -> Result<RegistryNamespace> {
        let mut ns = self.namespace(p, name)?;
        require(p, AdminAction::Manage, Target::Tenant(&ns.tenant_id), "registry namespace")?;
        if let Some(u) = upstream {
            if !(u.starts_with("http://") || u.starts_with("https://")) || u.contains(char::is_whitespace) {
                return Err(Error::Invalid(format!("upstream {u:?} must be an http:// or https:// URL")));
            }
            ns.upstream = Some(u.trim_end_matches('/').to_owned());
        }
        if let Some(r) = retention {
            r.validate()?;
            ns.retention = r;
        }
        if let Some(public) = public {
            ns.public = public;
        }
        self.inner
            .repo
            .set_namespace_settings(name, ns.public, &ns.retention, ns.upstream.as_deref())?;
        let space = self.space(p, &ns.space_id)?;
        self.audit_admin(
            p,
            &space,
            "registry.namespace.changed",
            Some(format!(
                "namespace={name} public={} retention={}",
                ns.public,
                serde_json::to_string(&ns.retention).unwrap_or_default()
            )),
        );
        Ok(ns)
    }

    /// The storage identity's access key and secret, unsealed, for rendering Distribution's
    /// environment (admins of the namespace's tenant only).
    ///
    /// # Errors
    /// [`Error::NotFound`], [`Error::Seal`].
    pub fn namespace_storage_credentials(&self, p: &AdminPrincipal, name: &str) -> Result<(Identity, String)> {
        let ns = self.namespace(p, name)?;
        require(p, AdminAction::Manage, Target::Tenant(&ns.tenant_id), "registry namespace")?;
        let i = self.identity_for(p, &ns.storage_identity_id)?;
        let c = self.credential(&i.access_key_id)?.ok_or(Error::NotFound("storage identity"))?;
        Ok((i, c.secret.clone()))
    }

    /// The secret Distribution sends with its notifications for this namespace (for the config).
    ///
    /// # Errors
    /// [`Error::NotFound`], [`Error::Seal`].
    pub fn namespace_events_secret(&self, p: &AdminPrincipal, name: &str) -> Result<String> {
        let ns = self.namespace(p, name)?;
        require(p, AdminAction::Manage, Target::Tenant(&ns.tenant_id), "registry namespace")?;
        self.events_secret(&ns.name)?.ok_or(Error::NotFound("registry namespace"))
    }

    fn events_secret(&self, name: &str) -> Result<Option<String>> {
        self.inner
            .repo
            .namespace_events_sealed(name)?
            .map(|sealed| self.key().unseal_text(&sealed))
            .transpose()
    }

    /// Checks a notification's secret; the namespace if it matches.
    ///
    /// # Errors
    /// Database and unsealing errors.
    pub fn check_events_secret(&self, name: &str, given: &str) -> Result<Option<RegistryNamespace>> {
        match self.events_secret(name)? {
            Some(want) if crate::seal::same_secret(want.as_bytes(), given.as_bytes()) => self.inner.repo.namespace(name),
            _ => Ok(None),
        }
    }

    /// Creates a robot; its secret is returned this once.
    ///
    /// # Errors
    /// [`Error::NotFound`], [`Error::Invalid`], [`Error::Conflict`].
    pub fn create_robot(&self, p: &AdminPrincipal, namespace: &str, name: &str, access: RobotAccess) -> Result<(Robot, String)> {
        let ns = self.namespace(p, namespace)?;
        require(p, AdminAction::Manage, Target::Tenant(&ns.tenant_id), "registry namespace")?;
        validate_slug("a robot name", name)?;
        let secret = random(40);
        let r = Robot {
            id: new_id("rb_"),
            namespace: ns.name.clone(),
            name: name.to_owned(),
            username: format!("{}+{name}", ns.name),
            access,
            created_by: p.name.clone(),
            created_at: now(),
            revoked_at: None,
        };
        self.inner.repo.insert_robot(&r, &hash_token(&secret))?;
        let space = self.space(p, &ns.space_id)?;
        self.audit_admin(
            p,
            &space,
            "registry.robot.created",
            Some(format!("robot={} access={access}", r.username)),
        );
        Ok((r, secret))
    }

    /// Robots of a namespace.
    ///
    /// # Errors
    /// [`Error::NotFound`].
    pub fn list_robots(&self, p: &AdminPrincipal, namespace: &str) -> Result<Vec<Robot>> {
        let ns = self.namespace(p, namespace)?;
        self.inner.repo.list_robots(&ns.name)
    }

    /// Revokes a robot: its next token request fails (tokens already issued live out their
    /// few minutes).
    ///
    /// # Errors
    /// [`Error::NotFound`].
    pub fn revoke_robot(&self, p: &AdminPrincipal, namespace: &str, name: &str) -> Result<Robot> {
        let ns = self.namespace(p, namespace)?;
        require(p, AdminAction::Manage, Target::Tenant(&ns.tenant_id), "registry namespace")?;
        let r = self
            .inner
            .repo
            .robot_by_username(&format!("{}+{name}", ns.name))?
            .map(|(r, _)| r)
            .ok_or(Error::NotFound("robot"))?;
        self.inner.repo.revoke_robot(&r.id, now())?;
        let space = self.space(p, &ns.space_id)?;
        self.audit_admin(p, &space, "registry.robot.revoked", Some(format!("robot={}", r.username)));
        self.inner
            .repo
            .robot_by_username(&r.username)?
            .map(|(r, _)| r)
            .ok_or(Error::NotFound("robot"))
    }

    /// Checks a robot's login; `None` for an unknown name, a wrong secret or a revoked robot.
    ///
    /// # Errors
    /// Database errors.
    pub fn authenticate_robot(&self, username: &str, secret: &str) -> Result<Option<(Robot, RegistryNamespace)>> {
        let Some((robot, hash)) = self.inner.repo.robot_by_username(username)? else {
            return Ok(None);
        };
        // Equal-time comparison: the stored hash must not leak through timing.
        if !crate::seal::same_secret(hash_token(secret).as_bytes(), hash.as_bytes()) || robot.revoked_at.is_some() {
            return Ok(None);
        }
        Ok(self.inner.repo.namespace(&robot.namespace)?.map(|ns| (robot, ns)))
    }

    /// The registry token signing key (PKCS#8 PEM, unsealed) and certificate, made by `make`
    /// on first use; every node then uses the same one.
    ///
    /// # Errors
    /// Database and sealing errors, or what `make` returns.
    pub fn registry_signing_key(&self, make: impl FnOnce() -> Result<(String, String)>) -> Result<(String, String)> {
        if self.inner.repo.registry_signing()?.is_none() {
            let (key, cert) = make()?;
            self.inner.repo.init_registry_signing(&self.key().seal(key.as_bytes())?, &cert)?;
        }
        let (sealed, cert) = self.inner.repo.registry_signing()?.ok_or(Error::NotFound("registry signing key"))?;
        Ok((self.key().unseal_text(&sealed)?, cert))
    }

    /// `(used, quota)` of the namespace's space, if it has a quota (uploads in progress count).
    ///
    /// # Errors
    /// Database errors.
    pub fn namespace_quota(&self, ns: &RegistryNamespace) -> Result<Option<(u64, u64)>> {
        let Some(space) = self.inner.repo.space(&ns.space_id)? else {
            return Ok(None);
        };
        let Some(quota) = space.quota_bytes else {
            return Ok(None);
        };
        let u = self.inner.repo.usage(&space.id)?;
        Ok(Some((u.counted(), quota)))
    }

    /// `(used, quota)` when the namespace's space has reached its quota (uploads in progress
    /// count), so the token service can refuse pushes with a clear message.
    ///
    /// # Errors
    /// Database errors.
    pub fn namespace_full(&self, ns: &RegistryNamespace) -> Result<Option<(u64, u64)>> {
        Ok(self.namespace_quota(ns)?.filter(|(used, quota)| used >= quota))
    }

    /// Records an event about a namespace (token issued, push, pull) in its tenant's audit log.
    pub fn audit_registry(&self, ns: &RegistryNamespace, actor: &str, op: &str, status: &str, detail: Option<String>) {
        self.audit(NewAuditEvent {
            tenant_id: Some(ns.tenant_id.clone()),
            object_space_id: Some(ns.space_id.clone()),
            actor: actor.to_owned(),
            kind: "registry".into(),
            operation: op.to_owned(),
            status: status.to_owned(),
            detail,
            ..NewAuditEvent::default()
        });
    }

    // ---- console sessions ----

    /// Opens a console session for an admin token. Returns the cookie value (shown only here)
    /// and the session, whose `csrf` the console must echo on state-changing requests.
    ///
    /// # Errors
    /// [`Error::Unauthorized`] for an unknown or revoked token; [`Error::Invalid`] for a zero lifetime.
    pub fn open_session(&self, token: &str, lifetime: Duration) -> Result<(String, SessionRecord, AdminPrincipal)> {
        let p = self.authenticate(token)?;
        let secs = i64::try_from(lifetime.as_secs()).unwrap_or(i64::MAX);
        if secs == 0 {
            return Err(Error::Invalid("session lifetime must be at least one second".into()));
        }
        let value = random(43);
        let t = now();
        let rec = SessionRecord {
            id_hash: hash_token(&value),
            token_id: p.token_id.clone(),
            csrf: random(43),
            created_at: t,
            expires_at: t.saturating_add(time::Duration::seconds(secs)),
        };
        self.inner.repo.insert_session(&rec)?;
        let _ = self.inner.repo.purge_sessions(t);
        self.audit_security(&p, p.tenant_id.as_deref(), None, None, "console.login", None);
        Ok((value, rec, p))
    }

    /// The live session behind a cookie value: expired sessions and those whose token was
    /// revoked are gone.
    ///
    /// # Errors
    /// [`Error::Unauthorized`] when there is none.
    pub fn session(&self, cookie: &str) -> Result<(SessionRecord, AdminPrincipal)> {
        self.inner
            .repo
            .session_by_hash(&hash_token(cookie), now())?
            .ok_or(Error::Unauthorized)
    }

    /// Ends a session (logout).
    ///
    /// # Errors
    /// Database errors.
    pub fn close_session(&self, cookie: &str, p: &AdminPrincipal) -> Result<()> {
        self.inner.repo.delete_session(&hash_token(cookie))?;
        self.audit_security(p, p.tenant_id.as_deref(), None, None, "console.logout", None);
        Ok(())
    }

    // ---- traffic ----

    /// Adds this node's traffic figures (see [`TrafficSample`]).
    ///
    /// # Errors
    /// Database errors.
    pub fn record_traffic(&self, samples: &[TrafficSample]) -> Result<()> {
        if samples.is_empty() {
            return Ok(());
        }
        self.inner.repo.add_traffic(samples)
    }

    /// A space's traffic per minute over the last `minutes`, summed over nodes, oldest first.
    ///
    /// # Errors
    /// [`Error::NotFound`] for a space the principal cannot see.
    pub fn traffic(&self, p: &AdminPrincipal, space: &str, minutes: u32) -> Result<Vec<TrafficSample>> {
        let s = self.space(p, space)?;
        let since = now() - time::Duration::minutes(i64::from(minutes.clamp(1, 60 * 24 * 31)));
        self.inner.repo.traffic(&s.id, since)
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
mod tests {
    use super::*;
    use crate::db::testing;

    fn control() -> (Control, AdminPrincipal) {
        let c = Control::new(testing::repo(), MasterKey::generate());
        let tok = c.bootstrap_operator(None).expect("bootstrap").expect("a new token");
        assert!(
            c.bootstrap_operator(None).expect("again").is_none(),
            "only one generated operator token"
        );
        let p = c.authenticate(&tok).expect("auth");
        (c, p)
    }

    fn space(c: &Control, p: &AdminPrincipal, tenant: &str, quota: Option<u64>) -> Space {
        let _ = c.create_tenant(p, tenant);
        c.create_space(
            p,
            NewSpace {
                tenant: Some(tenant.into()),
                name: "artifacts".into(),
                purpose: None,
                visibility: None,
                quota_bytes: quota,
                workspace_id: None,
            },
        )
        .expect("space")
    }

    #[test]
    fn console_sessions_expire_and_follow_their_token() {
        let (c, op) = control();
        assert!(matches!(
            c.open_session("rsat_wrong", Duration::from_secs(60)),
            Err(Error::Unauthorized)
        ));
        assert!(matches!(c.open_session("x", Duration::ZERO), Err(Error::Unauthorized)));
        let _ = c.create_tenant(&op, "acme");
        let tok = c.create_tenant_token(&op, "acme", "web").expect("token");
        let (cookie, rec, p) = c.open_session(&tok, Duration::from_secs(60)).expect("session");
        assert!(p.tenant_id.is_some());
        assert_ne!(cookie, rec.csrf);
        assert_ne!(rec.id_hash, cookie, "only a hash of the cookie is stored");
        let (again, p2) = c.session(&cookie).expect("live");
        assert_eq!((again.csrf, p2), (rec.csrf.clone(), p.clone()));
        // Past its end the session is gone, and the purge removes it.
        let later = now() + time::Duration::seconds(61);
        assert!(c.inner.repo.session_by_hash(&rec.id_hash, later).expect("query").is_none());
        assert_eq!(c.inner.repo.purge_sessions(later).expect("purge"), 1);
        let (cookie, _, p) = c.open_session(&tok, Duration::from_secs(60)).expect("session");
        c.close_session(&cookie, &p).expect("logout");
        assert!(matches!(c.session(&cookie), Err(Error::Unauthorized)));
        assert!(matches!(c.session("never-issued"), Err(Error::Unauthorized)));
    }

    #[test]
    fn batch_deletion_keeps_usage_exact() {
        let (c, op) = control();
        let s = space(&c, &op, "acme", None);
        for (k, n) in [("a", 10), ("b", 20), ("c", 40)] {
            c.object_stored(&s.id, k, n).expect("stored");
        }
        // "zz" was never recorded: it must not change the counts.
        c.objects_deleted(&s.id, &["a".into(), "c".into(), "zz".into()]).expect("deleted");
        let (_, u) = c.usage(&op, &s.id).expect("usage");
        assert_eq!((u.objects, u.bytes), (1, 20));
        c.objects_deleted(&s.id, &[]).expect("nothing to delete");
        let (_, u) = c.usage(&op, &s.id).expect("usage");
        assert_eq!((u.objects, u.bytes), (1, 20));
    }

    /// Quotas belong to the operator: a tenant admin lowers them at most, and cannot create a
    /// space (which would come with a quota of its own choosing, or none).
    #[test]
    fn tenant_admins_cannot_escape_their_quota() {
        let (c, op) = control();
        let a = space(&c, &op, "acme", Some(1000));
        let tok = c.create_tenant_token(&op, "acme", "admin").expect("token");
        let pa = c.authenticate(&tok).expect("auth");
        for q in [None, Some(1001), Some(u64::MAX)] {
            assert!(matches!(c.set_quota(&pa, &a.id, q), Err(Error::Forbidden(_))), "{q:?}");
        }
        assert_eq!(c.set_quota(&pa, &a.id, Some(500)).expect("lower").quota_bytes, Some(500));
        assert!(
            matches!(c.set_quota(&pa, &a.id, Some(1000)), Err(Error::Forbidden(_))),
            "no raising back"
        );
        let n = NewSpace {
            tenant: None,
            name: "free".into(),
            purpose: None,
            visibility: None,
            quota_bytes: None,
            workspace_id: None,
        };
        assert!(matches!(c.create_space(&pa, n), Err(Error::Forbidden(_))));
        assert_eq!(c.set_quota(&op, &a.id, None).expect("operator").quota_bytes, None);
    }

    #[test]
    fn a_disabled_space_grants_no_registry_tokens() {
        let (c, op) = control();
        c.create_tenant(&op, "acme").expect("tenant");
        let ns = c.create_namespace(&op, Some("acme"), "acme-images", None).expect("namespace");
        assert!(c.namespace_for_token("acme-images").expect("lookup").is_some());
        c.disable_space(&op, &ns.space_id).expect("disable");
        assert!(c.namespace_for_token("acme-images").expect("lookup").is_none());
    }

    #[test]
    fn tenant_tokens_see_only_their_tenant() {
        let (c, op) = control();
        let a = space(&c, &op, "acme", None);
        let b = space(&c, &op, "globex", None);
        assert_eq!(a.bucket, "rs-acme-artifacts");
        let tok = c.create_tenant_token(&op, "acme", "admin").expect("token");
        let pa = c.authenticate(&tok).expect("auth");
        assert!(c.space(&pa, &a.id).is_ok());
        assert!(matches!(c.space(&pa, &b.id), Err(Error::NotFound(_))));
        assert!(matches!(c.space(&pa, &b.bucket), Err(Error::NotFound(_))));
        assert_eq!(c.list_spaces(&pa).expect("list").len(), 1);
        assert!(matches!(c.create_tenant(&pa, "evil"), Err(Error::Forbidden(_))));
        let k = c
            .create_identity(
                &op,
                &b.id,
                NewIdentity {
                    name: "ci".into(),
                    mode: PermissionMode::ReadOnly,
                    prefix: String::new(),
                    expires_at: None,
                    expires_in_seconds: None,
                },
            )
            .expect("key");
        assert!(matches!(c.revoke_identity(&pa, &k.identity.id), Err(Error::NotFound(_))));
        assert!(
            c.audit_events(&pa, AuditFilter::default())
                .expect("audit")
                .iter()
                .all(|e| e.event.tenant_id.as_deref() == Some(a.tenant_id.as_str()))
        );
        assert!(matches!(c.authenticate("rsat_wrong"), Err(Error::Unauthorized)));
    }

    #[test]
    fn concurrent_lookups_of_an_expired_credential_make_one_query() {
        let (c, op) = control();
        let s = space(&c, &op, "acme", None);
        let k = read_write_key(&c, &op, &s);
        let ak = k.identity.access_key_id;
        assert!(c.credential_cached(&ak).is_none(), "nothing is cached before the first lookup");
        let loads = || c.inner.cred_loads.load(Ordering::Relaxed);
        let before = loads();
        assert_eq!(c.credential(&ak).expect("lookup").expect("known").secret, k.secret_access_key);
        assert_eq!(c.credential_cached(&ak).expect("cached").secret, k.secret_access_key);
        assert_eq!(loads(), before + 1);
        c.clear_caches();
        let start = std::sync::Barrier::new(32);
        std::thread::scope(|t| {
            for _ in 0..32 {
                t.spawn(|| {
                    start.wait();
                    assert!(c.credential(&ak).expect("lookup").is_some());
                });
            }
        });
        assert_eq!(loads(), before + 2, "32 concurrent lookups after expiry made one query");
        assert!(
            c.inner.cred_gates.lock().expect("gates").is_empty(),
            "gates are dropped once nobody waits on them"
        );
        // Unknown keys are not cached, and each lookup asks again.
        assert!(c.credential("RS3NOSUCHKEY0000000000").expect("lookup").is_none());
        assert!(c.credential("RS3NOSUCHKEY0000000000").expect("lookup").is_none());
        assert_eq!(loads(), before + 4);
    }

    #[test]
    fn keys_rotate_and_revoke_and_secrets_stay_sealed() {
        let (c, op) = control();
        let s = space(&c, &op, "acme", None);
        let k = c
            .create_identity(
                &op,
                &s.id,
                NewIdentity {
                    name: "ci".into(),
                    mode: PermissionMode::ReadWrite,
                    prefix: "releases/".into(),
                    expires_at: None,
                    expires_in_seconds: Some(3600),
                },
            )
            .expect("key");
        assert!(k.identity.access_key_id.starts_with("RS3") && k.identity.access_key_id.len() == 20);
        assert!(
            k.identity.access_key_id[3..]
                .bytes()
                .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit())
        );
        let cred = c.credential(&k.identity.access_key_id).expect("cred").expect("found");
        assert_eq!(cred.secret, k.secret_access_key);
        assert!(!format!("{cred:?}").contains(&k.secret_access_key));
        let r = c.rotate_identity(&op, &k.identity.access_key_id).expect("rotate");
        assert_ne!(r.secret_access_key, k.secret_access_key);
        assert_eq!(
            c.credential(&k.identity.access_key_id).expect("cred").expect("found").secret,
            r.secret_access_key
        );
        c.revoke_identity(&op, &k.identity.id).expect("revoke");
        assert!(
            c.credential(&k.identity.access_key_id)
                .expect("cred")
                .expect("found")
                .identity
                .revoked_at
                .is_some()
        );
        assert!(c.rotate_identity(&op, &k.identity.id).is_err());
        let ev = c.audit_events(&op, AuditFilter::default()).expect("audit");
        let ops: Vec<_> = ev.iter().map(|e| e.event.operation.as_str()).collect();
        for want in ["key.created", "key.rotated", "key.revoked", "space.created"] {
            assert!(ops.contains(&want), "{ops:?}");
        }
        for e in &ev {
            let row = format!("{e:?}");
            assert!(!row.contains(&k.secret_access_key) && !row.contains(&r.secret_access_key));
        }
        assert!(
            c.create_identity(
                &op,
                &s.id,
                NewIdentity {
                    name: "bad".into(),
                    mode: PermissionMode::ReadOnly,
                    prefix: "../".into(),
                    expires_at: None,
                    expires_in_seconds: None
                }
            )
            .is_err()
        );
    }

    #[test]
    fn quota_counts_objects_parts_and_reservations() {
        let (c, op) = control();
        let s = space(&c, &op, "acme", Some(1000));
        let r1 = c.reserve(&s, 600).expect("fits");
        assert!(matches!(
            c.reserve(&s, 500),
            Err(Error::QuotaExceeded {
                used: 600,
                quota: 1000,
                requested: 500
            })
        ));
        c.object_stored(&s.id, "a", 600).expect("stored");
        drop(r1);
        assert!(c.reserve(&s, 401).is_err());
        c.object_stored(&s.id, "a", 100).expect("overwrite");
        let (_, u) = c.usage(&op, &s.id).expect("usage");
        assert_eq!((u.bytes, u.objects), (100, 1));
        c.upload_started("up1", &s.id, "big", "id_x").expect("upload");
        c.part_stored("up1", 1, 800, "e").expect("part");
        assert!(c.reserve(&s, 101).is_err());
        assert!(c.check_completion(&s, "up1", "big", 800).is_ok());
        c.set_quota(&op, &s.id, Some(500)).expect("quota");
        assert!(c.check_completion(&s, "up1", "big", 800).is_err());
        c.upload_finished("up1").expect("done");
        c.object_deleted(&s.id, "a").expect("delete");
        let (_, u) = c.usage(&op, &s.id).expect("usage");
        assert_eq!((u.bytes, u.objects, u.multipart_bytes), (0, 0, 0));
    }

    /// Reconciliation takes objects and uploads in progress from the store: an upload the store
    /// completed (a crash before its record went) is forgotten, one whose parts the record
    /// missed gets them, and published repository bytes keep counting against the quota.
    #[test]
    fn reconcile_takes_uploads_from_the_store() {
        let (c, op) = control();
        let s = space(&c, &op, "acme", Some(10_000));
        let part = |n, size| PartRecord {
            part_number: n,
            size,
            etag: format!("e{n}"),
        };
        c.upload_started("done", &s.id, "a", "id_x").expect("upload");
        c.part_stored("done", 1, 700, "e1").expect("part");
        c.upload_started("short", &s.id, "b", "id_x").expect("upload");
        c.part_stored("short", 1, 100, "e1").expect("part");
        let (_, u) = c.usage(&op, &s.id).expect("usage");
        assert_eq!(u.multipart_bytes, 800);
        // The store completed "done" into `a`; it holds two parts of "short".
        let (before, after) = c
            .reconcile_space(&s.id, &[("a".into(), 700)], &[("short".into(), vec![part(1, 100), part(2, 200)])])
            .expect("reconcile");
        assert_eq!((before.bytes, before.multipart_bytes), (0, 800));
        assert_eq!((after.bytes, after.objects, after.multipart_bytes), (700, 1, 300));
        assert!(c.upload("done", &s.id, "a").expect("db").is_none());
        assert_eq!(c.parts("short").expect("parts"), vec![part(1, 100), part(2, 200)]);
        // A second pass with the same store changes nothing.
        let (again_before, again_after) = c
            .reconcile_space(&s.id, &[("a".into(), 700)], &[("short".into(), vec![part(1, 100), part(2, 200)])])
            .expect("reconcile");
        assert_eq!(again_before, again_after);
    }

    /// A process killed mid-upload never drops its reservation: the next start of a single node
    /// clears it, and on a cluster it lapses once its node stops renewing it, while a live
    /// node's reservation outlasts the lifetime through renewal.
    #[test]
    fn reservations_do_not_outlive_their_process() {
        let (a, b, op, _dir) = two_nodes();
        let s = space(&a, &op, "acme", Some(1000));
        std::mem::forget(a.reserve(&s, 600).expect("fits"));
        let live = b.reserve(&s, 300).expect("fits");
        let t0 = now();
        assert_eq!(a.inner.repo.reserved(&s.id, t0).expect("reserved"), 900);
        // Only b keeps renewing; a is "dead".
        b.renew_reservations(t0 + time::Duration::seconds(90)).expect("renew");
        let later = t0 + RESERVATION_LIFETIME + time::Duration::seconds(1);
        assert_eq!(
            b.inner.repo.reserved(&s.id, later).expect("reserved"),
            300,
            "the dead node's 600 lapsed"
        );
        drop(live);
        assert_eq!(b.inner.repo.reserved(&s.id, t0).expect("reserved"), 600);
        assert_eq!(b.clear_reservations().expect("clear"), 1);
        assert_eq!(b.inner.repo.reserved(&s.id, t0).expect("reserved"), 0);
        assert!(a.reserve(&s, 1000).is_ok(), "the whole quota is free again");
    }

    fn read_write_key(c: &Control, p: &AdminPrincipal, s: &Space) -> CreatedIdentity {
        c.create_identity(
            p,
            &s.id,
            NewIdentity {
                name: "ci".into(),
                mode: PermissionMode::ReadWrite,
                prefix: String::new(),
                expires_at: None,
                expires_in_seconds: None,
            },
        )
        .expect("key")
    }

    /// Two nodes: two services on one database, each with its own caches.
    fn two_nodes() -> (Control, Control, AdminPrincipal, Option<tempfile::TempDir>) {
        let (ra, rb, guard) = testing::shared_pair();
        let key = MasterKey::generate();
        let a = Control::new(ra, key.clone());
        let b = Control::new(rb, key);
        let tok = a.bootstrap_operator(None).expect("bootstrap").expect("a new token");
        let p = b.authenticate(&tok).expect("the other node knows the token");
        (a, b, p, guard)
    }

    #[test]
    fn quota_holds_with_writers_on_two_nodes_at_once() {
        let (a, b, op, _guard) = two_nodes();
        let s = space(&a, &op, "acme", Some(10_000));
        // 40 writers, half on each node, each wants 1,000 bytes: exactly ten may store.
        let stored = std::sync::atomic::AtomicU64::new(0);
        std::thread::scope(|sc| {
            for w in 0..40 {
                let (node, s, stored) = (if w % 2 == 0 { &a } else { &b }, &s, &stored);
                sc.spawn(move || {
                    if let Ok(r) = node.reserve(s, 1000) {
                        node.object_stored(&s.id, &format!("k{w}"), 1000).expect("stored");
                        stored.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                        drop(r);
                    }
                });
            }
        });
        let (_, u) = b.usage(&op, &s.id).expect("usage");
        assert_eq!(stored.into_inner(), 10, "on {}", testing::which());
        assert_eq!((u.bytes, u.objects), (10_000, 10));
        assert_eq!(
            a.inner.repo.reserved(&s.id, now()).expect("reserved"),
            0,
            "every reservation released"
        );
    }

    #[test]
    fn revocation_and_purges_reach_the_other_node_through_the_feed() {
        let (a, b, op, _guard) = two_nodes();
        let s = space(&a, &op, "acme", None);
        let k = read_write_key(&a, &op, &s);
        let ak = k.identity.access_key_id.clone();
        assert!(b.credential(&ak).expect("lookup").expect("known").identity.revoked_at.is_none());
        a.revoke_identity(&op, &ak).expect("revoke");
        // B still has the credential cached; the feed tells it to drop it.
        assert!(b.poll_changes().expect("poll").is_empty(), "cache drops are applied, not returned");
        assert!(b.credential(&ak).expect("lookup").expect("known").identity.revoked_at.is_some());
        a.announce(&ChangeKind::Purge {
            space_id: s.id.clone(),
            key: "releases/".into(),
            prefix: true,
        });
        a.announce(&ChangeKind::Repository { name: "tools".into() });
        assert_eq!(
            b.poll_changes().expect("poll"),
            vec![
                ChangeKind::Purge {
                    space_id: s.id.clone(),
                    key: "releases/".into(),
                    prefix: true
                },
                ChangeKind::Repository { name: "tools".into() }
            ]
        );
        assert!(b.poll_changes().expect("poll").is_empty(), "each change once");
        assert!(a.poll_changes().expect("poll").is_empty(), "a node skips its own changes");
    }

    #[test]
    fn master_key_rotation_reseals_everything_and_other_nodes_follow() {
        let (a, b, op, _guard) = two_nodes();
        let s = space(&a, &op, "acme", None);
        let k = read_write_key(&a, &op, &s);
        let ak = k.identity.access_key_id.clone();
        let old = a.key().clone();
        let new = MasterKey::generate();
        // B's key file already lists the new key (second); A rotates.
        assert!(b.use_master_key(
            MasterKey::parse(&format!("{}\n{}\n", old.to_hex(), new.to_hex())).expect("ring"),
            None
        ));
        let n = a.rotate_master_key(&op, old.rotated_to(&new)).expect("rotate");
        assert!(n >= 1, "the S3 secret at least");
        assert_eq!(a.master_key_fingerprint(), new.fingerprint());
        // Every stored secret opens under the new key alone now.
        for (_, _, sealed) in a.inner.repo.sealed_secrets().expect("secrets") {
            assert!(new.unseal(&sealed).is_ok());
            assert!(old.without_previous().unseal(&sealed).is_err());
        }
        assert_eq!(a.credential(&ak).expect("lookup").expect("known").secret, k.secret_access_key);
        let changes = b.poll_changes().expect("poll");
        assert_eq!(
            changes,
            vec![ChangeKind::MasterKey {
                fingerprint: new.fingerprint()
            }]
        );
        let ring = b.key().clone();
        assert!(b.use_master_key(ring, Some(&new.fingerprint())));
        assert_eq!(b.master_key_fingerprint(), new.fingerprint());
        assert_eq!(b.credential(&ak).expect("lookup").expect("known").secret, k.secret_access_key);
        // A ring that cannot open the secrets changes nothing.
        let stranger = MasterKey::generate();
        assert!(matches!(a.rotate_master_key(&op, stranger), Err(Error::Seal(_))));
        assert_eq!(a.credential(&ak).expect("lookup").expect("known").secret, k.secret_access_key);
    }

    #[test]
    fn a_lease_has_one_holder_across_nodes() {
        let (a, b, _, _guard) = two_nodes();
        let l = a.try_lease("repo:tools", Duration::from_secs(60)).expect("db").expect("free");
        assert!(b.try_lease("repo:tools", Duration::from_secs(60)).expect("db").is_none());
        assert!(
            a.try_lease("repo:tools", Duration::from_secs(60)).expect("db").is_none(),
            "one holder, even on one node"
        );
        assert!(b.try_lease("repo:other", Duration::from_secs(60)).expect("db").is_some());
        assert!(l.renew(Duration::from_secs(60)).expect("db"), "the holder renews");
        drop(l);
        assert!(b.try_lease("repo:tools", Duration::from_secs(60)).expect("db").is_some());
        // An expired lease (its node died) can be taken.
        let stale = a.try_lease("repo:x", Duration::ZERO).expect("db").expect("free");
        let taken = b.try_lease("repo:x", Duration::from_secs(60)).expect("db").expect("expired");
        assert!(!stale.renew(Duration::from_secs(60)).expect("db"), "a lost lease is not renewed");
        std::mem::forget(stale);
        assert!(a.try_lease("repo:x", Duration::from_secs(60)).expect("db").is_none());
        drop(taken);
        let _left = a.try_lease("repo:y", Duration::from_secs(60)).expect("db").expect("free");
        assert_eq!(a.clear_leases().expect("clear"), 1);
    }
}
