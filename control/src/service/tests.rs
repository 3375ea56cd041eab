use super::*;
use crate::db::testing;

fn control() -> (Core, AdminPrincipal) {
    control_on(crate::clock::system())
}

fn control_on(clock: Arc<dyn crate::clock::Clock>) -> (Core, AdminPrincipal) {
    let c = Core::with_clock(testing::repo(), MasterKey::generate(), clock);
    let tok = c.bootstrap_operator(None).expect("bootstrap").expect("a new token");
    assert!(
        c.bootstrap_operator(None).expect("again").is_none(),
        "only one generated operator token"
    );
    let p = c.authenticate(&tok).expect("auth");
    (c, p)
}

/// A key's input without an absolute expiry.
fn key_input(name: &str, mode: PermissionMode, prefix: &str, expires_in_seconds: Option<u64>) -> NewIdentity {
    NewIdentity {
        name: name.into(),
        mode,
        prefix: prefix.into(),
        expires_at: None,
        expires_in_seconds,
    }
}

fn space(c: &Core, p: &AdminPrincipal, tenant: &str, quota: Option<u64>) -> Space {
    let _ = c.create_tenant(p, tenant);
    c.create_space(
        p,
        NewSpace {
            tenant: Some(tenant.into()),
            name: "artifacts".into(),
            purpose: None,
            visibility: None,
            quota_bytes: quota,
            workspace_id: None,
        },
    )
    .expect("space")
}

#[test]
fn console_sessions_expire_and_follow_their_token() {
    let clock = crate::clock::ManualClock::new();
    let (c, op) = control_on(clock.clone());
    assert!(matches!(
        c.open_session("rsat_wrong", Duration::from_secs(60)),
        Err(Error::Unauthorized)
    ));
    assert!(matches!(c.open_session("x", Duration::ZERO), Err(Error::Unauthorized)));
    let _ = c.create_tenant(&op, "acme");
    let tok = c.create_tenant_token(&op, "acme", "web").expect("token");
    let (cookie, rec, p) = c.open_session(&tok, Duration::from_secs(60)).expect("session");
    assert!(p.tenant_id.is_some());
    assert_ne!(cookie, rec.csrf);
    assert_ne!(rec.id_hash, cookie, "only a hash of the cookie is stored");
    let (again, p2) = c.session(&cookie).expect("live");
    assert_eq!((again.csrf, p2), (rec.csrf.clone(), p.clone()));
    // Past its end the session is gone, and the purge removes it.
    clock.advance(Duration::from_secs(59));
    assert!(c.session(&cookie).is_ok(), "live until its end");
    clock.advance(Duration::from_secs(2));
    assert!(matches!(c.session(&cookie), Err(Error::Unauthorized)));
    assert_eq!(c.inner.repo.purge_sessions(c.now()).expect("purge"), 1);
    let (cookie, _, p) = c.open_session(&tok, Duration::from_secs(60)).expect("session");
    c.close_session(&cookie, &p).expect("logout");
    assert!(matches!(c.session(&cookie), Err(Error::Unauthorized)));
    assert!(matches!(c.session("never-issued"), Err(Error::Unauthorized)));
}

#[test]
fn batch_deletion_keeps_usage_exact() {
    let (c, op) = control();
    let s = space(&c, &op, "acme", None);
    for (k, n) in [("a", 10), ("b", 20), ("c", 40)] {
        c.object_stored(&s.id, k, &ObjectRecord::sized(n)).expect("stored");
    }
    // "zz" was never recorded: it must not change the counts.
    c.objects_deleted(&s.id, &["a".into(), "c".into(), "zz".into()]).expect("deleted");
    let (_, u) = c.usage(&op, &s.id).expect("usage");
    assert_eq!((u.objects, u.bytes), (1, 20));
    c.objects_deleted(&s.id, &[]).expect("nothing to delete");
    let (_, u) = c.usage(&op, &s.id).expect("usage");
    assert_eq!((u.objects, u.bytes), (1, 20));
}

/// Quotas belong to the operator: a tenant admin lowers them at most, and cannot create a
/// space (which would come with a quota of its own choosing, or none).
#[test]
fn tenant_admins_cannot_escape_their_quota() {
    let (c, op) = control();
    let a = space(&c, &op, "acme", Some(1000));
    let tok = c.create_tenant_token(&op, "acme", "admin").expect("token");
    let pa = c.authenticate(&tok).expect("auth");
    for q in [None, Some(1001), Some(u64::MAX)] {
        assert!(matches!(c.set_quota(&pa, &a.id, q), Err(Error::Forbidden(_))), "{q:?}");
    }
    assert_eq!(c.set_quota(&pa, &a.id, Some(500)).expect("lower").quota_bytes, Some(500));
    assert!(
        matches!(c.set_quota(&pa, &a.id, Some(1000)), Err(Error::Forbidden(_))),
        "no raising back"
    );
    let n = NewSpace {
        tenant: None,
        name: "free".into(),
        purpose: None,
        visibility: None,
        quota_bytes: None,
        workspace_id: None,
    };
    assert!(matches!(c.create_space(&pa, n), Err(Error::Forbidden(_))));
    assert_eq!(c.set_quota(&op, &a.id, None).expect("operator").quota_bytes, None);
}

