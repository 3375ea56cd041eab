//! The little SQL surface both databases share: parameters, rows, a connection, transactions.
//!
//! Queries are written once, with SQLite's numbered placeholders (`?1`); the PostgreSQL
//! connection rewrites them to `$1`. Integers are 64-bit on both (BIGINT in PostgreSQL), booleans
//! are BOOLEAN there and 0/1 in SQLite; [`Row`] reads either.

use std::fmt;

use time::OffsetDateTime;

use crate::{Error, Result};

/// A query parameter.
#[derive(Debug, Clone, Copy)]
pub enum Val<'a> {
    Null,
    Int(i64),
    Text(&'a str),
    Blob(&'a [u8]),
    Bool(bool),
}

impl<'a> From<&'a str> for Val<'a> {
    fn from(v: &'a str) -> Self {
        Val::Text(v)
    }
}

impl<'a> From<&'a String> for Val<'a> {
    fn from(v: &'a String) -> Self {
        Val::Text(v)
    }
}

impl<'a> From<Option<&'a str>> for Val<'a> {
    fn from(v: Option<&'a str>) -> Self {
        v.map_or(Val::Null, Val::Text)
    }
}

impl<'a> From<&'a Option<String>> for Val<'a> {
    fn from(v: &'a Option<String>) -> Self {
        v.as_deref().map_or(Val::Null, Val::Text)
    }
}

impl<'a> From<&'a [u8]> for Val<'a> {
    fn from(v: &'a [u8]) -> Self {
        Val::Blob(v)
    }
}

impl From<i64> for Val<'_> {
    fn from(v: i64) -> Self {
        Val::Int(v)
    }
}

impl From<u32> for Val<'_> {
    fn from(v: u32) -> Self {
        Val::Int(i64::from(v))
    }
}

impl From<u64> for Val<'_> {
    fn from(v: u64) -> Self {
        Val::Int(int(v))
    }
}

impl From<Option<u64>> for Val<'_> {
    fn from(v: Option<u64>) -> Self {
        v.map_or(Val::Null, |v| Val::Int(int(v)))
    }
}

impl From<Option<i64>> for Val<'_> {
    fn from(v: Option<i64>) -> Self {
        v.map_or(Val::Null, Val::Int)
    }
}

impl From<bool> for Val<'_> {
    fn from(v: bool) -> Self {
        Val::Bool(v)
    }
}

impl From<OffsetDateTime> for Val<'_> {
    fn from(v: OffsetDateTime) -> Self {
        Val::Int(v.unix_timestamp())
    }
}

impl From<Option<OffsetDateTime>> for Val<'_> {
    fn from(v: Option<OffsetDateTime>) -> Self {
        v.map_or(Val::Null, |t| Val::Int(t.unix_timestamp()))
    }
}

/// `[Val; N]` from a list of expressions.
macro_rules! p {
    ($($e:expr),* $(,)?) => { &[$($crate::db::sql::Val::from($e)),*] };
}
pub(crate) use p;

fn int(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

/// One column of a result row.
#[derive(Debug, Clone, PartialEq)]
pub enum Cell {
    Null,
    Int(i64),
    Text(String),
    Blob(Vec<u8>),
    Bool(bool),
}

/// A result row; columns are taken by index (each at most once, except through `clone`).
#[derive(Debug, Clone, Default)]
pub struct Row(pub Vec<Cell>);

fn bad(idx: usize, want: &str, got: &Cell) -> Error {
    Error::Db(format!("column {idx}: expected {want}, found {got:?}").into())
}

impl Row {
    fn take(&mut self, idx: usize) -> Cell {
        self.0.get_mut(idx).map_or(Cell::Null, |c| std::mem::replace(c, Cell::Null))
    }

    pub fn text(&mut self, idx: usize) -> Result<String> {
        match self.take(idx) {
            Cell::Text(s) => Ok(s),
            other => Err(bad(idx, "text", &other)),
        }
    }

    pub fn opt_text(&mut self, idx: usize) -> Result<Option<String>> {
        match self.take(idx) {
            Cell::Null => Ok(None),
            Cell::Text(s) => Ok(Some(s)),
            other => Err(bad(idx, "text or NULL", &other)),
        }
    }

    pub fn int(&mut self, idx: usize) -> Result<i64> {
        match self.take(idx) {
            Cell::Int(v) => Ok(v),
            other => Err(bad(idx, "an integer", &other)),
        }
    }

    pub fn opt_int(&mut self, idx: usize) -> Result<Option<i64>> {
        match self.take(idx) {
            Cell::Null => Ok(None),
            Cell::Int(v) => Ok(Some(v)),
            other => Err(bad(idx, "an integer or NULL", &other)),
        }
    }

    /// A non-negative integer (sizes, counts).
    pub fn size(&mut self, idx: usize) -> Result<u64> {
        Ok(u64::try_from(self.int(idx)?).unwrap_or(0))
    }

    pub fn opt_size(&mut self, idx: usize) -> Result<Option<u64>> {
        Ok(self.opt_int(idx)?.map(|v| u64::try_from(v).unwrap_or(0)))
    }

    pub fn bool(&mut self, idx: usize) -> Result<bool> {
        match self.take(idx) {
            Cell::Bool(b) => Ok(b),
            Cell::Int(v) => Ok(v != 0),
            other => Err(bad(idx, "a boolean", &other)),
        }
    }

    pub fn blob(&mut self, idx: usize) -> Result<Vec<u8>> {
        match self.take(idx) {
            Cell::Blob(b) => Ok(b),
            other => Err(bad(idx, "bytes", &other)),
        }
    }

    /// A time stored as unix seconds.
    pub fn time(&mut self, idx: usize) -> Result<OffsetDateTime> {
        Ok(OffsetDateTime::from_unix_timestamp(self.int(idx)?).unwrap_or(OffsetDateTime::UNIX_EPOCH))
    }

    pub fn opt_time(&mut self, idx: usize) -> Result<Option<OffsetDateTime>> {
        Ok(self.opt_int(idx)?.and_then(|s| OffsetDateTime::from_unix_timestamp(s).ok()))
    }

    /// A `FromStr` value stored as text (enums).
    pub fn parse<T: std::str::FromStr>(&mut self, idx: usize) -> Result<T> {
        let s = self.text(idx)?;
        s.parse()
            .map_err(|_| Error::Db(format!("column {idx}: unexpected value {s:?}").into()))
    }

    /// A JSON document stored as text.
    pub fn json<T: serde::de::DeserializeOwned>(&mut self, idx: usize) -> Result<T> {
        let s = self.text(idx)?;
        serde_json::from_str(&s).map_err(|e| Error::Db(format!("column {idx}: stored JSON: {e}").into()))
    }
}

/// Why a statement failed.
#[derive(Debug)]
pub struct SqlError {
    /// A UNIQUE or PRIMARY KEY constraint refused the row.
    pub unique: bool,
    pub source: Box<dyn std::error::Error + Send + Sync>,
}

impl fmt::Display for SqlError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.source.fmt(f)
    }
}

