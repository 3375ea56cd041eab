//! Who may administer what: the one decision behind every control API handler.
//!
//! [`authorize`] is pure (no database, no clock): the service looks up the target, then asks
//! this function, and only then acts. Every admin method of [`crate::Control`] goes through it;
//! a test below reads the service's source and fails if one decides by itself.

use crate::Error;
use crate::model::AdminPrincipal;

/// What an admin asks to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AdminAction {
    /// Create a tenant.
    CreateTenant,
    /// Issue an admin token scoped to a tenant.
    IssueTenantToken,
    /// Create a space (and so choose its quota).
    CreateSpace,
    /// Rotate, retire or read the master key's state.
    ManageMasterKey,
    /// Recompute usage from the store for every space.
    Reconcile,
    /// Shorten or lift a governance retention, or remove a version it protects (S3's
    /// `x-amz-bypass-governance-retention`).
    BypassGovernance,
    /// See a tenant's resource: a tenant, space, key, repository, namespace, audit rows.
    Read,
    /// Change a tenant's resource: disable a space, issue/revoke/rotate keys, public prefixes,
    /// purges, repositories and their publishing, registry namespaces and robots.
    Manage,
    /// Change a space's quota from `current` to `requested` (`None`: unlimited).
    SetQuota {
        /// The quota now.
        current: Option<u64>,
        /// The quota asked for.
        requested: Option<u64>,
    },
}

/// What an action is aimed at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target<'a> {
    /// The installation as a whole (tenants, master key, reconcile).
    Installation,
    /// Something owned by this tenant id.
    Tenant(&'a str),
}

/// Why an action is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AdminDenial {
    /// Only the operator may do this; the message says what.
    OperatorOnly(&'static str),
    /// The target belongs to another tenant: answered as if it did not exist, so that a tenant
    /// admin learns nothing about other tenants' names.
    NotVisible,
    /// A tenant admin asked to raise or remove its quota.
    QuotaRaise,
}

/// Decides whether `p` may do `action` on `target`. Default-deny: a tenant admin is allowed
/// only tenant-scoped actions on its own tenant, and for quotas only a lowering.
///
/// # Errors
/// The [`AdminDenial`] that applies.
pub fn authorize(p: &AdminPrincipal, action: AdminAction, target: Target<'_>) -> Result<(), AdminDenial> {
    let Some(own) = p.tenant_id.as_deref() else {
        return Ok(());
    };
    let operator_only = match action {
        AdminAction::CreateTenant => Some("only the operator can create tenants"),
        AdminAction::IssueTenantToken => Some("only the operator can issue tenant tokens"),
        AdminAction::CreateSpace => {
            // Quotas belong to the operator: a tenant admin who could create spaces could create
            // them without a quota, or with any quota, and so escape the one it was given.
            Some("only the operator creates spaces (and sets their quotas); a tenant admin may lower a quota")
        }
        AdminAction::ManageMasterKey => Some("only the operator token manages the master key"),
        AdminAction::Reconcile => Some("only the operator token reconciles usage"),
        AdminAction::BypassGovernance => Some("only the operator may bypass governance retention"),
        AdminAction::Read | AdminAction::Manage | AdminAction::SetQuota { .. } => None,
    };
    if let Some(why) = operator_only {
        return Err(AdminDenial::OperatorOnly(why));
    }
    match target {
        Target::Tenant(t) if t == own => {}
        // Tenant-scoped actions name a tenant; one aimed at the installation is not for a tenant.
        Target::Installation => return Err(AdminDenial::OperatorOnly("only the operator acts on the installation")),
        Target::Tenant(_) => return Err(AdminDenial::NotVisible),
    }
    match action {
        AdminAction::SetQuota {
            current: Some(current),
            requested: Some(new),
        } if new <= current => Ok(()),
        AdminAction::SetQuota { .. } => Err(AdminDenial::QuotaRaise),
        _ => Ok(()),
    }
}