#[test]
fn a_disabled_space_grants_no_registry_tokens() {
    let (c, op) = control();
    c.create_tenant(&op, "acme").expect("tenant");
    let ns = c.create_namespace(&op, Some("acme"), "acme-images", None).expect("namespace");
    assert!(c.namespace_for_token("acme-images").expect("lookup").is_some());
    c.disable_space(&op, &ns.space_id).expect("disable");
    assert!(c.namespace_for_token("acme-images").expect("lookup").is_none());
}

#[test]
fn tenant_tokens_see_only_their_tenant() {
    let (c, op) = control();
    let a = space(&c, &op, "acme", None);
    let b = space(&c, &op, "globex", None);
    assert_eq!(a.bucket, "rs-acme-artifacts");
    let tok = c.create_tenant_token(&op, "acme", "admin").expect("token");
    let pa = c.authenticate(&tok).expect("auth");
    assert!(c.space(&pa, &a.id).is_ok());
    assert!(matches!(c.space(&pa, &b.id), Err(Error::NotFound(_))));
    assert!(matches!(c.space(&pa, &b.bucket), Err(Error::NotFound(_))));
    assert_eq!(c.list_spaces(&pa).expect("list").len(), 1);
    assert!(matches!(c.create_tenant(&pa, "evil"), Err(Error::Forbidden(_))));
    let k = c
        .create_identity(&op, &b.id, key_input("ci", PermissionMode::ReadOnly, "", None))
        .expect("key");
    assert!(matches!(c.revoke_identity(&pa, &k.identity.id), Err(Error::NotFound(_))));
    assert!(
        c.audit_events(&pa, AuditFilter::default())
            .expect("audit")
            .iter()
            .all(|e| e.event.tenant_id.as_deref() == Some(a.tenant_id.as_str()))
    );
    assert!(matches!(c.authenticate("rsat_wrong"), Err(Error::Unauthorized)));
}

#[test]
fn concurrent_lookups_of_an_expired_credential_make_one_query() {
    let (c, op) = control();
    let s = space(&c, &op, "acme", None);
    let k = read_write_key(&c, &op, &s);
    let ak = k.identity.access_key_id;
    assert!(c.credential_cached(&ak).is_none(), "nothing is cached before the first lookup");
    let loads = || c.inner.cred_loads.load(Ordering::Relaxed);
    let before = loads();
    assert_eq!(c.credential(&ak).expect("lookup").expect("known").secret, k.secret_access_key);
    assert_eq!(c.credential_cached(&ak).expect("cached").secret, k.secret_access_key);
    assert_eq!(loads(), before + 1);
    c.clear_caches();
    let start = std::sync::Barrier::new(32);
    std::thread::scope(|t| {
        for _ in 0..32 {
            t.spawn(|| {
                start.wait();
                assert!(c.credential(&ak).expect("lookup").is_some());
            });
        }
    });
    assert_eq!(loads(), before + 2, "32 concurrent lookups after expiry made one query");
    // Unknown keys are not cached, and each lookup asks again.
    assert!(c.credential("RS3NOSUCHKEY0000000000").expect("lookup").is_none());
    assert!(c.credential("RS3NOSUCHKEY0000000000").expect("lookup").is_none());
    assert_eq!(loads(), before + 4);
}

/// A key made to last two seconds is refused from its end on, by the service's clock; its
/// expiry date is the clock's date when it was made plus its lifetime.
#[test]
fn keys_expire_by_the_services_clock() {
    let clock = crate::clock::ManualClock::new();
    let (c, op) = control_on(clock.clone());
    let s = space(&c, &op, "acme", None);
    let k = c
        .create_identity(&op, &s.id, key_input("short", PermissionMode::ReadWrite, "", Some(2)))
        .expect("key");
    assert_eq!(k.identity.expires_at, Some(c.now() + time::Duration::seconds(2)));
    let decide = || {
        let cred = c.credential(&k.identity.access_key_id).expect("cred").expect("found");
        crate::policy::decide(
            &cred.identity,
            &cred.space,
            &s.bucket,
            Some(crate::policy::Action::GetObject),
            crate::policy::Resource::Object("a"),
            c.now(),
        )
    };
    assert_eq!(decide(), crate::policy::Decision::Allow);
    clock.advance(Duration::from_millis(1999));
    assert_eq!(decide(), crate::policy::Decision::Allow, "still within its lifetime");
    clock.advance(Duration::from_millis(1));
    assert_eq!(decide(), crate::policy::Decision::Deny(crate::policy::DenyReason::Expired));
}