impl From<SqlError> for Error {
    fn from(e: SqlError) -> Self {
        Error::Db(e.source)
    }
}

impl SqlError {
    /// [`Error::Conflict`] naming `what` for a uniqueness violation, else [`Error::Db`].
    pub fn unique_as(self, what: &str) -> Error {
        if self.unique {
            Error::Conflict(format!("{what} already exists"))
        } else {
            Error::Db(self.source)
        }
    }
}

/// One open connection.
pub trait Conn {
    /// Runs a statement; returns the number of rows it changed.
    fn exec(&mut self, sql: &str, p: &[Val<'_>]) -> std::result::Result<u64, SqlError>;
    /// Runs a query; returns its rows.
    fn rows(&mut self, sql: &str, p: &[Val<'_>]) -> std::result::Result<Vec<Row>, SqlError>;
    /// Runs statements without parameters (transaction control).
    fn batch(&mut self, sql: &str) -> std::result::Result<(), SqlError>;
    /// The statement that opens a write transaction (SQLite takes the write lock at once).
    fn begin_sql(&self) -> &'static str;
    /// What follows a text column in `ORDER BY` for byte-wise order (S3's order of keys).
    fn byte_order(&self) -> &'static str;
}

impl dyn Conn + '_ {
    /// The first row, if any.
    pub fn row(&mut self, sql: &str, p: &[Val<'_>]) -> std::result::Result<Option<Row>, SqlError> {
        Ok(self.rows(sql, p)?.into_iter().next())
    }

    /// Runs `f` in a transaction: committed if it returns `Ok`, rolled back otherwise.
    pub fn tx<T>(&mut self, f: impl FnOnce(&mut dyn Conn) -> Result<T>) -> Result<T> {
        let begin = self.begin_sql();
        self.batch(begin)?;
        match f(self) {
            Ok(v) => {
                self.batch("COMMIT")?;
                Ok(v)
            }
            Err(e) => {
                if let Err(r) = self.batch("ROLLBACK") {
                    tracing::warn!("rolling back: {r}");
                }
                Err(e)
            }
        }
    }
}

/// Where connections come from.
pub trait Backend: Send + Sync + 'static {
    /// Runs `f` on a connection.
    fn with<T: Send>(&self, f: impl FnOnce(&mut dyn Conn) -> Result<T> + Send) -> Result<T>;
    /// How many calls can usefully run at once: the database executor's thread count.
    fn parallelism(&self) -> usize {
        1
    }
}

/// `?N` placeholders as PostgreSQL's `$N` (outside string literals).
pub fn dollar_placeholders(sql: &str) -> String {
    let mut out = String::with_capacity(sql.len());
    let mut quoted = false;
    for ch in sql.chars() {
        match ch {
            '\'' => {
                quoted = !quoted;
                out.push(ch);
            }
            '?' if !quoted => out.push('$'),
            _ => out.push(ch),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_become_dollars_outside_literals() {
        assert_eq!(
            dollar_placeholders("SELECT a FROM t WHERE b = ?1 AND c = '?2' AND d = ?12"),
            "SELECT a FROM t WHERE b = $1 AND c = '?2' AND d = $12"
        );
    }

    #[test]
    fn rows_read_both_boolean_forms_and_refuse_wrong_types() {
        let mut r = Row(vec![Cell::Int(1), Cell::Bool(false), Cell::Text("x".into()), Cell::Null]);
        assert!(r.bool(0).expect("int as bool"));
        assert!(!r.bool(1).expect("bool"));
        assert!(r.int(2).is_err());
        assert_eq!(r.opt_text(3).expect("null"), None);
    }
}
