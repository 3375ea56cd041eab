//! Every JSON body the control API reads or writes, as Rust types. The handlers build these, the
//! CLI reads them (`cli::client::Client::typed`), and the OpenAPI document's schemas are
//! derived from them (by `api/openapi.rs`); a test sends each documented reply through its type
//! and back, so a handler cannot answer a field the type does not have.

use rustshare_control::db::TrafficSample;
use rustshare_control::model::{
    AdminPrincipal, AuditEvent, Distribution, Identity, PublicationRules, RegistryNamespace, Repository, RepositoryConfig, RetentionRules,
    Robot, RobotAccess, Space, Tenant, Usage,
};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::metrics::CdnStats;

// ---- requests -------------------------------------------------------------------------------

/// A name: a tenant, or a tenant token.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NameBody {
    /// Lower-case letters, digits and dashes.
    #[schemars(regex(pattern = r"^[a-z0-9]([a-z0-9-]{0,38}[a-z0-9])?$"))]
    pub name: String,
}

/// A space's quota.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct QuotaBody {
    /// Bytes; `null` removes the quota.
    pub quota_bytes: Option<u64>,
}

/// What to drop from the CDN's cache: a key or a prefix, not both; neither drops the space.
#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PurgeBody {
    /// One object key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    /// Every key under this prefix.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prefix: Option<String>,
}

/// A space's S3 CORS rules (what PutBucketCors sets), first match wins.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CorsBody {
    /// The rules, 1 to 100.
    pub rules: Vec<rustshare_control::cors::CorsRule>,
}

/// A master key rotation.
#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RotateBody {
    /// A key already in every node's key file; absent, a new one is generated.
    pub fingerprint: Option<String>,
}

/// Where the registry will listen and read the token certificate.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RegistryConfigBody {
    /// Where the registry will listen.
    pub listen: Option<String>,
    /// Where the registry will read the token certificate.
    pub root_cert_bundle: String,
}

/// A distribution as a caller names it.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DistBody {
    /// Suite (`stable`).
    pub suite: String,
    /// Codename (`bookworm`); the suite when absent.
    pub codename: Option<String>,
}

/// Repository fields a caller may set; absent ones keep their current (or default) value.
#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RepositoryChange {
    /// Distributions.
    pub distributions: Option<Vec<DistBody>>,
    /// Components.
    pub components: Option<Vec<String>>,
    /// Architectures.
    pub architectures: Option<Vec<String>>,
    /// Release `Origin`.
    pub origin: Option<String>,
    /// Release `Label`.
    pub label: Option<String>,
    /// Release `Description`.
    pub description: Option<String>,
    /// Where CI uploads `.deb` files through the S3 face.
    pub incoming_prefix: Option<String>,
    /// Snapshots kept.
    #[schemars(range(min = 1))]
    pub retain: Option<u32>,
    /// Seconds a superseded snapshot is kept for clients still reading it.
    pub retain_grace_secs: Option<u32>,
    /// Days a Release is valid (`Valid-Until`); 0 or absent for none.
    pub valid_until_days: Option<u32>,
    /// Versions of a package kept per distribution, component and architecture (1 replaces).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 100))]
    pub keep_versions: Option<u32>,
    /// Uploaders' OpenPGP public keys (ASCII-armored); replaces the list.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uploaders: Option<Vec<String>>,
    /// Take only uploads listed in a `.changes` signed by an uploader key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signed_uploads: Option<bool>,
}

impl RepositoryChange {
    /// `config` with these fields applied.
    #[must_use]
    pub fn apply(self, mut config: RepositoryConfig) -> RepositoryConfig {
        if let Some(d) = self.distributions {
            config.distributions = d
                .into_iter()
                .map(|d| Distribution {
                    codename: d.codename.unwrap_or_else(|| d.suite.clone()),
                    suite: d.suite,
                })
                .collect();
        }
        macro_rules! set {
            ($($f:ident),*) => { $(if let Some(v) = self.$f { config.$f = v; })* };
        }
        set!(
            components,
            architectures,
            origin,
            label,
            description,
            incoming_prefix,
            retain,
            retain_grace_secs,
            keep_versions,
            uploaders,
            signed_uploads
        );
        if let Some(v) = self.valid_until_days {
            config.valid_until_days = (v > 0).then_some(v);
        }
        config
    }
}