#[test]
fn keys_rotate_and_revoke_and_secrets_stay_sealed() {
    let (c, op) = control();
    let s = space(&c, &op, "acme", None);
    let k = c
        .create_identity(&op, &s.id, key_input("ci", PermissionMode::ReadWrite, "releases/", Some(3600)))
        .expect("key");
    assert!(k.identity.access_key_id.starts_with("RS3") && k.identity.access_key_id.len() == 20);
    assert!(
        k.identity.access_key_id[3..]
            .bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit())
    );
    let cred = c.credential(&k.identity.access_key_id).expect("cred").expect("found");
    assert_eq!(cred.secret, k.secret_access_key);
    assert!(!format!("{cred:?}").contains(&k.secret_access_key));
    let r = c.rotate_identity(&op, &k.identity.access_key_id).expect("rotate");
    assert_ne!(r.secret_access_key, k.secret_access_key);
    assert_eq!(
        c.credential(&k.identity.access_key_id).expect("cred").expect("found").secret,
        r.secret_access_key
    );
    c.revoke_identity(&op, &k.identity.id).expect("revoke");
    assert!(
        c.credential(&k.identity.access_key_id)
            .expect("cred")
            .expect("found")
            .identity
            .revoked_at
            .is_some()
    );
    assert!(c.rotate_identity(&op, &k.identity.id).is_err());
    let ev = c.audit_events(&op, AuditFilter::default()).expect("audit");
    let ops: Vec<_> = ev.iter().map(|e| e.event.operation.as_str()).collect();
    for want in ["key.created", "key.rotated", "key.revoked", "space.created"] {
        assert!(ops.contains(&want), "{ops:?}");
    }
    for e in &ev {
        let row = format!("{e:?}");
        assert!(!row.contains(&k.secret_access_key) && !row.contains(&r.secret_access_key));
    }
    assert!(
        c.create_identity(
            &op,
            &s.id,
            NewIdentity {
                name: "bad".into(),
                mode: PermissionMode::ReadOnly,
                prefix: "../".into(),
                expires_at: None,
                expires_in_seconds: None
            }
        )
        .is_err()
    );
}

#[test]
fn quota_counts_objects_parts_and_reservations() {
    let (c, op) = control();
    let s = space(&c, &op, "acme", Some(1000));
    let r1 = c.reserve(&s, 600).expect("fits");
    assert!(matches!(
        c.reserve(&s, 500),
        Err(Error::QuotaExceeded {
            used: 600,
            quota: 1000,
            requested: 500
        })
    ));
    c.object_stored(&s.id, "a", &ObjectRecord::sized(600)).expect("stored");
    drop(r1);
    assert!(c.reserve(&s, 401).is_err());
    c.object_stored(&s.id, "a", &ObjectRecord::sized(100)).expect("overwrite");
    let (_, u) = c.usage(&op, &s.id).expect("usage");
    assert_eq!((u.bytes, u.objects), (100, 1));
    c.upload_started("up1", &s.id, "big", "id_x", &UploadExtras::default())
        .expect("upload");
    c.part_stored(
        "up1",
        &PartRecord {
            part_number: 1,
            size: 800,
            etag: "e".into(),
            checksum: None,
        },
    )
    .expect("part");
    assert!(c.reserve(&s, 101).is_err());
    assert!(c.check_completion(&s, "up1", "big", 800).is_ok());
    c.set_quota(&op, &s.id, Some(500)).expect("quota");
    assert!(c.check_completion(&s, "up1", "big", 800).is_err());
    c.upload_finished("up1").expect("done");
    c.object_deleted(&s.id, "a").expect("delete");
    let (_, u) = c.usage(&op, &s.id).expect("usage");
    assert_eq!((u.bytes, u.objects, u.multipart_bytes), (0, 0, 0));
}

/// Tags belong to the object version written: an overwrite without tags clears them, a tag
/// change keeps size and usage, a delete forgets them, and reconciliation keeps them (and the
/// part sizes) for objects whose size the store confirms.
#[test]
fn tags_follow_the_object_they_were_written_with() {
    let (c, op) = control();
    let s = space(&c, &op, "acme", None);
    let tags = TagSet::from_header("env=prod&team=web").expect("tags");
    let rec = ObjectRecord {
        size: 10,
        parts: vec![5, 5],
        tags: tags.clone(),
        ..ObjectRecord::default()
    };
    c.object_stored(&s.id, "a", &rec).expect("stored");
    assert_eq!(c.object_tags(&s.id, "a").expect("db"), Some(tags.clone()));
    assert_eq!(c.object_tags(&s.id, "missing").expect("db"), None);
    c.object_stored(&s.id, "a", &ObjectRecord::sized(10)).expect("overwrite");
    assert_eq!(c.object_tags(&s.id, "a").expect("db"), Some(TagSet::default()));
    c.set_object_tags(&s.id, "a", &tags).expect("tag");
    assert_eq!(c.object_tags(&s.id, "a").expect("db"), Some(tags.clone()));
    assert!(matches!(c.set_object_tags(&s.id, "missing", &tags), Err(Error::NotFound(_))));
    let (_, u) = c.usage(&op, &s.id).expect("usage");
    assert_eq!((u.bytes, u.objects), (10, 1));
    // Reconciliation: `a` keeps its tags; `b` changed size in the store and loses its part
    // sizes but keeps its tags; `c` is new.
    c.object_stored(&s.id, "b", &rec).expect("stored");
    c.reconcile_space(&s.id, &[("a".into(), 10), ("b".into(), 11), ("c".into(), 1)], &[])
        .expect("reconcile");
    assert_eq!(c.object_tags(&s.id, "a").expect("db"), Some(tags.clone()));
    assert_eq!(c.object_tags(&s.id, "b").expect("db"), Some(tags.clone()));
    assert_eq!(c.object_parts(&s.id, "b").expect("db"), None);
    assert_eq!(c.object_tags(&s.id, "c").expect("db"), Some(TagSet::default()));
    c.object_deleted(&s.id, "a").expect("delete");
    assert_eq!(c.object_tags(&s.id, "a").expect("db"), None);
    // An upload carries its tags to completion.
    let extras = UploadExtras {
        tags: tags.clone(),
        checksum_algorithm: None,
        lock: crate::lock::ObjectLock {
            retention: None,
            legal_hold: true,
        },
    };
    c.upload_started("up", &s.id, "m", "id_x", &extras).expect("upload");
    assert_eq!(c.upload("up", &s.id, "m").expect("db").and_then(|u| u.tags), tags.stored());
    assert!(
        c.upload("up", &s.id, "m").expect("db").is_some_and(|u| u.lock.legal_hold),
        "the lock an upload asked for is kept"
    );
}

