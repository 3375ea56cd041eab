//! Persistence. [`Repo`] is what the domain needs; [`SqliteRepo`] implements it on an embedded
//! SQLite database (WAL). A PostgreSQL implementation for multi-node deployments implements
//! the same trait.

use std::path::Path;
use std::sync::Mutex;

use rusqlite::{Connection, OptionalExtension, Row, params};
use time::OffsetDateTime;

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
    fn object_size(&self, space_id: &str, key: &str) -> Result<Option<u64>>;
    fn insert_upload(&self, u: &UploadRecord) -> Result<()>;
    fn upload(&self, upload_id: &str) -> Result<Option<UploadRecord>>;
    fn record_part(&self, upload_id: &str, p: &PartRecord) -> Result<()>;
    fn parts(&self, upload_id: &str) -> Result<Vec<PartRecord>>;
    /// Removes an upload and its parts.
    fn remove_upload(&self, upload_id: &str) -> Result<()>;
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
}

const MIGRATIONS: &[&str] = &[
    // 1: initial schema. Times are unix seconds.
    "CREATE TABLE tenants(id TEXT PRIMARY KEY, name TEXT NOT NULL UNIQUE, created_at INTEGER NOT NULL);
     CREATE TABLE admin_tokens(id TEXT PRIMARY KEY, tenant_id TEXT REFERENCES tenants(id), name TEXT NOT NULL,
        token_hash TEXT NOT NULL UNIQUE, created_at INTEGER NOT NULL, revoked_at INTEGER);
     CREATE TABLE spaces(id TEXT PRIMARY KEY, tenant_id TEXT NOT NULL REFERENCES tenants(id), workspace_id TEXT,
        name TEXT NOT NULL, bucket TEXT NOT NULL UNIQUE, base_prefix TEXT NOT NULL, visibility TEXT NOT NULL,
        purpose TEXT NOT NULL, quota_bytes INTEGER, created_by TEXT NOT NULL, created_at INTEGER NOT NULL,
        disabled_at INTEGER, UNIQUE(tenant_id, name));
     CREATE TABLE identities(id TEXT PRIMARY KEY, tenant_id TEXT NOT NULL REFERENCES tenants(id),
        space_id TEXT NOT NULL REFERENCES spaces(id), name TEXT NOT NULL, access_key_id TEXT NOT NULL UNIQUE,
        secret_sealed BLOB NOT NULL, mode TEXT NOT NULL, allowed_prefix TEXT NOT NULL, expires_at INTEGER,
        last_used_at INTEGER, revoked_at INTEGER, created_by TEXT NOT NULL, created_at INTEGER NOT NULL,
        rotated_at INTEGER, UNIQUE(space_id, name));
     CREATE TABLE objects(space_id TEXT NOT NULL, key TEXT NOT NULL, size INTEGER NOT NULL,
        PRIMARY KEY(space_id, key)) WITHOUT ROWID;
     CREATE TABLE usage(space_id TEXT PRIMARY KEY, bytes INTEGER NOT NULL DEFAULT 0, objects INTEGER NOT NULL DEFAULT 0);
     CREATE TABLE uploads(upload_id TEXT PRIMARY KEY, space_id TEXT NOT NULL, key TEXT NOT NULL,
        identity_id TEXT NOT NULL, initiated INTEGER NOT NULL);
     CREATE INDEX uploads_space ON uploads(space_id, key);
     CREATE TABLE upload_parts(upload_id TEXT NOT NULL, part_number INTEGER NOT NULL, size INTEGER NOT NULL,
        etag TEXT NOT NULL, PRIMARY KEY(upload_id, part_number)) WITHOUT ROWID;
     CREATE TABLE audit_events(id INTEGER PRIMARY KEY AUTOINCREMENT, ts INTEGER NOT NULL, tenant_id TEXT,
        space_id TEXT, identity_id TEXT, actor TEXT NOT NULL, kind TEXT NOT NULL, operation TEXT NOT NULL,
        object_key TEXT, source_ip TEXT, user_agent TEXT, status TEXT NOT NULL, bytes INTEGER NOT NULL,
        detail TEXT);
     CREATE INDEX audit_tenant ON audit_events(tenant_id, ts);
     CREATE INDEX audit_space ON audit_events(space_id, ts);",
    // 2: public web access (publication rules), one row per space.
    "CREATE TABLE publication_rules(space_id TEXT PRIMARY KEY REFERENCES spaces(id), public_name TEXT NOT NULL UNIQUE,
        enabled INTEGER NOT NULL, rules TEXT NOT NULL, updated_at INTEGER NOT NULL);",
    // 3: package repositories. The config is JSON; the signing key is sealed like S3 secrets.
    "CREATE TABLE repositories(name TEXT PRIMARY KEY, tenant_id TEXT NOT NULL REFERENCES tenants(id),
        space_id TEXT NOT NULL REFERENCES spaces(id), config TEXT NOT NULL, signing_sealed BLOB NOT NULL,
        public_key TEXT NOT NULL, fingerprint TEXT NOT NULL, created_by TEXT NOT NULL, created_at INTEGER NOT NULL);
     CREATE INDEX repositories_tenant ON repositories(tenant_id);",
    // 4: console sessions (cookie hashes, tied to an admin token) and per-minute traffic per space.
    "CREATE TABLE console_sessions(id_hash TEXT PRIMARY KEY, token_id TEXT NOT NULL REFERENCES admin_tokens(id),
        csrf TEXT NOT NULL, created_at INTEGER NOT NULL, expires_at INTEGER NOT NULL);
     CREATE TABLE traffic(space_id TEXT NOT NULL, minute INTEGER NOT NULL, bytes_in INTEGER NOT NULL,
        bytes_out INTEGER NOT NULL, requests INTEGER NOT NULL, PRIMARY KEY(space_id, minute)) WITHOUT ROWID;",
    // 5: OCI registry namespaces, their robots (secrets as SHA-256: they are random and long),
    // and the one token signing key of the installation.
    "CREATE TABLE registry_namespaces(name TEXT PRIMARY KEY, tenant_id TEXT NOT NULL REFERENCES tenants(id),
        space_id TEXT NOT NULL REFERENCES spaces(id), storage_identity_id TEXT NOT NULL REFERENCES identities(id),
        public INTEGER NOT NULL, retention TEXT NOT NULL, events_sealed BLOB NOT NULL, upstream TEXT,
        created_by TEXT NOT NULL, created_at INTEGER NOT NULL);
     CREATE INDEX registry_namespaces_tenant ON registry_namespaces(tenant_id);
     CREATE TABLE registry_robots(id TEXT PRIMARY KEY, namespace TEXT NOT NULL REFERENCES registry_namespaces(name),
        name TEXT NOT NULL, username TEXT NOT NULL UNIQUE, access TEXT NOT NULL, secret_hash TEXT NOT NULL,
        created_by TEXT NOT NULL, created_at INTEGER NOT NULL, revoked_at INTEGER, UNIQUE(namespace, name));
     CREATE TABLE registry_signing(id INTEGER PRIMARY KEY CHECK (id = 1), key_sealed BLOB NOT NULL, cert_pem TEXT NOT NULL);",
];

