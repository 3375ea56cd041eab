//! Who may do what: a pure function from (identity, space, action, resource, now) to a decision.
//! No IO; every S3 request passes through [`decide`].

use time::OffsetDateTime;

use crate::model::{Identity, PermissionMode, Space};
use crate::names;

/// S3 actions, named as IAM names them (`s3:GetObject`, ...).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Action {
    /// GetObject, HeadObject, and the source side of CopyObject/UploadPartCopy.
    GetObject,
    /// PutObject, CopyObject target, CreateMultipartUpload, UploadPart, CompleteMultipartUpload.
    PutObject,
    /// DeleteObject and DeleteObjects.
    DeleteObject,
    /// ListObjects V1/V2.
    ListBucket,
    /// ListMultipartUploads.
    ListBucketMultipartUploads,
    /// AbortMultipartUpload.
    AbortMultipartUpload,
    /// ListParts.
    ListMultipartUploadParts,
    /// PutBucketCors and DeleteBucketCors: a bucket-wide setting a web application's deploy
    /// makes (so the publisher mode only), needing a key for the whole bucket.
    PutBucketCors,
    /// PutBucketVersioning: a bucket-wide setting, as PutBucketCors (the publisher mode, with a
    /// key for the whole bucket). Deleting a version for good is [`Action::DeleteObject`].
    PutBucketVersioning,
    /// PutBucketLifecycleConfiguration and DeleteBucketLifecycle: a bucket-wide setting, as
    /// PutBucketCors.
    PutBucketLifecycle,
    /// PutObjectLockConfiguration: a bucket-wide setting, as PutBucketCors.
    PutBucketObjectLock,
    /// PutObjectRetention, and the retention headers of a write: what locks a version so that
    /// nobody (compliance) may remove it, so not every key that may write: the publisher mode.
    PutObjectRetention,
    /// PutObjectLegalHold, and the legal hold header of a write: as PutObjectRetention.
    PutObjectLegalHold,
    /// CreateBucket of a new bucket and DeleteBucket: the tenant-wide mode only.
    ManageBuckets,
}

impl Action {
    /// The IAM name.
    #[must_use]
    pub fn iam_name(self) -> &'static str {
        match self {
            Action::GetObject => "s3:GetObject",
            Action::PutObject => "s3:PutObject",
            Action::DeleteObject => "s3:DeleteObject",
            Action::ListBucket => "s3:ListBucket",
            Action::ListBucketMultipartUploads => "s3:ListBucketMultipartUploads",
            Action::AbortMultipartUpload => "s3:AbortMultipartUpload",
            Action::ListMultipartUploadParts => "s3:ListMultipartUploadParts",
            Action::PutBucketCors => "s3:PutBucketCORS",
            Action::PutBucketVersioning => "s3:PutBucketVersioning",
            Action::PutBucketLifecycle => "s3:PutLifecycleConfiguration",
            Action::PutBucketObjectLock => "s3:PutBucketObjectLockConfiguration",
            Action::PutObjectRetention => "s3:PutObjectRetention",
            Action::PutObjectLegalHold => "s3:PutObjectLegalHold",
            Action::ManageBuckets => "s3:CreateBucket",
        }
    }
}

