//! The PostgreSQL backend, for several edge nodes sharing one control database.
//!
//! The synchronous `postgres` client runs its own small runtime per connection, which tokio
//! refuses to start on an async worker thread; [`off_runtime`] steps off the runtime first, so
//! the same blocking [`Repo`](super::Repo) calls work from async code, from `spawn_blocking` and
//! from plain threads, as they do with SQLite.

use std::collections::HashMap;
use std::str::FromStr;
use std::sync::Mutex;

use bytes::BytesMut;
use postgres::types::{IsNull, ToSql, Type, to_sql_checked};
use postgres::{Client, Statement};
use tokio_postgres_rustls::MakeRustlsConnect;

use super::sql::{Backend, Cell, Conn, Row, SqlError, Val, dollar_placeholders};
use crate::{Error, Result};

/// Connections kept open between calls; more are opened when calls overlap.
const IDLE_MAX: usize = 8;

struct Pooled {
    client: Client,
    statements: HashMap<String, Statement>,
}

/// A pool of PostgreSQL connections.
pub struct Postgres {
    config: postgres::Config,
    tls: MakeRustlsConnect,
    idle: Mutex<Vec<Pooled>>,
}

/// TLS for database connections: the system's trusted roots, plus `ca_file` (PEM) if given.
/// Whether TLS is used is the URL's `sslmode`: `prefer` (the default) uses it when the server
/// offers it, `require` refuses a server that does not; either way the certificate and the
/// host name are verified when TLS is used.
fn tls(ca_file: Option<&std::path::Path>) -> Result<MakeRustlsConnect> {
    use rustls::pki_types::CertificateDer;
    use rustls::pki_types::pem::PemObject;
    let mut roots = rustls::RootCertStore::empty();
    for cert in rustls_native_certs::load_native_certs().certs {
        // A system root rustls cannot parse is skipped, as every rustls client does.
        let _ = roots.add(cert);
    }
    if let Some(path) = ca_file {
        let pem = std::fs::read(path).map_err(|e| Error::Invalid(format!("database CA file {}: {e}", path.display())))?;
        let certs = CertificateDer::pem_slice_iter(&pem)
            .collect::<std::result::Result<Vec<_>, _>>()
            .map_err(|e| Error::Invalid(format!("database CA file {}: {e}", path.display())))?;
        if certs.is_empty() {
            return Err(Error::Invalid(format!("database CA file {} holds no certificate", path.display())));
        }
        for c in certs {
            roots
                .add(c)
                .map_err(|e| Error::Invalid(format!("database CA file {}: {e}", path.display())))?;
        }
    }
    let provider = std::sync::Arc::new(rustls::crypto::ring::default_provider());
    let cfg = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| Error::Invalid(format!("database TLS: {e}")))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(MakeRustlsConnect::new(cfg))
}

impl std::fmt::Debug for Postgres {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The configuration holds the password: show only where it points.
        f.debug_struct("Postgres")
            .field("hosts", &self.config.get_hosts())
            .field("dbname", &self.config.get_dbname())
            .finish_non_exhaustive()
    }
}

fn pg_err(context: &str, e: &postgres::Error) -> Error {
    // `Display` stops at "error performing TLS handshake"; the cause says which certificate.
    let cause = std::error::Error::source(e).map(|s| format!(": {s}")).unwrap_or_default();
    Error::Db(format!("{context}: {e}{cause}").into())
}

impl Postgres {
    /// Connects to `url` (`postgres://user:password@host:port/db[?sslmode=require]`) and
    /// applies pending migrations; `ca_file` adds a PEM CA to the system's roots for TLS.
    ///
    /// # Errors
    /// [`Error::Invalid`] for a malformed URL or CA file, [`Error::Db`] if the database cannot
    /// be reached or migrated. The message never contains the password.
    pub fn open(url: &str, ca_file: Option<&std::path::Path>) -> Result<Self> {
        let config = postgres::Config::from_str(url).map_err(|e| Error::Invalid(format!("database URL: {e}")))?;
        Self::with_config(config, ca_file)
    }

    /// [`Postgres::open`] with a parsed configuration (tests use it to pick a schema).
    ///
    /// # Errors
    /// As [`Postgres::open`].
    pub fn with_config(config: postgres::Config, ca_file: Option<&std::path::Path>) -> Result<Self> {
        let pg = Self {
            config,
            tls: tls(ca_file)?,
            idle: Mutex::new(Vec::new()),
        };
        pg.with(migrate)?;
        Ok(pg)
    }

    fn checkout(&self) -> Result<Pooled> {
        let idle = self.idle.lock().unwrap_or_else(std::sync::PoisonError::into_inner).pop();
        match idle {
            Some(p) if !p.client.is_closed() => Ok(p),
            _ => Ok(Pooled {
                client: self
                    .config
                    .connect(self.tls.clone())
                    .map_err(|e| pg_err("connecting to PostgreSQL", &e))?,
                statements: HashMap::new(),
            }),
        }
    }

    fn checkin(&self, p: Pooled) {
        if p.client.is_closed() {
            return;
        }
        let mut idle = self.idle.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if idle.len() < IDLE_MAX {
            idle.push(p);
        }
    }
}

