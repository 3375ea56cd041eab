//! Domain types. Pure data; the database maps rows to these.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::{Error, Result};

/// How a date appears in JSON (RFC 3339), for the API's schemas.
pub struct DateTime;

impl schemars::JsonSchema for DateTime {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "DateTime".into()
    }

    fn inline_schema() -> bool {
        true
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({"type": "string", "format": "date-time"})
    }
}

macro_rules! string_enum {
    ($(#[$m:meta])* $name:ident { $($(#[$vm:meta])* $v:ident = $s:literal),* $(,)? }) => {
        $(#[$m])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema)]
        pub enum $name { $($(#[$vm])* #[serde(rename = $s)] $v),* }
        impl $name {
            /// Every value, in declaration order.
            pub const ALL: &'static [$name] = &[$($name::$v),*];
            /// The wire and database name.
            #[must_use]
            pub fn as_str(self) -> &'static str { match self { $($name::$v => $s),* } }
        }
        impl std::str::FromStr for $name {
            type Err = Error;
            fn from_str(s: &str) -> Result<Self> {
                match s { $($s => Ok($name::$v),)* _ => Err(Error::Invalid(format!(
                    concat!("unknown ", stringify!($name), " {:?}; expected one of: {}"), s,
                    [$($s),*].join(", ")))) }
            }
        }
        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result { f.write_str(self.as_str()) }
        }
    };
}

string_enum!(
    /// Who may read a space's objects without S3 credentials.
    Visibility {
        /// Only signed S3 requests.
        Private = "private",
        /// Anonymous HTTP reads where publication rules allow.
        Public = "public",
        /// Served through the CDN face.
        Cdn = "cdn",
    }
);

string_enum!(
    /// What a space is for; it sets defaults in the console and the publisher.
    Purpose {
        /// Anything.
        Generic = "generic",
        /// Static web assets.
        Cdn = "cdn",
        /// CI build artifacts and release downloads.
        Artifacts = "artifacts",
        /// Debian/Ubuntu repositories.
        Packages = "packages",
        /// OCI registry storage.
        Registry = "registry",
    }
);

string_enum!(
    /// The user-facing permission modes of an S3 identity. Each is a fixed set of S3 actions,
    /// see [`crate::policy::grants`].
    PermissionMode {
        /// Get, head and list.
        ReadOnly = "read-only",
        /// Put (single and multipart) only; no reads, no listing.
        WriteOnly = "write-only",
        /// Read-only plus write.
        ReadWrite = "read-write",
        /// Read/write plus DeleteObject.
        ReadWriteDelete = "read-write-delete",
        /// CI that publishes a site or repository and prunes what it replaced (`sync --delete`).
        Publisher = "publisher",
        /// A CNCF Distribution storage driver: everything, including deletes and copies.
        RegistryBackend = "registry-backend",
        /// Every space of the key's tenant, present and future: read, write and delete in
        /// each, and the buckets themselves (ListBuckets shows the tenant's, CreateBucket makes
        /// a space `rs-<tenant>-<name>`, DeleteBucket removes an empty one), for Terraform's
        /// `aws_s3_bucket`, `aws s3 mb` and `rclone mkdir`. Issued from one of the tenant's
        /// spaces like any key; takes no prefix.
        TenantWide = "tenant-wide",
    }
);

string_enum!(
    /// Whether a space keeps the versions of its objects (S3's bucket versioning). A space
    /// starts unversioned; once enabled it can be suspended and enabled again, never
    /// unversioned again, as in S3.
    Versioning {
        /// Never enabled: a write replaces the object, a delete removes it.
        Unversioned = "unversioned",
        /// Every write makes a new version and a delete a delete marker.
        Enabled = "enabled",
        /// Writes and deletes make (and replace) the `null` version; older versions stay.
        Suspended = "suspended",
    }
);

impl Versioning {
    /// The S3 wire name (`Enabled`, `Suspended`), `None` for a space never versioned.
    #[must_use]
    pub fn s3_status(self) -> Option<&'static str> {
        match self {
            Versioning::Unversioned => None,
            Versioning::Enabled => Some("Enabled"),
            Versioning::Suspended => Some("Suspended"),
        }
    }
}

/// A tenant: one customer organisation; spaces, keys and audit rows belong to exactly one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Tenant {
    /// Stable id, `t_...`.
    pub id: String,
    /// Unique slug.
    pub name: String,
    /// Creation time.
    #[serde(with = "time::serde::rfc3339")]
    #[schemars(with = "DateTime")]
    pub created_at: OffsetDateTime,
}

/// An Object Space.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Space {
    /// Stable id, `sp_...`.
    pub id: String,
    /// Owning tenant id.
    pub tenant_id: String,
    /// Workspace inside the tenant, if any.
    pub workspace_id: Option<String>,
    /// Slug, unique within the tenant.
    pub name: String,
    /// The bucket name S3 clients use; globally unique.
    pub bucket: String,
    /// Where the space lives in the backend: `object-spaces/{tenant}/{space}/`.
    pub base_prefix: String,
    /// Visibility.
    pub visibility: Visibility,
    /// Purpose.
    pub purpose: Purpose,
    /// Quota in bytes; `None` is unlimited.
    pub quota_bytes: Option<u64>,
    /// Who created it (admin token name).
    pub created_by: String,
    /// Creation time.
    #[serde(with = "time::serde::rfc3339")]
    #[schemars(with = "DateTime")]
    pub created_at: OffsetDateTime,
    /// When it was disabled; a disabled space refuses every S3 request.
    #[serde(with = "time::serde::rfc3339::option")]
    #[schemars(with = "Option<DateTime>")]
    pub disabled_at: Option<OffsetDateTime>,
    /// Whether the space keeps object versions.
    #[serde(default = "unversioned")]
    pub versioning: Versioning,
    /// Object lock: present once enabled (it stays), with the default retention and the
    /// write-once prefixes ([`crate::lock`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub object_lock: Option<crate::lock::LockConfig>,
}

fn unversioned() -> Versioning {
    Versioning::Unversioned
}

impl Space {
    /// Where a noncurrent version's bytes live in the backend: beside the space's keys, never
    /// under them, so that no listing, CDN path or S3 key of the space can reach them.
    #[must_use]
    pub fn version_key(&self, store_name: &str) -> String {
        format!("{}{store_name}", self.versions_prefix())
    }

    /// The prefix under which [`Space::version_key`] names live.
    #[must_use]
    pub fn versions_prefix(&self) -> String {
        let rest = self.base_prefix.strip_prefix("object-spaces/").unwrap_or(&self.base_prefix);
        format!("object-versions/{rest}")
    }
}

/// An S3 identity (access key). The secret is never part of this type.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Identity {
    /// Stable id, `id_...`.
    pub id: String,
    /// Owning tenant.
    pub tenant_id: String,
    /// The one space it can reach.
    pub space_id: String,
    /// Human name, unique within the space (`release-ci-writer`).
    pub name: String,
    /// `RS3` + 17 upper-case alphanumerics.
    pub access_key_id: String,
    /// Permission mode.
    pub mode: PermissionMode,
    /// Key prefix inside the space it is limited to; empty for the whole space.
    pub allowed_prefix: String,
    /// Expiry.
    #[serde(with = "time::serde::rfc3339::option")]
    #[schemars(with = "Option<DateTime>")]
    pub expires_at: Option<OffsetDateTime>,
    /// Last successful use (updated at most once a minute).
    #[serde(with = "time::serde::rfc3339::option")]
    #[schemars(with = "Option<DateTime>")]
    pub last_used_at: Option<OffsetDateTime>,
    /// Revocation time.
    #[serde(with = "time::serde::rfc3339::option")]
    #[schemars(with = "Option<DateTime>")]
    pub revoked_at: Option<OffsetDateTime>,
    /// Who created it.
    pub created_by: String,
    /// Creation time.
    #[serde(with = "time::serde::rfc3339")]
    #[schemars(with = "DateTime")]
    pub created_at: OffsetDateTime,
    /// Last rotation.
    #[serde(with = "time::serde::rfc3339::option")]
    #[schemars(with = "Option<DateTime>")]
    pub rotated_at: Option<OffsetDateTime>,
}

