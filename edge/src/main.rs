//! `rustshare`: see `rustshare --help`.

// glibc's allocator showed up at about 9% of a cached CDN hit (arena locking and
// `malloc_consolidate` on every 8 KiB connection buffer); mimalloc's thread-local free lists
// take that out of the request path.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    rustshare_edge::cli::main()
}