fn migrate(c: &mut dyn Conn) -> Result<()> {
    c.tx(|c| {
        // One node migrates; the others wait here and then find nothing left to do. Even
        // CREATE TABLE IF NOT EXISTS races in PostgreSQL, so it too waits for the lock.
        c.rows("SELECT pg_advisory_xact_lock(727263)", &[])?;
        c.batch("CREATE TABLE IF NOT EXISTS schema_migrations(version BIGINT PRIMARY KEY, applied_at BIGINT NOT NULL)")?;
        let done = c.row("SELECT CAST(COALESCE(MAX(version), 0) AS BIGINT) FROM schema_migrations", &[])?;
        let done = done.map_or(Ok(0), |mut r| r.size(0))?;
        let all = super::schema::migrations(super::schema::Dialect::Postgres);
        for (n, m) in all.iter().enumerate().skip(usize::try_from(done).unwrap_or(usize::MAX)) {
            c.batch(m)
                .map_err(|e| Error::Db(format!("PostgreSQL migration {}: {e}", n + 1).into()))?;
            let version = u64::try_from(n + 1).unwrap_or(u64::MAX);
            c.exec(
                "INSERT INTO schema_migrations(version, applied_at) VALUES (?1, ?2)",
                super::sql::p![version, time::OffsetDateTime::now_utc()],
            )?;
        }
        Ok(())
    })
}

/// Runs blocking client code where the client may start its own runtime.
fn off_runtime<T: Send>(f: impl FnOnce() -> T + Send) -> T {
    match tokio::runtime::Handle::try_current() {
        Ok(h) if h.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread => tokio::task::block_in_place(f),
        // A current-thread runtime cannot lend its thread: use another one for the call.
        Ok(_) => std::thread::scope(|s| s.spawn(f).join()).unwrap_or_else(|p| std::panic::resume_unwind(p)),
        Err(_) => f(),
    }
}

impl Backend for Postgres {
    fn parallelism(&self) -> usize {
        IDLE_MAX
    }

    fn with<T: Send>(&self, f: impl FnOnce(&mut dyn Conn) -> Result<T> + Send) -> Result<T> {
        crate::exec::check_thread();
        off_runtime(|| {
            let mut p = self.checkout()?;
            let r = f(&mut p);
            self.checkin(p);
            r
        })
    }
}

fn wrap(e: &postgres::Error) -> SqlError {
    let unique = e.code() == Some(&postgres::error::SqlState::UNIQUE_VIOLATION);
    // `Display` of a server error is only "db error"; the detail is in `as_db_error`.
    let msg = e.as_db_error().map_or_else(|| e.to_string(), ToString::to_string);
    SqlError {
        unique,
        source: msg.into(),
    }
}

impl Pooled {
    fn statement(&mut self, sql: &str) -> std::result::Result<Statement, SqlError> {
        if let Some(s) = self.statements.get(sql) {
            return Ok(s.clone());
        }
        let st = self.client.prepare(&dollar_placeholders(sql)).map_err(|e| wrap(&e))?;
        self.statements.insert(sql.to_owned(), st.clone());
        Ok(st)
    }
}

fn params<'a>(p: &'a [Val<'a>]) -> Vec<&'a (dyn ToSql + Sync)> {
    p.iter().map(|v| v as &(dyn ToSql + Sync)).collect()
}

fn cell(row: &postgres::Row, i: usize) -> std::result::Result<Cell, postgres::Error> {
    let ty = row.columns()[i].type_();
    Ok(if *ty == Type::INT8 {
        row.try_get::<_, Option<i64>>(i)?.map_or(Cell::Null, Cell::Int)
    } else if *ty == Type::INT4 {
        row.try_get::<_, Option<i32>>(i)?.map_or(Cell::Null, |v| Cell::Int(i64::from(v)))
    } else if *ty == Type::BOOL {
        row.try_get::<_, Option<bool>>(i)?.map_or(Cell::Null, Cell::Bool)
    } else if *ty == Type::BYTEA {
        row.try_get::<_, Option<Vec<u8>>>(i)?.map_or(Cell::Null, Cell::Blob)
    } else if *ty == Type::VOID {
        Cell::Null
    } else {
        row.try_get::<_, Option<String>>(i)?.map_or(Cell::Null, Cell::Text)
    })
}

impl Conn for Pooled {
    fn exec(&mut self, sql: &str, p: &[Val<'_>]) -> std::result::Result<u64, SqlError> {
        let st = self.statement(sql)?;
        self.client.execute(&st, &params(p)).map_err(|e| wrap(&e))
    }

    fn rows(&mut self, sql: &str, p: &[Val<'_>]) -> std::result::Result<Vec<Row>, SqlError> {
        let st = self.statement(sql)?;
        let rows = self.client.query(&st, &params(p)).map_err(|e| wrap(&e))?;
        rows.iter()
            .map(|r| {
                (0..r.len())
                    .map(|i| cell(r, i))
                    .collect::<std::result::Result<Vec<_>, _>>()
                    .map(Row)
            })
            .collect::<std::result::Result<_, _>>()
            .map_err(|e| wrap(&e))
    }

    fn batch(&mut self, sql: &str) -> std::result::Result<(), SqlError> {
        self.client.batch_execute(sql).map_err(|e| wrap(&e))
    }

    fn byte_order(&self) -> &'static str {
        " COLLATE \"C\""
    }

    fn begin_sql(&self) -> &'static str {
        "BEGIN"
    }
}

impl ToSql for Val<'_> {
    fn to_sql(&self, ty: &Type, out: &mut BytesMut) -> std::result::Result<IsNull, Box<dyn std::error::Error + Sync + Send>> {
        match *self {
            Val::Null => Ok(IsNull::Yes),
            Val::Int(v) if *ty == Type::INT4 => i32::try_from(v)?.to_sql(ty, out),
            Val::Int(v) => v.to_sql(ty, out),
            Val::Text(s) => s.to_sql(ty, out),
            Val::Blob(b) => b.to_sql(ty, out),
            Val::Bool(b) => b.to_sql(ty, out),
        }
    }

    fn accepts(_: &Type) -> bool {
        true
    }

    to_sql_checked!();
}