impl Identity {
    /// `active`, `revoked` or `expired` at `now`.
    #[must_use]
    pub fn status(&self, now: OffsetDateTime) -> &'static str {
        if self.revoked_at.is_some() {
            "revoked"
        } else if self.expires_at.is_some_and(|e| e <= now) {
            "expired"
        } else {
            "active"
        }
    }
}

/// Storage used by a space.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Usage {
    /// Bytes of stored objects (their current versions).
    pub bytes: u64,
    /// Number of stored objects (current versions).
    pub objects: u64,
    /// Bytes of parts of multipart uploads in progress (they count against the quota).
    pub multipart_bytes: u64,
    /// Bytes of the space's published package repositories (pool, indices, snapshots): the
    /// publisher keeps them outside the space's keys, and they count against its quota.
    #[serde(default)]
    pub published_bytes: u64,
    /// Bytes of noncurrent object versions (versioned spaces); they count against the quota.
    #[serde(default)]
    pub noncurrent_bytes: u64,
    /// Number of noncurrent object versions.
    #[serde(default)]
    pub noncurrent_objects: u64,
    /// Number of delete markers.
    #[serde(default)]
    pub delete_markers: u64,
}

impl Usage {
    /// Everything that counts against the quota (reservations of uploads in flight aside).
    #[must_use]
    pub fn counted(&self) -> u64 {
        self.bytes
            .saturating_add(self.multipart_bytes)
            .saturating_add(self.published_bytes)
            .saturating_add(self.noncurrent_bytes)
    }
}