/// The embedded SQLite implementation.
#[derive(Debug)]
pub struct SqliteRepo {
    conn: Mutex<Connection>,
}

fn ts(t: OffsetDateTime) -> i64 {
    t.unix_timestamp()
}

fn from_ts(v: Option<i64>) -> Option<OffsetDateTime> {
    v.and_then(|s| OffsetDateTime::from_unix_timestamp(s).ok())
}

fn req_ts(v: i64) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp(v).unwrap_or(OffsetDateTime::UNIX_EPOCH)
}

fn u(v: i64) -> u64 {
    u64::try_from(v).unwrap_or(0)
}

fn i(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

fn parse_enum<T: std::str::FromStr>(row: &Row<'_>, idx: usize) -> rusqlite::Result<T> {
    let s: String = row.get(idx)?;
    s.parse()
        .map_err(|_| rusqlite::Error::InvalidColumnType(idx, s, rusqlite::types::Type::Text))
}

const SPACE_COLS: &str =
    "id, tenant_id, workspace_id, name, bucket, base_prefix, visibility, purpose, quota_bytes, created_by, created_at, disabled_at";

fn space_row(r: &Row<'_>) -> rusqlite::Result<Space> {
    Ok(Space {
        id: r.get(0)?,
        tenant_id: r.get(1)?,
        workspace_id: r.get(2)?,
        name: r.get(3)?,
        bucket: r.get(4)?,
        base_prefix: r.get(5)?,
        visibility: parse_enum(r, 6)?,
        purpose: parse_enum(r, 7)?,
        quota_bytes: r.get::<_, Option<i64>>(8)?.map(u),
        created_by: r.get(9)?,
        created_at: req_ts(r.get(10)?),
        disabled_at: from_ts(r.get(11)?),
    })
}

const NS_COLS: &str = "name, tenant_id, space_id, storage_identity_id, public, retention, created_by, created_at, upstream";

fn ns_row(r: &Row<'_>) -> rusqlite::Result<RegistryNamespace> {
    let retention: String = r.get(5)?;
    Ok(RegistryNamespace {
        name: r.get(0)?,
        tenant_id: r.get(1)?,
        space_id: r.get(2)?,
        storage_identity_id: r.get(3)?,
        public: r.get(4)?,
        retention: serde_json::from_str(&retention)
            .map_err(|e| rusqlite::Error::FromSqlConversionFailure(5, rusqlite::types::Type::Text, Box::new(e)))?,
        created_by: r.get(6)?,
        created_at: req_ts(r.get(7)?),
        upstream: r.get(8)?,
    })
}

const ROBOT_COLS: &str = "id, namespace, name, username, access, created_by, created_at, revoked_at";

fn robot_row(r: &Row<'_>) -> rusqlite::Result<Robot> {
    Ok(Robot {
        id: r.get(0)?,
        namespace: r.get(1)?,
        name: r.get(2)?,
        username: r.get(3)?,
        access: parse_enum(r, 4)?,
        created_by: r.get(5)?,
        created_at: req_ts(r.get(6)?),
        revoked_at: from_ts(r.get(7)?),
    })
}

const IDENT_COLS: &str = "id, tenant_id, space_id, name, access_key_id, mode, allowed_prefix, expires_at, last_used_at, revoked_at, created_by, created_at, rotated_at, secret_sealed";

fn ident_row(r: &Row<'_>) -> rusqlite::Result<Identity> {
    Ok(Identity {
        id: r.get(0)?,
        tenant_id: r.get(1)?,
        space_id: r.get(2)?,
        name: r.get(3)?,
        access_key_id: r.get(4)?,
        mode: parse_enum(r, 5)?,
        allowed_prefix: r.get(6)?,
        expires_at: from_ts(r.get(7)?),
        last_used_at: from_ts(r.get(8)?),
        revoked_at: from_ts(r.get(9)?),
        created_by: r.get(10)?,
        created_at: req_ts(r.get(11)?),
        rotated_at: from_ts(r.get(12)?),
    })
}

fn tenant_row(r: &Row<'_>) -> rusqlite::Result<Tenant> {
    Ok(Tenant {
        id: r.get(0)?,
        name: r.get(1)?,
        created_at: req_ts(r.get(2)?),
    })
}

fn upload_row(r: &Row<'_>) -> rusqlite::Result<UploadRecord> {
    Ok(UploadRecord {
        upload_id: r.get(0)?,
        space_id: r.get(1)?,
        key: r.get(2)?,
        identity_id: r.get(3)?,
        initiated: req_ts(r.get(4)?),
    })
}

fn map_unique(e: rusqlite::Error, what: &str) -> Error {
    match e {
        rusqlite::Error::SqliteFailure(f, _)
            if f.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_UNIQUE
                || f.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_PRIMARYKEY =>
        {
            Error::Conflict(format!("{what} already exists"))
        }
        other => Error::Db(other),
    }
}

impl SqliteRepo {
    /// Opens (creating and migrating) the database at `path`.
    ///
    /// # Errors
    /// [`Error::Db`] if it cannot be opened or migrated.
    pub fn open(path: &Path) -> Result<Self> {
        let conn = Connection::open(path)?;
        Self::init(conn)
    }

    /// An in-memory database, for tests.
    ///
    /// # Errors
    /// [`Error::Db`] on failure.
    pub fn in_memory() -> Result<Self> {
        Self::init(Connection::open_in_memory()?)
    }

    fn init(mut conn: Connection) -> Result<Self> {
        conn.busy_timeout(std::time::Duration::from_secs(10))?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "NORMAL")?;
        conn.pragma_update(None, "foreign_keys", "ON")?;
        let version: usize = conn
            .pragma_query_value(None, "user_version", |r| r.get::<_, i64>(0))
            .map(|v| usize::try_from(v).unwrap_or(0))?;
        for (n, m) in MIGRATIONS.iter().enumerate().skip(version) {
            let tx = conn.transaction()?;
            tx.execute_batch(m)?;
            tx.pragma_update(None, "user_version", i64::try_from(n + 1).unwrap_or(0))?;
            tx.commit()?;
        }
        Ok(Self { conn: Mutex::new(conn) })
    }

    fn with<T>(&self, f: impl FnOnce(&mut Connection) -> Result<T>) -> Result<T> {
        // A poisoned lock means a panic mid-transaction; SQLite rolled it back, so the
        // connection is still consistent.
        let mut c = self.conn.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        f(&mut c)
    }
}

