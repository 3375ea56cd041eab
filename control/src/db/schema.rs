//! The control database's schema, written once for both backends. Each migration is SQL with
//! a few type placeholders that [`migrations`] fills in for the dialect; the runners (SQLite's
//! `PRAGMA user_version`, PostgreSQL's `schema_migrations` under an advisory lock) apply the
//! same list. Times are unix seconds.

/// Which SQL the placeholders become.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Dialect {
    /// SQLite.
    Sqlite,
    /// PostgreSQL.
    Postgres,
}

/// `{int}` a 64-bit integer, `{blob}` bytes, `{bool}` a boolean, `{serial}` an auto-increment
/// primary key, `{norowid}` SQLite's clustered-table clause (nothing in PostgreSQL), `{c}` the
/// byte-wise collation of a key column (SQLite's default already), `{objects_c_index}`
/// PostgreSQL's byte-wise index of `objects` keys (SQLite's primary key is one).
const MIGRATIONS: &[&str] = &[
    // 1: initial schema.
    "CREATE TABLE tenants(id TEXT PRIMARY KEY, name TEXT NOT NULL UNIQUE, created_at {int} NOT NULL);
     CREATE TABLE admin_tokens(id TEXT PRIMARY KEY, tenant_id TEXT REFERENCES tenants(id), name TEXT NOT NULL,
        token_hash TEXT NOT NULL UNIQUE, created_at {int} NOT NULL, revoked_at {int});
     CREATE TABLE spaces(id TEXT PRIMARY KEY, tenant_id TEXT NOT NULL REFERENCES tenants(id), workspace_id TEXT,
        name TEXT NOT NULL, bucket TEXT NOT NULL UNIQUE, base_prefix TEXT NOT NULL, visibility TEXT NOT NULL,
        purpose TEXT NOT NULL, quota_bytes {int}, created_by TEXT NOT NULL, created_at {int} NOT NULL,
        disabled_at {int}, UNIQUE(tenant_id, name));
     CREATE TABLE identities(id TEXT PRIMARY KEY, tenant_id TEXT NOT NULL REFERENCES tenants(id),
        space_id TEXT NOT NULL REFERENCES spaces(id), name TEXT NOT NULL, access_key_id TEXT NOT NULL UNIQUE,
        secret_sealed {blob} NOT NULL, mode TEXT NOT NULL, allowed_prefix TEXT NOT NULL, expires_at {int},
        last_used_at {int}, revoked_at {int}, created_by TEXT NOT NULL, created_at {int} NOT NULL,
        rotated_at {int}, UNIQUE(space_id, name));
     CREATE TABLE objects(space_id TEXT NOT NULL, key TEXT NOT NULL, size {int} NOT NULL,
        PRIMARY KEY(space_id, key)){norowid};
     CREATE TABLE usage(space_id TEXT PRIMARY KEY, bytes {int} NOT NULL DEFAULT 0, objects {int} NOT NULL DEFAULT 0);
     CREATE TABLE uploads(upload_id TEXT PRIMARY KEY, space_id TEXT NOT NULL, key TEXT NOT NULL,
        identity_id TEXT NOT NULL, initiated {int} NOT NULL);
     CREATE INDEX uploads_space ON uploads(space_id, key);
     CREATE TABLE upload_parts(upload_id TEXT NOT NULL, part_number {int} NOT NULL, size {int} NOT NULL,
        etag TEXT NOT NULL, PRIMARY KEY(upload_id, part_number)){norowid};
     CREATE TABLE audit_events(id {serial}, ts {int} NOT NULL, tenant_id TEXT,
        space_id TEXT, identity_id TEXT, actor TEXT NOT NULL, kind TEXT NOT NULL, operation TEXT NOT NULL,
        object_key TEXT, source_ip TEXT, user_agent TEXT, status TEXT NOT NULL, bytes {int} NOT NULL,
        detail TEXT);
     CREATE INDEX audit_tenant ON audit_events(tenant_id, ts);
     CREATE INDEX audit_space ON audit_events(space_id, ts);",
    // 2: public web access (publication rules), one row per space.
    "CREATE TABLE publication_rules(space_id TEXT PRIMARY KEY REFERENCES spaces(id), public_name TEXT NOT NULL UNIQUE,
        enabled {bool} NOT NULL, rules TEXT NOT NULL, updated_at {int} NOT NULL);",
    // 3: package repositories. The config is JSON; the signing key is sealed like S3 secrets.
    "CREATE TABLE repositories(name TEXT PRIMARY KEY, tenant_id TEXT NOT NULL REFERENCES tenants(id),
        space_id TEXT NOT NULL REFERENCES spaces(id), config TEXT NOT NULL, signing_sealed {blob} NOT NULL,
        public_key TEXT NOT NULL, fingerprint TEXT NOT NULL, created_by TEXT NOT NULL, created_at {int} NOT NULL);
     CREATE INDEX repositories_tenant ON repositories(tenant_id);",
    // 4: console sessions (cookie hashes, tied to an admin token) and per-minute traffic per space.
    "CREATE TABLE console_sessions(id_hash TEXT PRIMARY KEY, token_id TEXT NOT NULL REFERENCES admin_tokens(id),
        csrf TEXT NOT NULL, created_at {int} NOT NULL, expires_at {int} NOT NULL);
     CREATE TABLE traffic(space_id TEXT NOT NULL, minute {int} NOT NULL, bytes_in {int} NOT NULL,
        bytes_out {int} NOT NULL, requests {int} NOT NULL, PRIMARY KEY(space_id, minute)){norowid};",
    // 5: OCI registry namespaces, their robots (secrets as SHA-256: they are random and long),
    // and the one token signing key of the installation.
    "CREATE TABLE registry_namespaces(name TEXT PRIMARY KEY, tenant_id TEXT NOT NULL REFERENCES tenants(id),
        space_id TEXT NOT NULL REFERENCES spaces(id), storage_identity_id TEXT NOT NULL REFERENCES identities(id),
        public {bool} NOT NULL, retention TEXT NOT NULL, events_sealed {blob} NOT NULL, upstream TEXT,
        created_by TEXT NOT NULL, created_at {int} NOT NULL);
     CREATE INDEX registry_namespaces_tenant ON registry_namespaces(tenant_id);
     CREATE TABLE registry_robots(id TEXT PRIMARY KEY, namespace TEXT NOT NULL REFERENCES registry_namespaces(name),
        name TEXT NOT NULL, username TEXT NOT NULL UNIQUE, access TEXT NOT NULL, secret_hash TEXT NOT NULL,
        created_by TEXT NOT NULL, created_at {int} NOT NULL, revoked_at {int}, UNIQUE(namespace, name));
     CREATE TABLE registry_signing(id {int} PRIMARY KEY CHECK (id = 1), key_sealed {blob} NOT NULL, cert_pem TEXT NOT NULL);",
    // 6: several nodes: quota reservations of uploads in flight (any node's), and the change feed
    // through which nodes tell each other to drop cached credentials, sites, objects and pointers.
    "CREATE TABLE reservations(id TEXT PRIMARY KEY, space_id TEXT NOT NULL, bytes {int} NOT NULL,
        expires_at {int} NOT NULL);
     CREATE INDEX reservations_space ON reservations(space_id);
     CREATE TABLE changes(seq {serial}, at {int} NOT NULL, origin TEXT NOT NULL,
        kind TEXT NOT NULL, space_id TEXT, detail TEXT);
     CREATE INDEX changes_at ON changes(at);",
    // 7: leases: one node at a time publishes a repository.
    "CREATE TABLE leases(name TEXT PRIMARY KEY, holder TEXT NOT NULL, expires_at {int} NOT NULL);",
    // 8: a reservation belongs to the node that made it, which renews it while it lives; a
    // killed node's reservations lapse within minutes, and a single node drops them at start.
    "ALTER TABLE reservations ADD COLUMN node TEXT NOT NULL DEFAULT '';",
    // 9: the bytes a repository's published data (pool, by-hash, snapshots, keys) takes in the
    // backend; they count against the repository's space.
    "ALTER TABLE repositories ADD COLUMN published_bytes {int} NOT NULL DEFAULT 0;",
    // 10: multipart uploads completed lately, so that a client retrying a completion whose
    // answer it lost gets the same answer (S3 does this) instead of NoSuchUpload.
    "CREATE TABLE completed_uploads(upload_id TEXT PRIMARY KEY, space_id TEXT NOT NULL, key TEXT NOT NULL,
        etag TEXT NOT NULL, completed_at {int} NOT NULL);
     CREATE INDEX completed_uploads_at ON completed_uploads(completed_at);",
    // 11: the part sizes of objects completed from parts (comma-separated), for GET and HEAD by
    // partNumber on every engine (some keep no part boundaries, or do not say them).
    "ALTER TABLE objects ADD COLUMN parts TEXT;",
    // 12: object tags (control::tags), kept here for both stores so that a tag change never
    // rewrites an object; an upload carries the tags its object gets at completion.
    "ALTER TABLE objects ADD COLUMN tags TEXT;
     ALTER TABLE uploads ADD COLUMN tags TEXT;",
    // 13: the S3 face's bucket CORS rules (control::cors), as JSON.
    "CREATE TABLE bucket_cors(space_id TEXT PRIMARY KEY, rules TEXT NOT NULL, updated_at {int} NOT NULL);",
    // 14: multipart checksums: the algorithm an upload was created with, each part's checksum,
    // and the composite the object gets (the stores keep none of these for multipart objects).
    "ALTER TABLE uploads ADD COLUMN checksum_algorithm TEXT;
     ALTER TABLE upload_parts ADD COLUMN checksum TEXT;
     ALTER TABLE objects ADD COLUMN checksum TEXT;",
    // 15: a repository's next signing key during a rotation: Release is signed by both keys
    // until the old one is retired (sealed like the current key).
    "ALTER TABLE repositories ADD COLUMN next_signing_sealed {blob};
     ALTER TABLE repositories ADD COLUMN next_public_key TEXT;
     ALTER TABLE repositories ADD COLUMN next_fingerprint TEXT;",
    // 16: object versioning (control::versioning). A space's state; the current version's id,
    // ETag and time on its `objects` row; noncurrent versions and delete markers in
    // `object_versions` (`store_name`: where a noncurrent version's bytes are, beside the
    // space's keys; `seq`: newest highest within a key); their bytes and count in `usage`.
    // Keys compare byte-wise in both engines (S3's order): PostgreSQL gets "C" collated keys.
    "ALTER TABLE spaces ADD COLUMN versioning TEXT NOT NULL DEFAULT 'unversioned';
     ALTER TABLE objects ADD COLUMN version_id TEXT;
     ALTER TABLE objects ADD COLUMN etag TEXT;
     ALTER TABLE objects ADD COLUMN modified {int};
     CREATE TABLE object_versions(space_id TEXT NOT NULL, key TEXT{c} NOT NULL, version_id TEXT NOT NULL,
        seq {int} NOT NULL, delete_marker {bool} NOT NULL, size {int} NOT NULL, etag TEXT, modified {int} NOT NULL,
        noncurrent_at {int}, store_name TEXT, parts TEXT, tags TEXT, checksum TEXT,
        PRIMARY KEY(space_id, key, version_id)){norowid};
     CREATE INDEX object_versions_seq ON object_versions(space_id, key{c}, seq DESC);
     ALTER TABLE usage ADD COLUMN noncurrent_bytes {int} NOT NULL DEFAULT 0;
     ALTER TABLE usage ADD COLUMN noncurrent_objects {int} NOT NULL DEFAULT 0;
     ALTER TABLE usage ADD COLUMN delete_markers {int} NOT NULL DEFAULT 0;
     {objects_c_index}",
    // 17: lifecycle rules per space (control::lifecycle), as JSON.
    "CREATE TABLE lifecycle_rules(space_id TEXT PRIMARY KEY, rules TEXT NOT NULL, updated_at {int} NOT NULL);",
    // 18: object lock (control::lock). A space's configuration as JSON (present once enabled);
    // each version's retention and legal hold beside it; the lock an upload in progress asked
    // for, as JSON, given to the version it completes into.
    "ALTER TABLE spaces ADD COLUMN object_lock TEXT;
     ALTER TABLE objects ADD COLUMN retain_mode TEXT;
     ALTER TABLE objects ADD COLUMN retain_until {int};
     ALTER TABLE objects ADD COLUMN legal_hold {bool} NOT NULL DEFAULT FALSE;
     ALTER TABLE object_versions ADD COLUMN retain_mode TEXT;
     ALTER TABLE object_versions ADD COLUMN retain_until {int};
     ALTER TABLE object_versions ADD COLUMN legal_hold {bool} NOT NULL DEFAULT FALSE;
     ALTER TABLE uploads ADD COLUMN object_lock TEXT;",
];

