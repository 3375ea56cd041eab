//! Named points between two steps that must both happen (a store write and its accounting), where
//! the kill -9 tests stop the process.
//!
//! In debug builds, `RUSTSHARE_PAUSE_AT=<name>` makes the first request to reach `<name>` log
//! `paused at <name>` and hold its thread there for good; the test then kills the process with
//! SIGKILL, so the crash falls exactly between the two steps instead of wherever a timer lands.
//! [`delay`] is the same for races: `RUSTSHARE_DELAY_AT=<name>:<ms>` holds the task reaching
//! `<name>` that long (after logging `delaying at <name>`), so a test's real client can act
//! inside a window that is otherwise microseconds wide.
//! Release builds compile both to nothing and never read the variables.

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

/// How long to hold a task at `name`, when `RUSTSHARE_DELAY_AT` is `<name>:<ms>` (debug builds
/// only); the caller sleeps on its own runtime.
#[cfg(debug_assertions)]
pub fn delay(name: &'static str) -> Option<std::time::Duration> {
    static AT: std::sync::OnceLock<Option<(String, u64)>> = std::sync::OnceLock::new();
    let at = AT.get_or_init(|| {
        let v = std::env::var("RUSTSHARE_DELAY_AT").ok()?;
        let (n, ms) = v.rsplit_once(':')?;
        Some((n.to_owned(), ms.parse().ok()?))
    });
    match at {
        Some((n, ms)) if n == name => {
            eprintln!("delaying at {name}");
            Some(std::time::Duration::from_millis(*ms))
        }
        _ => None,
    }
}

/// Release builds: nothing.
#[cfg(not(debug_assertions))]
#[inline(always)]
pub fn delay(_name: &'static str) -> Option<std::time::Duration> {
    None
}
