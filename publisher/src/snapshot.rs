//! What a snapshot holds: the package set it publishes and the index files it wrote. Stored
//! as JSON next to its `dists/` tree, so a publish reads one object instead of every `.deb`.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

/// One package in one distribution and component.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PackageRecord {
    /// Suite.
    pub dist: String,
    /// Component.
    pub component: String,
    /// `Package`.
    pub package: String,
    /// `Version`.
    pub version: String,
    /// `Architecture`.
    pub architecture: String,
    /// Pool path relative to the repository root.
    pub filename: String,
    /// Bytes.
    pub size: u64,
    /// MD5, hex.
    pub md5: String,
    /// SHA-256, hex.
    pub sha256: String,
    /// Control paragraph without the index fields.
    pub control: String,
    /// The stored file-list batch (`lists/<id>`) that says what the package installs, for
    /// `Contents`; none for packages published before lists were kept.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lists: Option<String>,
}

impl PackageRecord {
    /// The same package in the same place: equal but for where its file list is stored.
    #[must_use]
    pub fn same_package(&self, other: &Self) -> bool {
        let (a, b) = (self, other);
        (&a.dist, &a.component, &a.package, &a.version, &a.architecture) == (&b.dist, &b.component, &b.package, &b.version, &b.architecture)
            && (&a.filename, a.size, &a.md5, &a.sha256, &a.control) == (&b.filename, b.size, &b.md5, &b.sha256, &b.control)
    }

    /// What identifies a package within a distribution: a new upload replaces this.
    #[must_use]
    pub fn slot(&self) -> (&str, &str, &str, &str) {
        (&self.dist, &self.component, &self.package, &self.architecture)
    }
}

/// One file of a source package, as `Sources` lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SourceFile {
    /// File name, in the record's directory.
    pub name: String,
    /// Bytes.
    pub size: u64,
    /// MD5, hex.
    pub md5: String,
    /// SHA-256, hex.
    pub sha256: String,
}

/// One source package in one distribution and component.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SourceRecord {
    /// Suite.
    pub dist: String,
    /// Component.
    pub component: String,
    /// `Source`.
    pub package: String,
    /// `Version`.
    pub version: String,
    /// Pool directory relative to the repository root.
    pub directory: String,
    /// The `.dsc` first, then the files it lists.
    pub files: Vec<SourceFile>,
    /// The `.dsc` paragraph without the fields the archive writes.
    pub control: String,
}

/// Summary of a snapshot, small enough to list many.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SnapshotInfo {
    /// Sortable id (milliseconds since the epoch, zero-padded).
    pub id: String,
    /// When it was made.
    #[serde(with = "time::serde::rfc3339")]
    pub created: OffsetDateTime,
    /// The snapshot it was derived from.
    pub parent: Option<String>,
    /// Packages published (all distributions).
    pub packages: usize,
    /// What changed, for people: `+hello 1.0 (amd64)`, `rollback to ...`.
    pub changes: Vec<String>,
}

/// A whole snapshot.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    /// Summary.
    pub info: SnapshotInfo,
    /// Package set.
    pub packages: Vec<PackageRecord>,
    /// Source packages (snapshots written before source packages have none).
    #[serde(default)]
    pub sources: Vec<SourceRecord>,
    /// SHA-256 of every index file, for by-hash retention.
    pub index_sha256: Vec<String>,
}

/// A manifest as stored: the records by the chunks that hold them ([`crate::records`]), or
/// inline in snapshots written before chunks.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredManifest {
    /// Summary.
    pub info: SnapshotInfo,
    /// Package set, inline (snapshots written before chunks).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub packages: Vec<PackageRecord>,
    /// Ids of the chunks holding the package set, in order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub chunks: Vec<String>,
    /// Source packages.
    #[serde(default)]
    pub sources: Vec<SourceRecord>,
    /// SHA-256 of every index file, for by-hash retention.
    pub index_sha256: Vec<String>,
}

/// The pointer object: which snapshot is served.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Pointer {
    /// Snapshot id.
    pub snapshot: String,
}