/// Reconciliation takes objects and uploads in progress from the store: an upload the store
/// completed (a crash before its record went) is forgotten, one whose parts the record
/// missed gets them, and published repository bytes keep counting against the quota.
#[test]
fn reconcile_takes_uploads_from_the_store() {
    let (c, op) = control();
    let s = space(&c, &op, "acme", Some(10_000));
    let part = |n, size| PartRecord {
        part_number: n,
        size,
        etag: format!("e{n}"),
        checksum: None,
    };
    c.upload_started("done", &s.id, "a", "id_x", &UploadExtras::default())
        .expect("upload");
    c.part_stored(
        "done",
        &PartRecord {
            part_number: 1,
            size: 700,
            etag: "e1".into(),
            checksum: None,
        },
    )
    .expect("part");
    c.upload_started("short", &s.id, "b", "id_x", &UploadExtras::default())
        .expect("upload");
    c.part_stored(
        "short",
        &PartRecord {
            part_number: 1,
            size: 100,
            etag: "e1".into(),
            checksum: None,
        },
    )
    .expect("part");
    let (_, u) = c.usage(&op, &s.id).expect("usage");
    assert_eq!(u.multipart_bytes, 800);
    // The store completed "done" into `a`; it holds two parts of "short".
    let (before, after) = c
        .reconcile_space(&s.id, &[("a".into(), 700)], &[("short".into(), vec![part(1, 100), part(2, 200)])])
        .expect("reconcile");
    assert_eq!((before.bytes, before.multipart_bytes), (0, 800));
    assert_eq!((after.bytes, after.objects, after.multipart_bytes), (700, 1, 300));
    assert!(c.upload("done", &s.id, "a").expect("db").is_none());
    assert_eq!(c.parts("short").expect("parts"), vec![part(1, 100), part(2, 200)]);
    // A second pass with the same store changes nothing.
    let (again_before, again_after) = c
        .reconcile_space(&s.id, &[("a".into(), 700)], &[("short".into(), vec![part(1, 100), part(2, 200)])])
        .expect("reconcile");
    assert_eq!(again_before, again_after);
}

/// A process killed mid-upload never drops its reservation: the next start of a single node
/// clears it, and on a cluster it lapses once its node stops renewing it, while a live
/// node's reservation outlasts the lifetime through renewal.
#[test]
fn reservations_do_not_outlive_their_process() {
    let (a, b, op, _dir) = two_nodes();
    let s = space(&a, &op, "acme", Some(1000));
    std::mem::forget(a.reserve(&s, 600).expect("fits"));
    let live = b.reserve(&s, 300).expect("fits");
    let t0 = a.now();
    assert_eq!(a.inner.repo.reserved(&s.id, t0).expect("reserved"), 900);
    // Only b keeps renewing; a is "dead".
    b.renew_reservations(t0 + time::Duration::seconds(90)).expect("renew");
    let later = t0 + RESERVATION_LIFETIME + time::Duration::seconds(1);
    assert_eq!(
        b.inner.repo.reserved(&s.id, later).expect("reserved"),
        300,
        "the dead node's 600 lapsed"
    );
    drop(live);
    assert_eq!(b.inner.repo.reserved(&s.id, t0).expect("reserved"), 600);
    assert_eq!(b.clear_reservations().expect("clear"), 1);
    assert_eq!(b.inner.repo.reserved(&s.id, t0).expect("reserved"), 0);
    assert!(a.reserve(&s, 1000).is_ok(), "the whole quota is free again");
}

fn read_write_key(c: &Core, p: &AdminPrincipal, s: &Space) -> CreatedIdentity {
    c.create_identity(p, &s.id, key_input("ci", PermissionMode::ReadWrite, "", None))
        .expect("key")
}

/// Two nodes: two services on one database, each with its own caches.
fn two_nodes() -> (Core, Core, AdminPrincipal, Option<tempfile::TempDir>) {
    let (ra, rb, guard) = testing::shared_pair();
    let key = MasterKey::generate();
    let a = Core::new(ra, key.clone());
    let b = Core::new(rb, key);
    let tok = a.bootstrap_operator(None).expect("bootstrap").expect("a new token");
    let p = b.authenticate(&tok).expect("the other node knows the token");
    (a, b, p, guard)
}

