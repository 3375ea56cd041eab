//! Load client for `scripts/bench-s3.sh`: the same aws-sdk-s3 workload against any endpoint.
//!
//! `s3-bench <endpoint> <access-key> <secret-key> <bucket> <prefix> <label>` prints one line:
//! `label large_put_mib_s large_get_mib_s small_put_ops small_get_ops`.
//! Workload: 6 x 64 MiB PUT then GET (2 at a time); 3000 x 4 KiB PUT then GET (32 at a time).

use std::sync::Arc;
use std::time::Instant;

use aws_sdk_s3::Client;
use aws_sdk_s3::config::{BehaviorVersion, Credentials, Region};
use aws_sdk_s3::primitives::ByteStream;
use futures::StreamExt;

const LARGE: usize = 64 * 1024 * 1024;
const LARGE_N: usize = 6;
const LARGE_CONC: usize = 2;
const SMALL: usize = 4096;
const SMALL_N: usize = 3000;
const SMALL_CONC: usize = 32;

async fn run_all<F, Fut>(n: usize, conc: usize, f: F) -> f64
where
    F: Fn(usize) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    let t = Instant::now();
    futures::stream::iter(0..n).map(f).buffer_unordered(conc).collect::<Vec<()>>().await;
    t.elapsed().as_secs_f64()
}

#[tokio::main]
async fn main() {
    let a: Vec<String> = std::env::args().collect();
    if a.len() != 7 {
        eprintln!("usage: s3-bench <endpoint> <access-key> <secret-key> <bucket> <prefix> <label>");
        std::process::exit(2);
    }
    let conf = aws_sdk_s3::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .endpoint_url(&a[1])
        .credentials_provider(Credentials::new(&a[2], &a[3], None, None, "bench"))
        .force_path_style(true)
        .build();
    let c = Arc::new(Client::from_conf(conf));
    let (bucket, prefix, label) = (a[4].clone(), a[5].clone(), a[6].clone());
    let big: Arc<Vec<u8>> = Arc::new((0..LARGE).map(|i| u8::try_from(i * 31 % 251).unwrap_or(0)).collect());
    let small: Arc<Vec<u8>> = Arc::new(vec![7u8; SMALL]);

    let put = |key: String, body: Arc<Vec<u8>>| {
        let (c, bucket) = (c.clone(), bucket.clone());
        async move {
            c.put_object()
                .bucket(bucket)
                .key(key)
                .body(ByteStream::from(body.as_ref().clone()))
                .send()
                .await
                .expect("put");
        }
    };
    let get = |key: String, want: usize| {
        let (c, bucket) = (c.clone(), bucket.clone());
        async move {
            let o = c.get_object().bucket(bucket).key(key).send().await.expect("get");
            let mut body = o.body;
            let mut n = 0;
            while let Some(chunk) = body.try_next().await.expect("body") {
                n += chunk.len();
            }
            assert_eq!(n, want);
        }
    };
    // Warm up connections and caches on both sides equally.
    run_all(50, 8, |i| put(format!("{prefix}warm/{i}"), small.clone())).await;

    let mib = (LARGE_N * LARGE) as f64 / (1024.0 * 1024.0);
    let t = run_all(LARGE_N, LARGE_CONC, |i| put(format!("{prefix}large/{i}"), big.clone())).await;
    let large_put = mib / t;
    let t = run_all(LARGE_N, LARGE_CONC, |i| get(format!("{prefix}large/{i}"), LARGE)).await;
    let large_get = mib / t;
    let t = run_all(SMALL_N, SMALL_CONC, |i| put(format!("{prefix}small/{i}"), small.clone())).await;
    let small_put = SMALL_N as f64 / t;
    let t = run_all(SMALL_N, SMALL_CONC, |i| get(format!("{prefix}small/{i}"), SMALL)).await;
    let small_get = SMALL_N as f64 / t;
    println!("{label} {large_put:.1} {large_get:.1} {small_put:.0} {small_get:.0}");
}
