//! Persistence. [`Repo`] is what the domain needs; [`SqlRepo`] implements it once over the SQL
//! both databases share, on an embedded SQLite database ([`SqliteRepo`], the single-node
//! default) or on PostgreSQL ([`PgRepo`], for several nodes).

mod audit;
mod cluster;
mod identities;
mod lifecycle;
mod packages;
mod pg;
mod publication;
mod registry;
mod schema;
mod sessions;
mod spaces;
pub(crate) mod sql;
mod sqlite;
mod tenants;
mod usage;
mod versions;

use std::path::Path;

use time::OffsetDateTime;

pub use self::pg::Postgres;
use self::sql::{Backend, Conn, Row, p};
pub use self::sqlite::Sqlite;

use crate::model::{
    AdminPrincipal, AuditEvent, AuditFilter, Identity, NewAuditEvent, PublicationRules, RegistryNamespace, Repository, RepositoryConfig,
    RetentionRules, Robot, Space, Tenant, Usage,
};
use crate::{Error, Result};

/// How long a completed multipart upload is remembered for clients retrying its completion.
pub(crate) const COMPLETED_UPLOADS_KEPT: time::Duration = time::Duration::hours(1);

/// A multipart upload the edge started.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UploadRecord {
    /// Upload id (the backend's).
    pub upload_id: String,
    /// Space.
    pub space_id: String,
    /// Key inside the space.
    pub key: String,
    /// Identity that started it.
    pub identity_id: String,
    /// Start time.
    pub initiated: OffsetDateTime,
    /// The tags the object gets when the upload completes (the stored form of
    /// [`crate::tags::TagSet`]).
    pub tags: Option<String>,
    /// The checksum algorithm the upload was created with (`crc32`, `crc32c`, `sha1`, `sha256`,
    /// `crc64nvme`): every part's checksum is recorded, and the object gets the composite.
    pub checksum_algorithm: Option<String>,
    /// The retention and legal hold the upload's headers asked for.
    pub lock: crate::lock::ObjectLock,
}

/// What an upload carries to its object besides the bytes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UploadExtras {
    /// Tags for the object.
    pub tags: crate::tags::TagSet,
    /// The checksum algorithm (lower case), if the client named one.
    pub checksum_algorithm: Option<String>,
    /// The retention and legal hold the headers asked for.
    pub lock: crate::lock::ObjectLock,
}

/// What the usage index records of a stored object.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ObjectRecord {
    /// Size in bytes.
    pub size: u64,
    /// The part sizes when it was completed from parts, else empty.
    pub parts: Vec<u64>,
    /// Its tags.
    pub tags: crate::tags::TagSet,
    /// A checksum the store does not keep: the composite of a multipart upload's part
    /// checksums, `algorithm:base64-N`.
    pub checksum: Option<String>,
    /// Its version id in a versioned space (`None`: the `null` version).
    pub version_id: Option<String>,
    /// Its ETag as the S3 face answered it, for version listings (`None`: ask the store).
    pub etag: Option<String>,
    /// When it was written, for version listings (`None`: ask the store).
    pub modified: Option<OffsetDateTime>,
    /// Its retention and legal hold (object lock).
    pub lock: crate::lock::ObjectLock,
}

/// One version of an object, as the version index keeps it: the current version (an
/// `objects` row) or a noncurrent version or delete marker (an `object_versions` row).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VersionRow {
    /// The object's key in its space.
    pub key: String,
    /// Its version id; `null` for the null version.
    pub version_id: String,
    /// Order within the key, newest highest; [`VersionRow::CURRENT`] for the current version.
    pub rank: i64,
    /// Whether it is a delete marker.
    pub delete_marker: bool,
    /// Size in bytes (0 for a marker).
    pub size: u64,
    /// Its ETag, when recorded.
    pub etag: Option<String>,
    /// When it was written, when recorded.
    pub modified: Option<OffsetDateTime>,
    /// When it stopped being current (noncurrent versions and markers that have).
    pub noncurrent_at: Option<OffsetDateTime>,
    /// Where a noncurrent version's bytes are ([`crate::model::Space::version_key`]).
    pub store_name: Option<String>,
    /// Part sizes, comma-separated, of a version completed from parts.
    pub parts: Option<String>,
    /// Its tags, stored form.
    pub tags: Option<String>,
    /// Its composite checksum, if any.
    pub checksum: Option<String>,
    /// Its retention and legal hold (object lock).
    pub lock: crate::lock::ObjectLock,
}

impl VersionRow {
    /// The rank of a key's current version: above every noncurrent one.
    pub const CURRENT: i64 = i64::MAX;

    /// Whether this is the key's current version (an `objects` row).
    #[must_use]
    pub fn is_current(&self) -> bool {
        self.rank == Self::CURRENT
    }
}

/// Where a version that stops being current keeps its bytes, and what it answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Preserved {
    /// [`crate::model::Space::version_key`] name its bytes were copied to.
    pub store_name: String,
    /// Its size.
    pub size: u64,
    /// Its ETag.
    pub etag: String,
    /// When it was written.
    pub modified: OffsetDateTime,
}

