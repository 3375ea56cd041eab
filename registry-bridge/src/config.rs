//! Distribution's configuration for one namespace. Every scalar is written as a JSON string,
//! which is also a valid YAML double-quoted scalar, so no value can break the document.

use std::fmt::Write as _;

use crate::{ISSUER, SERVICE};

/// What the configuration needs.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Address the registry listens on (`127.0.0.1:5000`).
    pub listen: String,
    /// Our S3 face (`http://127.0.0.1:8080` or `https://s3.example.com`).
    pub s3_endpoint: String,
    /// Region the S3 face answers for.
    pub region: String,
    /// The namespace's bucket on the S3 face.
    pub bucket: String,
    /// Our token endpoint (`<base>/registry/token`).
    pub realm: String,
    /// Path of the token signing certificate, as the registry will read it.
    pub root_cert_bundle: String,
    /// Our notification endpoint for this namespace.
    pub events_url: String,
    /// The secret the notifications carry.
    pub events_secret: String,
    /// Distribution's own HTTP secret (signs upload state; the same on every registry node).
    pub http_secret: String,
}

fn q(s: &str) -> String {
    serde_json::Value::from(s).to_string()
}

/// The `config.yml` text. Storage credentials are not in it: they come from the environment
/// (`REGISTRY_STORAGE_S3_ACCESSKEY`, `REGISTRY_STORAGE_S3_SECRETKEY`), see [`environment`].
#[must_use]
pub fn render(s: &Settings) -> String {
    let secure = s.s3_endpoint.starts_with("https://");
    let mut y = String::new();
    let _ = writeln!(
        y,
        "# CNCF Distribution (Debian docker-registry 2.8) for this namespace, made by `rustshare registry config`."
    );
    let _ = writeln!(y, "# Storage credentials come from the environment file written beside it.");
    let _ = writeln!(y, "version: 0.1");
    let _ = writeln!(y, "log:\n  level: info\n  formatter: text");
    let _ = writeln!(y, "storage:");
    let _ = writeln!(y, "  s3:");
    let _ = writeln!(y, "    region: {}", q(&s.region));
    // A regionendpoint makes Distribution 2.8 use path-style requests, as our S3 face expects.
    let _ = writeln!(y, "    regionendpoint: {}", q(&s.s3_endpoint));
    let _ = writeln!(y, "    bucket: {}", q(&s.bucket));
    let _ = writeln!(y, "    rootdirectory: \"/\"");
    let _ = writeln!(y, "    secure: {secure}");
    let _ = writeln!(y, "    v4auth: true");
    let _ = writeln!(y, "    chunksize: 5242880");
    let _ = writeln!(y, "    multipartcopythresholdsize: 33554432");
    let _ = writeln!(y, "  delete:\n    enabled: true");
    // Blobs are served by the registry itself: clients never need the S3 face.
    let _ = writeln!(y, "  redirect:\n    disable: true");
    let _ = writeln!(y, "  cache:\n    blobdescriptor: inmemory");
    let _ = writeln!(
        y,
        "  maintenance:\n    uploadpurging:\n      enabled: true\n      age: 168h\n      interval: 24h\n      dryrun: false\n    readonly:\n      enabled: false"
    );
    let _ = writeln!(y, "http:");
    let _ = writeln!(y, "  addr: {}", q(&s.listen));
    let _ = writeln!(y, "  secret: {}", q(&s.http_secret));
    let _ = writeln!(y, "  headers:\n    X-Content-Type-Options: [nosniff]");
    let _ = writeln!(y, "auth:");
    let _ = writeln!(y, "  token:");
    let _ = writeln!(y, "    realm: {}", q(&s.realm));
    let _ = writeln!(y, "    service: {}", q(SERVICE));
    let _ = writeln!(y, "    issuer: {}", q(ISSUER));
    let _ = writeln!(y, "    rootcertbundle: {}", q(&s.root_cert_bundle));
    let _ = writeln!(y, "notifications:");
    let _ = writeln!(y, "  endpoints:");
    let _ = writeln!(y, "    - name: rustshare");
    let _ = writeln!(y, "      url: {}", q(&s.events_url));
    let _ = writeln!(y, "      headers:");
    let _ = writeln!(y, "        Authorization: [{}]", q(&format!("Bearer {}", s.events_secret)));
    let _ = writeln!(y, "      timeout: 2s");
    let _ = writeln!(y, "      threshold: 5");
    let _ = writeln!(y, "      backoff: 1s");
    // Only manifest events: blob pushes and pulls are implied by them and would flood the log.
    let _ = writeln!(y, "      ignoredmediatypes: [\"application/octet-stream\"]");
    y
}

/// The environment file's lines (`KEY=value`) with the storage credentials.
#[must_use]
pub fn environment(access_key_id: &str, secret: &str) -> String {
    format!("REGISTRY_STORAGE_S3_ACCESSKEY={access_key_id}\nREGISTRY_STORAGE_S3_SECRETKEY={secret}\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings() -> Settings {
        Settings {
            listen: "127.0.0.1:5000".into(),
            s3_endpoint: "http://127.0.0.1:8080".into(),
            region: "us-east-1".into(),
            bucket: "rs-acme-kubedo".into(),
            realm: "http://127.0.0.1:8080/registry/token".into(),
            root_cert_bundle: "/etc/rustshare/registry/kubedo/token.crt".into(),
            events_url: "http://127.0.0.1:8080/registry/events/kubedo".into(),
            events_secret: "s3cr\"et".into(),
            http_secret: "h".into(),
        }
    }

    #[test]
    fn renders_storage_auth_and_notifications_without_credentials() {
        let y = render(&settings());
        for want in [
            "    regionendpoint: \"http://127.0.0.1:8080\"\n",
            "    bucket: \"rs-acme-kubedo\"\n",
            "    secure: false\n",
            "  redirect:\n    disable: true\n",
            "  delete:\n    enabled: true\n",
            "    realm: \"http://127.0.0.1:8080/registry/token\"\n",
            "    service: \"rustshare-registry\"\n",
            "    rootcertbundle: \"/etc/rustshare/registry/kubedo/token.crt\"\n",
            "        Authorization: [\"Bearer s3cr\\\"et\"]\n",
        ] {
            assert!(y.contains(want), "{want:?} missing from\n{y}");
        }
        assert!(
            !y.contains("accesskey") && !y.contains("secretkey"),
            "credentials stay out of the file"
        );
        assert!(!y.contains("forcepathstyle"), "Distribution 2.8 has no such key");
        let e = environment("RS3ABC", "xyz");
        assert_eq!(e, "REGISTRY_STORAGE_S3_ACCESSKEY=RS3ABC\nREGISTRY_STORAGE_S3_SECRETKEY=xyz\n");
    }

    #[test]
    fn https_endpoints_are_secure() {
        let mut s = settings();
        s.s3_endpoint = "https://s3.example.com".into();
        assert!(render(&s).contains("    secure: true\n"));
    }
}