impl Repo for SqliteRepo {
    fn insert_tenant(&self, t: &Tenant) -> Result<()> {
        self.with(|c| {
            c.execute(
                "INSERT INTO tenants(id, name, created_at) VALUES (?1, ?2, ?3)",
                params![t.id, t.name, ts(t.created_at)],
            )
            .map_err(|e| map_unique(e, "a tenant with this name"))?;
            Ok(())
        })
    }

    fn tenant(&self, id_or_name: &str) -> Result<Option<Tenant>> {
        self.with(|c| {
            Ok(c.query_row(
                "SELECT id, name, created_at FROM tenants WHERE id = ?1 OR name = ?1",
                [id_or_name],
                tenant_row,
            )
            .optional()?)
        })
    }

    fn list_tenants(&self) -> Result<Vec<Tenant>> {
        self.with(|c| {
            let mut st = c.prepare("SELECT id, name, created_at FROM tenants ORDER BY name")?;
            Ok(st.query_map([], tenant_row)?.collect::<rusqlite::Result<_>>()?)
        })
    }

    fn insert_token(&self, id: &str, tenant_id: Option<&str>, name: &str, hash: &str, now: OffsetDateTime) -> Result<()> {
        self.with(|c| {
            c.execute(
                "INSERT INTO admin_tokens(id, tenant_id, name, token_hash, created_at) VALUES (?1, ?2, ?3, ?4, ?5)",
                params![id, tenant_id, name, hash, ts(now)],
            )?;
            Ok(())
        })
    }

    fn token_by_hash(&self, hash: &str) -> Result<Option<AdminPrincipal>> {
        self.with(|c| {
            Ok(c.query_row(
                "SELECT id, name, tenant_id FROM admin_tokens WHERE token_hash = ?1 AND revoked_at IS NULL",
                [hash],
                |r| {
                    Ok(AdminPrincipal {
                        token_id: r.get(0)?,
                        name: r.get(1)?,
                        tenant_id: r.get(2)?,
                    })
                },
            )
            .optional()?)
        })
    }

    fn operator_token_count(&self) -> Result<u64> {
        self.with(|c| {
            Ok(u(c.query_row(
                "SELECT COUNT(*) FROM admin_tokens WHERE tenant_id IS NULL AND revoked_at IS NULL",
                [],
                |r| r.get(0),
            )?))
        })
    }

