//! A PUT body of unknown length (`Transfer-Encoding: chunked`, no Content-Length, no
//! `x-amz-decoded-content-length`): the quota is reserved as the bytes arrive instead of
//! before, in steps, so the refusal comes when the bytes received pass what the space may still
//! take, and writers on other nodes see every step. The store then never commits a body that
//! went over: the stream fails before its last bytes.

use std::sync::{Arc, Mutex};

use futures::StreamExt;
use rustshare_control::model::Space;
use rustshare_control::{Control, Reservation};
use rustshare_store::ByteStream;

use super::verify::VerifyError;

/// Reserved at a time while the body streams: few database round trips per upload.
const STEP: u64 = 8 * 1024 * 1024;

/// The reservations a metered body took; released once the object is accounted.
#[derive(Default, Clone)]
pub(super) struct Held(Arc<Mutex<Vec<Reservation>>>);

impl Held {
    /// Releases every reservation and waits until the space no longer counts them.
    pub(super) async fn release(self) {
        let all = std::mem::take(&mut *self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner));
        for r in all {
            r.release().await;
        }
    }

    fn push(&self, r: Reservation) {
        self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner).push(r);
    }
}

/// What to reserve next when `seen` bytes have arrived and `reserved` are reserved: a whole
/// step when it fits under `max`, else exactly what is missing. `None` while enough is held.
fn next_step(seen: u64, reserved: u64, max: u64) -> Option<(u64, u64)> {
    let need = seen.checked_sub(reserved).filter(|n| *n > 0)?;
    let step = need.max(STEP).min(max.saturating_sub(reserved)).max(need);
    Some((step, need))
}

struct State {
    inner: ByteStream,
    control: Control,
    space: Space,
    max: u64,
    seen: u64,
    reserved: u64,
    held: Held,
    failed: bool,
}

/// `body`, failing with [`VerifyError::OverQuota`] when the space cannot take the bytes
/// received so far, and with [`VerifyError::TooLarge`] beyond `max` bytes.
pub(super) fn metered(body: ByteStream, control: Control, space: Space, max: u64) -> (ByteStream, Held) {
    let held = Held::default();
    let state = State {
        inner: body,
        control,
        space,
        max,
        seen: 0,
        reserved: 0,
        held: held.clone(),
        failed: false,
    };
    let stream = futures::stream::unfold(state, |mut st| async move {
        if st.failed {
            return None;
        }
        let chunk = match st.inner.next().await? {
            Ok(c) => c,
            Err(e) => return Some((Err(e), st)),
        };
        st.seen += chunk.len() as u64;
        if st.seen > st.max {
            st.failed = true;
            return Some((Err(std::io::Error::other(VerifyError::TooLarge)), st));
        }
        if let Some((step, need)) = next_step(st.seen, st.reserved, st.max) {
            let mut asked = step;
            let mut got = st.control.reserve(&st.space, step).await;
            if step > need && matches!(got, Err(rustshare_control::Error::QuotaExceeded { .. })) {
                asked = need;
                got = st.control.reserve(&st.space, need).await;
            }
            match got {
                Ok(r) => {
                    st.reserved += asked;
                    st.held.push(r);
                }
                Err(rustshare_control::Error::QuotaExceeded { quota, .. }) => {
                    st.failed = true;
                    return Some((Err(std::io::Error::other(VerifyError::OverQuota(quota))), st));
                }
                Err(e) => {
                    st.failed = true;
                    return Some((Err(std::io::Error::other(e)), st));
                }
            }
        }
        Some((Ok(chunk), st))
    });
    (Box::pin(stream), held)
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIB: u64 = 1024 * 1024;

    #[test]
    fn steps_are_whole_until_the_bound_then_exact() {
        assert_eq!(next_step(0, 0, 5 * 1024 * MIB), None);
        assert_eq!(next_step(100, 0, 5 * 1024 * MIB), Some((STEP, 100)));
        assert_eq!(next_step(STEP, STEP, 5 * 1024 * MIB), None);
        assert_eq!(next_step(STEP + 1, STEP, 5 * 1024 * MIB), Some((STEP, 1)));
        // A chunk larger than a step is reserved whole.
        assert_eq!(next_step(3 * STEP, 0, 5 * 1024 * MIB), Some((3 * STEP, 3 * STEP)));
        // Near the size bound, no more than the bound.
        assert_eq!(next_step(10 * MIB - 5, 10 * MIB - 10, 10 * MIB), Some((10, 5)));
    }
}
