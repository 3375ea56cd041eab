//! Helpers for RustShare's end-to-end tests: a real S3 server on loopback (s3s-fs), so the
//! S3 backend is always tested against the protocol, never a mock.

use std::net::SocketAddr;

use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto::Builder as ConnBuilder;
use rustshare_store::{S3Store, S3StoreConfig};
use s3s::auth::SimpleAuth;
use s3s::service::S3ServiceBuilder;

/// Access key of the loopback peer.
pub const PEER_ACCESS_KEY: &str = "PEERACCESSKEY";
/// Secret key of the loopback peer (test-only).
pub const PEER_SECRET_KEY: &str = "peer-secret-key-for-tests-only";

/// A real S3 engine named by the environment, for the suites that run on one when it is at
/// hand: `RUSTSHARE_TEST_S3_ENDPOINT`, `RUSTSHARE_TEST_S3_ACCESS_KEY_ID`,
/// `RUSTSHARE_TEST_S3_SECRET_ACCESS_KEY`, `RUSTSHARE_TEST_S3_BUCKET` (an existing bucket; default
/// `rustshare-tests`) and `RUSTSHARE_TEST_S3_REGION` (default `us-east-1`). `scripts/ceph.sh`
/// starts Ceph RGW and prints them; a user can point them at RustFS or MinIO. Each call gets a
/// fresh root prefix, so runs and tests never see each other's objects.
#[must_use]
pub fn engine_from_env(label: &str) -> Option<S3StoreConfig> {
    let var = |n: &str| std::env::var(format!("RUSTSHARE_TEST_S3_{n}")).ok().filter(|v| !v.is_empty());
    let endpoint = var("ENDPOINT")?;
    let unique = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    Some(S3StoreConfig {
        endpoint,
        region: var("REGION").unwrap_or_else(|| "us-east-1".into()),
        access_key_id: var("ACCESS_KEY_ID").unwrap_or_default(),
        secret_access_key: var("SECRET_ACCESS_KEY").unwrap_or_default(),
        bucket: var("BUCKET").unwrap_or_else(|| "rustshare-tests".into()),
        root_prefix: format!("{label}-{unique:x}-{}/", std::process::id()),
        path_style: true,
    })
}

/// An s3s-fs server on 127.0.0.1, serving from a temporary directory until dropped.
pub struct S3Peer {
    /// Where it listens.
    pub addr: SocketAddr,
    /// Its data directory; buckets are sub-directories.
    pub dir: tempfile::TempDir,
    task: tokio::task::JoinHandle<()>,
}

impl S3Peer {
    /// Starts a peer with one bucket named `bucket`.
    ///
    /// # Panics
    /// If the server cannot start: a test cannot go on without it.
    pub async fn start(bucket: &str) -> Self {
        let dir = tempfile::tempdir().expect("temp dir for the S3 peer");
        std::fs::create_dir_all(dir.path().join(bucket)).expect("bucket dir");
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind loopback");
        let addr = listener.local_addr().expect("local addr");
        let task = tokio::spawn(serve(listener, dir.path().to_path_buf()));
        Self { addr, dir, task }
    }

    /// The endpoint URL.
    #[must_use]
    pub fn endpoint(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// A store config for `bucket` on this peer.
    #[must_use]
    pub fn store_config(&self, bucket: &str, root_prefix: &str) -> S3StoreConfig {
        S3StoreConfig {
            endpoint: self.endpoint(),
            region: "us-east-1".into(),
            access_key_id: PEER_ACCESS_KEY.into(),
            secret_access_key: PEER_SECRET_KEY.into(),
            bucket: bucket.into(),
            root_prefix: root_prefix.into(),
            path_style: true,
        }
    }

    /// An [`S3Store`] on this peer.
    #[must_use]
    pub fn store(&self, bucket: &str, root_prefix: &str) -> S3Store {
        S3Store::new(&self.store_config(bucket, root_prefix))
    }
}

impl Drop for S3Peer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Serves s3s-fs from `root` on `listener` for ever.
///
/// # Panics
/// If `root` cannot be opened.
pub async fn serve(listener: tokio::net::TcpListener, root: std::path::PathBuf) {
    let fs = s3s_fs::FileSystem::new(root).expect("s3s-fs root");
    let mut b = S3ServiceBuilder::new(fs);
    b.set_auth(SimpleAuth::from_single(PEER_ACCESS_KEY, PEER_SECRET_KEY));
    let service = b.build();
    let http = ConnBuilder::new(TokioExecutor::new());
    loop {
        let Ok((sock, _)) = listener.accept().await else { continue };
        let conn = http.serve_connection(TokioIo::new(sock), service.clone()).into_owned();
        tokio::spawn(async move {
            let _ = conn.await;
        });
    }
}