/// A stored audit event: the [`NewAuditEvent`] as written, with its sequence number and time.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct AuditEvent {
    /// Sequence number.
    pub id: i64,
    /// Time.
    #[serde(with = "time::serde::rfc3339")]
    #[schemars(with = "DateTime")]
    pub timestamp: OffsetDateTime,
    /// What happened.
    #[serde(flatten)]
    pub event: NewAuditEvent,
}

/// An audit event: security-relevant admin actions and object operations.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct NewAuditEvent {
    /// Tenant the event belongs to; `None` for operator-level events.
    pub tenant_id: Option<String>,
    /// Space concerned.
    pub object_space_id: Option<String>,
    /// Identity that acted (S3 events) or the identity acted upon (key events).
    pub identity_id: Option<String>,
    /// Who acted: an admin token's name, or an access key id.
    pub actor: String,
    /// `security` or `object`.
    pub kind: String,
    /// The operation: `key.created`, `PutObject`, ...
    pub operation: String,
    /// Object key, for object events.
    pub object_key: Option<String>,
    /// Client address.
    pub source_ip: Option<String>,
    /// Client user agent.
    pub user_agent: Option<String>,
    /// HTTP status, S3 error code or `ok`.
    pub status: String,
    /// Bytes transferred.
    pub bytes: u64,
    /// Extra detail, never a secret.
    pub detail: Option<String>,
}

/// Filter for reading the audit log.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, schemars::JsonSchema)]
pub struct AuditFilter {
    /// Only this tenant (forced for tenant tokens).
    pub tenant_id: Option<String>,
    /// Only this space.
    pub space_id: Option<String>,
    /// Only this identity.
    pub identity_id: Option<String>,
    /// Only this operation.
    pub operation: Option<String>,
    /// Not before (RFC 3339).
    #[serde(default, with = "time::serde::rfc3339::option")]
    #[schemars(with = "Option<DateTime>")]
    pub since: Option<OffsetDateTime>,
    /// Before (RFC 3339).
    #[serde(default, with = "time::serde::rfc3339::option")]
    #[schemars(with = "Option<DateTime>")]
    pub until: Option<OffsetDateTime>,
    /// At most this many, newest first (default 100, at most 1000).
    pub limit: Option<u32>,
    /// Only events older than this sequence number (the next page after it).
    pub before_id: Option<i64>,
}

/// What an admin token may do.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct AdminPrincipal {
    /// Token id.
    pub token_id: String,
    /// Token name, recorded as the actor in audit rows.
    pub name: String,
    /// `None`: operator (every tenant). `Some`: only that tenant.
    pub tenant_id: Option<String>,
}