/// A new package repository.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NewRepository {
    /// Name, unique in the installation.
    pub name: String,
    /// The space (id or bucket) it publishes into.
    pub space: String,
    /// An unprotected OpenPGP secret key (armored) to import instead of generating one.
    pub signing_key: Option<String>,
    /// Its configuration.
    #[serde(flatten)]
    pub config: RepositoryChange,
}

/// A signing-key rotation's new key.
#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RotateKeyBody {
    /// An unprotected OpenPGP secret key (armored) to import instead of generating one.
    #[serde(default)]
    pub signing_key: Option<String>,
}

/// A signing-key change: the repository with its keys, and the snapshot signed by them.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct KeyChanged {
    /// The repository as it is now.
    pub repository: RepositoryView,
    /// The snapshot signed by the keys it has now.
    pub published: Published,
}

/// A snapshot to switch back to.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RollbackBody {
    /// Snapshot id.
    pub snapshot: String,
}

/// Packages to take out of a distribution, as one new snapshot.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RemoveBody {
    /// Suite or codename.
    pub dist: String,
    /// Only this component (default: every one).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub component: Option<String>,
    /// Only this architecture (default: every one).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub architecture: Option<String>,
    /// `name` (every version) or `name=version`; `*` in a name matches any run of characters.
    pub packages: Vec<String>,
}

/// Packages to copy from one distribution (and component) to another, as one new snapshot.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CopyBody {
    /// Source suite or codename.
    pub from: String,
    /// Only from this component (default: every one).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from_component: Option<String>,
    /// Target suite or codename.
    pub to: String,
    /// Into this component (default: the same as the source's).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to_component: Option<String>,
    /// Only this architecture (default: every one).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub architecture: Option<String>,
    /// `name` or `name=version`; `*` in a name matches any run of characters.
    pub packages: Vec<String>,
}

/// A whole distribution's package set to make another's.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PromoteBody {
    /// Source suite or codename (`testing`).
    pub from: String,
    /// Target suite or codename (`stable`): afterwards it holds exactly what `from` holds.
    pub to: String,
}

/// A console login.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct LoginBody {
    /// An admin token.
    pub token: String,
}

/// A new registry namespace.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NewNamespace {
    /// Name.
    pub name: String,
    /// Tenant id or name; tenant tokens may omit it.
    pub tenant: Option<String>,
    /// Quota of its storage space, bytes.
    pub quota_bytes: Option<u64>,
}

/// Changes to a registry namespace.
#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NamespaceChange {
    /// Anonymous pulls.
    pub public: Option<bool>,
    /// Retention rules.
    pub retention: Option<RetentionRules>,
    /// A registry to pull through from.
    pub upstream: Option<String>,
}

/// A new registry robot.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NewRobot {
    /// Name.
    pub name: String,
    /// Pull, or push (and pull).
    pub access: RobotAccess,
}

// ---- replies --------------------------------------------------------------------------------

/// Tenants.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct TenantList {
    /// Every tenant the caller may see.
    pub tenants: Vec<Tenant>,
}

/// A tenant admin token, shown once.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct TenantToken {
    /// The token.
    pub token: String,
    /// Its name.
    pub name: String,
    /// The tenant, as the caller named it.
    pub tenant: String,
}

/// Whether public web access is on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum OnOff {
    /// On.
    Enabled,
    /// Off.
    Disabled,
}

/// A space in a list.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct SpaceRow {
    /// The space.
    #[serde(flatten)]
    pub space: Space,
    /// What it stores.
    pub usage: Usage,
    /// Whether the CDN face serves it.
    pub public_web_access: OnOff,
}

/// Spaces.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct SpaceList {
    /// The spaces the caller may see (this page of them, when the request asked for one).
    pub spaces: Vec<SpaceRow>,
    /// How many spaces match the filters in all.
    #[serde(default)]
    pub total: usize,
    /// Where the next page starts (`offset`), when there is one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_offset: Option<usize>,
}

/// What an S3 client needs besides a key.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct S3Access {
    /// Endpoint URL.
    pub endpoint: String,
    /// Bucket name.
    pub bucket: String,
    /// Region signatures are scoped to.
    pub region: String,
    /// Path-style addressing.
    pub path_style: bool,
}

/// Public web access of a space.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct PublicView {
    /// Whether it is on.
    pub public_web_access: OnOff,
    /// Where it is served.
    pub url: String,
    /// Its rules.
    pub rules: PublicationRules,
}

