//! The database executor: the only threads that call the database. Async code hands it a job and
//! awaits the answer, so no runtime worker thread ever waits on SQLite's fsync or a PostgreSQL
//! round trip, and the number of database calls in flight is bounded by the pool, not by how
//! many requests arrive.
//!
//! Debug builds check the rule: a database call made on a thread that belongs to an async
//! runtime (a worker, or tokio's blocking pool) and is not one of these panics, naming the rule,
//! so the whole test suite proves that no request path calls the database synchronously.

use std::cell::Cell;
use std::panic::AssertUnwindSafe;

use crate::{Error, Result};

type Job = Box<dyn FnOnce() + Send>;

thread_local! {
    static ON_DB_THREAD: Cell<bool> = const { Cell::new(false) };
}

/// A fixed pool of threads that run database work.
#[derive(Debug)]
pub struct DbExec {
    tx: crossbeam_channel::Sender<Job>,
}

impl DbExec {
    /// Starts `threads` database threads (at least one). They end when the executor is dropped
    /// and the queued jobs are done.
    ///
    /// # Panics
    /// When the operating system refuses a thread.
    #[must_use]
    pub fn new(threads: usize) -> Self {
        let (tx, rx) = crossbeam_channel::unbounded::<Job>();
        for n in 0..threads.max(1) {
            let rx = rx.clone();
            std::thread::Builder::new()
                .name(format!("rustshare-db-{n}"))
                .spawn(move || {
                    ON_DB_THREAD.with(|c| c.set(true));
                    for job in rx {
                        job();
                    }
                })
                .expect("starting a database thread");
        }
        Self { tx }
    }

    /// Runs `f` on a database thread and waits for it without blocking the caller's thread.
    ///
    /// # Errors
    /// [`Error::Db`] when the job panicked or the executor has stopped.
    pub async fn run<T: Send + 'static>(&self, f: impl FnOnce() -> Result<T> + Send + 'static) -> Result<T> {
        let (tx, rx) = tokio::sync::oneshot::channel();
        let job: Job = Box::new(move || {
            let r = std::panic::catch_unwind(AssertUnwindSafe(f)).unwrap_or_else(|_| Err(Error::Db("a database task panicked".into())));
            let _ = tx.send(r);
        });
        self.tx
            .send(job)
            .map_err(|_| Error::Db("the database executor has stopped".into()))?;
        rx.await.unwrap_or_else(|_| Err(Error::Db("a database task was dropped".into())))
    }

    /// Runs `f` without making the caller wait on the database (releases from `Drop`, last-used
    /// stamps): at once on a thread that may block (so synchronous callers see its effect
    /// before they go on), else queued on a database thread.
    pub fn spawn(&self, f: impl FnOnce() + Send + 'static) {
        if may_block() {
            f();
            return;
        }
        if self.tx.send(Box::new(f)).is_err() {
            tracing::warn!("the database executor has stopped; a background write was dropped");
        }
    }
}

/// Runs one-off blocking database work (opening, migrating) on a thread of its own and waits
/// for it without blocking the caller's thread.
///
/// # Panics
/// When the operating system refuses a thread, or `f` panics.
pub async fn on_own_thread<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    let (tx, rx) = tokio::sync::oneshot::channel();
    std::thread::Builder::new()
        .name("rustshare-db-open".into())
        .spawn(move || {
            let _ = tx.send(f());
        })
        .expect("starting a thread");
    rx.await.expect("the database open thread panicked")
}

/// Whether this thread may call the database: a database thread, or one outside any async
/// runtime (the CLI, start-up before the runtime, the audit writer, unit tests).
#[must_use]
pub fn may_block() -> bool {
    ON_DB_THREAD.with(Cell::get) || tokio::runtime::Handle::try_current().is_err()
}

/// Debug builds: panics when the database is called where it would stall an async runtime.
///
/// # Panics
/// In debug builds, on an async runtime's thread that is not a database thread.
#[inline]
pub fn check_thread() {
    assert!(
        !cfg!(debug_assertions) || may_block(),
        "the database was called on an async runtime's thread ({:?}); call Control's async methods, which run it on the database executor",
        std::thread::current().name()
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn jobs_run_on_database_threads_only() {
        let exec = DbExec::new(2);
        assert!(!may_block(), "a runtime worker may not block");
        let name = exec
            .run(|| Ok(std::thread::current().name().map(str::to_owned)))
            .await
            .expect("job");
        assert!(name.is_some_and(|n| n.starts_with("rustshare-db-")));
        assert!(exec.run(|| Ok(may_block())).await.expect("job"));
        let e = exec
            .run(|| -> Result<()> { panic!("boom") })
            .await
            .expect_err("a panic is an error");
        assert!(e.to_string().contains("panicked"), "{e}");
        assert!(std::thread::spawn(may_block).join().expect("thread"), "a plain thread may block");
    }

    #[tokio::test]
    #[cfg(debug_assertions)]
    async fn the_check_catches_a_call_on_a_runtime_thread() {
        let r = std::panic::catch_unwind(check_thread);
        assert!(r.is_err());
    }
}