impl AdminPrincipal {
    /// Whether this principal may act on `tenant_id`.
    #[must_use]
    pub fn can_access(&self, tenant_id: &str) -> bool {
        self.tenant_id.as_deref().is_none_or(|t| t == tenant_id)
    }
}

/// Checks a slug: 1-40 of `a-z 0-9 -`, starting with a letter or digit.
///
/// # Errors
/// [`Error::Invalid`] saying what is wrong.
pub fn validate_slug(what: &str, s: &str) -> Result<()> {
    let ok = !s.is_empty()
        && s.len() <= 40
        && s.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !s.starts_with('-')
        && !s.ends_with('-');
    if ok {
        Ok(())
    } else {
        Err(Error::Invalid(format!(
            "{what} must be 1-40 characters of a-z, 0-9 and '-', not starting or ending with '-' (got {s:?})"
        )))
    }
}

/// Checks an allowed prefix: empty, or a valid key prefix ending in `/`.
///
/// # Errors
/// [`Error::Invalid`] saying what is wrong.
pub fn validate_prefix(p: &str) -> Result<()> {
    if p.is_empty() {
        return Ok(());
    }
    let bad = p.starts_with('/')
        || !p.ends_with('/')
        || p.len() > 512
        || p.contains('\\')
        || p.chars().any(char::is_control)
        || p.split('/').any(|s| s == "." || s == "..");
    if bad {
        Err(Error::Invalid(format!(
            "prefix must be empty or a relative path ending in '/', without '.', '..', '\\\\' or control characters (got {p:?})"
        )))
    } else {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn enums_parse_and_print() {
        for m in PermissionMode::ALL {
            assert_eq!(m.as_str().parse::<PermissionMode>().ok(), Some(*m));
        }
        let e = "admin".parse::<PermissionMode>().err().map(|e| e.to_string()).unwrap_or_default();
        assert!(e.contains("read-only"), "{e}");
    }

    #[test]
    fn slugs_and_prefixes() {
        assert!(validate_slug("name", "kubedo-artifacts").is_ok());
        for bad in ["", "-x", "x-", "Upper", "a b", &"a".repeat(41)] {
            assert!(validate_slug("name", bad).is_err());
        }
        assert!(validate_prefix("releases/").is_ok());
        assert!(validate_prefix("").is_ok());
        for bad in ["releases", "/x/", "../x/", "a/./", "a\\b/"] {
            assert!(validate_prefix(bad).is_err(), "{bad}");
        }
    }
}

/// Public web access of a space (the spec's `object_publication_rules`). Separate from S3
/// access: anonymous HTTP reads on the CDN face, only under the published prefixes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PublicationRules {
    /// Whether anonymous reads are served at all.
    pub enabled: bool,
    /// The first path segment on the CDN host: `cdn.<domain>/<public_name>/<key>`.
    pub public_name: String,
    /// Published key prefixes; `[""]` publishes the whole space.
    pub prefixes: Vec<String>,
    /// Public base URL shown to users (for a custom domain in front); derived when absent.
    #[serde(default)]
    pub public_base_url: Option<String>,
    /// Cache-Control for published objects.
    pub cache_control: String,
    /// Longest-prefix overrides of `cache_control`.
    #[serde(default)]
    pub cache_overrides: Vec<CacheOverride>,
    /// Prefixes whose objects never change (`max-age=31536000, immutable`).
    #[serde(default)]
    pub immutable_prefixes: Vec<String>,
    /// Content types served (exact, or `type/*`); empty serves every type.
    #[serde(default)]
    pub allowed_content_types: Vec<String>,
    /// Plain HTML index of published prefixes. Off by default.
    #[serde(default)]
    pub directory_listing: bool,
    /// Origins allowed by CORS (`*` for any).
    #[serde(default)]
    pub cors_origins: Vec<String>,
}

/// One Cache-Control override.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CacheOverride {
    /// Key prefix.
    pub prefix: String,
    /// Cache-Control value.
    pub cache_control: String,
}

/// The Cache-Control of immutable prefixes.
pub const IMMUTABLE_CACHE_CONTROL: &str = "public, max-age=31536000, immutable";

