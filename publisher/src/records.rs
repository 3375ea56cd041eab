//! A snapshot's package records stored in chunks that snapshots share.
//!
//! The records, in the manifest's order, are cut after each record whose package name hashes
//! to a boundary (content-defined, as [`crate::pieces`] cuts `Packages`): adding or removing
//! one package changes one chunk, and every other chunk is the object the parent snapshot
//! already stored. A chunk is the gzip of the records' JSON, stored once under the SHA-256 of
//! that JSON. A publish of one package at 100,000 then writes one chunk of a few hundred
//! records instead of a 55 MB manifest, and retention reads each distinct chunk once instead
//! of every kept snapshot's whole manifest. Pure: records in, bytes out.

use std::io::{Read as _, Write as _};
use std::ops::Range;

use sha2::{Digest, Sha256};

use crate::snapshot::PackageRecord;

/// A chunk ends here at the latest (a run of one package's many versions and architectures).
const MAX_RECORDS: usize = 4096;
/// A chunk's JSON is refused past this when read (4096 records of a few kilobytes each).
const MAX_JSON: u64 = 256 << 20;

/// Where `records` (sorted as the manifest keeps them) are cut into chunks: after each record whose
/// name is a boundary of [`crate::pieces`] (one in 256 on average).
#[must_use]
pub fn cuts(records: &[PackageRecord]) -> Vec<Range<usize>> {
    let mut out = Vec::new();
    let mut start = 0;
    for (i, r) in records.iter().enumerate() {
        if crate::pieces::is_boundary(&r.package) || i + 1 - start >= MAX_RECORDS {
            out.push(start..i + 1);
            start = i + 1;
        }
    }
    if start < records.len() {
        out.push(start..records.len());
    }
    out
}

/// What identifies a chunk's content without serializing it: the SHA-256 of every field of
/// every record, each with its length.
#[must_use]
pub fn fingerprint(records: &[PackageRecord]) -> [u8; 32] {
    let mut h = Sha256::new();
    let mut field = |s: &str| {
        h.update((s.len() as u64).to_le_bytes());
        h.update(s.as_bytes());
    };
    for r in records {
        field(&r.dist);
        field(&r.component);
        field(&r.package);
        field(&r.version);
        field(&r.architecture);
        field(&r.filename);
        field(&r.size.to_string());
        field(&r.md5);
        field(&r.sha256);
        field(&r.control);
        field(r.lists.as_deref().unwrap_or("\0none"));
    }
    h.finalize().into()
}

/// A chunk's id and stored bytes.
///
/// # Errors
/// Serialization or compression failures (none in practice).
pub fn encode(records: &[PackageRecord]) -> std::io::Result<(String, Vec<u8>)> {
    let json = serde_json::to_vec(records).map_err(std::io::Error::other)?;
    let id = hex::encode(Sha256::digest(&json))[..32].to_owned();
    let mut gz = flate2::write::GzEncoder::new(Vec::with_capacity(json.len() / 6), flate2::Compression::new(6));
    gz.write_all(&json)?;
    Ok((id, gz.finish()?))
}

/// The records of the chunk stored as `id`; refused unless its JSON is the one `id` names.
///
/// # Errors
/// A chunk that does not decompress, parse or match its id.
pub fn decode(id: &str, gz: &[u8]) -> Result<Vec<PackageRecord>, String> {
    let mut json = Vec::new();
    flate2::read::GzDecoder::new(gz)
        .take(MAX_JSON)
        .read_to_end(&mut json)
        .map_err(|e| format!("record chunk {id}: {e}"))?;
    if !hex::encode(Sha256::digest(&json)).starts_with(id) || id.len() != 32 {
        return Err(format!("record chunk {id}: its content does not match its name"));
    }
    serde_json::from_slice(&json).map_err(|e| format!("record chunk {id}: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(i: usize) -> PackageRecord {
        PackageRecord {
            dist: "stable".into(),
            component: "main".into(),
            package: format!("pkg{i:05}"),
            version: "1.0".into(),
            architecture: "amd64".into(),
            filename: format!("pool/main/p/pkg{i:05}/pkg{i:05}_1.0_amd64.deb"),
            size: 100,
            md5: "m".into(),
            sha256: "s".into(),
            control: format!("Package: pkg{i:05}\n"),
            lists: None,
        }
    }

    #[test]
    fn chunks_cover_every_record_and_one_more_changes_one_chunk() {
        let mut records: Vec<PackageRecord> = (0..5000).map(rec).collect();
        let before = cuts(&records);
        assert!(before.len() > 5, "{}", before.len());
        assert_eq!(before.first().map(|r| r.start), Some(0));
        assert_eq!(before.last().map(|r| r.end), Some(records.len()));
        assert!(before.windows(2).all(|w| w[0].end == w[1].start));
        let fps: Vec<[u8; 32]> = before.iter().map(|r| fingerprint(&records[r.clone()])).collect();
        let mut extra = rec(2500);
        extra.package = "pkg02500a".into();
        records.insert(2501, extra);
        let after = cuts(&records);
        let new: Vec<[u8; 32]> = after
            .iter()
            .map(|r| fingerprint(&records[r.clone()]))
            .filter(|f| !fps.contains(f))
            .collect();
        assert_eq!(new.len(), 1, "only the chunk holding the new record differs");
    }

    #[test]
    fn a_run_of_one_name_is_cut_at_the_limit() {
        let records: Vec<PackageRecord> = (0..10_000)
            .map(|i| PackageRecord {
                version: format!("1.{i}"),
                ..rec(7)
            })
            .collect();
        let c = cuts(&records);
        assert!(c.iter().all(|r| r.len() <= MAX_RECORDS));
        assert_eq!(c.iter().map(ExactSizeIterator::len).sum::<usize>(), records.len());
    }

    #[test]
    fn chunks_round_trip_and_refuse_other_content() {
        let records: Vec<PackageRecord> = (0..300).map(rec).collect();
        let (id, gz) = encode(&records).expect("encode");
        assert_eq!(decode(&id, &gz).expect("decode"), records);
        let (other, _) = encode(&records[..10]).expect("encode");
        assert!(decode(&other, &gz).expect_err("wrong name").contains("does not match"));
        assert!(decode(&id, b"not gzip").is_err());
        // Any change to any field is another fingerprint.
        let mut changed = records.clone();
        changed[150].control.push(' ');
        assert_ne!(fingerprint(&records), fingerprint(&changed));
        let mut listed = records.clone();
        listed[0].lists = Some(String::new());
        assert_ne!(fingerprint(&records), fingerprint(&listed));
    }
}