    fn insert_space(&self, s: &Space) -> Result<()> {
        self.with(|c| {
            let tx = c.transaction()?;
            tx.execute(
                &format!("INSERT INTO spaces({SPACE_COLS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)"),
                params![
                    s.id,
                    s.tenant_id,
                    s.workspace_id,
                    s.name,
                    s.bucket,
                    s.base_prefix,
                    s.visibility.as_str(),
                    s.purpose.as_str(),
                    s.quota_bytes.map(i),
                    s.created_by,
                    ts(s.created_at),
                    s.disabled_at.map(ts)
                ],
            )
            .map_err(|e| map_unique(e, "a space with this name or bucket"))?;
            tx.execute("INSERT INTO usage(space_id) VALUES (?1)", [&s.id])?;
            tx.commit()?;
            Ok(())
        })
    }

    fn space(&self, id: &str) -> Result<Option<Space>> {
        self.with(|c| {
            Ok(
                c.query_row(&format!("SELECT {SPACE_COLS} FROM spaces WHERE id = ?1"), [id], space_row)
                    .optional()?,
            )
        })
    }

    fn space_by_bucket(&self, bucket: &str) -> Result<Option<Space>> {
        self.with(|c| {
            Ok(
                c.query_row(&format!("SELECT {SPACE_COLS} FROM spaces WHERE bucket = ?1"), [bucket], space_row)
                    .optional()?,
            )
        })
    }

    fn space_by_name(&self, tenant_id: &str, name: &str) -> Result<Option<Space>> {
        self.with(|c| {
            Ok(c.query_row(
                &format!("SELECT {SPACE_COLS} FROM spaces WHERE tenant_id = ?1 AND name = ?2"),
                [tenant_id, name],
                space_row,
            )
            .optional()?)
        })
    }

    fn list_spaces(&self, tenant_id: Option<&str>) -> Result<Vec<Space>> {
        self.with(|c| {
            let mut st = c.prepare(&format!(
                "SELECT {SPACE_COLS} FROM spaces WHERE ?1 IS NULL OR tenant_id = ?1 ORDER BY tenant_id, name"
            ))?;
            Ok(st.query_map([tenant_id], space_row)?.collect::<rusqlite::Result<_>>()?)
        })
    }

    fn set_space_disabled(&self, id: &str, at: Option<OffsetDateTime>) -> Result<()> {
        self.with(|c| {
            c.execute("UPDATE spaces SET disabled_at = ?2 WHERE id = ?1", params![id, at.map(ts)])?;
            Ok(())
        })
    }

    fn set_space_quota(&self, id: &str, quota: Option<u64>) -> Result<()> {
        self.with(|c| {
            c.execute("UPDATE spaces SET quota_bytes = ?2 WHERE id = ?1", params![id, quota.map(i)])?;
            Ok(())
        })
    }

    fn insert_identity(&self, x: &Identity, sealed: &[u8]) -> Result<()> {
        self.with(|c| {
            c.execute(
                &format!("INSERT INTO identities({IDENT_COLS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)"),
                params![
                    x.id,
                    x.tenant_id,
                    x.space_id,
                    x.name,
                    x.access_key_id,
                    x.mode.as_str(),
                    x.allowed_prefix,
                    x.expires_at.map(ts),
                    x.last_used_at.map(ts),
                    x.revoked_at.map(ts),
                    x.created_by,
                    ts(x.created_at),
                    x.rotated_at.map(ts),
                    sealed
                ],
            )
            .map_err(|e| map_unique(e, "a key with this name in this space"))?;
            Ok(())
        })
    }

    fn identity(&self, id: &str) -> Result<Option<Identity>> {
        self.with(|c| {
            Ok(
                c.query_row(&format!("SELECT {IDENT_COLS} FROM identities WHERE id = ?1"), [id], ident_row)
                    .optional()?,
            )
        })
    }

    fn identity_by_key(&self, ak: &str) -> Result<Option<(Identity, Vec<u8>)>> {
        self.with(|c| {
            Ok(c.query_row(
                &format!("SELECT {IDENT_COLS} FROM identities WHERE access_key_id = ?1"),
                [ak],
                |r| Ok((ident_row(r)?, r.get(13)?)),
            )
            .optional()?)
        })
    }

    fn list_identities(&self, space_id: &str) -> Result<Vec<Identity>> {
        self.with(|c| {
            let mut st = c.prepare(&format!("SELECT {IDENT_COLS} FROM identities WHERE space_id = ?1 ORDER BY name"))?;
            Ok(st.query_map([space_id], ident_row)?.collect::<rusqlite::Result<_>>()?)
        })
    }

    fn revoke_identity(&self, id: &str, at: OffsetDateTime) -> Result<()> {
        self.with(|c| {
            c.execute(
                "UPDATE identities SET revoked_at = COALESCE(revoked_at, ?2) WHERE id = ?1",
                params![id, ts(at)],
            )?;
            Ok(())
        })
    }

    fn rotate_identity(&self, id: &str, sealed: &[u8], at: OffsetDateTime) -> Result<()> {
        self.with(|c| {
            c.execute(
                "UPDATE identities SET secret_sealed = ?2, rotated_at = ?3 WHERE id = ?1",
                params![id, sealed, ts(at)],
            )?;
            Ok(())
        })
    }

    fn touch_identity(&self, id: &str, at: OffsetDateTime) -> Result<()> {
        self.with(|c| {
            c.execute("UPDATE identities SET last_used_at = ?2 WHERE id = ?1", params![id, ts(at)])?;
            Ok(())
        })
    }