impl PublicationRules {
    /// Defaults for a space: whole space, five minutes of caching, no listing, no CORS.
    #[must_use]
    pub fn defaults(public_name: &str) -> Self {
        Self {
            enabled: true,
            public_name: public_name.to_owned(),
            prefixes: vec![String::new()],
            public_base_url: None,
            cache_control: "public, max-age=300".into(),
            cache_overrides: Vec::new(),
            immutable_prefixes: Vec::new(),
            allowed_content_types: Vec::new(),
            directory_listing: false,
            cors_origins: Vec::new(),
        }
    }

    /// Checks every field.
    ///
    /// # Errors
    /// [`Error::Invalid`] naming the field.
    pub fn validate(&self) -> Result<()> {
        validate_slug("public_name", &self.public_name)?;
        if self.prefixes.is_empty() {
            return Err(Error::Invalid(
                "prefixes must name at least one prefix (\"\" for the whole space)".into(),
            ));
        }
        for p in self
            .prefixes
            .iter()
            .chain(&self.immutable_prefixes)
            .chain(self.cache_overrides.iter().map(|o| &o.prefix))
        {
            validate_prefix(p)?;
        }
        for cc in std::iter::once(&self.cache_control).chain(self.cache_overrides.iter().map(|o| &o.cache_control)) {
            if cc.is_empty() || cc.len() > 256 || !cc.bytes().all(|b| (0x20..0x7f).contains(&b)) {
                return Err(Error::Invalid(format!(
                    "cache_control {cc:?} must be 1-256 printable ASCII characters"
                )));
            }
        }
        for t in &self.allowed_content_types {
            if !t.contains('/') || t.contains(char::is_whitespace) {
                return Err(Error::Invalid(format!(
                    "allowed_content_types entry {t:?} must look like text/css or image/*"
                )));
            }
        }
        for o in &self.cors_origins {
            let ok = o == "*"
                || ((o.starts_with("http://") || o.starts_with("https://")) && !o.ends_with('/') && !o.contains(char::is_whitespace));
            if !ok {
                return Err(Error::Invalid(format!(
                    "cors_origins entry {o:?} must be * or a scheme://host[:port] origin without a trailing slash"
                )));
            }
        }
        Ok(())
    }

    /// Whether `key` lies under a published prefix.
    #[must_use]
    pub fn publishes(&self, key: &str) -> bool {
        self.prefixes.iter().any(|p| key.starts_with(p.as_str()))
    }

    /// The Cache-Control for `key`: immutable prefixes, then the longest override, then the default.
    #[must_use]
    pub fn cache_control_for(&self, key: &str) -> &str {
        if self.immutable_prefixes.iter().any(|p| key.starts_with(p.as_str())) {
            return IMMUTABLE_CACHE_CONTROL;
        }
        self.cache_overrides
            .iter()
            .filter(|o| key.starts_with(o.prefix.as_str()))
            .max_by_key(|o| o.prefix.len())
            .map_or(self.cache_control.as_str(), |o| o.cache_control.as_str())
    }

    /// Whether a content type may be served.
    #[must_use]
    pub fn allows_type(&self, content_type: &str) -> bool {
        if self.allowed_content_types.is_empty() {
            return true;
        }
        let essence = content_type.split(';').next().unwrap_or("").trim().to_ascii_lowercase();
        self.allowed_content_types.iter().any(|a| {
            let a = a.to_ascii_lowercase();
            match a.strip_suffix("/*") {
                Some(major) => essence.split('/').next() == Some(major),
                None => a == essence,
            }
        })
    }

    /// The CORS `Access-Control-Allow-Origin` value for a request's Origin, if allowed.
    #[must_use]
    pub fn cors_allow(&self, origin: &str) -> Option<String> {
        if self.cors_origins.iter().any(|o| o == "*") {
            Some("*".into())
        } else {
            self.cors_origins
                .iter()
                .find(|o| o.eq_ignore_ascii_case(origin))
                .map(|_| origin.to_owned())
        }
    }
}

#[cfg(test)]
mod publication_tests {
    use super::*;