/// A space with usage, keys and access, as `GET /spaces/{space}` returns it.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct SpaceView {
    /// The space.
    #[serde(flatten)]
    pub space: Space,
    /// What it stores.
    pub usage: Usage,
    /// CDN figures since this node started.
    pub cdn: CdnStats,
    /// Its S3 keys (never secrets).
    pub keys: Vec<Identity>,
    /// How S3 clients reach it.
    pub s3_api_access: String,
    /// What an S3 client needs besides a key.
    pub s3: S3Access,
    /// Whether the CDN face serves it.
    pub public_web_access: OnOff,
    /// Its public web access, once configured.
    pub public: Option<PublicView>,
}

/// Public web access of a space, as its routes answer.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct PublicState {
    /// Space id.
    pub space_id: String,
    /// Bucket.
    pub bucket: String,
    /// Whether the CDN face serves it.
    pub public_web_access: OnOff,
    /// Its public web access, once configured.
    pub public: Option<PublicView>,
}

/// A space's S3 CORS rules, as their routes answer.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct CorsState {
    /// Space id.
    pub space_id: String,
    /// Bucket.
    pub bucket: String,
    /// The rules; none when browsers may not call the S3 endpoint for this bucket.
    pub rules: Option<Vec<rustshare_control::cors::CorsRule>>,
}

/// What a purge dropped.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct Purged {
    /// The key or prefix.
    pub purged: PurgeBody,
    /// Space id.
    pub space_id: String,
}

/// A space's lifecycle rules.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct LifecycleBody {
    /// The rules, in order.
    pub rules: Vec<rustshare_control::lifecycle::LifecycleRule>,
}

/// A space's lifecycle rules as stored.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct LifecycleState {
    /// Space id.
    pub space_id: String,
    /// Bucket.
    pub bucket: String,
    /// The rules; none when nothing expires.
    pub rules: Option<Vec<rustshare_control::lifecycle::LifecycleRule>>,
}

/// A lifecycle pass to run now.
#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct LifecycleRun {
    /// Most removals (default 10,000).
    #[serde(default)]
    pub batch: Option<usize>,
    /// Judge as of this later time (default: now).
    #[serde(default, with = "time::serde::rfc3339::option")]
    #[schemars(with = "Option<rustshare_control::model::DateTime>")]
    pub as_of: Option<time::OffsetDateTime>,
}

/// A space's versioning state (`unversioned` is refused once versioning was enabled).
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct VersioningBody {
    /// `enabled` or `suspended`.
    pub versioning: rustshare_control::model::Versioning,
}

/// One version of an object, or a delete marker.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct VersionView {
    /// Object key.
    pub key: String,
    /// Version id (`null` for the version written while versioning was off or suspended).
    pub version_id: String,
    /// Whether it is the key's latest version.
    pub latest: bool,
    /// Whether it is a delete marker.
    pub delete_marker: bool,
    /// Bytes (0 for a marker).
    pub size: u64,
    /// ETag, when recorded.
    pub etag: Option<String>,
    /// When it was written.
    #[serde(with = "time::serde::rfc3339::option")]
    #[schemars(with = "Option<rustshare_control::model::DateTime>")]
    pub last_modified: Option<time::OffsetDateTime>,
    /// Its retention and legal hold (object lock), when it has either.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lock: Option<rustshare_control::lock::ObjectLock>,
}

/// Sets one version's retention (as PutObjectRetention).
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RetentionBody {
    /// Object key.
    pub key: String,
    /// The version (default: the current one).
    #[serde(default)]
    pub version_id: Option<String>,
    /// The new retention; `null` removes it (a governance retention, by the operator with
    /// `bypass_governance`).
    pub retention: Option<rustshare_control::lock::Retention>,
    /// Shorten or lift a governance retention: the operator only.
    #[serde(default)]
    pub bypass_governance: bool,
}

/// Puts or lifts one version's legal hold (as PutObjectLegalHold).
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct LegalHoldBody {
    /// Object key.
    pub key: String,
    /// The version (default: the current one).
    #[serde(default)]
    pub version_id: Option<String>,
    /// On or off.
    pub on: bool,
}