    fn usage(&self, space_id: &str) -> Result<Usage> {
        self.with(|c| {
            let (bytes, objects): (i64, i64) = c
                .query_row("SELECT bytes, objects FROM usage WHERE space_id = ?1", [space_id], |r| {
                    Ok((r.get(0)?, r.get(1)?))
                })
                .optional()?
                .unwrap_or((0, 0));
            let mp: i64 = c.query_row(
                "SELECT COALESCE(SUM(p.size), 0) FROM upload_parts p JOIN uploads u ON u.upload_id = p.upload_id WHERE u.space_id = ?1",
                [space_id],
                |r| r.get(0),
            )?;
            Ok(Usage {
                bytes: u(bytes),
                objects: u(objects),
                multipart_bytes: u(mp),
            })
        })
    }

    fn record_object(&self, space_id: &str, key: &str, size: u64) -> Result<Option<u64>> {
        self.with(|c| {
            let tx = c.transaction()?;
            let old: Option<i64> = tx.query_row("SELECT size FROM objects WHERE space_id = ?1 AND key = ?2", params![space_id, key], |r| r.get(0)).optional()?;
            tx.execute(
                "INSERT INTO objects(space_id, key, size) VALUES (?1, ?2, ?3) ON CONFLICT(space_id, key) DO UPDATE SET size = excluded.size",
                params![space_id, key, i(size)],
            )?;
            let added_objects = i64::from(old.is_none());
            tx.execute(
                "UPDATE usage SET bytes = bytes + ?2 - ?3, objects = objects + ?4 WHERE space_id = ?1",
                params![space_id, i(size), old.unwrap_or(0), added_objects],
            )?;
            tx.commit()?;
            Ok(old.map(u))
        })
    }

    fn remove_object(&self, space_id: &str, key: &str) -> Result<Option<u64>> {
        self.with(|c| {
            let tx = c.transaction()?;
            let old: Option<i64> = tx
                .query_row(
                    "SELECT size FROM objects WHERE space_id = ?1 AND key = ?2",
                    params![space_id, key],
                    |r| r.get(0),
                )
                .optional()?;
            if let Some(sz) = old {
                tx.execute("DELETE FROM objects WHERE space_id = ?1 AND key = ?2", params![space_id, key])?;
                tx.execute(
                    "UPDATE usage SET bytes = bytes - ?2, objects = objects - 1 WHERE space_id = ?1",
                    params![space_id, sz],
                )?;
            }
            tx.commit()?;
            Ok(old.map(u))
        })
    }

    fn remove_objects(&self, space_id: &str, keys: &[String]) -> Result<()> {
        self.with(|c| {
            let tx = c.transaction()?;
            let (mut bytes, mut count) = (0i64, 0i64);
            {
                let mut del = tx.prepare_cached("DELETE FROM objects WHERE space_id = ?1 AND key = ?2 RETURNING size")?;
                for k in keys {
                    if let Some(sz) = del.query_row(params![space_id, k], |r| r.get::<_, i64>(0)).optional()? {
                        bytes += sz;
                        count += 1;
                    }
                }
            }
            tx.execute(
                "UPDATE usage SET bytes = bytes - ?2, objects = objects - ?3 WHERE space_id = ?1",
                params![space_id, bytes, count],
            )?;
            tx.commit()?;
            Ok(())
        })
    }

    fn object_size(&self, space_id: &str, key: &str) -> Result<Option<u64>> {
        self.with(|c| {
            Ok(c.query_row(
                "SELECT size FROM objects WHERE space_id = ?1 AND key = ?2",
                params![space_id, key],
                |r| r.get::<_, i64>(0),
            )
            .optional()?
            .map(u))
        })
    }

    fn insert_upload(&self, x: &UploadRecord) -> Result<()> {
        self.with(|c| {
            c.execute(
                "INSERT INTO uploads(upload_id, space_id, key, identity_id, initiated) VALUES (?1, ?2, ?3, ?4, ?5)",
                params![x.upload_id, x.space_id, x.key, x.identity_id, ts(x.initiated)],
            )?;
            Ok(())
        })
    }

    fn upload(&self, upload_id: &str) -> Result<Option<UploadRecord>> {
        self.with(|c| {
            Ok(c.query_row(
                "SELECT upload_id, space_id, key, identity_id, initiated FROM uploads WHERE upload_id = ?1",
                [upload_id],
                upload_row,
            )
            .optional()?)
        })
    }

    fn record_part(&self, upload_id: &str, p: &PartRecord) -> Result<()> {
        self.with(|c| {
            c.execute(
                "INSERT INTO upload_parts(upload_id, part_number, size, etag) VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT(upload_id, part_number) DO UPDATE SET size = excluded.size, etag = excluded.etag",
                params![upload_id, p.part_number, i(p.size), p.etag],
            )?;
            Ok(())
        })
    }

    fn parts(&self, upload_id: &str) -> Result<Vec<PartRecord>> {
        self.with(|c| {
            let mut st = c.prepare("SELECT part_number, size, etag FROM upload_parts WHERE upload_id = ?1 ORDER BY part_number")?;
            Ok(st
                .query_map([upload_id], |r| {
                    Ok(PartRecord {
                        part_number: r.get(0)?,
                        size: u(r.get(1)?),
                        etag: r.get(2)?,
                    })
                })?
                .collect::<rusqlite::Result<_>>()?)
        })
    }