/// One change to a key's versions, made in one transaction (see [`crate::versioning`]).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct VersionChange {
    /// The current version stops being current and is kept, its bytes copied here first;
    /// `None` drops it (its bytes are overwritten or deleted by the caller).
    pub preserve: Option<Preserved>,
    /// Removes the noncurrent `null` version (a write or delete in a suspended space).
    pub drop_null: bool,
    /// Adds a delete marker with this id as the newest version.
    pub marker: Option<String>,
    /// The new current version.
    pub current: Option<ObjectRecord>,
}

impl ObjectRecord {
    /// An object of `size` bytes, written in one piece, without tags.
    #[must_use]
    pub fn sized(size: u64) -> Self {
        ObjectRecord {
            size,
            ..ObjectRecord::default()
        }
    }
}

/// A stored part of an upload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartRecord {
    /// Part number.
    pub part_number: u32,
    /// Size.
    pub size: u64,
    /// ETag (MD5 hex).
    pub etag: String,
    /// The part's checksum (base64) in its upload's algorithm, when it has one.
    pub checksum: Option<String>,
}

/// A console login: the hash of its cookie value, bound to the admin token that opened it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionRecord {
    /// SHA-256 of the cookie value (the value itself is never stored).
    pub id_hash: String,
    /// The admin token the session acts as; revoking it ends the session.
    pub token_id: String,
    /// The anti-CSRF token every state-changing request must echo.
    pub csrf: String,
    /// Opened at.
    pub created_at: OffsetDateTime,
    /// Ends at.
    pub expires_at: OffsetDateTime,
}

/// Traffic of one space in one minute.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize, schemars::JsonSchema)]
pub struct TrafficSample {
    /// Space.
    #[serde(skip)]
    pub space_id: String,
    /// Start of the minute.
    #[serde(with = "time::serde::rfc3339")]
    #[schemars(with = "crate::model::DateTime")]
    pub minute: OffsetDateTime,
    /// Bytes received (S3 uploads).
    pub bytes_in: u64,
    /// Bytes sent (S3 downloads and the CDN face).
    pub bytes_out: u64,
    /// CDN requests.
    pub requests: u64,
}

/// Bytes promised to an upload in flight, on any node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReservationRecord {
    /// Unique id.
    pub id: String,
    /// Space.
    pub space_id: String,
    /// Bytes.
    pub bytes: u64,
    /// When it stops counting unless its node renews it (a node that died mid-upload).
    pub expires_at: OffsetDateTime,
    /// The node that holds it.
    pub node: String,
}

/// A change other nodes must apply to what they cache.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    /// Position in the feed (increasing).
    pub seq: i64,
    /// When.
    pub at: OffsetDateTime,
    /// The node that made it (it applied the change itself already).
    pub origin: String,
    /// What changed (see the control service's `ChangeKind`).
    pub kind: String,
    /// The space it concerns, if one.
    pub space_id: Option<String>,
    /// Kind-specific detail (an object key, a prefix, a repository name).
    pub detail: Option<String>,
}

/// The persistence interface of the control module, one trait per area; [`Repo`] is all of them.
/// Tenants and admin tokens.
#[allow(missing_docs)]
pub trait TenantRepo: Send + Sync {
    fn insert_tenant(&self, t: &Tenant) -> Result<()>;
    fn tenant(&self, id_or_name: &str) -> Result<Option<Tenant>>;
    fn list_tenants(&self) -> Result<Vec<Tenant>>;
    fn insert_token(&self, id: &str, tenant_id: Option<&str>, name: &str, hash: &str, now: OffsetDateTime) -> Result<()>;
    fn token_by_hash(&self, hash: &str) -> Result<Option<AdminPrincipal>>;
    fn operator_token_count(&self) -> Result<u64>;
}

/// Object Spaces.
#[allow(missing_docs)]
pub trait SpaceRepo: Send + Sync {
    fn insert_space(&self, s: &Space) -> Result<()>;
    fn space(&self, id: &str) -> Result<Option<Space>>;
    fn space_by_bucket(&self, bucket: &str) -> Result<Option<Space>>;
    fn space_by_name(&self, tenant_id: &str, name: &str) -> Result<Option<Space>>;
    fn list_spaces(&self, tenant_id: Option<&str>) -> Result<Vec<Space>>;
    fn set_space_disabled(&self, id: &str, at: Option<OffsetDateTime>) -> Result<()>;
    fn set_space_quota(&self, id: &str, quota: Option<u64>) -> Result<()>;
    /// Sets a space's object lock configuration.
    fn set_space_lock(&self, id: &str, c: &crate::lock::LockConfig) -> Result<()>;
    /// Sets whether a space keeps object versions.
    fn set_space_versioning(&self, id: &str, v: crate::model::Versioning) -> Result<()>;
    /// Retires a deleted space: disabled, its name and bucket freed for reuse (the row stays
    /// for the audit log and the keys that name it).
    fn retire_space(&self, id: &str, at: OffsetDateTime) -> Result<()>;
}