#[test]
fn quota_holds_with_writers_on_two_nodes_at_once() {
    let (a, b, op, _guard) = two_nodes();
    let s = space(&a, &op, "acme", Some(10_000));
    // 40 writers, half on each node, each wants 1,000 bytes: exactly ten may store.
    let stored = std::sync::atomic::AtomicU64::new(0);
    std::thread::scope(|sc| {
        for w in 0..40 {
            let (node, s, stored) = (if w % 2 == 0 { &a } else { &b }, &s, &stored);
            sc.spawn(move || {
                if let Ok(r) = node.reserve(s, 1000) {
                    node.object_stored(&s.id, &format!("k{w}"), &ObjectRecord::sized(1000))
                        .expect("stored");
                    stored.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                    drop(r);
                }
            });
        }
    });
    let (_, u) = b.usage(&op, &s.id).expect("usage");
    assert_eq!(stored.into_inner(), 10, "on {}", testing::which());
    assert_eq!((u.bytes, u.objects), (10_000, 10));
    assert_eq!(
        a.inner.repo.reserved(&s.id, a.now()).expect("reserved"),
        0,
        "every reservation released"
    );
}

#[test]
fn revocation_and_purges_reach_the_other_node_through_the_feed() {
    let (a, b, op, _guard) = two_nodes();
    let s = space(&a, &op, "acme", None);
    let k = read_write_key(&a, &op, &s);
    let ak = k.identity.access_key_id.clone();
    assert!(b.credential(&ak).expect("lookup").expect("known").identity.revoked_at.is_none());
    a.revoke_identity(&op, &ak).expect("revoke");
    // B still has the credential cached; the feed tells it to drop it.
    assert!(b.poll_changes().expect("poll").is_empty(), "cache drops are applied, not returned");
    assert!(b.credential(&ak).expect("lookup").expect("known").identity.revoked_at.is_some());
    a.announce(&ChangeKind::Purge {
        space_id: s.id.clone(),
        key: "releases/".into(),
        prefix: true,
    });
    a.announce(&ChangeKind::Repository { name: "tools".into() });
    assert_eq!(
        b.poll_changes().expect("poll"),
        vec![
            ChangeKind::Purge {
                space_id: s.id.clone(),
                key: "releases/".into(),
                prefix: true
            },
            ChangeKind::Repository { name: "tools".into() }
        ]
    );
    assert!(b.poll_changes().expect("poll").is_empty(), "each change once");
    assert!(a.poll_changes().expect("poll").is_empty(), "a node skips its own changes");
}

#[test]
fn master_key_rotation_reseals_everything_and_other_nodes_follow() {
    let (a, b, op, _guard) = two_nodes();
    let s = space(&a, &op, "acme", None);
    let k = read_write_key(&a, &op, &s);
    let ak = k.identity.access_key_id.clone();
    let old = a.key().clone();
    let new = MasterKey::generate();
    // B's key file already lists the new key (second); A rotates.
    assert!(b.use_master_key(
        MasterKey::parse(&format!("{}\n{}\n", old.to_hex(), new.to_hex())).expect("ring"),
        None
    ));
    let n = a.rotate_master_key(&op, old.rotated_to(&new)).expect("rotate");
    assert!(n >= 1, "the S3 secret at least");
    assert_eq!(a.master_key_fingerprint(), new.fingerprint());
    // Every stored secret opens under the new key alone now.
    for (_, _, sealed) in a.inner.repo.sealed_secrets().expect("secrets") {
        assert!(new.unseal(&sealed).is_ok());
        assert!(old.without_previous().unseal(&sealed).is_err());
    }
    assert_eq!(a.credential(&ak).expect("lookup").expect("known").secret, k.secret_access_key);
    let changes = b.poll_changes().expect("poll");
    assert_eq!(
        changes,
        vec![ChangeKind::MasterKey {
            fingerprint: new.fingerprint()
        }]
    );
    let ring = b.key().clone();
    assert!(b.use_master_key(ring, Some(&new.fingerprint())));
    assert_eq!(b.master_key_fingerprint(), new.fingerprint());
    assert_eq!(b.credential(&ak).expect("lookup").expect("known").secret, k.secret_access_key);
    // A ring that cannot open the secrets changes nothing.
    let stranger = MasterKey::generate();
    assert!(matches!(a.rotate_master_key(&op, stranger), Err(Error::Seal(_))));
    assert_eq!(a.credential(&ak).expect("lookup").expect("known").secret, k.secret_access_key);
}

#[test]
fn a_lease_has_one_holder_across_nodes() {
    let (a, b, _, _guard) = two_nodes();
    let l = a.try_lease("repo:tools", Duration::from_secs(60)).expect("db").expect("free");
    assert!(b.try_lease("repo:tools", Duration::from_secs(60)).expect("db").is_none());
    assert!(
        a.try_lease("repo:tools", Duration::from_secs(60)).expect("db").is_none(),
        "one holder, even on one node"
    );
    assert!(b.try_lease("repo:other", Duration::from_secs(60)).expect("db").is_some());
    assert!(block(l.renew(Duration::from_secs(60))).expect("db"), "the holder renews");
    drop(l);
    assert!(b.try_lease("repo:tools", Duration::from_secs(60)).expect("db").is_some());
    // An expired lease (its node died) can be taken.
    let stale = a.try_lease("repo:x", Duration::ZERO).expect("db").expect("free");
    let taken = b.try_lease("repo:x", Duration::from_secs(60)).expect("db").expect("expired");
    assert!(
        !block(stale.renew(Duration::from_secs(60))).expect("db"),
        "a lost lease is not renewed"
    );
    std::mem::forget(stale);
    assert!(a.try_lease("repo:x", Duration::from_secs(60)).expect("db").is_none());
    drop(taken);
    let _left = a.try_lease("repo:y", Duration::from_secs(60)).expect("db").expect("free");
    assert_eq!(a.clear_leases().expect("clear"), 1);
}