/// [`authorize`], its denial mapped to this crate's error: another tenant's resource answers
/// as the `what` that was not found, as an absent one does.
///
/// # Errors
/// [`Error::Forbidden`] or [`Error::NotFound`].
pub fn require(p: &AdminPrincipal, action: AdminAction, target: Target<'_>, what: &'static str) -> crate::Result<()> {
    authorize(p, action, target).map_err(|d| match d {
        AdminDenial::OperatorOnly(why) => Error::Forbidden(why),
        AdminDenial::NotVisible => Error::NotFound(what),
        AdminDenial::QuotaRaise => {
            Error::Forbidden("a tenant admin may lower its space's quota, never raise or remove it; ask the operator")
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn principal(tenant: Option<&str>) -> AdminPrincipal {
        AdminPrincipal {
            token_id: "tok_1".into(),
            name: "t".into(),
            tenant_id: tenant.map(str::to_owned),
        }
    }

    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    enum Expect {
        Allow,
        OperatorOnly,
        NotVisible,
        QuotaRaise,
    }

    fn outcome(r: Result<(), AdminDenial>) -> Expect {
        match r {
            Ok(()) => Expect::Allow,
            Err(AdminDenial::OperatorOnly(_)) => Expect::OperatorOnly,
            Err(AdminDenial::NotVisible) => Expect::NotVisible,
            Err(AdminDenial::QuotaRaise) => Expect::QuotaRaise,
        }
    }

    /// Every action against the operator, the owning tenant's admin and another tenant's admin,
    /// on the installation and on a tenant's resource.
    #[test]
    fn table_of_every_action_and_principal() {
        use AdminAction as A;
        use Expect::{Allow, NotVisible, OperatorOnly, QuotaRaise};
        let lower = A::SetQuota {
            current: Some(100),
            requested: Some(50),
        };
        let same = A::SetQuota {
            current: Some(100),
            requested: Some(100),
        };
        let raise = A::SetQuota {
            current: Some(100),
            requested: Some(101),
        };
        let remove = A::SetQuota {
            current: Some(100),
            requested: None,
        };
        let from_unlimited = A::SetQuota {
            current: None,
            requested: Some(1),
        };
        // (action, target is "own"'s resource?, operator, own tenant, other tenant)
        let table: &[(AdminAction, bool, Expect, Expect, Expect)] = &[
            (A::CreateTenant, false, Allow, OperatorOnly, OperatorOnly),
            (A::IssueTenantToken, true, Allow, OperatorOnly, OperatorOnly),
            (A::CreateSpace, true, Allow, OperatorOnly, OperatorOnly),
            (A::ManageMasterKey, false, Allow, OperatorOnly, OperatorOnly),
            (A::Reconcile, false, Allow, OperatorOnly, OperatorOnly),
            (A::BypassGovernance, true, Allow, OperatorOnly, OperatorOnly),
            (A::Read, true, Allow, Allow, NotVisible),
            (A::Manage, true, Allow, Allow, NotVisible),
            (A::Read, false, Allow, OperatorOnly, OperatorOnly),
            (A::Manage, false, Allow, OperatorOnly, OperatorOnly),
            (lower, true, Allow, Allow, NotVisible),
            (same, true, Allow, Allow, NotVisible),
            (raise, true, Allow, QuotaRaise, NotVisible),
            (remove, true, Allow, QuotaRaise, NotVisible),
            (from_unlimited, true, Allow, QuotaRaise, NotVisible),
        ];
        let op = principal(None);
        let own = principal(Some("t_own"));
        let other = principal(Some("t_other"));
        for &(action, tenant_target, e_op, e_own, e_other) in table {
            let target = if tenant_target {
                Target::Tenant("t_own")
            } else {
                Target::Installation
            };
            assert_eq!(outcome(authorize(&op, action, target)), e_op, "operator {action:?} {target:?}");
            assert_eq!(outcome(authorize(&own, action, target)), e_own, "own {action:?} {target:?}");
            assert_eq!(outcome(authorize(&other, action, target)), e_other, "other {action:?} {target:?}");
        }
    }

    /// The mechanism, not only the table: no admin method of the service decides by itself.
    /// Reading the principal's tenant to authorize (`p.tenant_id.is_some()`, `can_access`)
    /// anywhere in the service's code outside this module fails here.
    #[test]
    fn the_service_decides_only_through_authorize() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src/service");
        let mut requires = 0;
        let mut files = 0;
        for f in std::fs::read_dir(&dir).expect("src/service") {
            let path = f.expect("entry").path();
            if path.file_name().is_some_and(|n| n == "tests.rs") {
                continue;
            }
            let src = std::fs::read_to_string(&path).expect("service source");
            let code = src.split("#[cfg(test)]").next().unwrap_or_default();
            for pattern in ["tenant_id.is_some()", "tenant_id.is_none()", "can_access("] {
                assert!(!code.contains(pattern), "{} decides by itself with `{pattern}`", path.display());
            }
            requires += code.matches("require(p, ").count();
            files += 1;
        }
        assert!(files >= 10, "the service's files were not found: {files}");
        assert!(requires >= 20, "the service no longer calls require ({requires} calls)");
    }
}