    fn remove_upload(&self, upload_id: &str) -> Result<()> {
        self.with(|c| {
            let tx = c.transaction()?;
            tx.execute("DELETE FROM upload_parts WHERE upload_id = ?1", [upload_id])?;
            tx.execute("DELETE FROM uploads WHERE upload_id = ?1", [upload_id])?;
            tx.commit()?;
            Ok(())
        })
    }

    fn list_uploads(&self, space_id: &str, prefix: &str) -> Result<Vec<UploadRecord>> {
        self.with(|c| {
            let mut st = c.prepare(
                "SELECT upload_id, space_id, key, identity_id, initiated FROM uploads WHERE space_id = ?1 AND substr(key, 1, length(?2)) = ?2 ORDER BY key, initiated",
            )?;
            Ok(st.query_map([space_id, prefix], upload_row)?.collect::<rusqlite::Result<_>>()?)
        })
    }

    fn insert_audit(&self, events: &[(OffsetDateTime, NewAuditEvent)]) -> Result<()> {
        self.with(|c| {
            let tx = c.transaction()?;
            {
                let mut st = tx.prepare_cached(
                    "INSERT INTO audit_events(ts, tenant_id, space_id, identity_id, actor, kind, operation, object_key, source_ip, user_agent, status, bytes, detail)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)",
                )?;
                for (at, e) in events {
                    st.execute(params![
                        ts(*at), e.tenant_id, e.object_space_id, e.identity_id, e.actor, e.kind, e.operation, e.object_key,
                        e.source_ip, e.user_agent, e.status, i(e.bytes), e.detail
                    ])?;
                }
            }
            tx.commit()?;
            Ok(())
        })
    }

    fn query_audit(&self, f: &AuditFilter) -> Result<Vec<AuditEvent>> {
        self.with(|c| {
            let mut st = c.prepare(
                "SELECT id, ts, tenant_id, space_id, identity_id, actor, kind, operation, object_key, source_ip, user_agent, status, bytes, detail
                 FROM audit_events
                 WHERE (?1 IS NULL OR tenant_id = ?1) AND (?2 IS NULL OR space_id = ?2) AND (?3 IS NULL OR identity_id = ?3)
                   AND (?4 IS NULL OR operation = ?4) AND (?5 IS NULL OR ts >= ?5) AND (?6 IS NULL OR ts < ?6)
                   AND (?8 IS NULL OR id < ?8)
                 ORDER BY id DESC LIMIT ?7",
            )?;
            let limit = i64::from(f.limit.unwrap_or(100).clamp(1, 1000));
            let rows = st.query_map(
                params![
                    f.tenant_id,
                    f.space_id,
                    f.identity_id,
                    f.operation,
                    f.since.map(ts),
                    f.until.map(ts),
                    limit,
                    f.before_id
                ],
                |r| {
                    Ok(AuditEvent {
                        id: r.get(0)?,
                        timestamp: req_ts(r.get(1)?),
                        event: NewAuditEvent {
                            tenant_id: r.get(2)?,
                            object_space_id: r.get(3)?,
                            identity_id: r.get(4)?,
                            actor: r.get(5)?,
                            kind: r.get(6)?,
                            operation: r.get(7)?,
                            object_key: r.get(8)?,
                            source_ip: r.get(9)?,
                            user_agent: r.get(10)?,
                            status: r.get(11)?,
                            bytes: u(r.get(12)?),
                            detail: r.get(13)?,
                        },
                    })
                },
            )?;
            Ok(rows.collect::<rusqlite::Result<_>>()?)
        })
    }

    fn insert_session(&self, s: &SessionRecord) -> Result<()> {
        self.with(|c| {
            c.execute(
                "INSERT INTO console_sessions(id_hash, token_id, csrf, created_at, expires_at) VALUES (?1, ?2, ?3, ?4, ?5)",
                params![s.id_hash, s.token_id, s.csrf, ts(s.created_at), ts(s.expires_at)],
            )?;
            Ok(())
        })
    }

    fn session_by_hash(&self, hash: &str, now: OffsetDateTime) -> Result<Option<(SessionRecord, AdminPrincipal)>> {
        self.with(|c| {
            Ok(c.query_row(
                "SELECT s.id_hash, s.token_id, s.csrf, s.created_at, s.expires_at, t.name, t.tenant_id
                 FROM console_sessions s JOIN admin_tokens t ON t.id = s.token_id
                 WHERE s.id_hash = ?1 AND s.expires_at > ?2 AND t.revoked_at IS NULL",
                params![hash, ts(now)],
                |r| {
                    Ok((
                        SessionRecord {
                            id_hash: r.get(0)?,
                            token_id: r.get(1)?,
                            csrf: r.get(2)?,
                            created_at: req_ts(r.get(3)?),
                            expires_at: req_ts(r.get(4)?),
                        },
                        AdminPrincipal {
                            token_id: r.get(1)?,
                            name: r.get(5)?,
                            tenant_id: r.get(6)?,
                        },
                    ))
                },
            )
            .optional()?)
        })
    }

    fn delete_session(&self, hash: &str) -> Result<()> {
        self.with(|c| {
            c.execute("DELETE FROM console_sessions WHERE id_hash = ?1", [hash])?;
            Ok(())
        })
    }

    fn purge_sessions(&self, now: OffsetDateTime) -> Result<u64> {
        self.with(|c| Ok(c.execute("DELETE FROM console_sessions WHERE expires_at <= ?1", [ts(now)])? as u64))
    }

