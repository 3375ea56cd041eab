//! Leases, reconciliation input, reservations across nodes, and the change feed between nodes.

use super::*;

impl Core {
    /// Takes a cluster-wide lease (one holder at a time across every node) for `ttl`, unless
    /// another holder has it. Dropping the lease releases it; a node that dies loses it after
    /// `ttl`.
    ///
    /// # Errors
    /// Database errors.
    pub fn try_lease(&self, name: &str, ttl: Duration) -> Result<Option<Lease>> {
        let holder = format!("{}:{}", self.inner.node, new_id(""));
        let t = self.now();
        Ok(self.inner.repo.try_lease(name, &holder, t, lease_end(t, ttl))?.then(|| Lease {
            inner: self.inner.clone(),
            name: name.to_owned(),
            holder,
        }))
    }

    /// Drops every lease: for a single node's start (SQLite), where a lease can only be left
    /// over from this node's previous, killed process.
    ///
    /// # Errors
    /// Database errors.
    pub fn clear_leases(&self) -> Result<u64> {
        self.inner.repo.clear_leases()
    }

    /// Every space of every tenant, for maintenance passes (reconciliation).
    ///
    /// # Errors
    /// Database errors.
    pub fn all_spaces(&self) -> Result<Vec<Space>> {
        self.inner.repo.list_spaces(None)
    }

    /// Every package repository of every tenant, for maintenance passes (reconciliation).
    ///
    /// # Errors
    /// Database errors.
    pub fn all_repositories(&self) -> Result<Vec<Repository>> {
        self.inner.repo.list_repositories(None)
    }

    /// Replaces a space's object list and usage with what the store holds (`entries`: keys in
    /// the space's own namespace and their sizes), and its uploads in progress with the store's
    /// (`uploads`: upload id and the parts the store holds, for the uploads this space knows and
    /// the store still has); returns the usage before and after. For `rustshare admin reconcile`
    /// and a single node's start after an unclean stop, when a crash fell between a store write
    /// and its accounting: an upload the store completed or dropped is forgotten, and parts the
    /// store kept count.
    ///
    /// # Errors
    /// Database errors.
    pub fn reconcile_space(
        &self,
        space_id: &str,
        entries: &[(String, u64)],
        uploads: &[(String, Vec<PartRecord>)],
    ) -> Result<(Usage, Usage)> {
        let before = self.inner.repo.usage(space_id)?;
        self.inner.repo.replace_objects(space_id, entries)?;
        let in_store: HashMap<&str, &Vec<PartRecord>> = uploads.iter().map(|(id, parts)| (id.as_str(), parts)).collect();
        for u in self.inner.repo.list_uploads(space_id, "")? {
            match in_store.get(u.upload_id.as_str()) {
                None => self.inner.repo.remove_upload(&u.upload_id)?,
                Some(parts) => {
                    // The store knows no part checksums: compare what it does know.
                    let known = |p: &PartRecord| (p.part_number, p.size, p.etag.clone());
                    let recorded: Vec<_> = self.inner.repo.parts(&u.upload_id)?.iter().map(known).collect();
                    if recorded != parts.iter().map(known).collect::<Vec<_>>() {
                        self.inner.repo.replace_parts(&u.upload_id, parts)?;
                    }
                }
            }
        }
        let after = self.inner.repo.usage(space_id)?;
        Ok((before, after))
    }

    /// Drops every quota reservation: for a single node's start (SQLite), where a reservation
    /// can only be left over from this node's previous, killed process.
    ///
    /// # Errors
    /// Database errors.
    pub fn clear_reservations(&self) -> Result<u64> {
        self.inner.repo.clear_reservations()
    }

    /// Keeps this node's reservations alive for another [`RESERVATION_LIFETIME`] from `at`.
    ///
    /// # Errors
    /// Database errors.
    pub fn renew_reservations(&self, at: OffsetDateTime) -> Result<u64> {
        self.inner.repo.renew_reservations(&self.inner.node, at + RESERVATION_LIFETIME)
    }

    /// Tells every other node of a change (this node has applied it already); stored before
    /// this returns.
    pub fn announce(&self, change: &ChangeKind) {
        add_change(&*self.inner.repo, &self.inner.node, self.now(), change);
    }

    /// [`Core::announce`] off the caller's path: the background writer stores it within
    /// milliseconds, in order with the others. For request paths (every S3 write drops cached
    /// copies), where a database round trip per request would be paid by the client.
    pub fn announce_soon(&self, change: ChangeKind) {
        let tx = self.inner.audit_tx.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if tx.send(AuditMsg::Change(self.now(), change)).is_err() {
            tracing::error!("the background writer has stopped; a change for other nodes was lost");
        }
    }

    /// The newest change this node has read from the feed (its own included).
    #[must_use]
    pub fn feed_position(&self) -> i64 {
        self.inner.feed.lock().unwrap_or_else(std::sync::PoisonError::into_inner).0
    }

    /// Applies the other nodes' changes made since the last call: cached credentials and sites
    /// are dropped here; purges and repository switches are returned for the edge's own caches.
    /// Every node calls this a few times a second.
    ///
    /// # Errors
    /// Database errors (the next call picks up where this one failed).
    pub fn poll_changes(&self) -> Result<Vec<ChangeKind>> {
        let mut feed = self.inner.feed.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let mut out = Vec::new();
        loop {
            let batch = self.inner.repo.changes_after(feed.0, 1000)?;
            let Some(last) = batch.last() else { break };
            feed.0 = last.seq;
            let full = batch.len() == 1000;
            for c in batch {
                if c.origin == self.inner.node {
                    continue;
                }
                match ChangeKind::from_row(c) {
                    Some(ChangeKind::Caches) => self.clear_caches(),
                    Some(other) => out.push(other),
                    None => {}
                }
            }
            if !full {
                break;
            }
        }
        if self.inner.age(feed.2) >= RESERVATION_RENEW {
            feed.2 = self.inner.clock.now();
            if let Err(e) = self.renew_reservations(self.now()) {
                tracing::warn!("renewing quota reservations: {e}");
            }
        }
        if self.inner.age(feed.1) > Duration::from_secs(60) {
            feed.1 = self.inner.clock.now();
            let t = self.now();
            if let Err(e) = self.inner.repo.prune(t - CHANGE_HISTORY, t) {
                tracing::warn!("pruning the change feed: {e}");
            }
        }
        Ok(out)
    }
}
