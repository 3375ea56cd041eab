//! The master key: its fingerprint, rotation (resealing every secret) and following another node's rotation.

use super::*;

impl Core {
    pub(super) fn key(&self) -> std::sync::RwLockReadGuard<'_, MasterKey> {
        self.inner.key.read().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The fingerprint of the key that seals now.
    #[must_use]
    pub fn master_key_fingerprint(&self) -> String {
        self.key().fingerprint()
    }

    /// Rotates the master key without downtime: `ring` (the new key first, the old ones after
    /// it, as [`MasterKey::rotated_to`] makes) replaces this node's key, every stored secret
    /// (S3 secrets, repository signing keys, registry secrets) is re-sealed under the new key in
    /// one transaction, and the other nodes are told to switch to it (their key files must list
    /// it). Returns how many secrets were re-sealed.
    ///
    /// # Errors
    /// [`Error::Seal`] if a secret opens under no key of `ring` (nothing is changed then);
    /// database errors (nothing is changed either).
    pub fn rotate_master_key(&self, p: &AdminPrincipal, ring: MasterKey) -> Result<usize> {
        require(p, AdminAction::ManageMasterKey, Target::Installation, "installation")?;
        let rows = self.inner.repo.sealed_secrets()?;
        let mut resealed: Vec<(SealedTable, String, Vec<u8>)> = Vec::with_capacity(rows.len());
        for (table, id, sealed) in rows {
            let plain = ring.unseal(&sealed)?;
            resealed.push((table, id, ring.seal(&plain)?));
        }
        // The ring opens old and new secrets alike, so this node reads everything whether or
        // not the re-seal below commits.
        let fingerprint = ring.fingerprint();
        *self.inner.key.write().unwrap_or_else(std::sync::PoisonError::into_inner) = ring;
        self.inner.repo.reseal(&resealed)?;
        self.clear_caches();
        self.announce(&ChangeKind::MasterKey {
            fingerprint: fingerprint.clone(),
        });
        self.audit_security(
            p,
            None,
            None,
            None,
            "master_key.rotated",
            Some(format!("fingerprint={fingerprint} resealed={}", resealed.len())),
        );
        Ok(resealed.len())
    }

    /// Replaces this node's key ring (a re-read key file), promoting the key named by
    /// `fingerprint` to seal, if given and present. Returns whether the ring now seals with
    /// that key.
    pub fn use_master_key(&self, ring: MasterKey, fingerprint: Option<&str>) -> bool {
        let (ring, sealing) = match fingerprint.map(|fp| ring.promoted(fp)) {
            Some(Some(promoted)) => (promoted, true),
            Some(None) => (ring, false),
            None => (ring, true),
        };
        *self.inner.key.write().unwrap_or_else(std::sync::PoisonError::into_inner) = ring;
        self.clear_caches();
        sealing
    }
}