/// Whether a mode grants an action: read-only reads and lists; write-only writes (single and
/// multipart); read-write both; read-write-delete, publisher and registry-backend add DeleteObject;
/// publisher alone may set the bucket's CORS rules; tenant-wide does all of that in every space
/// of its tenant, and alone creates and deletes buckets.
#[must_use]
pub fn grants(mode: PermissionMode, action: Action) -> bool {
    use Action::{
        AbortMultipartUpload, DeleteObject, GetObject, ListBucket, ListBucketMultipartUploads, ListMultipartUploadParts, PutObject,
    };
    let read = matches!(action, GetObject | ListBucket);
    let write = matches!(
        action,
        PutObject | AbortMultipartUpload | ListMultipartUploadParts | ListBucketMultipartUploads
    );
    if mode == PermissionMode::TenantWide {
        return true;
    }
    match action {
        Action::PutBucketCors
        | Action::PutBucketVersioning
        | Action::PutBucketLifecycle
        | Action::PutBucketObjectLock
        | Action::PutObjectRetention
        | Action::PutObjectLegalHold => return mode == PermissionMode::Publisher,
        Action::ManageBuckets => return false,
        _ => {}
    }
    match mode {
        PermissionMode::ReadOnly => read,
        PermissionMode::WriteOnly => write,
        PermissionMode::ReadWrite => read || write,
        PermissionMode::ReadWriteDelete | PermissionMode::Publisher | PermissionMode::RegistryBackend | PermissionMode::TenantWide => {
            read || write || action == DeleteObject
        }
    }
}

/// What an action is applied to, in the space's own key namespace.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Resource<'a> {
    /// The bucket itself (HeadBucket, GetBucketLocation).
    Bucket,
    /// A bucket-wide setting: only a key whose allowed prefix is the whole bucket may change
    /// what applies to every key.
    Settings,
    /// One object key.
    Object(&'a str),
    /// A listing prefix.
    Prefix(&'a str),
}

/// The outcome, with the reason for logs and audit rows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// Allowed.
    Allow,
    /// Denied; the reason is safe to show the caller.
    Deny(DenyReason),
}

/// Why a request was denied.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DenyReason {
    /// The key was revoked.
    Revoked,
    /// The key expired.
    Expired,
    /// The space is disabled.
    SpaceDisabled,
    /// The bucket is not the key's space.
    WrongBucket,
    /// The mode does not grant the action.
    ActionNotGranted,
    /// The key or list prefix is outside the key's allowed prefix.
    OutsidePrefix,
    /// The name fails [`crate::names`]; callers check first and answer 400, so this is the
    /// second line of defence.
    InvalidName,
}

impl DenyReason {
    /// A message for the S3 error body.
    #[must_use]
    pub fn message(self) -> &'static str {
        match self {
            DenyReason::Revoked => "The access key has been revoked.",
            DenyReason::Expired => "The access key has expired.",
            DenyReason::SpaceDisabled => "The Object Space is disabled.",
            DenyReason::WrongBucket => "The access key is not valid for this bucket.",
            DenyReason::ActionNotGranted => "The access key's permission mode does not allow this operation.",
            DenyReason::OutsidePrefix => "The key or prefix is outside the access key's allowed prefix.",
            DenyReason::InvalidName => "The key or prefix is not a valid name.",
        }
    }
}

/// Whether a key may act at all at `now`: not revoked, not expired. What [`decide`] checks
/// first; alone, for what names no space (ListBuckets and CreateBucket of a tenant-wide key).
#[must_use]
pub fn key_active(id: &Identity, now: OffsetDateTime) -> Decision {
    if id.revoked_at.is_some() {
        return Decision::Deny(DenyReason::Revoked);
    }
    if id.expires_at.is_some_and(|e| e <= now) {
        return Decision::Deny(DenyReason::Expired);
    }
    Decision::Allow
}

