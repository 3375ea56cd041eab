//! Quota reservations, object and multipart accounting.

use super::*;

impl Core {
    /// Reserves `bytes` against the space's quota before any byte is accepted; counts stored
    /// objects, parts of uploads in progress and other reservations.
    ///
    /// # Errors
    /// [`Error::QuotaExceeded`].
    pub fn reserve(&self, space: &Space, bytes: u64) -> Result<Reservation> {
        // The quota is read fresh: a change made through the API applies to the next upload.
        let quota = self.inner.repo.space(&space.id)?.and_then(|s| s.quota_bytes);
        let id = match quota {
            Some(q) => {
                let t = self.now();
                let r = ReservationRecord {
                    id: new_id("rsv_"),
                    space_id: space.id.clone(),
                    bytes,
                    expires_at: t + RESERVATION_LIFETIME,
                    node: self.inner.node.clone(),
                };
                // Checked and stored in one transaction under the space's lock, so writers on
                // several nodes cannot together pass the quota.
                self.inner.repo.reserve(&r, q, t)?;
                Some(r.id)
            }
            None => None,
        };
        Ok(Reservation {
            inner: self.inner.clone(),
            id,
            space_id: space.id.clone(),
            bytes,
        })
    }

    /// Records a stored object (after the store committed it), replacing what was recorded
    /// under its key: size, part sizes and tags.
    ///
    /// # Errors
    /// Database errors.
    pub fn object_stored(&self, space_id: &str, key: &str, rec: &ObjectRecord) -> Result<()> {
        self.inner.repo.record_object(space_id, key, rec).map(|_| ())
    }

    /// A recorded object's checksum ([`ObjectRecord::checksum`]).
    ///
    /// # Errors
    /// Database errors.
    pub fn object_checksum(&self, space_id: &str, key: &str) -> Result<Option<String>> {
        self.inner.repo.object_checksum(space_id, key)
    }

    /// A recorded object's tags; `None` when the object is not recorded.
    ///
    /// # Errors
    /// Database errors.
    pub fn object_tags(&self, space_id: &str, key: &str) -> Result<Option<TagSet>> {
        Ok(self.inner.repo.object_tags(space_id, key)?.map(|t| TagSet::decode(t.as_deref())))
    }

    /// Replaces a recorded object's tags.
    ///
    /// # Errors
    /// [`Error::NotFound`] when the object is not recorded; database errors.
    pub fn set_object_tags(&self, space_id: &str, key: &str, tags: &TagSet) -> Result<()> {
        if self.inner.repo.set_object_tags(space_id, key, tags.stored().as_deref())? {
            Ok(())
        } else {
            Err(Error::NotFound("object"))
        }
    }

    /// The part sizes of an object completed from parts, as recorded at completion.
    ///
    /// # Errors
    /// Database errors.
    pub fn object_parts(&self, space_id: &str, key: &str) -> Result<Option<Vec<u64>>> {
        self.inner.repo.object_parts(space_id, key)
    }

    /// Records a deleted object.
    ///
    /// # Errors
    /// Database errors.
    pub fn object_deleted(&self, space_id: &str, key: &str) -> Result<()> {
        self.inner.repo.remove_object(space_id, key).map(|_| ())
    }

    /// Records the bytes a repository's published data takes (the publisher measures them after
    /// each change); they count against the repository's space.
    ///
    /// # Errors
    /// [`Error::NotFound`], database errors.
    pub fn repository_published(&self, name: &str, bytes: u64) -> Result<()> {
        self.inner.repo.set_published_bytes(name, bytes)
    }

    /// Records many deleted objects at once (one transaction).
    ///
    /// # Errors
    /// Database errors.
    pub fn objects_deleted(&self, space_id: &str, keys: &[String]) -> Result<()> {
        self.inner.repo.remove_objects(space_id, keys)
    }

