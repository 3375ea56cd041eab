//! Registry scopes (`repository:kubedo/app:pull,push`) and what each caller is granted.

use rustshare_control::model::{RegistryNamespace, RobotAccess};
use serde::Serialize;

use crate::{Error, Result};

/// One requested scope.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Scope {
    /// Resource type: `repository` or `registry`.
    pub kind: String,
    /// Resource name: `kubedo/app`, or `catalog`.
    pub name: String,
    /// Requested actions.
    pub actions: Vec<String>,
}

impl Scope {
    /// Parses `type:name:actions` (the name may not hold `:`, the actions are comma-separated).
    ///
    /// # Errors
    /// [`Error::Invalid`] for anything else.
    pub fn parse(s: &str) -> Result<Self> {
        let bad = || Error::Invalid(format!("scope {s:?} is not type:name:actions"));
        let (kind, rest) = s.split_once(':').ok_or_else(bad)?;
        let (name, actions) = rest.rsplit_once(':').ok_or_else(bad)?;
        if kind.is_empty() || name.is_empty() || name.contains(':') || actions.is_empty() {
            return Err(bad());
        }
        Ok(Self {
            kind: kind.to_owned(),
            name: name.to_owned(),
            actions: actions.split(',').filter(|a| !a.is_empty()).map(str::to_owned).collect(),
        })
    }

    /// The namespace of a repository scope: the first path segment, if a repository follows it.
    #[must_use]
    pub fn namespace(&self) -> Option<&str> {
        if self.kind != "repository" {
            return None;
        }
        let (ns, repo) = self.name.split_once('/')?;
        (!ns.is_empty() && !repo.is_empty()).then_some(ns)
    }
}

/// Who asks for a token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Caller {
    /// Nobody logged in.
    Anonymous,
    /// A robot of `namespace`.
    Robot {
        /// Its namespace.
        namespace: String,
        /// What it may do.
        access: RobotAccess,
    },
    /// The bridge itself, governing `namespace` (retention): pull and delete, and the catalog.
    Bridge {
        /// The namespace governed.
        namespace: String,
    },
}

/// One entry of a token's `access` claim.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Access {
    /// Resource type.
    #[serde(rename = "type")]
    pub kind: String,
    /// Resource name.
    pub name: String,
    /// Granted actions.
    pub actions: Vec<String>,
}

/// What `caller` gets of `scope`, given the namespace the scope names (if it exists). Anything
/// outside the caller's namespace is nothing; unknown actions are never granted.
#[must_use]
pub fn grant(caller: &Caller, scope: &Scope, ns: Option<&RegistryNamespace>) -> Access {
    let allowed: &[&str] = match (caller, scope.kind.as_str(), ns) {
        (Caller::Bridge { .. }, "registry", _) if scope.name == "catalog" => &["*"],
        (_, "repository", Some(ns)) if scope.namespace() == Some(ns.name.as_str()) => match caller {
            Caller::Robot { namespace, access } if *namespace == ns.name => match access {
                RobotAccess::Pull => &["pull"],
                RobotAccess::Push => &["pull", "push"],
            },
            Caller::Bridge { namespace } if *namespace == ns.name => &["pull", "delete"],
            // A public namespace lets anyone pull, robots of other namespaces included.
            _ if ns.public => &["pull"],
            _ => &[],
        },
        _ => &[],
    };
    Access {
        kind: scope.kind.clone(),
        name: scope.name.clone(),
        actions: scope.actions.iter().filter(|a| allowed.contains(&a.as_str())).cloned().collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rustshare_control::model::RetentionRules;

    fn ns(name: &str, public: bool) -> RegistryNamespace {
        RegistryNamespace {
            name: name.into(),
            tenant_id: "t".into(),
            space_id: "s".into(),
            storage_identity_id: "i".into(),
            public,
            retention: RetentionRules::default(),
            upstream: None,
            created_by: "op".into(),
            created_at: time::OffsetDateTime::UNIX_EPOCH,
        }
    }

    fn robot(namespace: &str, access: RobotAccess) -> Caller {
        Caller::Robot {
            namespace: namespace.into(),
            access,
        }
    }

    #[test]
    fn parses_scopes() {
        let s = Scope::parse("repository:kubedo/app:pull,push").expect("scope");
        assert_eq!((s.kind.as_str(), s.name.as_str()), ("repository", "kubedo/app"));
        assert_eq!(s.actions, ["pull", "push"]);
        assert_eq!(s.namespace(), Some("kubedo"));
        assert_eq!(
            Scope::parse("repository:kubedo/a/b:pull").expect("deep").namespace(),
            Some("kubedo")
        );
        assert_eq!(Scope::parse("repository:app:pull").expect("no namespace").namespace(), None);
        for bad in [
            "",
            "repository",
            "repository:x",
            "repository::pull",
            ":x:pull",
            "repository:a:b:pull",
        ] {
            assert!(Scope::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn robots_get_only_their_namespace() {
        let k = ns("kubedo", false);
        let other = ns("globex", false);
        let push = Scope::parse("repository:kubedo/app:pull,push,delete").expect("scope");
        assert_eq!(
            grant(&robot("kubedo", RobotAccess::Push), &push, Some(&k)).actions,
            ["pull", "push"]
        );
        assert_eq!(grant(&robot("kubedo", RobotAccess::Pull), &push, Some(&k)).actions, ["pull"]);
        let theirs = Scope::parse("repository:globex/app:pull,push").expect("scope");
        assert!(grant(&robot("kubedo", RobotAccess::Push), &theirs, Some(&other)).actions.is_empty());
        // A scope naming a namespace the lookup did not return (unknown) grants nothing.
        assert!(grant(&robot("kubedo", RobotAccess::Push), &theirs, None).actions.is_empty());
        // The namespace must be the scope's own, not whatever was passed in.
        assert!(grant(&robot("kubedo", RobotAccess::Push), &theirs, Some(&k)).actions.is_empty());
        assert!(grant(&Caller::Anonymous, &push, Some(&k)).actions.is_empty());
        let catalog = Scope::parse("registry:catalog:*").expect("scope");
        assert!(grant(&robot("kubedo", RobotAccess::Push), &catalog, None).actions.is_empty());
    }

    #[test]
    fn public_namespaces_allow_anonymous_pull_only() {
        let k = ns("kubedo", true);
        let s = Scope::parse("repository:kubedo/app:pull,push").expect("scope");
        assert_eq!(grant(&Caller::Anonymous, &s, Some(&k)).actions, ["pull"]);
        assert_eq!(grant(&robot("globex", RobotAccess::Push), &s, Some(&k)).actions, ["pull"]);
    }

    #[test]
    fn the_bridge_may_delete_in_its_namespace() {
        let k = ns("kubedo", false);
        let s = Scope::parse("repository:kubedo/app:pull,delete,push").expect("scope");
        let b = Caller::Bridge {
            namespace: "kubedo".into(),
        };
        assert_eq!(grant(&b, &s, Some(&k)).actions, ["pull", "delete"]);
        assert_eq!(grant(&b, &Scope::parse("registry:catalog:*").expect("scope"), None).actions, ["*"]);
    }
}