/// S3 keys and their sealed secrets.
#[allow(missing_docs)]
pub trait IdentityRepo: Send + Sync {
    fn insert_identity(&self, i: &Identity, sealed: &[u8]) -> Result<()>;
    fn identity(&self, id: &str) -> Result<Option<Identity>>;
    fn identity_by_key(&self, access_key_id: &str) -> Result<Option<(Identity, Vec<u8>)>>;
    fn list_identities(&self, space_id: &str) -> Result<Vec<Identity>>;
    fn revoke_identity(&self, id: &str, at: OffsetDateTime) -> Result<()>;
    fn rotate_identity(&self, id: &str, sealed: &[u8], at: OffsetDateTime) -> Result<()>;
    fn touch_identity(&self, id: &str, at: OffsetDateTime) -> Result<()>;
}

/// Usage: objects, multipart uploads and their parts, quota reservations.
#[allow(missing_docs)]
pub trait UsageRepo: Send + Sync {
    fn usage(&self, space_id: &str) -> Result<Usage>;
    /// Records an object (replacing what was recorded under its key, tags included) and
    /// answers the size it replaced.
    fn record_object(&self, space_id: &str, key: &str, rec: &ObjectRecord) -> Result<Option<u64>>;
    /// The stored tags of a recorded object; `None` when the object is not recorded.
    fn object_tags(&self, space_id: &str, key: &str) -> Result<Option<Option<String>>>;
    /// Replaces a recorded object's tags; false when the object is not recorded.
    fn set_object_tags(&self, space_id: &str, key: &str, tags: Option<&str>) -> Result<bool>;
    /// The part sizes of an object completed from parts, as recorded.
    fn object_parts(&self, space_id: &str, key: &str) -> Result<Option<Vec<u64>>>;
    /// The recorded checksum of an object ([`ObjectRecord::checksum`]).
    fn object_checksum(&self, space_id: &str, key: &str) -> Result<Option<String>>;
    /// Forgets an object; returns its size if it was known.
    fn remove_object(&self, space_id: &str, key: &str) -> Result<Option<u64>>;
    /// [`Repo::remove_object`] for many keys in one transaction.
    fn remove_objects(&self, space_id: &str, keys: &[String]) -> Result<()>;
    /// Makes `entries` the space's whole object list and its usage their sum, in one
    /// transaction under the space's usage lock.
    fn replace_objects(&self, space_id: &str, entries: &[(String, u64)]) -> Result<()>;
    fn object_size(&self, space_id: &str, key: &str) -> Result<Option<u64>>;
    fn insert_upload(&self, u: &UploadRecord) -> Result<()>;
    fn upload(&self, upload_id: &str) -> Result<Option<UploadRecord>>;
    fn record_part(&self, upload_id: &str, p: &PartRecord) -> Result<()>;
    fn parts(&self, upload_id: &str) -> Result<Vec<PartRecord>>;
    /// Removes an upload and its parts.
    fn remove_upload(&self, upload_id: &str) -> Result<()>;
    /// Removes an upload and its parts and remembers that it completed as `etag`, in one
    /// transaction.
    fn complete_upload(&self, upload_id: &str, etag: &str, at: OffsetDateTime) -> Result<()>;
    /// `(space_id, key, etag)` of an upload completed lately.
    fn completed_upload(&self, upload_id: &str) -> Result<Option<(String, String, String)>>;
    /// Replaces an upload's recorded parts (reconciliation with the store).
    fn replace_parts(&self, upload_id: &str, parts: &[PartRecord]) -> Result<()>;
    fn list_uploads(&self, space_id: &str, prefix: &str) -> Result<Vec<UploadRecord>>;
    /// Stores `r` if the space's stored bytes, parts of uploads in progress, live reservations
    /// and `r.bytes` stay within `quota`, atomically with respect to every other node.
    /// [`Error::QuotaExceeded`] otherwise.
    fn reserve(&self, r: &ReservationRecord, quota: u64, now: OffsetDateTime) -> Result<()>;
    fn release(&self, id: &str) -> Result<()>;
    /// Bytes of a space's live reservations.
    fn reserved(&self, space_id: &str, now: OffsetDateTime) -> Result<u64>;
    /// Extends every reservation `node` holds to `until`; returns how many.
    fn renew_reservations(&self, node: &str, until: OffsetDateTime) -> Result<u64>;
    /// Drops every reservation: a single node's start, where any is a killed process's.
    fn clear_reservations(&self) -> Result<u64>;
}

/// The audit log.
#[allow(missing_docs)]
pub trait AuditRepo: Send + Sync {
    fn insert_audit(&self, events: &[(OffsetDateTime, NewAuditEvent)]) -> Result<()>;
    fn query_audit(&self, f: &AuditFilter) -> Result<Vec<AuditEvent>>;
}

