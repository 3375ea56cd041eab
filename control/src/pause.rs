//! Named points between two steps that must both happen (a store write and its accounting), where
//! the kill -9 tests stop the process.
//!
//! In debug builds, `RUSTSHARE_PAUSE_AT=<name>` makes the first request to reach `<name>` log
//! `paused at <name>` and hold its thread there for good; the test then kills the process with
//! SIGKILL, so the crash falls exactly between the two steps instead of wherever a timer lands.
//! Release builds compile [`point`] to nothing and never read the variable.

/// Stops here for good when `RUSTSHARE_PAUSE_AT` names this point (debug builds only).
#[cfg(debug_assertions)]
pub fn point(name: &'static str) {
    static AT: std::sync::OnceLock<Option<String>> = std::sync::OnceLock::new();
    let at = AT.get_or_init(|| std::env::var("RUSTSHARE_PAUSE_AT").ok());
    if at.as_deref() == Some(name) {
        // Straight to stderr: the test waits for this line, and a logging layer may buffer.
        eprintln!("paused at {name}");
        loop {
            std::thread::park();
        }
    }
}

/// Release builds: nothing.
#[cfg(not(debug_assertions))]
#[inline(always)]
pub fn point(_name: &'static str) {}