/// Decides one request. `bucket` is the client-visible bucket name.
#[must_use]
pub fn decide(id: &Identity, space: &Space, bucket: &str, action: Option<Action>, res: Resource<'_>, now: OffsetDateTime) -> Decision {
    use Decision::Deny;
    if let Decision::Deny(r) = key_active(id, now) {
        return Deny(r);
    }
    if space.disabled_at.is_some() {
        return Deny(DenyReason::SpaceDisabled);
    }
    // A tenant-wide key reaches every space of its tenant; any other key its own space only.
    let reaches = if id.mode == PermissionMode::TenantWide {
        id.tenant_id == space.tenant_id
    } else {
        id.space_id == space.id
    };
    if !reaches || space.bucket != bucket {
        return Deny(DenyReason::WrongBucket);
    }
    if let Some(a) = action
        && !grants(id.mode, a)
    {
        return Deny(DenyReason::ActionNotGranted);
    }
    let name = match res {
        Resource::Bucket => return Decision::Allow,
        Resource::Settings if id.allowed_prefix.is_empty() => return Decision::Allow,
        Resource::Settings => return Deny(DenyReason::OutsidePrefix),
        Resource::Object(k) => (k, names::key(k)),
        Resource::Prefix(p) => (p, names::prefix(p)),
    };
    match name {
        (_, Err(_)) => Deny(DenyReason::InvalidName),
        // A listing is denied, not filtered, when its prefix reaches outside: filtering would
        // still reveal that other keys exist.
        (n, Ok(())) if names::within(&id.allowed_prefix, n) => Decision::Allow,
        (_, Ok(())) => Deny(DenyReason::OutsidePrefix),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Purpose, Visibility};
    use time::macros::datetime;

    const NOW: OffsetDateTime = datetime!(2026-11-22 12:00 UTC);

    fn space() -> Space {
        Space {
            id: "sp_1".into(),
            tenant_id: "t_1".into(),
            workspace_id: None,
            name: "artifacts".into(),
            bucket: "rs-acme-artifacts".into(),
            base_prefix: "object-spaces/t_1/sp_1/".into(),
            visibility: Visibility::Private,
            purpose: Purpose::Artifacts,
            quota_bytes: None,
            created_by: "op".into(),
            created_at: NOW,
            disabled_at: None,
            versioning: crate::model::Versioning::Unversioned,
            object_lock: None,
        }
    }

    fn ident(mode: PermissionMode, prefix: &str) -> Identity {
        Identity {
            id: "id_1".into(),
            tenant_id: "t_1".into(),
            space_id: "sp_1".into(),
            name: "ci".into(),
            access_key_id: "RS3AAAAAAAAAAAAAAAAA".into(),
            mode,
            allowed_prefix: prefix.into(),
            expires_at: None,
            last_used_at: None,
            revoked_at: None,
            created_by: "op".into(),
            created_at: NOW,
            rotated_at: None,
        }
    }

    const B: &str = "rs-acme-artifacts";

    #[test]
    fn modes_grant_documented_actions() {
        let s = space();
        let cases = [
            (PermissionMode::ReadOnly, Action::GetObject, true),
            (PermissionMode::ReadOnly, Action::PutObject, false),
            (PermissionMode::ReadOnly, Action::DeleteObject, false),
            (PermissionMode::WriteOnly, Action::PutObject, true),
            (PermissionMode::WriteOnly, Action::GetObject, false),
            (PermissionMode::WriteOnly, Action::ListBucket, false),
            (PermissionMode::ReadWrite, Action::PutObject, true),
            (PermissionMode::ReadWrite, Action::DeleteObject, false),
            (PermissionMode::ReadWriteDelete, Action::DeleteObject, true),
            (PermissionMode::Publisher, Action::DeleteObject, true),
            (PermissionMode::RegistryBackend, Action::AbortMultipartUpload, true),
        ];
        for (mode, action, allowed) in cases {
            let d = decide(&ident(mode, ""), &s, B, Some(action), Resource::Object("x"), NOW);
            assert_eq!(d == Decision::Allow, allowed, "{mode} {action:?}");
        }
    }

    /// Bucket CORS is a bucket-wide setting: the publisher mode only, with a key for the whole
    /// bucket.
    #[test]
    fn only_a_whole_bucket_publisher_key_sets_bucket_settings() {
        let s = space();
        let d = |mode, prefix| decide(&ident(mode, prefix), &s, B, Some(Action::PutBucketCors), Resource::Settings, NOW);
        assert_eq!(d(PermissionMode::Publisher, ""), Decision::Allow);
        assert_eq!(d(PermissionMode::Publisher, "site/"), Decision::Deny(DenyReason::OutsidePrefix));
        for mode in [
            PermissionMode::ReadOnly,
            PermissionMode::WriteOnly,
            PermissionMode::ReadWrite,
            PermissionMode::ReadWriteDelete,
            PermissionMode::RegistryBackend,
        ] {
            assert_eq!(d(mode, ""), Decision::Deny(DenyReason::ActionNotGranted), "{mode}");
        }
    }

    /// A tenant-wide key reaches every space of its tenant and no other tenant's; no other mode
    /// reaches beyond its own space or may manage buckets.
    #[test]
    fn tenant_wide_keys_reach_their_tenant_only() {
        let home = space();
        let mut sibling = space();
        sibling.id = "sp_2".into();
        sibling.bucket = "rs-acme-site".into();
        let mut foreign = space();
        foreign.id = "sp_3".into();
        foreign.tenant_id = "t_2".into();
        foreign.bucket = "rs-globex-site".into();
        let tw = ident(PermissionMode::TenantWide, "");
        let d = |id: &Identity, s: &Space, a| decide(id, s, &s.bucket.clone(), Some(a), Resource::Object("k"), NOW);
        for a in [Action::GetObject, Action::PutObject, Action::DeleteObject, Action::ListBucket] {
            assert_eq!(d(&tw, &home, a), Decision::Allow);
            assert_eq!(d(&tw, &sibling, a), Decision::Allow);
            assert_eq!(d(&tw, &foreign, a), Decision::Deny(DenyReason::WrongBucket));
        }
        // The bucket name must still be the space's.
        assert_eq!(
            decide(&tw, &sibling, "rs-globex-site", Some(Action::GetObject), Resource::Object("k"), NOW),
            Decision::Deny(DenyReason::WrongBucket)
        );
        let manage = |id: &Identity, s: &Space| decide(id, s, &s.bucket.clone(), Some(Action::ManageBuckets), Resource::Settings, NOW);
        assert_eq!(manage(&tw, &sibling), Decision::Allow);
        assert_eq!(manage(&tw, &foreign), Decision::Deny(DenyReason::WrongBucket));
        for mode in [
            PermissionMode::ReadOnly,
            PermissionMode::WriteOnly,
            PermissionMode::ReadWrite,
            PermissionMode::ReadWriteDelete,
            PermissionMode::Publisher,
            PermissionMode::RegistryBackend,
        ] {
            let k = ident(mode, "");
            assert_eq!(manage(&k, &home), Decision::Deny(DenyReason::ActionNotGranted), "{mode}");
            assert_eq!(
                d(&k, &sibling, Action::GetObject),
                Decision::Deny(DenyReason::WrongBucket),
                "{mode}"
            );
        }
    }

    #[test]
    fn prefix_scope_denies_outside_keys_and_listings() {
        let s = space();
        let id = ident(PermissionMode::ReadWrite, "releases/");
        let ok = |r| decide(&id, &s, B, Some(Action::GetObject), r, NOW);
        assert_eq!(ok(Resource::Object("releases/v1/a.tgz")), Decision::Allow);
        assert_eq!(ok(Resource::Object("other/a")), Decision::Deny(DenyReason::OutsidePrefix));
        assert_eq!(ok(Resource::Object("releases")), Decision::Deny(DenyReason::OutsidePrefix));
        assert_eq!(ok(Resource::Prefix("releases/v1/")), Decision::Allow);
        assert_eq!(ok(Resource::Prefix("")), Decision::Deny(DenyReason::OutsidePrefix));
        assert_eq!(ok(Resource::Prefix("rel")), Decision::Deny(DenyReason::OutsidePrefix));
    }

    #[test]
    fn revocation_expiry_disable_and_bucket() {
        let s = space();
        let mut id = ident(PermissionMode::ReadOnly, "");
        let d = |id: &Identity, s: &Space, b| decide(id, s, b, Some(Action::GetObject), Resource::Object("k"), NOW);
        assert_eq!(d(&id, &s, "rs-other"), Decision::Deny(DenyReason::WrongBucket));
        id.expires_at = Some(NOW);
        assert_eq!(d(&id, &s, B), Decision::Deny(DenyReason::Expired));
        id.expires_at = Some(datetime!(2026-11-23 0:00 UTC));
        assert_eq!(d(&id, &s, B), Decision::Allow);
        id.revoked_at = Some(NOW);
        assert_eq!(d(&id, &s, B), Decision::Deny(DenyReason::Revoked));
        id.revoked_at = None;
        let mut s2 = s.clone();
        s2.disabled_at = Some(NOW);
        assert_eq!(d(&id, &s2, B), Decision::Deny(DenyReason::SpaceDisabled));
        let mut other = s.clone();
        other.id = "sp_2".into();
        assert_eq!(d(&id, &other, B), Decision::Deny(DenyReason::WrongBucket));
    }

    /// Lexical resolution of `.`/`..` as a filesystem or a URL normaliser would do it; `None`
    /// when it climbs above the root.
    fn resolve(name: &str) -> Option<Vec<&str>> {
        let mut out = Vec::new();
        for seg in name.split('/') {
            match seg {
                "." => {}
                ".." => {
                    out.pop()?;
                }
                s => out.push(s),
            }
        }
        Some(out)
    }

    fn name_strategy() -> impl proptest::strategy::Strategy<Value = String> {
        use proptest::prelude::*;
        let seg = prop_oneof![
            Just("releases".to_owned()),
            Just("..".to_owned()),
            Just(".".to_owned()),
            Just(String::new()),
            Just("other".to_owned()),
            Just("%2e%2e".to_owned()),
            Just("releases-old".to_owned()),
            Just("a\\..".to_owned()),
            Just("\0".to_owned()),
            "[a-z.\\\\\u{0}-\u{1f}\u{85}]{0,4}",
        ];
        proptest::collection::vec(seg, 0..6).prop_map(|v| v.join("/"))
    }

    proptest::proptest! {
        #![proptest_config(proptest::test_runner::Config { cases: 4096, ..Default::default() })]

        /// Whatever name a client sends, an allow means the name is valid and, however a
        /// store might resolve it, it stays inside the key's prefix.
        #[test]
        fn never_allows_outside_the_scope(name in name_strategy(), list in proptest::bool::ANY) {
            let s = space();
            let id = ident(PermissionMode::ReadWriteDelete, "releases/");
            let res = if list { Resource::Prefix(&name) } else { Resource::Object(&name) };
            for action in [Action::GetObject, Action::PutObject, Action::DeleteObject, Action::ListBucket] {
                if decide(&id, &s, B, Some(action), res, NOW) == Decision::Allow {
                    proptest::prop_assert!(names::prefix(&name).is_ok());
                    proptest::prop_assert!(!name.contains('\0') && !name.contains('\\'));
                    let resolved = resolve(&name);
                    proptest::prop_assert!(resolved.as_ref().is_some_and(|r| r.first() == Some(&"releases") && r.len() >= 2), "{name:?}");
                    proptest::prop_assert!(name.starts_with("releases/"));
                }
            }
        }
    }

    #[test]
    fn invalid_names_are_denied_even_inside_the_prefix() {
        let s = space();
        let id = ident(PermissionMode::ReadWrite, "releases/");
        for bad in ["releases/../other/x", "releases/./x", "releases/a\0b", "releases/.."] {
            assert_eq!(
                decide(&id, &s, B, Some(Action::GetObject), Resource::Object(bad), NOW),
                Decision::Deny(DenyReason::InvalidName),
                "{bad:?}"
            );
            assert_eq!(
                decide(&id, &s, B, Some(Action::ListBucket), Resource::Prefix(bad), NOW),
                Decision::Deny(DenyReason::InvalidName),
                "{bad:?}"
            );
        }
    }
}
