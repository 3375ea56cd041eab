//! Persistence. [`Repo`] is what the domain needs; [`SqlRepo`] implements it once over the SQL
//! both databases share, on an embedded SQLite database ([`SqliteRepo`], the single-node
//! default) or on PostgreSQL ([`PgRepo`], for several nodes).

mod pg;
pub(crate) mod sql;
mod sqlite;

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
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct TrafficSample {
    /// Space.
    #[serde(skip)]
    pub space_id: String,
    /// Start of the minute.
    #[serde(with = "time::serde::rfc3339")]
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

/// The persistence interface of the control module.
#[allow(missing_docs)]
pub trait Repo: Send + Sync + 'static {
    fn insert_tenant(&self, t: &Tenant) -> Result<()>;
    fn tenant(&self, id_or_name: &str) -> Result<Option<Tenant>>;
    fn list_tenants(&self) -> Result<Vec<Tenant>>;
    fn insert_token(&self, id: &str, tenant_id: Option<&str>, name: &str, hash: &str, now: OffsetDateTime) -> Result<()>;
    fn token_by_hash(&self, hash: &str) -> Result<Option<AdminPrincipal>>;
    fn operator_token_count(&self) -> Result<u64>;
    fn insert_space(&self, s: &Space) -> Result<()>;
    fn space(&self, id: &str) -> Result<Option<Space>>;
    fn space_by_bucket(&self, bucket: &str) -> Result<Option<Space>>;
    fn space_by_name(&self, tenant_id: &str, name: &str) -> Result<Option<Space>>;
    fn list_spaces(&self, tenant_id: Option<&str>) -> Result<Vec<Space>>;
    fn set_space_disabled(&self, id: &str, at: Option<OffsetDateTime>) -> Result<()>;
    fn set_space_quota(&self, id: &str, quota: Option<u64>) -> Result<()>;
    fn insert_identity(&self, i: &Identity, sealed: &[u8]) -> Result<()>;
    fn identity(&self, id: &str) -> Result<Option<Identity>>;
    fn identity_by_key(&self, access_key_id: &str) -> Result<Option<(Identity, Vec<u8>)>>;
    fn list_identities(&self, space_id: &str) -> Result<Vec<Identity>>;
    fn revoke_identity(&self, id: &str, at: OffsetDateTime) -> Result<()>;
    fn rotate_identity(&self, id: &str, sealed: &[u8], at: OffsetDateTime) -> Result<()>;
    fn touch_identity(&self, id: &str, at: OffsetDateTime) -> Result<()>;
    fn usage(&self, space_id: &str) -> Result<Usage>;
    /// Records an object's size; returns the size it replaced.
    fn record_object(&self, space_id: &str, key: &str, size: u64) -> Result<Option<u64>>;
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
    /// Replaces an upload's recorded parts (reconciliation with the store).
    fn replace_parts(&self, upload_id: &str, parts: &[PartRecord]) -> Result<()>;
    fn list_uploads(&self, space_id: &str, prefix: &str) -> Result<Vec<UploadRecord>>;
    fn insert_audit(&self, events: &[(OffsetDateTime, NewAuditEvent)]) -> Result<()>;
    fn query_audit(&self, f: &AuditFilter) -> Result<Vec<AuditEvent>>;
    fn ping(&self) -> Result<()>;
    fn set_publication(&self, space_id: &str, rules: &PublicationRules, at: OffsetDateTime) -> Result<()>;
    fn publication(&self, space_id: &str) -> Result<Option<PublicationRules>>;
    fn publication_by_name(&self, public_name: &str) -> Result<Option<(String, PublicationRules)>>;
    fn insert_repository(&self, r: &Repository, signing_sealed: &[u8]) -> Result<()>;
    /// A repository and its sealed signing key.
    fn repository(&self, name: &str) -> Result<Option<(Repository, Vec<u8>)>>;
    fn list_repositories(&self, tenant_id: Option<&str>) -> Result<Vec<Repository>>;
    fn set_repository_config(&self, name: &str, config: &RepositoryConfig) -> Result<()>;
    /// Records the bytes a repository's published data takes in the backend.
    fn set_published_bytes(&self, name: &str, bytes: u64) -> Result<()>;
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
    /// Stores `r` if the space's stored bytes, parts of uploads in progress, live reservations
    /// and `r.bytes` stay within `quota`, atomically with respect to every other node.
    /// [`Error::QuotaExceeded`] otherwise.
    fn reserve(&self, r: &ReservationRecord, quota: u64, now: OffsetDateTime) -> Result<()>;
    fn release(&self, id: &str) -> Result<()>;
    /// Bytes of a space's live reservations.
    fn reserved(&self, space_id: &str, now: OffsetDateTime) -> Result<u64>;
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
    /// Extends every reservation `node` holds to `until`; returns how many.
    fn renew_reservations(&self, node: &str, until: OffsetDateTime) -> Result<u64>;
    /// Drops every reservation: a single node's start, where any is a killed process's.
    fn clear_reservations(&self) -> Result<u64>;
    /// Every sealed secret: (table, row id, sealed bytes), for master key rotation.
    fn sealed_secrets(&self) -> Result<Vec<(SealedTable, String, Vec<u8>)>>;
    /// Replaces sealed secrets (all in one transaction): (table, row id, new sealed bytes).
    fn reseal(&self, rows: &[(SealedTable, String, Vec<u8>)]) -> Result<()>;
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
}