/// Runs an async method of the service from a plain test thread.
fn block<F: std::future::Future>(f: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
        .block_on(f)
}

/// The rule the executor exists for, checked: a synchronous database call on an async
/// runtime's thread panics in debug builds (the end-to-end suite runs them), while the same call
/// through `Control` runs on the executor.
#[cfg(debug_assertions)]
#[test]
fn a_database_call_on_a_runtime_thread_is_caught() {
    let (core, _) = control();
    let c = Control::new(core.repo_handle(), crate::seal::MasterKey::generate());
    block(async {
        let caught = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| c.core().all_spaces()));
        assert!(caught.is_err(), "a runtime thread called the database");
        assert!(c.all_spaces().await.is_ok(), "the async method runs it on the executor");
    });
}

/// The packages face reads repositories from memory: a lookup is remembered, and a change of the
/// repository or a disabled space drops the remembered copy at once on this node.
#[test]
fn repositories_are_remembered_until_they_change() {
    use crate::model::{Distribution, Repository, RepositoryConfig};
    let (c, op) = control();
    let _ = c.create_tenant(&op, "acme");
    let s = c
        .create_space(
            &op,
            NewSpace {
                tenant: Some("acme".into()),
                name: "debs".into(),
                purpose: Some(Purpose::Packages),
                visibility: None,
                quota_bytes: None,
                workspace_id: None,
            },
        )
        .expect("space");
    let config = RepositoryConfig {
        distributions: vec![Distribution {
            suite: "stable".into(),
            codename: "stable".into(),
        }],
        components: vec!["main".into()],
        architectures: vec!["amd64".into()],
        origin: "tools".into(),
        label: "tools".into(),
        description: String::new(),
        incoming_prefix: "incoming/tools/".into(),
        retain: 10,
        retain_grace_secs: 0,
        keep_versions: 1,
        uploaders: Vec::new(),
        signed_uploads: false,
        valid_until_days: None,
    };
    assert!(c.repository_public("tools").expect("lookup").is_none());
    assert!(c.repository_public_cached("tools").is_some(), "absence is remembered too");
    let draft = Repository {
        name: "tools".into(),
        tenant_id: String::new(),
        space_id: String::new(),
        config: config.clone(),
        public_key: String::new(),
        fingerprint: String::new(),
        created_by: String::new(),
        created_at: c.now(),
        next_public_key: None,
        next_fingerprint: None,
    };
    c.create_repository(&op, &s.id, draft, &c.seal(b"old key").expect("seal"))
        .expect("repository");
    assert!(
        c.repository_public_cached("tools").is_none(),
        "creating it drops the remembered absence"
    );
    let found = c.repository_public("tools").expect("lookup").expect("published");
    assert_eq!(found.config.retain, 10);
    assert_eq!(c.repository_public_cached("tools").flatten().map(|r| r.config.retain), Some(10));
    c.update_repository(&op, "tools", RepositoryConfig { retain: 3, ..config })
        .expect("update");
    assert!(c.repository_public_cached("tools").is_none(), "a change drops the remembered copy");
    assert_eq!(c.repository_public("tools").expect("lookup").map(|r| r.config.retain), Some(3));

    // A key rotation: the next key signs beside the current one until the old is retired.
    let keys = |c: &Core| c.repository_signing_keys("tools").expect("keys");
    assert_eq!(keys(&c), vec![b"old key".to_vec()]);
    assert!(
        matches!(c.retire_signing_key(&op, "tools"), Err(Error::Conflict(_))),
        "nothing to retire yet"
    );
    let sealed = c.seal(b"new key").expect("seal");
    let r = c.add_signing_key(&op, "tools", &sealed, "PUB", "FPR2").expect("add");
    assert_eq!(
        (r.next_fingerprint.as_deref(), r.next_public_key.as_deref()),
        (Some("FPR2"), Some("PUB"))
    );
    assert!(c.repository_public_cached("tools").is_none(), "the face's copy names the keys");
    assert_eq!(keys(&c), vec![b"old key".to_vec(), b"new key".to_vec()]);
    assert!(
        matches!(c.add_signing_key(&op, "tools", &sealed, "PUB3", "FPR3"), Err(Error::Conflict(_))),
        "one rotation at a time"
    );
    let r = c.retire_signing_key(&op, "tools").expect("retire");
    assert_eq!(
        (r.fingerprint.as_str(), r.public_key.as_str(), r.next_fingerprint),
        ("FPR2", "PUB", None)
    );
    assert_eq!(keys(&c), vec![b"new key".to_vec()]);
    let ops: Vec<String> = c
        .audit_events(&op, AuditFilter::default())
        .expect("audit")
        .into_iter()
        .map(|e| e.event.operation)
        .collect();
    assert!(
        ops.contains(&"repo.key-added".to_owned()) && ops.contains(&"repo.key-retired".to_owned()),
        "{ops:?}"
    );

    c.disable_space(&op, &s.id).expect("disable");
    assert!(
        c.repository_public("tools").expect("lookup").is_none(),
        "a disabled space serves no repository"
    );
}