/// Public web access rules.
#[allow(missing_docs)]
pub trait PublicationRepo: Send + Sync {
    fn set_publication(&self, space_id: &str, rules: &PublicationRules, at: OffsetDateTime) -> Result<()>;
    fn publication(&self, space_id: &str) -> Result<Option<PublicationRules>>;
    fn publication_by_name(&self, public_name: &str) -> Result<Option<(String, PublicationRules)>>;
    /// Sets (or with `None` removes) a space's S3 CORS rules.
    fn set_cors(&self, space_id: &str, rules: Option<&[crate::cors::CorsRule]>, at: OffsetDateTime) -> Result<()>;
    /// A space's S3 CORS rules, if it has any.
    fn cors(&self, space_id: &str) -> Result<Option<Vec<crate::cors::CorsRule>>>;
}

/// Package repositories.
#[allow(missing_docs)]
pub trait PackageRepo: Send + Sync {
    fn insert_repository(&self, r: &Repository, signing_sealed: &[u8]) -> Result<()>;
    /// A repository and its sealed signing key.
    fn repository(&self, name: &str) -> Result<Option<(Repository, Vec<u8>)>>;
    fn list_repositories(&self, tenant_id: Option<&str>) -> Result<Vec<Repository>>;
    fn set_repository_config(&self, name: &str, config: &RepositoryConfig) -> Result<()>;
    /// Records the bytes a repository's published data takes in the backend.
    fn set_published_bytes(&self, name: &str, bytes: u64) -> Result<()>;
    /// A repository's next signing key (sealed), if a rotation is under way.
    fn next_signing_key(&self, name: &str) -> Result<Option<Vec<u8>>>;
    /// Adds the next signing key; false when the repository already has one.
    fn add_next_signing_key(&self, name: &str, sealed: &[u8], public_key: &str, fingerprint: &str) -> Result<bool>;
    /// Makes the next key the only key; false when there is no next key.
    fn retire_signing_key(&self, name: &str) -> Result<bool>;
}

/// Console sessions and per-minute traffic.
#[allow(missing_docs)]
pub trait SessionRepo: Send + Sync {
    fn insert_session(&self, s: &SessionRecord) -> Result<()>;
    /// A live session (not expired at `now`, its token not revoked), with its principal.
    fn session_by_hash(&self, hash: &str, now: OffsetDateTime) -> Result<Option<(SessionRecord, AdminPrincipal)>>;
    fn delete_session(&self, hash: &str) -> Result<()>;
    /// Deletes sessions that expired before `now`; returns how many.
    fn purge_sessions(&self, now: OffsetDateTime) -> Result<u64>;
    /// Adds traffic figures to per-minute rows (every node adds its own).
    fn add_traffic(&self, samples: &[TrafficSample]) -> Result<()>;
    /// A space's per-minute traffic from `since`, oldest first.
    fn traffic(&self, space_id: &str, since: OffsetDateTime) -> Result<Vec<TrafficSample>>;
}

/// OCI registry namespaces, robots and the token signing key.
#[allow(missing_docs)]
pub trait RegistryRepo: Send + Sync {
    /// `events_sealed`: the sealed secret Distribution sends with its notifications.
    fn insert_namespace(&self, n: &RegistryNamespace, events_sealed: &[u8]) -> Result<()>;
    fn namespace(&self, name: &str) -> Result<Option<RegistryNamespace>>;
    fn namespace_events_sealed(&self, name: &str) -> Result<Option<Vec<u8>>>;
    fn list_namespaces(&self, tenant_id: Option<&str>) -> Result<Vec<RegistryNamespace>>;
    fn set_namespace_settings(&self, name: &str, public: bool, retention: &RetentionRules, upstream: Option<&str>) -> Result<()>;
    fn insert_robot(&self, r: &Robot, secret_hash: &str) -> Result<()>;
    /// A robot by login name, with the hash of its secret.
    fn robot_by_username(&self, username: &str) -> Result<Option<(Robot, String)>>;
    fn list_robots(&self, namespace: &str) -> Result<Vec<Robot>>;
    fn revoke_robot(&self, id: &str, at: OffsetDateTime) -> Result<()>;
    /// The registry token signing key (sealed PKCS#8 PEM) and its certificate (PEM).
    fn registry_signing(&self) -> Result<Option<(Vec<u8>, String)>>;
    /// Stores the signing key unless one exists (the first node to start wins).
    fn init_registry_signing(&self, key_sealed: &[u8], cert_pem: &str) -> Result<()>;
}