    #[test]
    fn rules_decide_prefixes_cache_types_and_cors() {
        let mut r = PublicationRules::defaults("kubedo");
        r.prefixes = vec!["assets/".into(), "releases/".into()];
        r.immutable_prefixes = vec!["assets/hashed/".into()];
        r.cache_overrides = vec![
            CacheOverride {
                prefix: "assets/".into(),
                cache_control: "public, max-age=60".into(),
            },
            CacheOverride {
                prefix: "assets/html/".into(),
                cache_control: "no-cache".into(),
            },
        ];
        r.allowed_content_types = vec!["text/*".into(), "font/woff2".into()];
        r.cors_origins = vec!["https://app.example.com".into()];
        assert!(r.validate().is_ok());
        assert!(r.publishes("assets/a.css") && !r.publishes("private/x") && !r.publishes("asset"));
        assert_eq!(r.cache_control_for("assets/hashed/a.1234.js"), IMMUTABLE_CACHE_CONTROL);
        assert_eq!(r.cache_control_for("assets/html/i.html"), "no-cache");
        assert_eq!(r.cache_control_for("assets/x.css"), "public, max-age=60");
        assert_eq!(r.cache_control_for("releases/x"), "public, max-age=300");
        assert!(r.allows_type("text/css; charset=utf-8") && r.allows_type("font/woff2") && !r.allows_type("application/zip"));
        assert_eq!(r.cors_allow("https://app.example.com").as_deref(), Some("https://app.example.com"));
        assert_eq!(r.cors_allow("https://evil.example.com"), None);
        for bad in [
            PublicationRules {
                prefixes: vec![],
                ..r.clone()
            },
            PublicationRules {
                prefixes: vec!["../".into()],
                ..r.clone()
            },
            PublicationRules {
                cors_origins: vec!["app.example.com".into()],
                ..r.clone()
            },
            PublicationRules {
                cache_control: "x\ny".into(),
                ..r.clone()
            },
            PublicationRules {
                public_name: "Bad Name".into(),
                ..r.clone()
            },
        ] {
            assert!(bad.validate().is_err(), "{bad:?}");
        }
    }
}

/// One distribution of a package repository: apt's `Suite` and `Codename`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Distribution {
    /// `stable`, `testing`, ...; the `dists/<suite>` directory apt clients name.
    pub suite: String,
    /// `bookworm`, ...; defaults to the suite.
    pub codename: String,
}

/// What a package repository publishes and how its Release files describe it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RepositoryConfig {
    /// Distributions, each with its own `dists/<suite>/` tree.
    pub distributions: Vec<Distribution>,
    /// Components (`main`, `contrib`, ...).
    pub components: Vec<String>,
    /// Binary architectures (`amd64`, `arm64`, ...); `Architecture: all` packages go to every one.
    pub architectures: Vec<String>,
    /// Release `Origin`. Changing it breaks `apt update` for existing users.
    pub origin: String,
    /// Release `Label`.
    pub label: String,
    /// Release `Description`.
    #[serde(default)]
    pub description: String,
    /// Key prefix inside the space where CI uploads `.deb` files for the next publish.
    pub incoming_prefix: String,
    /// How many snapshots are kept for rollback and by-hash reads.
    pub retain: u32,
    /// A snapshot superseded less than this many seconds ago is kept whatever `retain` says:
    /// an apt client that read its InRelease just before a publish still finds its by-hash
    /// indices and pool files, however many publishes follow.
    #[serde(default = "default_retain_grace")]
    pub retain_grace_secs: u32,
    /// Versions of a package kept per distribution, component and architecture (reprepro's
    /// `Limit`): 1 (the default) replaces; more keeps the newest by Debian version order.
    #[serde(default = "default_keep_versions")]
    pub keep_versions: u32,
    /// Release `Valid-Until`, this many days after each publish; none when absent.
    #[serde(default)]
    pub valid_until_days: Option<u32>,
    /// Uploaders' OpenPGP public keys (ASCII-armored): a `.changes` in incoming must be
    /// signed by one of them, and every file it lists must match it.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub uploaders: Vec<String>,
    /// Take only signed uploads: every file in incoming must be listed in a `.changes` signed
    /// by an uploader key.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub signed_uploads: bool,
}

/// Default of [`RepositoryConfig::keep_versions`]: a new version replaces the old one.
#[must_use]
pub fn default_keep_versions() -> u32 {
    1
}