/// Removes one version for good (as DeleteObject with a version id).
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RemoveVersionBody {
    /// Object key.
    pub key: String,
    /// The version or delete marker.
    pub version_id: String,
    /// Remove it although a governance retention protects it: the operator only.
    #[serde(default)]
    pub bypass_governance: bool,
}

/// A version's lock after a change.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct VersionLock {
    /// Object key.
    pub key: String,
    /// The version changed.
    pub version_id: String,
    /// Its retention and legal hold now.
    pub lock: rustshare_control::lock::ObjectLock,
}

/// A version removed.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct RemovedVersion {
    /// Object key.
    pub key: String,
    /// The version removed.
    pub version_id: String,
    /// Whether it was a delete marker.
    pub delete_marker: bool,
}

/// A page of versions, by key then newest first.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct VersionList {
    /// Space id.
    pub space_id: String,
    /// The space's state.
    pub versioning: rustshare_control::model::Versioning,
    /// The versions.
    pub versions: Vec<VersionView>,
    /// Whether more follow.
    pub truncated: bool,
    /// Where the next page starts (`key_marker`).
    pub next_key_marker: Option<String>,
    /// Where the next page starts within that key (`version_marker`).
    pub next_version_marker: Option<String>,
}

/// Which version to make current again.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RestoreBody {
    /// Object key.
    pub key: String,
    /// The version to restore.
    pub version_id: String,
}

/// A restored version.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct Restored {
    /// Object key.
    pub key: String,
    /// The version copied.
    pub restored_from: String,
    /// The new current version.
    pub version_id: String,
}

/// A space's usage.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct SpaceUsage {
    /// Space id.
    pub space_id: String,
    /// Bucket.
    pub bucket: String,
    /// Quota, bytes.
    pub quota_bytes: Option<u64>,
    /// What it stores.
    pub usage: Usage,
    /// CDN figures since this node started.
    pub cdn: CdnStats,
}

/// Per-minute traffic.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct Traffic {
    /// How far back.
    pub minutes: u32,
    /// One sample per minute with traffic, oldest first.
    pub samples: Vec<TrafficSample>,
}

/// Upload commands for the three clients people use with a new key.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct ClientCommands {
    /// aws-cli.
    pub aws: String,
    /// s3cmd.
    pub s3cmd: String,
    /// rclone.
    pub rclone: String,
}

/// A key and its secret, shown once.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct KeyBlock {
    /// The identity.
    pub identity: Identity,
    /// Access key id.
    pub access_key_id: String,
    /// Secret access key.
    pub secret_access_key: String,
    /// S3 endpoint.
    pub endpoint: String,
    /// Bucket.
    pub bucket: String,
    /// The prefix the key is limited to.
    pub prefix: String,
    /// Region.
    pub region: String,
    /// Path-style addressing.
    pub path_style: bool,
    /// Ready-to-paste client commands, shown by the CLI and the console alike.
    pub commands: ClientCommands,
}

/// S3 keys of a space.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct KeyList {
    /// Never with secrets.
    pub keys: Vec<Identity>,
}

/// A page of audit events.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct AuditPage {
    /// Newest first.
    pub events: Vec<AuditEvent>,
    /// `before` for the next page, when this one is full.
    pub next_before: Option<i64>,
}

/// Where the master key comes from.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct MasterKeyInfo {
    /// Fingerprint of the key that seals secrets now.
    pub fingerprint: String,
    /// `env`, or the key file's path.
    pub source: String,
}

/// What a master key rotation or retirement did.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct MasterKeyChange {
    /// Fingerprint of the key that seals secrets now.
    pub fingerprint: String,
    /// Secrets sealed anew.
    pub resealed: usize,
    /// The key file (rotation).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_file: Option<String>,
    /// Whether older keys were dropped (retirement).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retired: Option<bool>,
    /// What the operator must still do, if anything.
    pub note: Option<String>,
}

/// One space's usage before and after a reconcile.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct ReconciledSpace {
    /// Bucket.
    pub bucket: String,
    /// As recorded.
    pub before: Usage,
    /// As the store holds it.
    pub after: Usage,
}

/// What a reconcile found.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct Reconciled {
    /// Every space.
    pub spaces: Vec<ReconciledSpace>,
}

/// A console session.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct SessionInfo {
    /// Send as `x-csrf-token` with every change.
    pub csrf_token: String,
    /// Who is logged in.
    pub principal: AdminPrincipal,
    /// When the session ends (RFC 3339).
    pub expires_at: String,
}

