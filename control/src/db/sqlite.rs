//! The embedded SQLite backend (WAL): the single-node default.

use std::path::Path;
use std::sync::Mutex;

use rusqlite::Connection;
use rusqlite::types::{ToSqlOutput, ValueRef};

use super::sql::{Backend, Cell, Conn, Row, SqlError, Val};
use crate::{Error, Result};

/// Schema versions, applied in order; `PRAGMA user_version` records how many ran.
/// Times are unix seconds.
const MIGRATIONS: &[&str] = &[
    // 1: initial schema.
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
    // 6: several nodes: quota reservations of uploads in flight (any node's), and the change feed
    // through which nodes tell each other to drop cached credentials, sites, objects and pointers.
    "CREATE TABLE reservations(id TEXT PRIMARY KEY, space_id TEXT NOT NULL, bytes INTEGER NOT NULL,
        expires_at INTEGER NOT NULL);
     CREATE INDEX reservations_space ON reservations(space_id);
     CREATE TABLE changes(seq INTEGER PRIMARY KEY AUTOINCREMENT, at INTEGER NOT NULL, origin TEXT NOT NULL,
        kind TEXT NOT NULL, space_id TEXT, detail TEXT);
     CREATE INDEX changes_at ON changes(at);",
    // 7: leases: one node at a time publishes a repository.
    "CREATE TABLE leases(name TEXT PRIMARY KEY, holder TEXT NOT NULL, expires_at INTEGER NOT NULL);",
    // 8: a reservation belongs to the node that made it, which renews it while it lives; a
    // killed node's reservations lapse within minutes, and a single node drops them at start.
    "ALTER TABLE reservations ADD COLUMN node TEXT NOT NULL DEFAULT '';",
    // 9: the bytes a repository's published data (pool, by-hash, snapshots, keys) takes in the
    // backend; they count against the repository's space.
    "ALTER TABLE repositories ADD COLUMN published_bytes BIGINT NOT NULL DEFAULT 0;",
];

/// SQLite connection (one, behind a mutex: SQLite serialises writers anyway).
#[derive(Debug)]
pub struct Sqlite {
    conn: Mutex<Connection>,
}

impl Sqlite {
    /// Opens (creating and migrating) the database at `path`.
    ///
    /// # Errors
    /// [`Error::Db`] if it cannot be opened or migrated.
    pub fn open(path: &Path) -> Result<Self> {
        Self::init(Connection::open(path).map_err(sql_err)?)
    }

    /// An in-memory database, for tests.
    ///
    /// # Errors
    /// [`Error::Db`] on failure.
    pub fn in_memory() -> Result<Self> {
        Self::init(Connection::open_in_memory().map_err(sql_err)?)
    }

    fn init(mut conn: Connection) -> Result<Self> {
        (|| {
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
            Ok::<_, rusqlite::Error>(())
        })()
        .map_err(|e| Error::Db(format!("migrating the SQLite database: {e}").into()))?;
        Ok(Self { conn: Mutex::new(conn) })
    }
}

fn sql_err(e: rusqlite::Error) -> Error {
    Error::Db(Box::new(e))
}

fn wrap(e: rusqlite::Error) -> SqlError {
    let unique = matches!(&e, rusqlite::Error::SqliteFailure(f, _)
        if f.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_UNIQUE
            || f.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_PRIMARYKEY);
    SqlError {
        unique,
        source: Box::new(e),
    }
}

impl rusqlite::ToSql for Val<'_> {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        Ok(match *self {
            Val::Null => ToSqlOutput::Borrowed(ValueRef::Null),
            Val::Int(v) => ToSqlOutput::Borrowed(ValueRef::Integer(v)),
            Val::Text(s) => ToSqlOutput::Borrowed(ValueRef::Text(s.as_bytes())),
            Val::Blob(b) => ToSqlOutput::Borrowed(ValueRef::Blob(b)),
            Val::Bool(b) => ToSqlOutput::Borrowed(ValueRef::Integer(i64::from(b))),
        })
    }
}

impl Conn for Connection {
    fn exec(&mut self, sql: &str, p: &[Val<'_>]) -> std::result::Result<u64, SqlError> {
        let mut st = self.prepare_cached(sql).map_err(wrap)?;
        let n = st.execute(rusqlite::params_from_iter(p.iter())).map_err(wrap)?;
        Ok(n as u64)
    }

    fn rows(&mut self, sql: &str, p: &[Val<'_>]) -> std::result::Result<Vec<Row>, SqlError> {
        let mut st = self.prepare_cached(sql).map_err(wrap)?;
        let cols = st.column_count();
        let mut rows = st.query(rusqlite::params_from_iter(p.iter())).map_err(wrap)?;
        let mut out = Vec::new();
        while let Some(r) = rows.next().map_err(wrap)? {
            let mut cells = Vec::with_capacity(cols);
            for i in 0..cols {
                cells.push(match r.get_ref(i).map_err(wrap)? {
                    ValueRef::Null => Cell::Null,
                    ValueRef::Integer(v) => Cell::Int(v),
                    ValueRef::Text(t) => Cell::Text(String::from_utf8_lossy(t).into_owned()),
                    ValueRef::Blob(b) => Cell::Blob(b.to_vec()),
                    ValueRef::Real(f) => Cell::Text(f.to_string()),
                });
            }
            out.push(Row(cells));
        }
        Ok(out)
    }

    fn batch(&mut self, sql: &str) -> std::result::Result<(), SqlError> {
        self.execute_batch(sql).map_err(wrap)
    }

    fn begin_sql(&self) -> &'static str {
        "BEGIN IMMEDIATE"
    }
}

impl Backend for Sqlite {
    fn with<T: Send>(&self, f: impl FnOnce(&mut dyn Conn) -> Result<T> + Send) -> Result<T> {
        crate::exec::check_thread();
        // A poisoned lock means a panic mid-transaction: roll that transaction back first.
        let mut c = self.conn.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if !c.is_autocommit() {
            c.execute_batch("ROLLBACK").map_err(sql_err)?;
        }
        f(&mut *c)
    }
}