impl SealedTable {
    const ALL: [SealedTable; 4] = [
        Self::Identities,
        Self::RegistryNamespaces,
        Self::RegistrySigning,
        Self::Repositories,
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

const SPACE_COLS: &str =
    "id, tenant_id, workspace_id, name, bucket, base_prefix, visibility, purpose, quota_bytes, created_by, created_at, disabled_at";

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

const UPLOAD_COLS: &str = "upload_id, space_id, key, identity_id, initiated";

fn upload_row(mut r: Row) -> Result<UploadRecord> {
    Ok(UploadRecord {
        upload_id: r.text(0)?,
        space_id: r.text(1)?,
        key: r.text(2)?,
        identity_id: r.text(3)?,
        initiated: r.time(4)?,
    })
}

const REPO_COLS: &str = "name, tenant_id, space_id, config, public_key, fingerprint, created_by, created_at";

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
fn lock_usage(c: &mut dyn Conn, space_id: &str) -> Result<()> {
    c.exec("UPDATE usage SET objects = objects WHERE space_id = ?1", p![space_id])?;
    Ok(())
}

fn usage_in(c: &mut dyn Conn, space_id: &str) -> Result<Usage> {
    let (bytes, objects) = one(c, "SELECT bytes, objects FROM usage WHERE space_id = ?1", p![space_id], |mut r| {
        Ok((r.size(0)?, r.size(1)?))
    })?
    .unwrap_or((0, 0));
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

impl<B: Backend> Repo for SqlRepo<B> {
    fn insert_tenant(&self, t: &Tenant) -> Result<()> {
        self.db.with(|c| {
            c.exec(
                "INSERT INTO tenants(id, name, created_at) VALUES (?1, ?2, ?3)",
                p![&t.id, &t.name, t.created_at],
            )
            .map_err(|e| e.unique_as("a tenant with this name"))?;
            Ok(())
        })
    }

    fn tenant(&self, id_or_name: &str) -> Result<Option<Tenant>> {
        self.db.with(|c| {
            one(
                c,
                "SELECT id, name, created_at FROM tenants WHERE id = ?1 OR name = ?1",
                p![id_or_name],
                tenant_row,
            )
        })
    }

    fn list_tenants(&self) -> Result<Vec<Tenant>> {
        self.db
            .with(|c| all(c, "SELECT id, name, created_at FROM tenants ORDER BY name", &[], tenant_row))
    }

    fn insert_token(&self, id: &str, tenant_id: Option<&str>, name: &str, hash: &str, now: OffsetDateTime) -> Result<()> {
        self.db.with(|c| {
            c.exec(
                "INSERT INTO admin_tokens(id, tenant_id, name, token_hash, created_at) VALUES (?1, ?2, ?3, ?4, ?5)",
                p![id, tenant_id, name, hash, now],
            )
            .map_err(|e| e.unique_as("this admin token"))?;
            Ok(())
        })
    }

    fn token_by_hash(&self, hash: &str) -> Result<Option<AdminPrincipal>> {
        self.db.with(|c| {
            one(
                c,
                "SELECT id, name, tenant_id FROM admin_tokens WHERE token_hash = ?1 AND revoked_at IS NULL",
                p![hash],
                |mut r| {
                    Ok(AdminPrincipal {
                        token_id: r.text(0)?,
                        name: r.text(1)?,
                        tenant_id: r.opt_text(2)?,
                    })
                },
            )
        })
    }

    fn operator_token_count(&self) -> Result<u64> {
        self.db.with(|c| {
            Ok(one(
                c,
                "SELECT COUNT(*) FROM admin_tokens WHERE tenant_id IS NULL AND revoked_at IS NULL",
                &[],
                |mut r| r.size(0),
            )?
            .unwrap_or(0))
        })
    }

    fn insert_space(&self, s: &Space) -> Result<()> {
        let sql = format!("INSERT INTO spaces({SPACE_COLS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)");
        self.db.with(|c| {
            c.tx(|c| {
                c.exec(
                    &sql,
                    p![
                        &s.id,
                        &s.tenant_id,
                        &s.workspace_id,
                        &s.name,
                        &s.bucket,
                        &s.base_prefix,
                        s.visibility.as_str(),
                        s.purpose.as_str(),
                        s.quota_bytes,
                        &s.created_by,
                        s.created_at,
                        s.disabled_at
                    ],
                )
                .map_err(|e| e.unique_as("a space with this name or bucket"))?;
                c.exec("INSERT INTO usage(space_id) VALUES (?1)", p![&s.id])?;
                Ok(())
            })
        })
    }

    fn space(&self, id: &str) -> Result<Option<Space>> {
        self.db
            .with(|c| one(c, &format!("SELECT {SPACE_COLS} FROM spaces WHERE id = ?1"), p![id], space_row))
    }

    fn space_by_bucket(&self, bucket: &str) -> Result<Option<Space>> {
        self.db.with(|c| {
            one(
                c,
                &format!("SELECT {SPACE_COLS} FROM spaces WHERE bucket = ?1"),
                p![bucket],
                space_row,
            )
        })
    }

    fn space_by_name(&self, tenant_id: &str, name: &str) -> Result<Option<Space>> {
        self.db.with(|c| {
            one(
                c,
                &format!("SELECT {SPACE_COLS} FROM spaces WHERE tenant_id = ?1 AND name = ?2"),
                p![tenant_id, name],
                space_row,
            )
        })
    }

    fn list_spaces(&self, tenant_id: Option<&str>) -> Result<Vec<Space>> {
        self.db.with(|c| {
            all(
                c,
                &format!("SELECT {SPACE_COLS} FROM spaces WHERE CAST(?1 AS TEXT) IS NULL OR tenant_id = ?1 ORDER BY tenant_id, name"),
                p![tenant_id],
                space_row,
            )
        })
    }

    fn set_space_disabled(&self, id: &str, at: Option<OffsetDateTime>) -> Result<()> {
        self.db.with(|c| {
            c.exec("UPDATE spaces SET disabled_at = ?2 WHERE id = ?1", p![id, at])?;
            Ok(())
        })
    }

    fn set_space_quota(&self, id: &str, quota: Option<u64>) -> Result<()> {
        self.db.with(|c| {
            c.exec("UPDATE spaces SET quota_bytes = ?2 WHERE id = ?1", p![id, quota])?;
            Ok(())
        })
    }

    fn insert_identity(&self, x: &Identity, sealed: &[u8]) -> Result<()> {
        let sql = format!("INSERT INTO identities({IDENT_COLS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)");
        self.db.with(|c| {
            c.exec(
                &sql,
                p![
                    &x.id,
                    &x.tenant_id,
                    &x.space_id,
                    &x.name,
                    &x.access_key_id,
                    x.mode.as_str(),
                    &x.allowed_prefix,
                    x.expires_at,
                    x.last_used_at,
                    x.revoked_at,
                    &x.created_by,
                    x.created_at,
                    x.rotated_at,
                    sealed
                ],
            )
            .map_err(|e| e.unique_as("a key with this name in this space"))?;
            Ok(())
        })
    }

    fn identity(&self, id: &str) -> Result<Option<Identity>> {
        self.db.with(|c| {
            one(c, &format!("SELECT {IDENT_COLS} FROM identities WHERE id = ?1"), p![id], |mut r| {
                ident_row(&mut r)
            })
        })
    }

    fn identity_by_key(&self, ak: &str) -> Result<Option<(Identity, Vec<u8>)>> {
        self.db.with(|c| {
            one(
                c,
                &format!("SELECT {IDENT_COLS} FROM identities WHERE access_key_id = ?1"),
                p![ak],
                |mut r| Ok((ident_row(&mut r)?, r.blob(13)?)),
            )
        })
    }

    fn list_identities(&self, space_id: &str) -> Result<Vec<Identity>> {
        self.db.with(|c| {
            all(
                c,
                &format!("SELECT {IDENT_COLS} FROM identities WHERE space_id = ?1 ORDER BY name"),
                p![space_id],
                |mut r| ident_row(&mut r),
            )
        })
    }

    fn revoke_identity(&self, id: &str, at: OffsetDateTime) -> Result<()> {
        self.db.with(|c| {
            c.exec(
                "UPDATE identities SET revoked_at = COALESCE(revoked_at, ?2) WHERE id = ?1",
                p![id, at],
            )?;
            Ok(())
        })
    }

    fn rotate_identity(&self, id: &str, sealed: &[u8], at: OffsetDateTime) -> Result<()> {
        self.db.with(|c| {
            c.exec(
                "UPDATE identities SET secret_sealed = ?2, rotated_at = ?3 WHERE id = ?1",
                p![id, sealed, at],
            )?;
            Ok(())
        })
    }

    fn touch_identity(&self, id: &str, at: OffsetDateTime) -> Result<()> {
        self.db.with(|c| {
            c.exec("UPDATE identities SET last_used_at = ?2 WHERE id = ?1", p![id, at])?;
            Ok(())
        })
    }

    fn usage(&self, space_id: &str) -> Result<Usage> {
        self.db.with(|c| usage_in(c, space_id))
    }

    fn record_object(&self, space_id: &str, key: &str, size: u64) -> Result<Option<u64>> {
        self.db.with(|c| {
            c.tx(|c| {
                lock_usage(c, space_id)?;
                let old = one(
                    c,
                    "SELECT size FROM objects WHERE space_id = ?1 AND key = ?2",
                    p![space_id, key],
                    |mut r| r.size(0),
                )?;
                c.exec(
                    "INSERT INTO objects(space_id, key, size) VALUES (?1, ?2, ?3) ON CONFLICT(space_id, key) DO UPDATE SET size = excluded.size",
                    p![space_id, key, size],
                )?;
                c.exec(
                    "UPDATE usage SET bytes = bytes + ?2 - ?3, objects = objects + ?4 WHERE space_id = ?1",
                    p![space_id, size, old.unwrap_or(0), u64::from(old.is_none())],
                )?;
                Ok(old)
            })
        })
    }

    fn remove_object(&self, space_id: &str, key: &str) -> Result<Option<u64>> {
        self.db.with(|c| {
            c.tx(|c| {
                lock_usage(c, space_id)?;
                let old = one(
                    c,
                    "DELETE FROM objects WHERE space_id = ?1 AND key = ?2 RETURNING size",
                    p![space_id, key],
                    |mut r| r.size(0),
                )?;
                if let Some(sz) = old {
                    c.exec(
                        "UPDATE usage SET bytes = bytes - ?2, objects = objects - 1 WHERE space_id = ?1",
                        p![space_id, sz],
                    )?;
                }
                Ok(old)
            })
        })
    }

    fn replace_objects(&self, space_id: &str, entries: &[(String, u64)]) -> Result<()> {
        self.db.with(|c| {
            c.tx(|c| {
                lock_usage(c, space_id)?;
                c.exec("DELETE FROM objects WHERE space_id = ?1", p![space_id])?;
                let mut bytes = 0u64;
                for (key, size) in entries {
                    c.exec(
                        "INSERT INTO objects(space_id, key, size) VALUES (?1, ?2, ?3)",
                        p![space_id, key, *size],
                    )?;
                    bytes = bytes.saturating_add(*size);
                }
                let n = c.exec(
                    "UPDATE usage SET bytes = ?2, objects = ?3 WHERE space_id = ?1",
                    p![space_id, bytes, entries.len() as u64],
                )?;
                if n == 0 {
                    c.exec(
                        "INSERT INTO usage(space_id, bytes, objects) VALUES (?1, ?2, ?3)",
                        p![space_id, bytes, entries.len() as u64],
                    )?;
                }
                Ok(())
            })
        })
    }

    fn remove_objects(&self, space_id: &str, keys: &[String]) -> Result<()> {
        self.db.with(|c| {
            c.tx(|c| {
                lock_usage(c, space_id)?;
                let (mut bytes, mut count) = (0u64, 0u64);
                for k in keys {
                    if let Some(sz) = one(
                        c,
                        "DELETE FROM objects WHERE space_id = ?1 AND key = ?2 RETURNING size",
                        p![space_id, k],
                        |mut r| r.size(0),
                    )? {
                        bytes += sz;
                        count += 1;
                    }
                }
                c.exec(
                    "UPDATE usage SET bytes = bytes - ?2, objects = objects - ?3 WHERE space_id = ?1",
                    p![space_id, bytes, count],
                )?;
                Ok(())
            })
        })
    }

    fn object_size(&self, space_id: &str, key: &str) -> Result<Option<u64>> {
        self.db.with(|c| {
            one(
                c,
                "SELECT size FROM objects WHERE space_id = ?1 AND key = ?2",
                p![space_id, key],
                |mut r| r.size(0),
            )
        })
    }

    fn insert_upload(&self, x: &UploadRecord) -> Result<()> {
        self.db.with(|c| {
            c.exec(
                "INSERT INTO uploads(upload_id, space_id, key, identity_id, initiated) VALUES (?1, ?2, ?3, ?4, ?5)",
                p![&x.upload_id, &x.space_id, &x.key, &x.identity_id, x.initiated],
            )?;
            Ok(())
        })
    }

    fn upload(&self, upload_id: &str) -> Result<Option<UploadRecord>> {
        self.db.with(|c| {
            one(
                c,
                &format!("SELECT {UPLOAD_COLS} FROM uploads WHERE upload_id = ?1"),
                p![upload_id],
                upload_row,
            )
        })
    }

    fn record_part(&self, upload_id: &str, part: &PartRecord) -> Result<()> {
        self.db.with(|c| {
            c.exec(
                "INSERT INTO upload_parts(upload_id, part_number, size, etag) VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT(upload_id, part_number) DO UPDATE SET size = excluded.size, etag = excluded.etag",
                p![upload_id, part.part_number, part.size, &part.etag],
            )?;
            Ok(())
        })
    }

    fn parts(&self, upload_id: &str) -> Result<Vec<PartRecord>> {
        self.db.with(|c| {
            all(
                c,
                "SELECT part_number, size, etag FROM upload_parts WHERE upload_id = ?1 ORDER BY part_number",
                p![upload_id],
                |mut r| {
                    Ok(PartRecord {
                        part_number: u32::try_from(r.int(0)?).unwrap_or(0),
                        size: r.size(1)?,
                        etag: r.text(2)?,
                    })
                },
            )
        })
    }

    fn remove_upload(&self, upload_id: &str) -> Result<()> {
        self.db.with(|c| {
            c.tx(|c| {
                c.exec("DELETE FROM upload_parts WHERE upload_id = ?1", p![upload_id])?;
                c.exec("DELETE FROM uploads WHERE upload_id = ?1", p![upload_id])?;
                Ok(())
            })
        })
    }

    fn replace_parts(&self, upload_id: &str, parts: &[PartRecord]) -> Result<()> {
        self.db.with(|c| {
            c.tx(|c| {
                c.exec("DELETE FROM upload_parts WHERE upload_id = ?1", p![upload_id])?;
                for part in parts {
                    c.exec(
                        "INSERT INTO upload_parts(upload_id, part_number, size, etag) VALUES (?1, ?2, ?3, ?4)",
                        p![upload_id, part.part_number, part.size, &part.etag],
                    )?;
                }
                Ok(())
            })
        })
    }

    fn list_uploads(&self, space_id: &str, prefix: &str) -> Result<Vec<UploadRecord>> {
        self.db.with(|c| {
            all(
                c,
                &format!(
                    "SELECT {UPLOAD_COLS} FROM uploads WHERE space_id = ?1 AND substr(key, 1, length(?2)) = ?2 ORDER BY key, initiated"
                ),
                p![space_id, prefix],
                upload_row,
            )
        })
    }

    fn insert_audit(&self, events: &[(OffsetDateTime, NewAuditEvent)]) -> Result<()> {
        self.db.with(|c| {
            c.tx(|c| {
                for (at, e) in events {
                    c.exec(
                        "INSERT INTO audit_events(ts, tenant_id, space_id, identity_id, actor, kind, operation, object_key, source_ip, user_agent, status, bytes, detail)
                         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)",
                        p![
                            *at,
                            &e.tenant_id,
                            &e.object_space_id,
                            &e.identity_id,
                            &e.actor,
                            &e.kind,
                            &e.operation,
                            &e.object_key,
                            &e.source_ip,
                            &e.user_agent,
                            &e.status,
                            e.bytes,
                            &e.detail
                        ],
                    )?;
                }
                Ok(())
            })
        })
    }

    fn query_audit(&self, f: &AuditFilter) -> Result<Vec<AuditEvent>> {
        let limit = f.limit.unwrap_or(100).clamp(1, 1000);
        self.db.with(|c| {
            all(
                c,
                "SELECT id, ts, tenant_id, space_id, identity_id, actor, kind, operation, object_key, source_ip, user_agent, status, bytes, detail
                 FROM audit_events
                 WHERE (CAST(?1 AS TEXT) IS NULL OR tenant_id = ?1) AND (CAST(?2 AS TEXT) IS NULL OR space_id = ?2) AND (CAST(?3 AS TEXT) IS NULL OR identity_id = ?3)
                   AND (CAST(?4 AS TEXT) IS NULL OR operation = ?4) AND (CAST(?5 AS BIGINT) IS NULL OR ts >= ?5) AND (CAST(?6 AS BIGINT) IS NULL OR ts < ?6)
                   AND (CAST(?8 AS BIGINT) IS NULL OR id < ?8)
                 ORDER BY id DESC LIMIT ?7",
                p![&f.tenant_id, &f.space_id, &f.identity_id, &f.operation, f.since, f.until, limit, f.before_id],
                audit_row,
            )
        })
    }

    fn insert_session(&self, s: &SessionRecord) -> Result<()> {
        self.db.with(|c| {
            c.exec(
                "INSERT INTO console_sessions(id_hash, token_id, csrf, created_at, expires_at) VALUES (?1, ?2, ?3, ?4, ?5)",
                p![&s.id_hash, &s.token_id, &s.csrf, s.created_at, s.expires_at],
            )?;
            Ok(())
        })
    }

    fn session_by_hash(&self, hash: &str, now: OffsetDateTime) -> Result<Option<(SessionRecord, AdminPrincipal)>> {
        self.db.with(|c| {
            one(
                c,
                "SELECT s.id_hash, s.token_id, s.csrf, s.created_at, s.expires_at, t.name, t.tenant_id
                 FROM console_sessions s JOIN admin_tokens t ON t.id = s.token_id
                 WHERE s.id_hash = ?1 AND s.expires_at > ?2 AND t.revoked_at IS NULL",
                p![hash, now],
                |mut r| {
                    let token_id = r.text(1)?;
                    Ok((
                        SessionRecord {
                            id_hash: r.text(0)?,
                            token_id: token_id.clone(),
                            csrf: r.text(2)?,
                            created_at: r.time(3)?,
                            expires_at: r.time(4)?,
                        },
                        AdminPrincipal {
                            token_id,
                            name: r.text(5)?,
                            tenant_id: r.opt_text(6)?,
                        },
                    ))
                },
            )
        })
    }

    fn delete_session(&self, hash: &str) -> Result<()> {
        self.db.with(|c| {
            c.exec("DELETE FROM console_sessions WHERE id_hash = ?1", p![hash])?;
            Ok(())
        })
    }

    fn purge_sessions(&self, now: OffsetDateTime) -> Result<u64> {
        self.db
            .with(|c| Ok(c.exec("DELETE FROM console_sessions WHERE expires_at <= ?1", p![now])?))
    }

    fn add_traffic(&self, samples: &[TrafficSample]) -> Result<()> {
        self.db.with(|c| {
            c.tx(|c| {
                for s in samples {
                    c.exec(
                        "INSERT INTO traffic(space_id, minute, bytes_in, bytes_out, requests) VALUES (?1, ?2, ?3, ?4, ?5)
                         ON CONFLICT(space_id, minute) DO UPDATE SET bytes_in = traffic.bytes_in + excluded.bytes_in,
                            bytes_out = traffic.bytes_out + excluded.bytes_out, requests = traffic.requests + excluded.requests",
                        p![&s.space_id, s.minute, s.bytes_in, s.bytes_out, s.requests],
                    )?;
                }
                Ok(())
            })
        })
    }

    fn traffic(&self, space_id: &str, since: OffsetDateTime) -> Result<Vec<TrafficSample>> {
        self.db.with(|c| {
            all(
                c,
                "SELECT minute, bytes_in, bytes_out, requests FROM traffic WHERE space_id = ?1 AND minute >= ?2 ORDER BY minute",
                p![space_id, since],
                |mut r| {
                    Ok(TrafficSample {
                        space_id: space_id.to_owned(),
                        minute: r.time(0)?,
                        bytes_in: r.size(1)?,
                        bytes_out: r.size(2)?,
                        requests: r.size(3)?,
                    })
                },
            )
        })
    }

    fn insert_namespace(&self, n: &RegistryNamespace, events_sealed: &[u8]) -> Result<()> {
        let retention = json_text(&n.retention, "retention")?;
        self.db.with(|c| {
            c.exec(
                "INSERT INTO registry_namespaces(name, tenant_id, space_id, storage_identity_id, public, retention, events_sealed, created_by, created_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
                p![
                    &n.name,
                    &n.tenant_id,
                    &n.space_id,
                    &n.storage_identity_id,
                    n.public,
                    &retention,
                    events_sealed,
                    &n.created_by,
                    n.created_at
                ],
            )
            .map_err(|e| e.unique_as(&format!("a registry namespace named {:?}", n.name)))?;
            Ok(())
        })
    }

    fn namespace(&self, name: &str) -> Result<Option<RegistryNamespace>> {
        self.db.with(|c| {
            one(
                c,
                &format!("SELECT {NS_COLS} FROM registry_namespaces WHERE name = ?1"),
                p![name],
                ns_row,
            )
        })
    }

    fn namespace_events_sealed(&self, name: &str) -> Result<Option<Vec<u8>>> {
        self.db.with(|c| {
            one(
                c,
                "SELECT events_sealed FROM registry_namespaces WHERE name = ?1",
                p![name],
                |mut r| r.blob(0),
            )
        })
    }

    fn list_namespaces(&self, tenant_id: Option<&str>) -> Result<Vec<RegistryNamespace>> {
        self.db.with(|c| {
            all(
                c,
                &format!("SELECT {NS_COLS} FROM registry_namespaces WHERE CAST(?1 AS TEXT) IS NULL OR tenant_id = ?1 ORDER BY name"),
                p![tenant_id],
                ns_row,
            )
        })
    }

    fn set_namespace_settings(&self, name: &str, public: bool, retention: &RetentionRules, upstream: Option<&str>) -> Result<()> {
        let retention = json_text(retention, "retention")?;
        self.db.with(|c| {
            c.exec(
                "UPDATE registry_namespaces SET public = ?2, retention = ?3, upstream = ?4 WHERE name = ?1",
                p![name, public, &retention, upstream],
            )?;
            Ok(())
        })
    }

    fn insert_robot(&self, r: &Robot, secret_hash: &str) -> Result<()> {
        self.db.with(|c| {
            c.exec(
                "INSERT INTO registry_robots(id, namespace, name, username, access, secret_hash, created_by, created_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                p![
                    &r.id,
                    &r.namespace,
                    &r.name,
                    &r.username,
                    r.access.as_str(),
                    secret_hash,
                    &r.created_by,
                    r.created_at
                ],
            )
            .map_err(|e| e.unique_as(&format!("a robot named {:?} in this namespace", r.name)))?;
            Ok(())
        })
    }

    fn robot_by_username(&self, username: &str) -> Result<Option<(Robot, String)>> {
        self.db.with(|c| {
            one(
                c,
                &format!("SELECT {ROBOT_COLS}, secret_hash FROM registry_robots WHERE username = ?1"),
                p![username],
                |mut r| Ok((robot_row(&mut r)?, r.text(8)?)),
            )
        })
    }

    fn list_robots(&self, namespace: &str) -> Result<Vec<Robot>> {
        self.db.with(|c| {
            all(
                c,
                &format!("SELECT {ROBOT_COLS} FROM registry_robots WHERE namespace = ?1 ORDER BY name"),
                p![namespace],
                |mut r| robot_row(&mut r),
            )
        })
    }

    fn revoke_robot(&self, id: &str, at: OffsetDateTime) -> Result<()> {
        self.db.with(|c| {
            c.exec(
                "UPDATE registry_robots SET revoked_at = ?2 WHERE id = ?1 AND revoked_at IS NULL",
                p![id, at],
            )?;
            Ok(())
        })
    }

    fn registry_signing(&self) -> Result<Option<(Vec<u8>, String)>> {
        self.db.with(|c| {
            one(c, "SELECT key_sealed, cert_pem FROM registry_signing WHERE id = 1", &[], |mut r| {
                Ok((r.blob(0)?, r.text(1)?))
            })
        })
    }

    fn init_registry_signing(&self, key_sealed: &[u8], cert_pem: &str) -> Result<()> {
        self.db.with(|c| {
            c.exec(
                "INSERT INTO registry_signing(id, key_sealed, cert_pem) VALUES (1, ?1, ?2) ON CONFLICT DO NOTHING",
                p![key_sealed, cert_pem],
            )?;
            Ok(())
        })
    }

    fn ping(&self) -> Result<()> {
        self.db.with(|c| {
            c.rows("SELECT 1", &[])?;
            Ok(())
        })
    }

    fn set_publication(&self, space_id: &str, rules: &PublicationRules, at: OffsetDateTime) -> Result<()> {
        let json = json_text(rules, "publication rules")?;
        self.db.with(|c| {
            c.exec(
                "INSERT INTO publication_rules(space_id, public_name, enabled, rules, updated_at) VALUES (?1, ?2, ?3, ?4, ?5)
                 ON CONFLICT(space_id) DO UPDATE SET public_name = excluded.public_name, enabled = excluded.enabled,
                    rules = excluded.rules, updated_at = excluded.updated_at",
                p![space_id, &rules.public_name, rules.enabled, &json, at],
            )
            .map_err(|e| e.unique_as("a public site with this public_name"))?;
            Ok(())
        })
    }

    fn publication(&self, space_id: &str) -> Result<Option<PublicationRules>> {
        self.db.with(|c| {
            one(
                c,
                "SELECT rules FROM publication_rules WHERE space_id = ?1",
                p![space_id],
                |mut r| r.json(0),
            )
        })
    }

    fn publication_by_name(&self, public_name: &str) -> Result<Option<(String, PublicationRules)>> {
        self.db.with(|c| {
            one(
                c,
                "SELECT space_id, rules FROM publication_rules WHERE public_name = ?1",
                p![public_name],
                |mut r| Ok((r.text(0)?, r.json(1)?)),
            )
        })
    }

    fn insert_repository(&self, r: &Repository, signing_sealed: &[u8]) -> Result<()> {
        let config = json_text(&r.config, "repository config")?;
        self.db.with(|c| {
            c.exec(
                "INSERT INTO repositories(name, tenant_id, space_id, config, signing_sealed, public_key, fingerprint, created_by, created_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
                p![
                    &r.name,
                    &r.tenant_id,
                    &r.space_id,
                    &config,
                    signing_sealed,
                    &r.public_key,
                    &r.fingerprint,
                    &r.created_by,
                    r.created_at
                ],
            )
            .map_err(|e| e.unique_as(&format!("a repository named {:?}", r.name)))?;
            Ok(())
        })
    }

    fn repository(&self, name: &str) -> Result<Option<(Repository, Vec<u8>)>> {
        self.db.with(|c| {
            one(
                c,
                &format!("SELECT {REPO_COLS}, signing_sealed FROM repositories WHERE name = ?1"),
                p![name],
                |mut r| Ok((repo_row(&mut r)?, r.blob(8)?)),
            )
        })
    }

    fn list_repositories(&self, tenant_id: Option<&str>) -> Result<Vec<Repository>> {
        self.db.with(|c| {
            all(
                c,
                &format!("SELECT {REPO_COLS} FROM repositories WHERE CAST(?1 AS TEXT) IS NULL OR tenant_id = ?1 ORDER BY name"),
                p![tenant_id],
                |mut r| repo_row(&mut r),
            )
        })
    }

    fn set_repository_config(&self, name: &str, config: &RepositoryConfig) -> Result<()> {
        let config = json_text(config, "repository config")?;
        self.db.with(|c| {
            c.exec("UPDATE repositories SET config = ?2 WHERE name = ?1", p![name, &config])?;
            Ok(())
        })
    }

    fn set_published_bytes(&self, name: &str, bytes: u64) -> Result<()> {
        self.db.with(|c| {
            let space = one(c, "SELECT space_id FROM repositories WHERE name = ?1", p![name], |mut r| r.text(0))?
                .ok_or(Error::NotFound("repository"))?;
            c.tx(|c| {
                lock_usage(c, &space)?;
                c.exec("UPDATE repositories SET published_bytes = ?2 WHERE name = ?1", p![name, bytes])?;
                Ok(())
            })
        })
    }

    fn reserve(&self, r: &ReservationRecord, quota: u64, now: OffsetDateTime) -> Result<()> {
        self.db.with(|c| {
            c.tx(|c| {
                lock_usage(c, &r.space_id)?;
                let u = usage_in(c, &r.space_id)?;
                let used = u.counted() + reserved_in(c, &r.space_id, now)?;
                if used.saturating_add(r.bytes) > quota {
                    return Err(Error::QuotaExceeded {
                        used,
                        quota,
                        requested: r.bytes,
                    });
                }
                c.exec(
                    "INSERT INTO reservations(id, space_id, bytes, expires_at, node) VALUES (?1, ?2, ?3, ?4, ?5)",
                    p![&r.id, &r.space_id, r.bytes, r.expires_at, &r.node],
                )?;
                Ok(())
            })
        })
    }

    fn release(&self, id: &str) -> Result<()> {
        self.db.with(|c| {
            c.exec("DELETE FROM reservations WHERE id = ?1", p![id])?;
            Ok(())
        })
    }

    fn reserved(&self, space_id: &str, now: OffsetDateTime) -> Result<u64> {
        self.db.with(|c| reserved_in(c, space_id, now))
    }

    fn add_change(&self, at: OffsetDateTime, origin: &str, kind: &str, space_id: Option<&str>, detail: Option<&str>) -> Result<()> {
        self.db.with(|c| {
            c.exec(
                "INSERT INTO changes(at, origin, kind, space_id, detail) VALUES (?1, ?2, ?3, ?4, ?5)",
                p![at, origin, kind, space_id, detail],
            )?;
            Ok(())
        })
    }

    fn changes_after(&self, seq: i64, limit: u32) -> Result<Vec<Change>> {
        self.db.with(|c| {
            all(
                c,
                "SELECT seq, at, origin, kind, space_id, detail FROM changes WHERE seq > ?1 ORDER BY seq LIMIT ?2",
                p![seq, limit],
                |mut r| {
                    Ok(Change {
                        seq: r.int(0)?,
                        at: r.time(1)?,
                        origin: r.text(2)?,
                        kind: r.text(3)?,
                        space_id: r.opt_text(4)?,
                        detail: r.opt_text(5)?,
                    })
                },
            )
        })
    }

    fn last_change(&self) -> Result<i64> {
        self.db.with(|c| {
            Ok(one(c, "SELECT CAST(COALESCE(MAX(seq), 0) AS BIGINT) FROM changes", &[], |mut r| {
                r.int(0)
            })?
            .unwrap_or(0))
        })
    }

    fn prune(&self, before: OffsetDateTime, now: OffsetDateTime) -> Result<u64> {
        self.db.with(|c| {
            let changes = c.exec("DELETE FROM changes WHERE at < ?1", p![before])?;
            let reservations = c.exec("DELETE FROM reservations WHERE expires_at <= ?1", p![now])?;
            Ok(changes + reservations)
        })
    }

    fn try_lease(&self, name: &str, holder: &str, now: OffsetDateTime, until: OffsetDateTime) -> Result<bool> {
        self.db.with(|c| {
            let n = c.exec(
                "INSERT INTO leases(name, holder, expires_at) VALUES (?1, ?2, ?3)
                 ON CONFLICT(name) DO UPDATE SET holder = excluded.holder, expires_at = excluded.expires_at
                 WHERE leases.expires_at <= ?4 OR leases.holder = excluded.holder",
                p![name, holder, until, now],
            )?;
            Ok(n == 1)
        })
    }

    fn release_lease(&self, name: &str, holder: &str) -> Result<()> {
        self.db.with(|c| {
            c.exec("DELETE FROM leases WHERE name = ?1 AND holder = ?2", p![name, holder])?;
            Ok(())
        })
    }

    fn clear_leases(&self) -> Result<u64> {
        self.db.with(|c| Ok(c.exec("DELETE FROM leases", &[])?))
    }

    fn renew_reservations(&self, node: &str, until: OffsetDateTime) -> Result<u64> {
        self.db
            .with(|c| Ok(c.exec("UPDATE reservations SET expires_at = ?1 WHERE node = ?2", p![until, node])?))
    }

    fn clear_reservations(&self) -> Result<u64> {
        self.db.with(|c| Ok(c.exec("DELETE FROM reservations", &[])?))
    }

    fn sealed_secrets(&self) -> Result<Vec<(SealedTable, String, Vec<u8>)>> {
        self.db.with(|c| {
            let mut out = Vec::new();
            for t in SealedTable::ALL {
                out.extend(all(c, t.sql().0, &[], |mut r| Ok((t, r.text(0)?, r.blob(1)?)))?);
            }
            Ok(out)
        })
    }

    fn reseal(&self, rows: &[(SealedTable, String, Vec<u8>)]) -> Result<()> {
        self.db.with(|c| {
            c.tx(|c| {
                for (t, id, sealed) in rows {
                    c.exec(t.sql().1, p![sealed.as_slice(), id])?;
                }
                Ok(())
            })
        })
    }
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
        match postgres_url() {
            Some(url) => {
                let cfg = pg_schema(&url);
                let a = PgRepo::on(Postgres::with_config(cfg.clone(), None).expect("postgres repo"));
                let b = PgRepo::on(Postgres::with_config(cfg, None).expect("postgres repo"));
                (Arc::new(a), Arc::new(b), None)
            }
            None => {
                let dir = tempfile::tempdir().expect("temp dir");
                let path = dir.path().join("shared.db");
                let a = SqliteRepo::open(&path).expect("sqlite repo");
                let b = SqliteRepo::open(&path).expect("sqlite repo");
                (Arc::new(a), Arc::new(b), Some(dir))
            }
        }
    }

    /// Which database the tests run on, for messages.
    pub(crate) fn which() -> &'static str {
        if postgres_url().is_some() { "postgres" } else { "sqlite" }
    }
}
