//! Conditional writes: `If-None-Match` and `If-Match` on PutObject and CompleteMultipartUpload,
//! as S3 answers them (Terraform's S3 backend takes its state lock with `If-None-Match: *`).
//!
//! [`decide`] is the pure rule. [`lock`] makes "check, then write" one step for conditional
//! writers of a key on every node: it holds a cluster lease named after the space and key from
//! before the check until the write is accounted, renewing it while a large body streams. A
//! second conditional writer meanwhile is answered 409 ConditionalRequestConflict, as S3 does;
//! clients retry it. Unconditional writes take no lease (they would pay a database write each),
//! so they are ordered only by the store.

use std::time::Duration;

use rustshare_control::{Control, HeldLease};
use s3s::dto::ETagCondition;
use s3s::{S3Error, S3ErrorCode, S3Result};

/// Why a conditional write is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Refusal {
    /// 412: the object's state is not the one the condition names.
    PreconditionFailed,
    /// 404: `If-Match` names an object that does not exist.
    NoSuchKey,
}

impl From<Refusal> for S3Error {
    fn from(r: Refusal) -> Self {
        match r {
            Refusal::PreconditionFailed => S3Error::with_message(
                S3ErrorCode::PreconditionFailed,
                "At least one of the pre-conditions you specified did not hold.",
            ),
            Refusal::NoSuchKey => S3Error::with_message(S3ErrorCode::NoSuchKey, "The specified key does not exist."),
        }
    }
}

/// Whether `c` (from If-Match or If-None-Match) names the stored ETag `current`. Compared by
/// value, as S3 does for both headers (a weak and a strong tag of the same value match).
pub(crate) fn etag_matches(c: &ETagCondition, current: &str) -> bool {
    match c {
        ETagCondition::Any => true,
        ETagCondition::ETag(e) => e.value().trim_matches('"') == current.trim_matches('"'),
    }
}

/// Whether a write may replace `current` (the stored object's ETag, `None` when there is none).
///
/// # Errors
/// The [`Refusal`] S3 answers.
pub(crate) fn decide(
    current: Option<&str>,
    if_match: Option<&ETagCondition>,
    if_none_match: Option<&ETagCondition>,
) -> Result<(), Refusal> {
    if let Some(c) = if_match {
        match current {
            None => return Err(Refusal::NoSuchKey),
            Some(cur) if !etag_matches(c, cur) => return Err(Refusal::PreconditionFailed),
            Some(_) => {}
        }
    }
    if let Some(c) = if_none_match
        && current.is_some_and(|cur| etag_matches(c, cur))
    {
        return Err(Refusal::PreconditionFailed);
    }
    Ok(())
}

/// How long a lease lives without renewal: a node that dies holding one frees the key this
/// much later.
const LEASE: Duration = Duration::from_mins(1);

/// Held while a conditional write checks and writes; dropping it releases the key.
pub(crate) type Guard = HeldLease;

/// Takes the key of `space_id` for one conditional writer.
///
/// # Errors
/// 409 ConditionalRequestConflict while another conditional write of the key is in progress;
/// 503 when the database cannot be asked.
pub(crate) async fn lock(control: &Control, space_id: &str, key: &str) -> S3Result<Guard> {
    take(control, space_id, key).await?.ok_or_else(|| {
        S3Error::with_message(
            S3ErrorCode::ConditionalRequestConflict,
            "A conflicting conditional operation is currently in progress against this resource. Please try again.",
        )
    })
}

/// One try at the key's lease: `None` while another writer holds it.
async fn take(control: &Control, space_id: &str, key: &str) -> S3Result<Option<Guard>> {
    let name = rustshare_control::versioning::key_lease(space_id, key);
    let lease = control.try_lease(&name, LEASE).await.map_err(|e| {
        tracing::error!("write lease: {e}");
        S3Error::with_message(S3ErrorCode::ServiceUnavailable, "Please reduce your request rate.")
    })?;
    Ok(lease.map(|l| l.hold(LEASE)))
}

/// How long a write to a versioned space waits for another write of the same key.
const WAIT: Duration = Duration::from_mins(1);

/// Takes the key of `space_id` for a write to a versioned space, waiting while another write of
/// the key (versioned or conditional) holds it: keeping the current version and replacing it
/// must be one step, or two writers would keep the same version twice.
///
/// # Errors
/// 503 SlowDown when the key stays taken for [`WAIT`] or the database cannot be asked.
pub(crate) async fn lock_waiting(control: &Control, space_id: &str, key: &str) -> S3Result<Guard> {
    let started = tokio::time::Instant::now();
    let mut pause = Duration::from_millis(5);
    loop {
        if let Some(g) = take(control, space_id, key).await? {
            return Ok(g);
        }
        if started.elapsed() > WAIT {
            return Err(S3Error::with_message(
                S3ErrorCode::SlowDown,
                "Another write of this key has been in progress for a minute; retry.",
            ));
        }
        tokio::time::sleep(pause).await;
        pause = (pause * 2).min(Duration::from_millis(200));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use s3s::dto::ETag;

    fn tag(s: &str) -> ETagCondition {
        ETagCondition::ETag(ETag::Strong(s.to_owned()))
    }

    /// (stored ETag, If-Match, If-None-Match, answer)
    type Case<'a> = (
        Option<&'a str>,
        Option<&'a ETagCondition>,
        Option<&'a ETagCondition>,
        Result<(), Refusal>,
    );

    #[test]
    fn conditions_decide_as_s3_does() {
        let any = ETagCondition::Any;
        let cases: &[Case<'_>] = &[
            // Create only: a lock file.
            (None, None, Some(&any), Ok(())),
            (Some("abc"), None, Some(&any), Err(Refusal::PreconditionFailed)),
            // Replace only what was read.
            (Some("abc"), Some(&tag("abc")), None, Ok(())),
            (Some("\"abc\""), Some(&tag("abc")), None, Ok(())),
            (Some("abd"), Some(&tag("abc")), None, Err(Refusal::PreconditionFailed)),
            (None, Some(&tag("abc")), None, Err(Refusal::NoSuchKey)),
            (None, Some(&any), None, Err(Refusal::NoSuchKey)),
            (Some("x"), Some(&any), None, Ok(())),
            // Not over this version.
            (Some("abc"), None, Some(&tag("abc")), Err(Refusal::PreconditionFailed)),
            (Some("abd"), None, Some(&tag("abc")), Ok(())),
            (None, None, Some(&tag("abc")), Ok(())),
            // No condition.
            (None, None, None, Ok(())),
            (Some("abc"), None, None, Ok(())),
        ];
        for (current, m, nm, want) in cases {
            assert_eq!(
                decide(*current, *m, *nm),
                *want,
                "current {current:?} if-match {m:?} if-none-match {nm:?}"
            );
        }
    }
}