/// What several nodes share: health, the change feed, leases, and resealing under a new master key.
#[allow(missing_docs)]
pub trait ClusterRepo: Send + Sync {
    /// How many calls can usefully run at once (SQLite: one connection; PostgreSQL: the pool).
    fn parallelism(&self) -> usize {
        1
    }
    fn ping(&self) -> Result<()>;
    /// Appends to the change feed.
    fn add_change(&self, at: OffsetDateTime, origin: &str, kind: &str, space_id: Option<&str>, detail: Option<&str>) -> Result<()>;
    /// Changes after `seq`, oldest first, at most `limit`.
    fn changes_after(&self, seq: i64, limit: u32) -> Result<Vec<Change>>;
    /// The newest change's position (0 for none).
    fn last_change(&self) -> Result<i64>;
    /// Drops changes older than `before` and expired reservations; returns how many rows went.
    fn prune(&self, before: OffsetDateTime, now: OffsetDateTime) -> Result<u64>;
    /// Takes the lease `name` for `holder` until `until` unless another holder has it unexpired
    /// at `now`; returns whether `holder` has it now.
    fn try_lease(&self, name: &str, holder: &str, now: OffsetDateTime, until: OffsetDateTime) -> Result<bool>;
    fn release_lease(&self, name: &str, holder: &str) -> Result<()>;
    /// Drops every lease (a single node's start: no other holder can be alive).
    fn clear_leases(&self) -> Result<u64>;
    /// Every sealed secret: (table, row id, sealed bytes), for master key rotation.
    fn sealed_secrets(&self) -> Result<Vec<(SealedTable, String, Vec<u8>)>>;
    /// Replaces sealed secrets (all in one transaction): (table, row id, new sealed bytes).
    fn reseal(&self, rows: &[(SealedTable, String, Vec<u8>)]) -> Result<()>;
}

/// Object versions (versioned spaces).
pub trait VersionRepo {
    /// A key's current version, if it has one.
    fn current_version(&self, space_id: &str, key: &str) -> Result<Option<VersionRow>>;
    /// One version of a key, current or not.
    fn version(&self, space_id: &str, key: &str, version_id: &str) -> Result<Option<VersionRow>>;
    /// A key's newest noncurrent version or marker.
    fn newest_noncurrent(&self, space_id: &str, key: &str) -> Result<Option<VersionRow>>;
    /// Applies a change to a key's versions; answers the store names whose bytes the change
    /// freed (the caller deletes them).
    fn change_versions(&self, space_id: &str, key: &str, change: &VersionChange, now: OffsetDateTime) -> Result<Vec<String>>;
    /// Sets one version's retention and legal hold; answers whether the version (not a
    /// marker) was there.
    fn set_lock(&self, space_id: &str, key: &str, version_id: &str, lock: &crate::lock::ObjectLock) -> Result<bool>;
    /// Removes one noncurrent version or marker for good; answers what it was.
    fn remove_noncurrent(&self, space_id: &str, key: &str, version_id: &str) -> Result<Option<VersionRow>>;
    /// The current version `removed` is gone for good; the newest noncurrent version `next`
    /// (when it is an object) becomes current, its bytes already copied to the key.
    fn promote(&self, space_id: &str, key: &str, removed: &str, next: Option<&str>) -> Result<()>;
    /// Rows in S3's listing order from `start` (inclusive; with `below`, only its versions
    /// ranked below that): up to `limit` current versions and up to `limit` noncurrent ones,
    /// each side in order.
    fn version_rows(&self, space_id: &str, start: &str, below: Option<i64>, limit: usize) -> Result<(Vec<VersionRow>, Vec<VersionRow>)>;
    /// Records, before the bytes are copied, that a write or delete of `key` is keeping the
    /// current version's bytes under `p.store_name`: a process killed before the change is
    /// recorded leaves this row, and reconciliation finishes or undoes the change from it.
    fn pending_version(&self, space_id: &str, key: &str, p: &Preserved, now: OffsetDateTime) -> Result<()>;
    /// Forgets a pending copy (the write failed and its copy was deleted).
    fn drop_pending(&self, space_id: &str, store_name: &str) -> Result<()>;
    /// The pending copies of a space: (key, what was kept).
    fn pending_versions(&self, space_id: &str) -> Result<Vec<(String, Preserved)>>;
    /// Removes every noncurrent version and marker of these keys (the publisher consuming its
    /// incoming files); answers the store names whose bytes are freed.
    fn purge_versions(&self, space_id: &str, keys: &[String]) -> Result<Vec<String>>;
    /// Every noncurrent version's (and pending copy's) store name, for reconciliation.
    fn version_store_names(&self, space_id: &str) -> Result<Vec<(String, String, u64)>>;
    /// Forgets noncurrent versions whose bytes are gone (reconciliation); recounts the
    /// space's noncurrent usage.
    fn forget_versions(&self, space_id: &str, store_names: &[String]) -> Result<()>;
}

/// Lifecycle rules of spaces.
pub trait LifecycleRepo {
    /// A space's rules, if it has any.
    fn lifecycle(&self, space_id: &str) -> Result<Option<Vec<crate::lifecycle::LifecycleRule>>>;
    /// Sets (or with `None` removes) a space's rules.
    fn set_lifecycle(&self, space_id: &str, rules: Option<&[crate::lifecycle::LifecycleRule]>, now: OffsetDateTime) -> Result<()>;
    /// Every enabled space that has rules, with them.
    fn spaces_with_lifecycle(&self) -> Result<Vec<(Space, Vec<crate::lifecycle::LifecycleRule>)>>;
}

