//! The embedded SQLite backend (WAL): the single-node default.

use std::path::Path;
use std::sync::Mutex;

use rusqlite::Connection;
use rusqlite::types::{ToSqlOutput, ValueRef};

use super::sql::{Backend, Cell, Conn, Row, SqlError, Val};
use crate::{Error, Result};

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
            for (n, m) in super::schema::migrations(super::schema::Dialect::Sqlite)
                .iter()
                .enumerate()
                .skip(version)
            {
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

    fn byte_order(&self) -> &'static str {
        ""
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
