//! Access control lists, answered as S3 answers them for a bucket whose Object Ownership is
//! "bucket owner enforced" (the default for new AWS buckets since 2023): ACLs are disabled, the
//! bucket's owner (here: the space's tenant) has full control of everything, and a request that
//! tries to grant anything else is refused with 400 AccessControlListNotSupported instead of
//! being silently accepted. Who can read a space without a key is decided by public web access
//! (the CDN face), never by an ACL.

use s3s::dto::{
    AccessControlPolicy, Grant, Grantee, Grants, ObjectOwnership, Owner, OwnershipControls, OwnershipControlsRule, Permission, Type,
};
use s3s::{S3Error, S3ErrorCode, S3Result};

use rustshare_control::Credential;

/// The canned ACLs that change nothing when ACLs are disabled.
const ALLOWED: &[&str] = &["private", "bucket-owner-full-control"];

fn refused() -> S3Error {
    let mut e = S3Error::with_message(
        S3ErrorCode::AccessControlListNotSupported,
        "The bucket does not allow ACLs. To publish objects, enable public web access for the space (rustshare public enable).",
    );
    e.set_status_code(http::StatusCode::BAD_REQUEST);
    e
}

/// Refuses a canned ACL other than `private` or `bucket-owner-full-control`, and any explicit
/// grant header (`x-amz-grant-*`).
///
/// # Errors
/// 400 AccessControlListNotSupported.
pub(crate) fn check_request(canned: Option<&str>, grants: &[Option<&String>]) -> S3Result<()> {
    if canned.is_some_and(|a| !ALLOWED.contains(&a)) || grants.iter().any(Option::is_some) {
        return Err(refused());
    }
    Ok(())
}

/// Refuses an ACL document (PutObjectAcl/PutBucketAcl with a body) unless it grants only full
/// control to the owner, which is what the object already has.
///
/// # Errors
/// 400 AccessControlListNotSupported.
pub(crate) fn check_policy(grants: Option<&Grants>, owner_id: &str) -> S3Result<()> {
    let only_owner = grants.into_iter().flatten().all(|g| {
        g.permission.as_ref().is_some_and(|p| p.as_str() == Permission::FULL_CONTROL)
            && g.grantee
                .as_ref()
                .is_some_and(|e| e.type_.as_str() == Type::CANONICAL_USER && e.id.as_deref() == Some(owner_id))
    });
    if only_owner { Ok(()) } else { Err(refused()) }
}

/// A PutBucketAcl or PutObjectAcl: its canned ACL, grant headers and ACL document must all
/// change nothing.
///
/// # Errors
/// 400 AccessControlListNotSupported.
pub(crate) fn check_put(
    canned: Option<&str>,
    grants: &[Option<&String>],
    policy: Option<&AccessControlPolicy>,
    owner_id: &str,
) -> S3Result<()> {
    check_request(canned, grants)?;
    policy.map_or(Ok(()), |p| check_policy(p.grants.as_ref(), owner_id))
}

/// The owner of every object of the credential's space: its tenant.
pub(crate) fn owner(cred: &Credential) -> Owner {
    Owner {
        display_name: Some(cred.space.tenant_id.clone()),
        id: Some(cred.space.tenant_id.clone()),
    }
}

/// The one grant there is: the owner's full control.
pub(crate) fn grants(cred: &Credential) -> Grants {
    vec![Grant {
        grantee: Some(Grantee {
            display_name: Some(cred.space.tenant_id.clone()),
            email_address: None,
            id: Some(cred.space.tenant_id.clone()),
            type_: Type::from_static(Type::CANONICAL_USER),
            uri: None,
        }),
        permission: Some(Permission::from_static(Permission::FULL_CONTROL)),
    }]
}

/// Object Ownership: bucket owner enforced.
pub(crate) fn ownership() -> OwnershipControls {
    OwnershipControls {
        rules: vec![OwnershipControlsRule {
            object_ownership: ObjectOwnership::from_static(ObjectOwnership::BUCKET_OWNER_ENFORCED),
        }],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_acls_that_change_nothing_pass() {
        let grant = "id=someone".to_owned();
        assert!(check_request(None, &[None, None]).is_ok());
        assert!(check_request(Some("private"), &[None]).is_ok());
        assert!(check_request(Some("bucket-owner-full-control"), &[]).is_ok());
        for bad in [
            "public-read",
            "public-read-write",
            "authenticated-read",
            "aws-exec-read",
            "bucket-owner-read",
        ] {
            let e = check_request(Some(bad), &[]).expect_err(bad);
            assert_eq!(*e.code(), S3ErrorCode::AccessControlListNotSupported);
            assert_eq!(e.status_code(), Some(http::StatusCode::BAD_REQUEST));
        }
        assert!(check_request(Some("private"), &[None, Some(&grant)]).is_err());
        let owner = |id: &str, perm: &str| Grant {
            grantee: Some(Grantee {
                display_name: None,
                email_address: None,
                id: Some(id.to_owned()),
                type_: Type::from_static(Type::CANONICAL_USER),
                uri: None,
            }),
            permission: Some(Permission::from(perm.to_owned())),
        };
        assert!(check_policy(Some(&vec![owner("t1", "FULL_CONTROL")]), "t1").is_ok());
        assert!(check_policy(Some(&vec![owner("t1", "FULL_CONTROL"), owner("t2", "READ")]), "t1").is_err());
        assert!(check_policy(Some(&vec![owner("t2", "FULL_CONTROL")]), "t1").is_err());
    }
}