    /// Registers a multipart upload the store started.
    ///
    /// # Errors
    /// Database errors.
    pub fn upload_started(&self, upload_id: &str, space_id: &str, key: &str, identity_id: &str, extras: &UploadExtras) -> Result<()> {
        self.inner.repo.insert_upload(&UploadRecord {
            upload_id: upload_id.to_owned(),
            space_id: space_id.to_owned(),
            key: key.to_owned(),
            identity_id: identity_id.to_owned(),
            initiated: self.now(),
            tags: extras.tags.stored(),
            checksum_algorithm: extras.checksum_algorithm.clone(),
            lock: extras.lock,
        })
    }

    /// An upload of this space and key, if it is in progress.
    ///
    /// # Errors
    /// Database errors.
    pub fn upload(&self, upload_id: &str, space_id: &str, key: &str) -> Result<Option<UploadRecord>> {
        Ok(self
            .inner
            .repo
            .upload(upload_id)?
            .filter(|u| u.space_id == space_id && u.key == key))
    }

    /// Records a stored part.
    ///
    /// # Errors
    /// Database errors.
    pub fn part_stored(&self, upload_id: &str, part: &PartRecord) -> Result<()> {
        self.inner.repo.record_part(upload_id, part)
    }

    /// Parts of an upload.
    ///
    /// # Errors
    /// Database errors.
    pub fn parts(&self, upload_id: &str) -> Result<Vec<PartRecord>> {
        self.inner.repo.parts(upload_id)
    }

    /// Checks, before completion, that the object the parts form fits the quota: parts already
    /// count, so this fails only if the quota was lowered while the upload ran.
    ///
    /// # Errors
    /// [`Error::QuotaExceeded`].
    pub fn check_completion(&self, space: &Space, upload_id: &str, key: &str, final_size: u64) -> Result<()> {
        let Some(q) = self.inner.repo.space(&space.id)?.and_then(|s| s.quota_bytes) else {
            return Ok(());
        };
        let u = self.inner.repo.usage(&space.id)?;
        let own_parts: u64 = self.inner.repo.parts(upload_id)?.iter().map(|p| p.size).sum();
        let replaced = self.inner.repo.object_size(&space.id, key)?.unwrap_or(0);
        let reserved = self.inner.repo.reserved(&space.id, self.now())?;
        let after = u.counted() - replaced.min(u.bytes) - own_parts.min(u.multipart_bytes) + reserved + final_size;
        if after > q {
            return Err(Error::QuotaExceeded {
                used: after - final_size,
                quota: q,
                requested: final_size,
            });
        }
        Ok(())
    }

    /// Forgets an upload (completed or aborted).
    ///
    /// # Errors
    /// Database errors.
    pub fn upload_finished(&self, upload_id: &str) -> Result<()> {
        self.inner.repo.remove_upload(upload_id)
    }

    /// Forgets a completed upload's parts and remembers, for an hour, that it completed as
    /// `etag`.
    ///
    /// # Errors
    /// Database errors.
    pub fn upload_completed(&self, upload_id: &str, etag: &str) -> Result<()> {
        self.inner.repo.complete_upload(upload_id, etag, self.now())
    }

    /// The ETag an upload of this space and key completed as, if it completed lately: a
    /// client that lost the answer and asks again gets the same one.
    ///
    /// # Errors
    /// Database errors.
    pub fn completed_upload(&self, upload_id: &str, space_id: &str, key: &str) -> Result<Option<String>> {
        Ok(self
            .inner
            .repo
            .completed_upload(upload_id)?
            .filter(|(s, k, _)| s == space_id && k == key)
            .map(|(_, _, etag)| etag))
    }

    /// Uploads in progress in a space under a prefix.
    ///
    /// # Errors
    /// Database errors.
    pub fn list_uploads(&self, space_id: &str, prefix: &str) -> Result<Vec<UploadRecord>> {
        self.inner.repo.list_uploads(space_id, prefix)
    }

    // ---- audit ----
}