/// A completed upload is remembered for its own space and key, for an hour by the service's
/// clock, so a retried completion gets the same answer; the feed's pruning then forgets it.
#[test]
fn completed_uploads_are_remembered_for_an_hour() {
    let clock = crate::clock::ManualClock::new();
    let (c, op) = control_on(clock.clone());
    let s = space(&c, &op, "acme", None);
    c.upload_started("up1", &s.id, "big.bin", "id_x", &UploadExtras::default())
        .expect("started");
    c.upload_completed("up1", "abc-2").expect("completed");
    assert!(
        c.upload("up1", &s.id, "big.bin").expect("upload").is_none(),
        "no longer in progress"
    );
    assert_eq!(
        c.completed_upload("up1", &s.id, "big.bin").expect("lookup").as_deref(),
        Some("abc-2")
    );
    assert_eq!(c.completed_upload("up1", &s.id, "other.bin").expect("lookup"), None, "another key");
    assert_eq!(
        c.completed_upload("up1", "sp_other", "big.bin").expect("lookup"),
        None,
        "another space"
    );
    let prune = || {
        let t = c.now();
        c.inner.repo.prune(t - CHANGE_HISTORY, t).expect("prune")
    };
    clock.advance(Duration::from_secs(59 * 60));
    prune();
    assert!(
        c.completed_upload("up1", &s.id, "big.bin").expect("lookup").is_some(),
        "kept within the hour"
    );
    clock.advance(Duration::from_secs(2 * 60));
    prune();
    assert_eq!(
        c.completed_upload("up1", &s.id, "big.bin").expect("lookup"),
        None,
        "forgotten after it"
    );
}

/// The version index keeps usage exact through every change S3 can make to a key's versions:
/// writes that keep the current version, markers, a suspended space's `null` version, removing
/// a noncurrent version, and removing the current one (the next becomes current).
#[test]
fn versions_keep_usage_exact() {
    use crate::db::{Preserved, VersionChange};
    use crate::model::Versioning;
    let (c, op) = control();
    let s = space(&c, &op, "acme", None);
    let kept = |name: &str, size: u64| {
        Some(Preserved {
            store_name: name.into(),
            size,
            etag: "e".into(),
            modified: c.now(),
        })
    };
    let write = |size: u64, id: &str, preserve: Option<Preserved>, drop_null: bool| {
        let rec = ObjectRecord {
            version_id: Some(id.into()),
            ..ObjectRecord::sized(size)
        };
        c.change_versions(
            &s.id,
            "k",
            &VersionChange {
                preserve,
                drop_null,
                marker: None,
                current: Some(rec),
            },
        )
        .expect("change")
    };
    let usage = || {
        let u = c.inner.repo.usage(&s.id).expect("usage");
        (u.bytes, u.objects, u.noncurrent_bytes, u.noncurrent_objects, u.delete_markers)
    };
    assert!(
        c.set_versioning(&op, &s.id, Versioning::Unversioned).is_ok(),
        "staying unversioned is no change"
    );
    c.set_versioning(&op, &s.id, Versioning::Enabled).expect("enable");
    write(10, "v1", None, false);
    write(20, "v2", kept("s1", 10), false);
    write(30, "v3", kept("s2", 20), false);
    assert_eq!(usage(), (30, 1, 30, 2, 0));
    // A delete marker on top: the current version is kept, the key has no current one.
    let freed = c
        .change_versions(
            &s.id,
            "k",
            &VersionChange {
                preserve: kept("s3", 30),
                marker: Some("m1".into()),
                ..VersionChange::default()
            },
        )
        .expect("marker");
    assert!(freed.is_empty());
    assert_eq!(usage(), (0, 0, 60, 3, 1));
    assert!(c.current_version(&s.id, "k").expect("db").is_none());
    let newest = c.newest_noncurrent(&s.id, "k").expect("db").expect("marker");
    assert!(newest.delete_marker && newest.version_id == "m1");
    // Removing the marker for good; then v3 comes back by promotion.
    c.remove_noncurrent(&s.id, "k", "m1").expect("remove");
    assert_eq!(usage(), (0, 0, 60, 3, 0));
    c.promote(&s.id, "k", "gone", Some("v3")).expect("promote");
    assert_eq!(usage(), (30, 1, 30, 2, 0));
    let cur = c.current_version(&s.id, "k").expect("db").expect("current");
    assert_eq!((cur.version_id.as_str(), cur.size), ("v3", 30));
    // Suspended: the null version replaces itself and stays single.
    c.set_versioning(&op, &s.id, Versioning::Suspended).expect("suspend");
    assert!(c.set_versioning(&op, &s.id, Versioning::Unversioned).is_err(), "no way back");
    write(5, "null", kept("s4", 30), true);
    assert_eq!(usage(), (5, 1, 60, 3, 0));
    let freed = write(7, "null", None, true);
    assert!(freed.is_empty(), "a current null version is overwritten in place");
    assert_eq!(usage(), (7, 1, 60, 3, 0));
    // A noncurrent null version is replaced, its bytes named for deletion.
    write(9, "v9", kept("s5", 7), false);
    let freed = write(4, "null", kept("s6", 9), true);
    assert_eq!(freed, vec!["s5".to_owned()]);
    assert_eq!(usage(), (4, 1, 69, 4, 0));
    // Listing: the current version first, then the rest newest first.
    let page = c
        .list_versions(
            &s.id,
            &crate::VersionQuery {
                max: 1000,
                ..Default::default()
            },
        )
        .expect("list");
    let ids: Vec<_> = page
        .out
        .iter()
        .map(|l| match l {
            crate::versioning::Listed::Version(r, latest) => format!("{}{}", r.version_id, if *latest { "*" } else { "" }),
            crate::versioning::Listed::Prefix(p) => p.clone(),
        })
        .collect();
    assert_eq!(ids, ["null*", "v9", "v3", "v2", "v1"].map(String::from));
    // Reconciliation's recount agrees with the running figures.
    let before = usage();
    c.forget_versions(&s.id, &[]).expect("recount");
    assert_eq!(usage(), before);
}