/// The migrations in order, for `d`.
pub(crate) fn migrations(d: Dialect) -> Vec<String> {
    let words: [(&str, &str); 7] = match d {
        Dialect::Sqlite => [
            ("{int}", "INTEGER"),
            ("{blob}", "BLOB"),
            ("{bool}", "INTEGER"),
            ("{serial}", "INTEGER PRIMARY KEY AUTOINCREMENT"),
            ("{norowid}", " WITHOUT ROWID"),
            ("{c}", ""),
            ("{objects_c_index}", ""),
        ],
        Dialect::Postgres => [
            ("{int}", "BIGINT"),
            ("{blob}", "BYTEA"),
            ("{bool}", "BOOLEAN"),
            ("{serial}", "BIGSERIAL PRIMARY KEY"),
            ("{norowid}", ""),
            ("{c}", " COLLATE \"C\""),
            (
                "{objects_c_index}",
                "CREATE INDEX objects_key_c ON objects(space_id, key COLLATE \"C\");",
            ),
        ],
    };
    MIGRATIONS
        .iter()
        .map(|m| words.iter().fold((*m).to_owned(), |m, (k, v)| m.replace(k, v)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_placeholder_is_filled_for_both_dialects() {
        for d in [Dialect::Sqlite, Dialect::Postgres] {
            let all = migrations(d);
            assert_eq!(all.len(), MIGRATIONS.len());
            for m in &all {
                assert!(!m.contains('{') && !m.contains('}'), "{d:?}: {m}");
            }
        }
        let pg = migrations(Dialect::Postgres).join("\n");
        assert!(pg.contains("BYTEA") && !pg.contains("BLOB") && !pg.contains("ROWID") && !pg.contains("INTEGER"));
    }
}