/// Ten minutes: longer than an index's max-age (60 s) plus a slow `apt update`.
#[must_use]
pub fn default_retain_grace() -> u32 {
    600
}

fn validate_token(what: &str, s: &str, allow_upper: bool) -> Result<()> {
    let ok = !s.is_empty()
        && s.len() <= 64
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"-.+_".contains(&b) || (allow_upper && b.is_ascii_uppercase()))
        && s.as_bytes()[0].is_ascii_alphanumeric();
    if ok {
        Ok(())
    } else {
        Err(Error::Invalid(format!(
            "{what} must be 1-64 characters of letters, digits, '-', '.', '+' and '_', starting with a letter or digit (got {s:?})"
        )))
    }
}

impl RepositoryConfig {
    /// Checks every field; the message says what to fix.
    ///
    /// # Errors
    /// [`Error::Invalid`].
    pub fn validate(&self) -> Result<()> {
        if self.distributions.is_empty() || self.components.is_empty() || self.architectures.is_empty() {
            return Err(Error::Invalid(
                "a repository needs at least one distribution, one component and one architecture".into(),
            ));
        }
        for d in &self.distributions {
            validate_token("a suite", &d.suite, true)?;
            validate_token("a codename", &d.codename, true)?;
        }
        for c in &self.components {
            validate_token("a component", c, false)?;
        }
        for a in &self.architectures {
            validate_token("an architecture", a, false)?;
            if a == "all" || a == "source" {
                return Err(Error::Invalid(format!(
                    "architecture {a:?} cannot be listed: `all` packages are published into every architecture"
                )));
            }
        }
        for (what, list) in [
            ("suite", self.distributions.iter().map(|d| d.suite.as_str()).collect::<Vec<_>>()),
            ("component", self.components.iter().map(String::as_str).collect()),
            ("architecture", self.architectures.iter().map(String::as_str).collect()),
        ] {
            let mut seen = std::collections::HashSet::new();
            if let Some(dup) = list.iter().find(|x| !seen.insert(**x)) {
                return Err(Error::Invalid(format!("{what} {dup:?} is listed twice")));
            }
        }
        for (what, v) in [("origin", &self.origin), ("label", &self.label), ("description", &self.description)] {
            if v.contains(['\n', '\r']) || v.len() > 200 {
                return Err(Error::Invalid(format!("{what} must be one line of at most 200 characters")));
            }
        }
        if self.origin.trim().is_empty() || self.label.trim().is_empty() {
            return Err(Error::Invalid("origin and label must not be empty".into()));
        }
        validate_prefix(&self.incoming_prefix)?;
        if self.incoming_prefix.is_empty() {
            return Err(Error::Invalid(
                "incoming_prefix must not be empty (for example \"incoming/\")".into(),
            ));
        }
        if self.keep_versions == 0 || self.keep_versions > 100 {
            return Err(Error::Invalid("keep_versions must be between 1 and 100".into()));
        }
        if self.uploaders.len() > 50 {
            return Err(Error::Invalid("at most 50 uploader keys".into()));
        }
        if self
            .uploaders
            .iter()
            .any(|k| k.len() > 64 * 1024 || !k.trim_start().starts_with("-----BEGIN PGP PUBLIC KEY BLOCK-----"))
        {
            return Err(Error::Invalid(
                "each uploader key is one ASCII-armored OpenPGP public key (gpg --armor --export), at most 64 KiB".into(),
            ));
        }
        if self.signed_uploads && self.uploaders.is_empty() {
            return Err(Error::Invalid("signed_uploads needs at least one uploader key".into()));
        }
        if self.retain == 0 || self.retain > 1000 {
            return Err(Error::Invalid("retain must be between 1 and 1000 snapshots".into()));
        }
        Ok(())
    }

    /// The distribution a suite or codename names.
    #[must_use]
    pub fn distribution(&self, name: &str) -> Option<&Distribution> {
        self.distributions.iter().find(|d| d.suite == name || d.codename == name)
    }
}