/// A repository with its current snapshot and apt set-up.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct RepositoryView {
    /// The repository.
    pub repository: Repository,
    /// Current snapshot id.
    pub current_snapshot: Option<String>,
    /// Where apt reads it.
    pub url: String,
    /// Its signing key (binary).
    pub key_url: String,
    /// A deb822 `.sources` file for it.
    pub sources: String,
}

/// Repositories.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct RepositoryList {
    /// Every repository the caller may see.
    pub repositories: Vec<Repository>,
}

/// A snapshot in a list.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct Snapshot {
    /// Sortable id (milliseconds since the epoch, zero-padded).
    pub id: String,
    /// When it was made (RFC 3339).
    #[serde(with = "time::serde::rfc3339")]
    #[schemars(with = "rustshare_control::model::DateTime")]
    pub created: time::OffsetDateTime,
    /// The snapshot it was derived from.
    pub parent: Option<String>,
    /// Packages published (all distributions).
    pub packages: usize,
    /// What changed, for people.
    pub changes: Vec<String>,
}

impl From<rustshare_publisher::snapshot::SnapshotInfo> for Snapshot {
    fn from(s: rustshare_publisher::snapshot::SnapshotInfo) -> Self {
        Self {
            id: s.id,
            created: s.created,
            parent: s.parent,
            packages: s.packages,
            changes: s.changes,
        }
    }
}

/// What a publish or rollback did.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct Published {
    /// The new (or, with nothing new, current) snapshot.
    pub snapshot: Snapshot,
    /// Files in incoming that were already published as they are.
    pub unchanged: usize,
}

impl From<rustshare_publisher::PublishReport> for Published {
    fn from(r: rustshare_publisher::PublishReport) -> Self {
        Self {
            snapshot: r.snapshot.into(),
            unchanged: r.unchanged,
        }
    }
}

/// One published package.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct PackageRow {
    /// Suite.
    pub dist: String,
    /// Component.
    pub component: String,
    /// Name.
    pub package: String,
    /// Version.
    pub version: String,
    /// Architecture.
    pub architecture: String,
    /// Bytes of the .deb.
    pub size: u64,
    /// Its path in the repository.
    pub filename: String,
    /// SHA-256 of the .deb.
    pub sha256: String,
}

impl From<rustshare_publisher::snapshot::PackageRecord> for PackageRow {
    fn from(r: rustshare_publisher::snapshot::PackageRecord) -> Self {
        Self {
            dist: r.dist,
            component: r.component,
            package: r.package,
            version: r.version,
            architecture: r.architecture,
            size: r.size,
            filename: r.filename,
            sha256: r.sha256,
        }
    }
}

/// The packages of a repository's current snapshot that answer a query.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct PackageList {
    /// Current snapshot id (none before the first publish).
    pub current_snapshot: Option<String>,
    /// In the snapshot's order: by suite, component, name, architecture.
    pub packages: Vec<PackageRow>,
}

/// A repository's snapshots.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct SnapshotList {
    /// Current snapshot id.
    pub current_snapshot: Option<String>,
    /// Newest first.
    pub snapshots: Vec<Snapshot>,
}

/// One registry namespace.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct NamespaceReply {
    /// The namespace.
    pub namespace: RegistryNamespace,
}

/// Registry namespaces.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct NamespaceList {
    /// Every namespace the caller may see.
    pub namespaces: Vec<RegistryNamespace>,
}

/// A namespace with its robots and usage.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct NamespaceView {
    /// The namespace.
    pub namespace: RegistryNamespace,
    /// Its robots.
    pub robots: Vec<Robot>,
    /// The bucket of its storage space.
    pub bucket: String,
    /// What it stores.
    pub usage: Usage,
    /// Quota, bytes.
    pub quota_bytes: Option<u64>,
}

/// A new robot and its secret, shown once.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct RobotCreated {
    /// `docker login` user name.
    pub username: String,
    /// `docker login` password.
    pub secret: String,
    /// The robot.
    pub robot: Robot,
}

/// One robot.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct RobotReply {
    /// The robot.
    pub robot: Robot,
}

/// Robots of a namespace.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct RobotList {
    /// Every robot.
    pub robots: Vec<Robot>,
}