    fn add_traffic(&self, samples: &[TrafficSample]) -> Result<()> {
        self.with(|c| {
            let tx = c.transaction()?;
            {
                let mut st = tx.prepare_cached(
                    "INSERT INTO traffic(space_id, minute, bytes_in, bytes_out, requests) VALUES (?1, ?2, ?3, ?4, ?5)
                     ON CONFLICT(space_id, minute) DO UPDATE SET bytes_in = bytes_in + excluded.bytes_in,
                        bytes_out = bytes_out + excluded.bytes_out, requests = requests + excluded.requests",
                )?;
                for s in samples {
                    st.execute(params![s.space_id, ts(s.minute), i(s.bytes_in), i(s.bytes_out), i(s.requests)])?;
                }
            }
            tx.commit()?;
            Ok(())
        })
    }

    fn traffic(&self, space_id: &str, since: OffsetDateTime) -> Result<Vec<TrafficSample>> {
        self.with(|c| {
            let mut st = c.prepare_cached(
                "SELECT minute, bytes_in, bytes_out, requests FROM traffic WHERE space_id = ?1 AND minute >= ?2 ORDER BY minute",
            )?;
            let rows = st.query_map(params![space_id, ts(since)], |r| {
                Ok(TrafficSample {
                    space_id: space_id.to_owned(),
                    minute: req_ts(r.get(0)?),
                    bytes_in: u(r.get(1)?),
                    bytes_out: u(r.get(2)?),
                    requests: u(r.get(3)?),
                })
            })?;
            Ok(rows.collect::<rusqlite::Result<_>>()?)
        })
    }

    fn insert_namespace(&self, n: &RegistryNamespace, events_sealed: &[u8]) -> Result<()> {
        let retention = serde_json::to_string(&n.retention).map_err(|e| Error::Invalid(format!("retention: {e}")))?;
        self.with(|c| {
            c.execute(
                "INSERT INTO registry_namespaces(name, tenant_id, space_id, storage_identity_id, public, retention, events_sealed, created_by, created_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
                params![n.name, n.tenant_id, n.space_id, n.storage_identity_id, n.public, retention, events_sealed, n.created_by, ts(n.created_at)],
            )
            .map_err(|e| map_unique(e, &format!("a registry namespace named {:?}", n.name)))?;
            Ok(())
        })
    }

    fn namespace(&self, name: &str) -> Result<Option<RegistryNamespace>> {
        self.with(|c| {
            Ok(c.query_row(
                &format!("SELECT {NS_COLS} FROM registry_namespaces WHERE name = ?1"),
                [name],
                ns_row,
            )
            .optional()?)
        })
    }

    fn namespace_events_sealed(&self, name: &str) -> Result<Option<Vec<u8>>> {
        self.with(|c| {
            Ok(
                c.query_row("SELECT events_sealed FROM registry_namespaces WHERE name = ?1", [name], |r| {
                    r.get(0)
                })
                .optional()?,
            )
        })
    }

    fn list_namespaces(&self, tenant_id: Option<&str>) -> Result<Vec<RegistryNamespace>> {
        self.with(|c| {
            let mut st = c.prepare(&format!(
                "SELECT {NS_COLS} FROM registry_namespaces WHERE ?1 IS NULL OR tenant_id = ?1 ORDER BY name"
            ))?;
            Ok(st.query_map([tenant_id], ns_row)?.collect::<rusqlite::Result<_>>()?)
        })
    }

    fn set_namespace_settings(&self, name: &str, public: bool, retention: &RetentionRules, upstream: Option<&str>) -> Result<()> {
        let retention = serde_json::to_string(retention).map_err(|e| Error::Invalid(format!("retention: {e}")))?;
        self.with(|c| {
            c.execute(
                "UPDATE registry_namespaces SET public = ?2, retention = ?3, upstream = ?4 WHERE name = ?1",
                params![name, public, retention, upstream],
            )?;
            Ok(())
        })
    }