/// Every area's persistence: what [`crate::Control`] holds.
pub trait Repo:
    TenantRepo
    + SpaceRepo
    + IdentityRepo
    + UsageRepo
    + VersionRepo
    + LifecycleRepo
    + AuditRepo
    + PublicationRepo
    + PackageRepo
    + SessionRepo
    + RegistryRepo
    + ClusterRepo
    + 'static
{
}

impl<T> Repo for T where
    T: TenantRepo
        + SpaceRepo
        + IdentityRepo
        + UsageRepo
        + VersionRepo
        + LifecycleRepo
        + AuditRepo
        + PublicationRepo
        + PackageRepo
        + SessionRepo
        + RegistryRepo
        + ClusterRepo
        + 'static
{
}

/// Tables that hold secrets sealed under the master key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SealedTable {
    /// S3 identities' secret keys.
    Identities,
    /// Registry namespaces' notification secrets.
    RegistryNamespaces,
    /// The registry token signing key.
    RegistrySigning,
    /// Repositories' signing keys.
    Repositories,
    /// Repositories' next signing keys, during a rotation.
    RepositoriesNext,
}

impl SealedTable {
    const ALL: [SealedTable; 5] = [
        Self::Identities,
        Self::RegistryNamespaces,
        Self::RegistrySigning,
        Self::Repositories,
        Self::RepositoriesNext,
    ];

    /// (select, update) statements: the update takes (?1 sealed, ?2 id).
    fn sql(self) -> (&'static str, &'static str) {
        match self {
            Self::Identities => (
                "SELECT id, secret_sealed FROM identities",
                "UPDATE identities SET secret_sealed = ?1 WHERE id = ?2",
            ),
            Self::RegistryNamespaces => (
                "SELECT name, events_sealed FROM registry_namespaces",
                "UPDATE registry_namespaces SET events_sealed = ?1 WHERE name = ?2",
            ),
            Self::RegistrySigning => (
                "SELECT CAST(id AS TEXT), key_sealed FROM registry_signing",
                "UPDATE registry_signing SET key_sealed = ?1 WHERE CAST(id AS TEXT) = ?2",
            ),
            Self::Repositories => (
                "SELECT name, signing_sealed FROM repositories",
                "UPDATE repositories SET signing_sealed = ?1 WHERE name = ?2",
            ),
            Self::RepositoriesNext => (
                "SELECT name, next_signing_sealed FROM repositories WHERE next_signing_sealed IS NOT NULL",
                "UPDATE repositories SET next_signing_sealed = ?1 WHERE name = ?2",
            ),
        }
    }
}

/// [`Repo`] over a SQL [`Backend`].
#[derive(Debug)]
pub struct SqlRepo<B> {
    db: B,
}

/// The embedded SQLite repository.
pub type SqliteRepo = SqlRepo<Sqlite>;
/// The PostgreSQL repository.
pub type PgRepo = SqlRepo<Postgres>;

impl SqlRepo<Sqlite> {
    /// Opens (creating and migrating) the database at `path`.
    ///
    /// # Errors
    /// [`Error::Db`] if it cannot be opened or migrated.
    pub fn open(path: &Path) -> Result<Self> {
        Ok(Self { db: Sqlite::open(path)? })
    }

    /// An in-memory database, for tests.
    ///
    /// # Errors
    /// [`Error::Db`] on failure.
    pub fn in_memory() -> Result<Self> {
        Ok(Self { db: Sqlite::in_memory()? })
    }
}

impl SqlRepo<Postgres> {
    /// Connects to PostgreSQL at `url` and migrates the schema.
    ///
    /// # Errors
    /// [`Error::Invalid`] for a bad URL, [`Error::Db`] otherwise.
    pub fn connect(url: &str, ca_file: Option<&Path>) -> Result<Self> {
        Ok(Self {
            db: Postgres::open(url, ca_file)?,
        })
    }

    /// A repository on an already configured pool.
    #[must_use]
    pub fn on(db: Postgres) -> Self {
        Self { db }
    }
}

const SPACE_COLS: &str = "id, tenant_id, workspace_id, name, bucket, base_prefix, visibility, purpose, quota_bytes, created_by, created_at, disabled_at, versioning, object_lock";

fn space_row(mut r: Row) -> Result<Space> {
    Ok(Space {
        id: r.text(0)?,
        tenant_id: r.text(1)?,
        workspace_id: r.opt_text(2)?,
        name: r.text(3)?,
        bucket: r.text(4)?,
        base_prefix: r.text(5)?,
        visibility: r.parse(6)?,
        purpose: r.parse(7)?,
        quota_bytes: r.opt_size(8)?,
        created_by: r.text(9)?,
        created_at: r.time(10)?,
        disabled_at: r.opt_time(11)?,
        versioning: r.parse(12)?,
        object_lock: match r.opt_text(13)? {
            Some(j) => Some(serde_json::from_str(&j).map_err(|e| Error::Db(format!("object lock of a space: {e}").into()))?),
            None => None,
        },
    })
}

