//! The exact text apt reads: `Packages` and `Release` of a fixed package set at a fixed time are
//! compared byte for byte with the files in `tests/golden/`, and `InRelease` must be that
//! `Release` clear-signed with a signature the repository's key verifies. A change to the
//! published format shows up here as a diff. `UPDATE_GOLDEN=1 cargo test -p rustshare-publisher
//! --test golden` rewrites the files after a deliberate change.

use std::path::PathBuf;

use pgp::composed::{CleartextSignedMessage, Deserializable, SignedPublicKey};
use rustshare_publisher::index::{self, packages_text};
use rustshare_publisher::sign::Signer;
use rustshare_publisher::snapshot::{PackageRecord, SourceFile, SourceRecord};

fn rec(dist: &str, package: &str, version: &str, arch: &str, extra: &str) -> PackageRecord {
    let filename = format!("pool/main/{}/{package}/{package}_{version}_{arch}.deb", &package[..1]);
    let digest = format!("{package}{version}{arch}");
    PackageRecord {
        dist: dist.into(),
        component: "main".into(),
        package: package.into(),
        version: version.into(),
        architecture: arch.into(),
        size: 1000 + digest.len() as u64,
        md5: format!("{:x}", md5_of(&digest)),
        sha256: format!("{:0>64}", format!("{:x}", md5_of(&digest))),
        filename,
        control: format!(
            "Package: {package}\nVersion: {version}\nArchitecture: {arch}\nMaintainer: Golden <golden@example.com>\n{extra}Description: the {package} package\n test data\n"
        ),
        lists: None,
    }
}

fn source_records() -> Vec<SourceRecord> {
    let file = |name: &str, size: u64| SourceFile {
        name: name.into(),
        size,
        md5: format!("{:x}", md5_of(name)),
        sha256: format!("{:0>64}", format!("{:x}", md5_of(name))),
    };
    vec![
        SourceRecord {
            dist: "stable".into(),
            component: "main".into(),
            package: "hello".into(),
            version: "2.10-3".into(),
            directory: "pool/main/h/hello".into(),
            files: vec![
                file("hello_2.10-3.dsc", 1200),
                file("hello_2.10.orig.tar.gz", 725_946),
                file("hello_2.10-3.debian.tar.xz", 12_688),
            ],
            control: "Format: 3.0 (quilt)\nBinary: hello\nArchitecture: any\nVersion: 2.10-3\nMaintainer: Golden <golden@example.com>\nBuild-Depends: debhelper-compat (= 13)\n".into(),
        },
        SourceRecord {
            dist: "testing".into(),
            component: "main".into(),
            package: "hello".into(),
            version: "2.11-1".into(),
            directory: "pool/main/h/hello".into(),
            files: vec![file("hello_2.11-1.dsc", 1100)],
            control: "Format: 3.0 (native)\nVersion: 2.11-1\nMaintainer: Golden <golden@example.com>\n".into(),
        },
    ]
}

/// A stable stand-in for a digest (the golden files need fixed values, not real hashes).
fn md5_of(s: &str) -> u128 {
    s.bytes().fold(0x6c62_272e_07bb_0142_62b8_2175_6295_c58d_u128, |h, b| {
        (h ^ u128::from(b)).wrapping_mul(0x0000_0000_0100_0000_0000_0000_0000_013B)
    })
}

fn records() -> Vec<PackageRecord> {
    vec![
        rec("stable", "zlib-tool", "1.2.13-1", "amd64", "Depends: libc6 (>= 2.36)\n"),
        rec("stable", "hello", "2.10-3", "amd64", "Section: utils\nPriority: optional\n"),
        rec("stable", "hello", "2.10-3", "arm64", "Section: utils\nPriority: optional\n"),
        rec("stable", "docs", "1.0", "all", ""),
        rec("testing", "hello", "2.11-1", "amd64", ""),
    ]
}