/// A package repository: a signed apt tree published out of a `packages` space.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Repository {
    /// Globally unique name: `packages.<domain>/<name>/`.
    pub name: String,
    /// Owning tenant id.
    pub tenant_id: String,
    /// The space CI uploads into.
    pub space_id: String,
    /// What is published.
    pub config: RepositoryConfig,
    /// The signing key's public part, ASCII-armored.
    pub public_key: String,
    /// The signing key's fingerprint (hex, upper case).
    pub fingerprint: String,
    /// Who created it.
    pub created_by: String,
    /// Creation time.
    #[serde(with = "time::serde::rfc3339")]
    #[schemars(with = "DateTime")]
    pub created_at: OffsetDateTime,
    /// During a key rotation, the new key's public part, ASCII-armored: Release is signed by
    /// both keys and `key.asc`/`key.gpg` carry both until the old key is retired.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_public_key: Option<String>,
    /// During a key rotation, the new key's fingerprint.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_fingerprint: Option<String>,
}

string_enum!(
    /// What a registry robot may do inside its namespace.
    RobotAccess {
        /// Pull images.
        Pull = "pull",
        /// Pull and push images.
        Push = "push",
    }
);

/// Which tags of each repository in a namespace are kept. Tags matching `protect` are always
/// kept; of the rest, a tag goes when it is beyond the newest `keep_last` or older than
/// `max_age_days`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RetentionRules {
    /// Newest tags kept per repository.
    #[serde(default)]
    pub keep_last: Option<u32>,
    /// Tags older than this many days go.
    #[serde(default)]
    pub max_age_days: Option<u32>,
    /// Tag patterns never deleted (`*` matches any run of characters): `latest`, `v*`.
    #[serde(default)]
    pub protect: Vec<String>,
}

impl RetentionRules {
    /// Checks the values.
    ///
    /// # Errors
    /// [`Error::Invalid`] for a zero count or age, or an empty or overlong pattern.
    pub fn validate(&self) -> Result<()> {
        if self.keep_last == Some(0) {
            return Err(Error::Invalid(
                "keep_last must be at least 1 (leave it out to keep every tag)".into(),
            ));
        }
        if self.max_age_days == Some(0) {
            return Err(Error::Invalid("max_age_days must be at least 1".into()));
        }
        if self.protect.iter().any(|p| p.is_empty() || p.len() > 128) {
            return Err(Error::Invalid("protect patterns must be 1 to 128 characters".into()));
        }
        Ok(())
    }
}

/// An OCI registry namespace (`<registry>/<name>/<repository>`), backed by a space of purpose
/// `registry` that Distribution reaches through the S3 face with its own storage identity.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct RegistryNamespace {
    /// Globally unique name, the first path segment of image names.
    pub name: String,
    /// Owning tenant id.
    pub tenant_id: String,
    /// The space holding its blobs and manifests.
    pub space_id: String,
    /// The identity (mode registry-backend) Distribution signs its S3 requests with.
    pub storage_identity_id: String,
    /// Anonymous pulls allowed.
    pub public: bool,
    /// Tag retention.
    pub retention: RetentionRules,
    /// The Distribution instance serving it (`http://127.0.0.1:5000`), which the edge's registry
    /// front forwards to; set by `registry config`.
    #[serde(default)]
    pub upstream: Option<String>,
    /// Who created it.
    pub created_by: String,
    /// Creation time.
    #[serde(with = "time::serde::rfc3339")]
    #[schemars(with = "DateTime")]
    pub created_at: OffsetDateTime,
}

/// A robot account: registry credentials for CI, limited to one namespace.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Robot {
    /// Stable id, `rb_...`.
    pub id: String,
    /// Namespace name.
    pub namespace: String,
    /// Name, unique in the namespace.
    pub name: String,
    /// Login name: `<namespace>+<name>`.
    pub username: String,
    /// What it may do.
    pub access: RobotAccess,
    /// Who created it.
    pub created_by: String,
    /// Creation time.
    #[serde(with = "time::serde::rfc3339")]
    #[schemars(with = "DateTime")]
    pub created_at: OffsetDateTime,
    /// Set once revoked; its next token request fails.
    #[serde(default, with = "time::serde::rfc3339::option")]
    #[schemars(with = "Option<DateTime>")]
    pub revoked_at: Option<OffsetDateTime>,
}