const NS_COLS: &str = "name, tenant_id, space_id, storage_identity_id, public, retention, created_by, created_at, upstream";

fn ns_row(mut r: Row) -> Result<RegistryNamespace> {
    Ok(RegistryNamespace {
        name: r.text(0)?,
        tenant_id: r.text(1)?,
        space_id: r.text(2)?,
        storage_identity_id: r.text(3)?,
        public: r.bool(4)?,
        retention: r.json(5)?,
        created_by: r.text(6)?,
        created_at: r.time(7)?,
        upstream: r.opt_text(8)?,
    })
}

const ROBOT_COLS: &str = "id, namespace, name, username, access, created_by, created_at, revoked_at";

fn robot_row(r: &mut Row) -> Result<Robot> {
    Ok(Robot {
        id: r.text(0)?,
        namespace: r.text(1)?,
        name: r.text(2)?,
        username: r.text(3)?,
        access: r.parse(4)?,
        created_by: r.text(5)?,
        created_at: r.time(6)?,
        revoked_at: r.opt_time(7)?,
    })
}

const IDENT_COLS: &str = "id, tenant_id, space_id, name, access_key_id, mode, allowed_prefix, expires_at, last_used_at, revoked_at, created_by, created_at, rotated_at, secret_sealed";

fn ident_row(r: &mut Row) -> Result<Identity> {
    Ok(Identity {
        id: r.text(0)?,
        tenant_id: r.text(1)?,
        space_id: r.text(2)?,
        name: r.text(3)?,
        access_key_id: r.text(4)?,
        mode: r.parse(5)?,
        allowed_prefix: r.text(6)?,
        expires_at: r.opt_time(7)?,
        last_used_at: r.opt_time(8)?,
        revoked_at: r.opt_time(9)?,
        created_by: r.text(10)?,
        created_at: r.time(11)?,
        rotated_at: r.opt_time(12)?,
    })
}

fn tenant_row(mut r: Row) -> Result<Tenant> {
    Ok(Tenant {
        id: r.text(0)?,
        name: r.text(1)?,
        created_at: r.time(2)?,
    })
}

const UPLOAD_COLS: &str = "upload_id, space_id, key, identity_id, initiated, tags, checksum_algorithm, object_lock";

fn upload_row(mut r: Row) -> Result<UploadRecord> {
    Ok(UploadRecord {
        upload_id: r.text(0)?,
        space_id: r.text(1)?,
        key: r.text(2)?,
        identity_id: r.text(3)?,
        initiated: r.time(4)?,
        tags: r.opt_text(5)?,
        checksum_algorithm: r.opt_text(6)?,
        lock: match r.opt_text(7)? {
            Some(j) => serde_json::from_str(&j).map_err(|e| Error::Db(format!("object lock of an upload: {e}").into()))?,
            None => crate::lock::ObjectLock::default(),
        },
    })
}

const REPO_COLS: &str =
    "name, tenant_id, space_id, config, public_key, fingerprint, created_by, created_at, next_public_key, next_fingerprint";

fn repo_row(r: &mut Row) -> Result<Repository> {
    Ok(Repository {
        name: r.text(0)?,
        tenant_id: r.text(1)?,
        space_id: r.text(2)?,
        config: r.json(3)?,
        public_key: r.text(4)?,
        fingerprint: r.text(5)?,
        created_by: r.text(6)?,
        created_at: r.time(7)?,
        next_public_key: r.opt_text(8)?,
        next_fingerprint: r.opt_text(9)?,
    })
}

fn audit_row(mut r: Row) -> Result<AuditEvent> {
    Ok(AuditEvent {
        id: r.int(0)?,
        timestamp: r.time(1)?,
        event: NewAuditEvent {
            tenant_id: r.opt_text(2)?,
            object_space_id: r.opt_text(3)?,
            identity_id: r.opt_text(4)?,
            actor: r.text(5)?,
            kind: r.text(6)?,
            operation: r.text(7)?,
            object_key: r.opt_text(8)?,
            source_ip: r.opt_text(9)?,
            user_agent: r.opt_text(10)?,
            status: r.text(11)?,
            bytes: r.size(12)?,
            detail: r.opt_text(13)?,
        },
    })
}

fn json_text<T: serde::Serialize>(v: &T, what: &str) -> Result<String> {
    serde_json::to_string(v).map_err(|e| Error::Invalid(format!("{what}: {e}")))
}