/// What CNCF Distribution needs to run on a namespace's space.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct RegistryConfigReply {
    /// Distribution's `config.yml`.
    pub config: String,
    /// Its environment: the storage key and secret.
    pub environment: String,
    /// The certificate registry tokens are signed with (PEM).
    pub certificate: String,
}

/// An API error.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct ErrorBody {
    /// What went wrong.
    pub error: ErrorDetail,
}

/// What went wrong.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct ErrorDetail {
    /// A stable code.
    #[schemars(extend("enum" = ["unauthorized", "forbidden", "csrf_failed", "not_found", "conflict", "invalid_request", "quota_exceeded", "rejected", "length_required", "too_large", "internal"]))]
    pub code: String,
    /// For people; safe to show.
    pub message: String,
}

/// A folder (common prefix) in an object listing.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct FolderRow {
    /// The prefix, ending in `/`.
    pub prefix: String,
}

/// An object in a listing.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct ObjectRow {
    /// Key.
    pub key: String,
    /// Bytes.
    pub size: u64,
    /// ETag.
    pub etag: Option<String>,
    /// When it was written.
    #[serde(with = "time::serde::rfc3339::option")]
    #[schemars(with = "Option<rustshare_control::model::DateTime>")]
    pub last_modified: Option<time::OffsetDateTime>,
}

/// One page of a space's objects under a prefix, folded at `/` (the S3 face's listing).
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct ObjectList {
    /// The prefix listed.
    pub prefix: String,
    /// Folders directly under it.
    pub folders: Vec<FolderRow>,
    /// Objects directly under it.
    pub objects: Vec<ObjectRow>,
    /// More follow: ask again with `after`.
    pub truncated: bool,
    /// Where the next page starts.
    pub next_after: Option<String>,
}

/// What the console shows of one object.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct ObjectInfo {
    /// Key.
    pub key: String,
    /// Bytes.
    pub size: u64,
    /// ETag.
    pub etag: Option<String>,
    /// Content-Type.
    pub content_type: Option<String>,
    /// Cache-Control stored with it.
    pub cache_control: Option<String>,
    /// When it was written.
    #[serde(with = "time::serde::rfc3339::option")]
    #[schemars(with = "Option<rustshare_control::model::DateTime>")]
    pub last_modified: Option<time::OffsetDateTime>,
    /// Its current version id, in a versioned space.
    pub version_id: Option<String>,
    /// User metadata (`x-amz-meta-*`).
    pub metadata: std::collections::BTreeMap<String, String>,
    /// Its URL on the CDN face, when the space publishes it.
    pub public_url: Option<String>,
}

/// A multipart upload begun from the console.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct UploadStarted {
    /// Key.
    pub key: String,
    /// The upload's id.
    pub upload_id: String,
}

/// One part stored.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct PartStored {
    /// Part number.
    pub part: u32,
    /// Its ETag, named again at completion.
    pub etag: String,
}

/// The parts a completion joins, in order.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CompleteBody {
    /// Parts as stored.
    pub parts: Vec<PartStored>,
}

/// An object written from the console.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct ObjectWritten {
    /// Key.
    pub key: String,
    /// ETag.
    pub etag: Option<String>,
    /// Version id, in a versioned space.
    pub version_id: Option<String>,
}

/// Objects to delete (at most 1,000 a request).
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DeleteBody {
    /// Keys.
    pub keys: Vec<String>,
}

/// One key a delete refused.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct DeleteFailure {
    /// Key.
    pub key: String,
    /// Why (the S3 error's message).
    pub message: String,
}

/// What a delete did.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct DeleteResult {
    /// Keys deleted.
    pub deleted: u64,
    /// Keys refused, and why.
    pub failed: Vec<DeleteFailure>,
}

/// A share link to make.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ShareBody {
    /// Key.
    pub key: String,
    /// Lifetime in seconds: 3,600 (1 hour) to 604,800 (7 days).
    pub expires_in_seconds: u64,
}

/// A presigned GET anyone holding it may use until it expires (or its signing key is revoked).
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct ShareLink {
    /// Key.
    pub key: String,
    /// The URL.
    pub url: String,
    /// When it stops working.
    #[serde(with = "time::serde::rfc3339")]
    #[schemars(with = "rustshare_control::model::DateTime")]
    pub expires_at: time::OffsetDateTime,
    /// The key that signs share links of this space; revoking it ends every link at once.
    pub signed_by: String,
}
