//! `rustshare`: see `rustshare --help`.

// glibc's allocator showed up at about 9% of a cached CDN hit (arena locking and
// `malloc_consolidate` on every 8 KiB connection buffer); mimalloc's thread-local free lists
// take that out of the request path.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    purge_freed_memory_at_once();
    rustshare_edge::cli::main()
}

/// The server runs with mimalloc's `MIMALLOC_PURGE_DELAY=0`: freed pages go back to the system
/// at once. A publish of 100,000 packages frees hundreds of megabytes between its phases, and
/// with mimalloc's default they stayed resident into the next phase (measured: peak 754 MiB
/// against 534 MiB, the same publish time). mimalloc reads the option from the environment
/// only, and this crate has no unsafe code to call its setter, so `serve` starts itself again
/// with the variable set (the same process: `exec` keeps the pid). A value the operator set is
/// left alone.
fn purge_freed_memory_at_once() {
    use std::os::unix::process::CommandExt as _;
    const VAR: &str = "MIMALLOC_PURGE_DELAY";
    if std::env::var_os(VAR).is_some() || std::env::args_os().nth(1).is_none_or(|a| a != "serve") {
        return;
    }
    let Ok(exe) = std::env::current_exe() else { return };
    let err = std::process::Command::new(exe)
        .args(std::env::args_os().skip(1))
        .env(VAR, "0")
        .exec();
    // Still the same program: it serves with mimalloc's defaults.
    eprintln!("warning: could not restart with {VAR}=0 ({err}); serving with mimalloc's default purge delay");
}