fn golden(name: &str, actual: &str) {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/golden").join(name);
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        std::fs::write(&path, actual).expect("write golden file");
        return;
    }
    let expected = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e} (UPDATE_GOLDEN=1 writes it)", path.display()));
    if expected != actual {
        let first = expected.lines().zip(actual.lines()).position(|(a, b)| a != b);
        panic!(
            "{name} differs from {} (first differing line {first:?}); expected:\n{expected}\nactual:\n{actual}",
            path.display()
        );
    }
}

fn config() -> rustshare_control::model::RepositoryConfig {
    let mut cfg = rustshare_publisher::default_config("golden");
    cfg.architectures = vec!["amd64".into(), "arm64".into()];
    cfg.origin = "Golden".into();
    cfg.label = "Golden Repo".into();
    cfg.description = "Golden-file test".into();
    cfg.valid_until_days = Some(7);
    cfg
}

#[test]
fn packages_release_and_inrelease_text() {
    let all = records();
    let cfg = config();
    let stable: Vec<&PackageRecord> = all.iter().filter(|r| r.dist == "stable").collect();
    golden("Packages-main-amd64", &packages_text(stable.iter().copied(), "main", "amd64"));
    golden("Packages-main-arm64", &packages_text(stable.iter().copied(), "main", "arm64"));

    // What each package installs; hello's two architectures share a path, and docs (all) is in
    // both architectures' Contents.
    let lists: index::FileLists = all
        .iter()
        .map(|r| {
            let files = vec![
                format!("usr/share/doc/{}/copyright", r.package),
                format!("usr/bin/{}", r.package),
                "usr/share/common/shared file with spaces".to_owned(),
            ];
            (r.sha256.clone(), std::sync::Arc::new(files))
        })
        .collect();
    golden("Contents-main-amd64", &index::contents_text(&stable, "main", "amd64", &lists));
    golden("Contents-main-arm64", &index::contents_text(&stable, "main", "arm64", &lists));

    let sources = source_records();
    let stable_sources: Vec<&SourceRecord> = sources.iter().filter(|r| r.dist == "stable").collect();
    golden("Sources-main", &index::sources_text(&stable_sources, "main"));
    let dist = cfg.distributions[0].clone();
    let files = index::distribution_indices(
        &cfg,
        &dist,
        &stable,
        &stable_sources,
        &lists,
        &Default::default(),
        &mut Default::default(),
    )
    .expect("indices");
    let now = time::macros::datetime!(2026-12-06 12:34:56 UTC);
    let release = index::release_text(&cfg, &dist, &files, now);
    golden("Release", &release);

    let signer = Signer::generate("Golden <golden@example.com>").expect("key");
    let inrelease = signer.clearsign(&release).expect("sign");
    // Release lines never start with a dash, so the cleartext is the Release file verbatim; the
    // line break before the armour line belongs to the armour (RFC 9580 section 7.1).
    let head = "-----BEGIN PGP SIGNED MESSAGE-----\nHash: SHA256\n\n";
    assert_eq!(
        inrelease
            .strip_prefix(head)
            .and_then(|r| r.strip_prefix(release.as_str()))
            .map(|sig| sig.starts_with("\n-----BEGIN PGP SIGNATURE-----\n")),
        Some(true),
        "{inrelease}"
    );
    let (msg, _) = CleartextSignedMessage::from_string(&inrelease).expect("InRelease parses");
    assert_eq!(msg.text(), release, "InRelease signs exactly the Release text");
    let (public, _) = SignedPublicKey::from_string(&signer.public_armored().expect("public key")).expect("public key parses");
    msg.verify(&public).expect("the repository's key verifies InRelease");
    let other = Signer::generate("Other <o@example.com>").expect("key");
    let (other_public, _) = SignedPublicKey::from_string(&other.public_armored().expect("public key")).expect("parses");
    assert!(msg.verify(&other_public).is_err(), "another key does not verify it");
}
