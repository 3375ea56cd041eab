//! A standalone s3s-fs server on loopback for benchmarks and manual runs:
//! `s3-peer <dir> <port> <bucket>` (credentials: see `rustshare_tests::PEER_*`).

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    let (Some(dir), Some(port), Some(bucket)) = (args.get(1), args.get(2), args.get(3)) else {
        eprintln!("usage: s3-peer <dir> <port> <bucket>");
        std::process::exit(2);
    };
    let root = std::path::PathBuf::from(dir);
    if let Err(e) = std::fs::create_dir_all(root.join(bucket)) {
        eprintln!("s3-peer: creating {}: {e}", root.display());
        std::process::exit(1);
    }
    let listener = match tokio::net::TcpListener::bind(("127.0.0.1", port.parse().unwrap_or(0))).await {
        Ok(l) => l,
        Err(e) => {
            eprintln!("s3-peer: binding 127.0.0.1:{port}: {e}");
            std::process::exit(1);
        }
    };
    println!(
        "s3-peer listening on {}",
        listener.local_addr().map(|a| a.to_string()).unwrap_or_default()
    );
    rustshare_tests::serve(listener, root).await;
}
