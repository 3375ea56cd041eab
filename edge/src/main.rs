//! `rustshare`: see `rustshare --help`.

fn main() -> std::process::ExitCode {
    rustshare_edge::cli::main()
}
