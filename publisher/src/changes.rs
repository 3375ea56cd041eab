//! Signed uploads: a `.changes` file, clear-signed by one of the repository's uploader keys,
//! names every file of an upload with its size and SHA-256. Pure: text and keys in, the
//! verified list out.

use std::str::FromStr;

use pgp::composed::{CleartextSignedMessage, Deserializable, SignedPublicKey};
use pgp::types::KeyDetails;

use crate::dsc::Listed;

/// Largest `.changes` read; real ones are a few KiB.
pub const MAX_CHANGES: u64 = 1 << 20;

/// A verified `.changes`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Changes {
    /// Fingerprint (upper-case hex) of the uploader key that signed it.
    pub signer: String,
    /// The files of the upload.
    pub files: Vec<Listed>,
}

/// Reads the repository's uploader keys.
///
/// # Errors
/// A message naming the key (by position) that is not an armored OpenPGP public key.
pub fn uploader_keys(armored: &[String]) -> Result<Vec<SignedPublicKey>, String> {
    armored
        .iter()
        .enumerate()
        .map(|(i, k)| {
            SignedPublicKey::from_string(k)
                .map(|(key, _)| key)
                .map_err(|e| format!("uploader key {}: not an ASCII-armored OpenPGP public key ({e})", i + 1))
        })
        .collect()
}

fn fingerprint(k: &SignedPublicKey) -> String {
    hex::encode_upper(k.primary_key.fingerprint().as_bytes())
}

/// Checks that `text` is clear-signed by one of `keys` (its primary key or a subkey) and reads
/// the files it lists from what was signed, never from text around the signature.
///
/// # Errors
/// A message that says what is wrong, for the uploader.
pub fn verify(text: &str, keys: &[SignedPublicKey]) -> Result<Changes, String> {
    let (msg, _) =
        CleartextSignedMessage::from_string(text).map_err(|_| "not clear-signed; sign it with debsign or gpg --clearsign".to_owned())?;
    let signer = keys
        .iter()
        .find(|k| msg.verify(*k).is_ok() || k.public_subkeys.iter().any(|s| msg.verify(&s.key).is_ok()))
        .map(fingerprint)
        .ok_or_else(|| "not signed by an uploader key of this repository".to_owned())?;
    let text = msg.signed_text().replace("\r\n", "\n");
    let para = deb822_lossless::Paragraph::from_str(&text).map_err(|e| format!("not a valid .changes paragraph: {e}"))?;
    let sums = para
        .get("Checksums-Sha256")
        .ok_or_else(|| "the .changes has no Checksums-Sha256 field".to_owned())?;
    let files = crate::dsc::checksums(&sums).map_err(|e| e.to_string())?;
    Ok(Changes { signer, files })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sign::Signer;

    const BODY: &str = "Format: 1.8\nSource: hello\nVersion: 1.0\nChecksums-Sha256:\n 2f1ef3b9f1d2b0bbd1c0e2b1f6c0d4b9b1a7c3c1d1e5f6a7b8c9d0e1f2a3b4c5 1234 hello_1.0_amd64.deb\n";

    #[test]
    fn only_an_uploader_key_signs_and_only_signed_text_counts() {
        let uploader = Signer::generate("Up <up@example.com>").expect("key");
        let stranger = Signer::generate("S <s@example.com>").expect("key");
        let keys = uploader_keys(&[uploader.public_armored().expect("asc")]).expect("keys");
        let signed = uploader.clearsign(BODY).expect("sign");
        let c = verify(&signed, &keys).expect("verified");
        assert_eq!(c.signer, uploader.fingerprint());
        assert_eq!(c.files.len(), 1);
        assert_eq!((c.files[0].name.as_str(), c.files[0].size), ("hello_1.0_amd64.deb", 1234));
        assert_eq!(
            verify(&stranger.clearsign(BODY).expect("sign"), &keys),
            Err("not signed by an uploader key of this repository".to_owned())
        );
        assert!(verify(BODY, &keys).is_err_and(|e| e.contains("not clear-signed")));
        // A changed byte of the signed text breaks the signature.
        let tampered = signed.replace(" 1234 ", " 1235 ");
        assert!(verify(&tampered, &keys).is_err());
        assert!(uploader_keys(&["-----BEGIN PGP PUBLIC KEY BLOCK-----\n\nAAAA\n-----END PGP PUBLIC KEY BLOCK-----\n".into()]).is_err());
    }
}