/// Rows of a query, each mapped by `f`.
fn all<T>(c: &mut dyn Conn, sql: &str, params: &[sql::Val<'_>], f: impl FnMut(Row) -> Result<T>) -> Result<Vec<T>> {
    c.rows(sql, params)?.into_iter().map(f).collect()
}

/// The first row of a query mapped by `f`, if there is one.
fn one<T>(c: &mut dyn Conn, sql: &str, params: &[sql::Val<'_>], f: impl FnOnce(Row) -> Result<T>) -> Result<Option<T>> {
    c.row(sql, params)?.map(f).transpose()
}

/// Takes the space's usage row lock: every writer of a space's figures goes through it, so
/// read-then-write sequences on several nodes cannot interleave.
/// Part sizes as stored (`objects.parts`): comma-separated, none for an object in one piece.
fn parts_text(parts: &[u64]) -> Option<String> {
    (!parts.is_empty()).then(|| parts.iter().map(u64::to_string).collect::<Vec<_>>().join(","))
}

/// [`parts_text`] read back.
fn parts_of(text: &str) -> Vec<u64> {
    text.split(',').filter_map(|n| n.parse().ok()).collect()
}

fn lock_usage(c: &mut dyn Conn, space_id: &str) -> Result<()> {
    c.exec("UPDATE usage SET objects = objects WHERE space_id = ?1", p![space_id])?;
    Ok(())
}

fn usage_in(c: &mut dyn Conn, space_id: &str) -> Result<Usage> {
    let (bytes, objects, noncurrent_bytes, noncurrent_objects, delete_markers) = one(
        c,
        "SELECT bytes, objects, noncurrent_bytes, noncurrent_objects, delete_markers FROM usage WHERE space_id = ?1",
        p![space_id],
        |mut r| Ok((r.size(0)?, r.size(1)?, r.size(2)?, r.size(3)?, r.size(4)?)),
    )?
    .unwrap_or((0, 0, 0, 0, 0));
    let multipart_bytes = one(
        c,
        "SELECT CAST(COALESCE(SUM(p.size), 0) AS BIGINT) FROM upload_parts p JOIN uploads u ON u.upload_id = p.upload_id WHERE u.space_id = ?1",
        p![space_id],
        |mut r| r.size(0),
    )?
    .unwrap_or(0);
    let published_bytes = one(
        c,
        "SELECT CAST(COALESCE(SUM(published_bytes), 0) AS BIGINT) FROM repositories WHERE space_id = ?1",
        p![space_id],
        |mut r| r.size(0),
    )?
    .unwrap_or(0);
    Ok(Usage {
        bytes,
        objects,
        multipart_bytes,
        published_bytes,
        noncurrent_bytes,
        noncurrent_objects,
        delete_markers,
    })
}

fn reserved_in(c: &mut dyn Conn, space_id: &str, now: OffsetDateTime) -> Result<u64> {
    Ok(one(
        c,
        "SELECT CAST(COALESCE(SUM(bytes), 0) AS BIGINT) FROM reservations WHERE space_id = ?1 AND expires_at > ?2",
        p![space_id, now],
        |mut r| r.size(0),
    )?
    .unwrap_or(0))
}

/// Repositories for tests: SQLite, or PostgreSQL when `RUSTSHARE_TEST_POSTGRES` holds a URL
/// (each call gets a schema of its own there, so tests run in parallel on one server).
#[cfg(test)]
pub(crate) mod testing {
    use std::sync::Arc;

    use super::{PgRepo, Postgres, Repo, SqliteRepo};

    fn postgres_url() -> Option<String> {
        std::env::var("RUSTSHARE_TEST_POSTGRES").ok().filter(|u| !u.is_empty())
    }

    fn pg_schema(url: &str) -> postgres::Config {
        use std::str::FromStr;
        let schema = format!("t_{}", crate::service::test_id());
        let mut client = postgres::Client::connect(url, postgres::NoTls).expect("connect to the test PostgreSQL");
        client
            .batch_execute(&format!("CREATE SCHEMA {schema}"))
            .expect("create a test schema");
        let mut cfg = postgres::Config::from_str(url).expect("test PostgreSQL URL");
        cfg.options(&format!("-c search_path={schema}"));
        cfg
    }

    /// One repository.
    pub(crate) fn repo() -> Arc<dyn Repo> {
        match postgres_url() {
            Some(url) => Arc::new(PgRepo::on(Postgres::with_config(pg_schema(&url), None).expect("postgres repo"))),
            None => Arc::new(SqliteRepo::in_memory().expect("sqlite repo")),
        }
    }

    /// Two repositories on one database, as two nodes see it. The guard keeps a SQLite file.
    pub(crate) fn shared_pair() -> (Arc<dyn Repo>, Arc<dyn Repo>, Option<tempfile::TempDir>) {
        if let Some(url) = postgres_url() {
            let cfg = pg_schema(&url);
            let a = PgRepo::on(Postgres::with_config(cfg.clone(), None).expect("postgres repo"));
            let b = PgRepo::on(Postgres::with_config(cfg, None).expect("postgres repo"));
            (Arc::new(a), Arc::new(b), None)
        } else {
            let dir = tempfile::tempdir().expect("temp dir");
            let path = dir.path().join("shared.db");
            let a = SqliteRepo::open(&path).expect("sqlite repo");
            let b = SqliteRepo::open(&path).expect("sqlite repo");
            (Arc::new(a), Arc::new(b), Some(dir))
        }
    }

    /// Which database the tests run on, for messages.
    pub(crate) fn which() -> &'static str {
        if postgres_url().is_some() { "postgres" } else { "sqlite" }
    }
}