/// Object lock in the index: the configuration needs versioning enabled and keeps it enabled;
/// a version's lock travels with it from current to noncurrent and back; it can be changed
/// on either; repository spaces refuse it.
#[test]
fn object_lock_is_kept_with_each_version() {
    use crate::db::{Preserved, VersionChange};
    use crate::lock::{LockConfig, ObjectLock, Retention, RetentionMode, WriteOnce};
    use crate::model::Versioning;
    let (c, op) = control();
    let s = space(&c, &op, "acme", None);
    let cfg = LockConfig {
        default_retention: None,
        write_once: vec![WriteOnce {
            prefix: "releases/".into(),
            mode: RetentionMode::Compliance,
            days: Some(30),
        }],
    };
    assert!(matches!(c.set_object_lock(&op, &s.id, &cfg), Err(Error::Conflict(m)) if m.starts_with("InvalidBucketState")));
    c.set_versioning(&op, &s.id, Versioning::Enabled).expect("enable");
    let locked = c.set_object_lock(&op, &s.id, &cfg).expect("lock");
    assert_eq!(locked.object_lock.as_ref(), Some(&cfg));
    assert!(matches!(
        c.set_versioning(&op, &s.id, Versioning::Suspended),
        Err(Error::Conflict(_))
    ));
    let bad = LockConfig {
        write_once: vec![WriteOnce {
            prefix: "../".into(),
            mode: RetentionMode::Governance,
            days: None,
        }],
        ..LockConfig::default()
    };
    assert!(matches!(c.set_object_lock(&op, &s.id, &bad), Err(Error::Invalid(_))));
    let lock = ObjectLock {
        retention: Some(Retention {
            mode: RetentionMode::Governance,
            until: (c.now() + time::Duration::days(3)).replace_nanosecond(0).expect("0 ns"),
        }),
        legal_hold: false,
    };
    let rec = ObjectRecord {
        version_id: Some("v1".into()),
        lock,
        ..ObjectRecord::sized(10)
    };
    let change = VersionChange {
        current: Some(rec),
        ..VersionChange::default()
    };
    c.change_versions(&s.id, "k", &change).expect("write");
    assert_eq!(c.current_version(&s.id, "k").expect("db").map(|r| r.lock), Some(lock));
    // Kept as noncurrent by the next write: its lock goes with it.
    let next = VersionChange {
        preserve: Some(Preserved {
            store_name: "s1".into(),
            size: 10,
            etag: "e".into(),
            modified: c.now(),
        }),
        current: Some(ObjectRecord {
            version_id: Some("v2".into()),
            ..ObjectRecord::sized(5)
        }),
        ..VersionChange::default()
    };
    c.change_versions(&s.id, "k", &next).expect("second write");
    assert_eq!(c.object_version(&s.id, "k", "v1").expect("db").map(|r| r.lock), Some(lock));
    assert!(c.current_version(&s.id, "k").expect("db").is_some_and(|r| r.lock.is_empty()));
    let held = ObjectLock { legal_hold: true, ..lock };
    assert!(c.set_version_lock(&s.id, "k", "v1", &held).expect("set noncurrent"));
    assert!(c.set_version_lock(&s.id, "k", "v2", &held).expect("set current"));
    assert!(!c.set_version_lock(&s.id, "k", "nope", &held).expect("absent"));
    assert_eq!(c.object_version(&s.id, "k", "v1").expect("db").map(|r| r.lock), Some(held));
    // Back to current by promotion, lock and all.
    c.promote(&s.id, "k", "v2", Some("v1")).expect("promote");
    assert_eq!(c.current_version(&s.id, "k").expect("db").map(|r| r.lock), Some(held));
    // A packages space never takes object lock.
    let n = NewSpace {
        tenant: Some("acme".into()),
        name: "debs".into(),
        purpose: Some(crate::model::Purpose::Packages),
        visibility: None,
        quota_bytes: None,
        workspace_id: None,
    };
    let pk = c.create_space(&op, n).expect("packages space");
    c.set_versioning(&op, &pk.id, Versioning::Enabled).expect("enable");
    assert!(matches!(
        c.set_object_lock(&op, &pk.id, &LockConfig::default()),
        Err(Error::Invalid(_))
    ));
}