    fn insert_robot(&self, r: &Robot, secret_hash: &str) -> Result<()> {
        self.with(|c| {
            c.execute(
                "INSERT INTO registry_robots(id, namespace, name, username, access, secret_hash, created_by, created_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                params![
                    r.id,
                    r.namespace,
                    r.name,
                    r.username,
                    r.access.as_str(),
                    secret_hash,
                    r.created_by,
                    ts(r.created_at)
                ],
            )
            .map_err(|e| map_unique(e, &format!("a robot named {:?} in this namespace", r.name)))?;
            Ok(())
        })
    }

    fn robot_by_username(&self, username: &str) -> Result<Option<(Robot, String)>> {
        self.with(|c| {
            Ok(c.query_row(
                &format!("SELECT {ROBOT_COLS}, secret_hash FROM registry_robots WHERE username = ?1"),
                [username],
                |r| Ok((robot_row(r)?, r.get(8)?)),
            )
            .optional()?)
        })
    }

    fn list_robots(&self, namespace: &str) -> Result<Vec<Robot>> {
        self.with(|c| {
            let mut st = c.prepare(&format!(
                "SELECT {ROBOT_COLS} FROM registry_robots WHERE namespace = ?1 ORDER BY name"
            ))?;
            Ok(st.query_map([namespace], robot_row)?.collect::<rusqlite::Result<_>>()?)
        })
    }

    fn revoke_robot(&self, id: &str, at: OffsetDateTime) -> Result<()> {
        self.with(|c| {
            c.execute(
                "UPDATE registry_robots SET revoked_at = ?2 WHERE id = ?1 AND revoked_at IS NULL",
                params![id, ts(at)],
            )?;
            Ok(())
        })
    }

    fn registry_signing(&self) -> Result<Option<(Vec<u8>, String)>> {
        self.with(|c| {
            Ok(
                c.query_row("SELECT key_sealed, cert_pem FROM registry_signing WHERE id = 1", [], |r| {
                    Ok((r.get(0)?, r.get(1)?))
                })
                .optional()?,
            )
        })
    }

    fn init_registry_signing(&self, key_sealed: &[u8], cert_pem: &str) -> Result<()> {
        self.with(|c| {
            c.execute(
                "INSERT OR IGNORE INTO registry_signing(id, key_sealed, cert_pem) VALUES (1, ?1, ?2)",
                params![key_sealed, cert_pem],
            )?;
            Ok(())
        })
    }

    fn ping(&self) -> Result<()> {
        self.with(|c| Ok(c.query_row("SELECT 1", [], |_| Ok(()))?))
    }

    fn set_publication(&self, space_id: &str, rules: &PublicationRules, at: OffsetDateTime) -> Result<()> {
        let json = serde_json::to_string(rules).map_err(|e| Error::Invalid(e.to_string()))?;
        self.with(|c| {
            c.execute(
                "INSERT INTO publication_rules(space_id, public_name, enabled, rules, updated_at) VALUES (?1, ?2, ?3, ?4, ?5)
                 ON CONFLICT(space_id) DO UPDATE SET public_name = excluded.public_name, enabled = excluded.enabled,
                    rules = excluded.rules, updated_at = excluded.updated_at",
                params![space_id, rules.public_name, rules.enabled, json, ts(at)],
            )
            .map_err(|e| map_unique(e, "a public site with this public_name"))?;
            Ok(())
        })
    }

    fn publication(&self, space_id: &str) -> Result<Option<PublicationRules>> {
        let json: Option<String> = self.with(|c| {
            Ok(
                c.query_row("SELECT rules FROM publication_rules WHERE space_id = ?1", [space_id], |r| r.get(0))
                    .optional()?,
            )
        })?;
        json.map(|j| serde_json::from_str(&j).map_err(|e| Error::Invalid(format!("stored publication rules: {e}"))))
            .transpose()
    }

    fn publication_by_name(&self, public_name: &str) -> Result<Option<(String, PublicationRules)>> {
        let row: Option<(String, String)> = self.with(|c| {
            Ok(c.query_row(
                "SELECT space_id, rules FROM publication_rules WHERE public_name = ?1",
                [public_name],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()?)
        })?;
        row.map(|(id, j)| {
            serde_json::from_str(&j)
                .map(|r| (id, r))
                .map_err(|e| Error::Invalid(format!("stored publication rules: {e}")))
        })
        .transpose()
    }

    fn insert_repository(&self, r: &Repository, signing_sealed: &[u8]) -> Result<()> {
        let config = serde_json::to_string(&r.config).map_err(|e| Error::Invalid(format!("repository config: {e}")))?;
        self.with(|c| {
            c.execute(
                "INSERT INTO repositories(name, tenant_id, space_id, config, signing_sealed, public_key, fingerprint, created_by, created_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
                params![r.name, r.tenant_id, r.space_id, config, signing_sealed, r.public_key, r.fingerprint, r.created_by, ts(r.created_at)],
            )
            .map_err(|e| map_unique(e, &format!("a repository named {:?}", r.name)))?;
            Ok(())
        })
    }

    fn repository(&self, name: &str) -> Result<Option<(Repository, Vec<u8>)>> {
        self.with(|c| {
            Ok(c.query_row(
                &format!("SELECT {REPO_COLS}, signing_sealed FROM repositories WHERE name = ?1"),
                [name],
                |r| Ok((repo_row(r)?, r.get(8)?)),
            )
            .optional()?)
        })
    }

    fn list_repositories(&self, tenant_id: Option<&str>) -> Result<Vec<Repository>> {
        self.with(|c| {
            let mut st = c.prepare(&format!(
                "SELECT {REPO_COLS} FROM repositories WHERE ?1 IS NULL OR tenant_id = ?1 ORDER BY name"
            ))?;
            let rows = st.query_map([tenant_id], repo_row)?;
            Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
        })
    }

    fn set_repository_config(&self, name: &str, config: &RepositoryConfig) -> Result<()> {
        let config = serde_json::to_string(config).map_err(|e| Error::Invalid(format!("repository config: {e}")))?;
        self.with(|c| {
            c.execute("UPDATE repositories SET config = ?2 WHERE name = ?1", params![name, config])?;
            Ok(())
        })
    }
}

const REPO_COLS: &str = "name, tenant_id, space_id, config, public_key, fingerprint, created_by, created_at";

fn repo_row(r: &Row<'_>) -> rusqlite::Result<Repository> {
    let config: String = r.get(3)?;
    Ok(Repository {
        name: r.get(0)?,
        tenant_id: r.get(1)?,
        space_id: r.get(2)?,
        config: serde_json::from_str(&config)
            .map_err(|e| rusqlite::Error::FromSqlConversionFailure(3, rusqlite::types::Type::Text, Box::new(e)))?,
        public_key: r.get(4)?,
        fingerprint: r.get(5)?,
        created_by: r.get(6)?,
        created_at: req_ts(r.get(7)?),
    })
}
