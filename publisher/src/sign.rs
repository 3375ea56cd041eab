//! OpenPGP signing of Release files with rPGP: key generation and import, `InRelease`
//! (clear-signed) and `Release.gpg` (detached, armored). v4 keys with legacy EdDSA or RSA only:
//! gpgv and bookworm's sqv reject RFC 9580 Ed25519 and v6 keys.
//!
//! A repository signs with a [`Keyring`]: one key, or two while a key is being rotated. Both
//! signatures then sit in one `InRelease` and one `Release.gpg`, as Debian's archive signs with
//! several keys: apt accepts a file when one signature is good by a key it trusts and does not
//! complain about a signature by a key it lacks.

use pgp::armor::BlockType;
use pgp::composed::{
    ArmorOptions, CleartextSignedMessage, Deserializable, DetachedSignature, KeyType, SecretKeyParamsBuilder, SignedPublicKey,
    SignedSecretKey,
};
use pgp::crypto::hash::HashAlgorithm;
use pgp::crypto::public_key::PublicKeyAlgorithm;
use pgp::ser::Serialize;
use pgp::types::{KeyDetails, KeyVersion, Password};

/// Signing failures. Messages never contain key material.
#[derive(Debug, thiserror::Error)]
pub enum SignError {
    /// Generating, parsing or using the key failed.
    #[error("signing key: {0}")]
    Key(String),
}

fn key_err(e: impl std::fmt::Display) -> SignError {
    SignError::Key(e.to_string())
}

/// A repository's signing key.
#[derive(Debug, Clone)]
pub struct Signer {
    key: SignedSecretKey,
}

impl Signer {
    /// A new v4 Ed25519 (legacy EdDSA) key whose primary key signs.
    ///
    /// # Errors
    /// [`SignError`] if generation fails.
    pub fn generate(user_id: &str) -> Result<Self, SignError> {
        let params = SecretKeyParamsBuilder::default()
            .key_type(KeyType::Ed25519Legacy)
            .can_certify(true)
            .can_sign(true)
            .primary_user_id(user_id.into())
            .build()
            .map_err(key_err)?;
        let key = params.generate(rand::thread_rng()).map_err(key_err)?;
        Ok(Self { key })
    }

    /// Imports an unprotected secret key (armored or binary). It must be a v4 key that can sign
    /// with an algorithm apt's verifiers accept.
    ///
    /// # Errors
    /// [`SignError`] saying what is wrong.
    pub fn import(data: &[u8]) -> Result<Self, SignError> {
        let key = if data.starts_with(b"-----BEGIN") {
            SignedSecretKey::from_armor_single(data).map_err(key_err)?.0
        } else {
            SignedSecretKey::from_bytes(data).map_err(key_err)?
        };
        if key.primary_key.version() != KeyVersion::V4 {
            return Err(SignError::Key("only v4 keys are accepted (gpgv and sqv reject v6)".into()));
        }
        if !matches!(
            key.primary_key.algorithm(),
            PublicKeyAlgorithm::EdDSALegacy | PublicKeyAlgorithm::RSA | PublicKeyAlgorithm::ECDSA
        ) {
            return Err(SignError::Key(format!(
                "primary key algorithm {:?} is not accepted by apt's verifiers; use Ed25519 (legacy EdDSA) or RSA",
                key.primary_key.algorithm()
            )));
        }
        let s = Self { key };
        // A trial signature proves the key is unprotected and usable before it is stored.
        s.clearsign("probe\n")?;
        Ok(s)
    }

    /// The secret key, binary, for sealing.
    ///
    /// # Errors
    /// [`SignError`] on serialisation failure.
    pub fn to_secret_bytes(&self) -> Result<Vec<u8>, SignError> {
        self.key.to_bytes().map_err(key_err)
    }

    /// Loads a key stored by [`Signer::to_secret_bytes`].
    ///
    /// # Errors
    /// [`SignError`] when the bytes are not a secret key.
    pub fn from_secret_bytes(data: &[u8]) -> Result<Self, SignError> {
        Ok(Self {
            key: SignedSecretKey::from_bytes(data).map_err(key_err)?,
        })
    }

    fn public(&self) -> SignedPublicKey {
        SignedPublicKey::from(self.key.clone())
    }

    /// The public key, ASCII-armored.
    ///
    /// # Errors
    /// [`SignError`] on serialisation failure.
    pub fn public_armored(&self) -> Result<String, SignError> {
        self.public().to_armored_string(ArmorOptions::default()).map_err(key_err)
    }

    /// Fingerprint, upper-case hex.
    #[must_use]
    pub fn fingerprint(&self) -> String {
        hex::encode_upper(self.key.primary_key.fingerprint().as_bytes())
    }

    /// `InRelease`: `text` clear-signed. Trailing blanks are stripped and a final newline
    /// ensured first, because gpgv rejects rPGP's output otherwise.
    ///
    /// # Errors
    /// [`SignError`] if signing fails.
    pub fn clearsign(&self, text: &str) -> Result<String, SignError> {
        clearsign_with(std::slice::from_ref(self), text)
    }

    fn detached_signature(&self, data: &[u8]) -> Result<DetachedSignature, SignError> {
        DetachedSignature::sign_binary_data(
            rand::thread_rng(),
            &self.key.primary_key,
            &Password::empty(),
            HashAlgorithm::Sha256,
            data,
        )
        .map_err(key_err)
    }
}

fn clearsign_with(keys: &[Signer], text: &str) -> Result<String, SignError> {
    let clean = normalise(text);
    let mut signatures = Vec::with_capacity(keys.len());
    for k in keys {
        let one = CleartextSignedMessage::sign(rand::thread_rng(), &clean, &k.key.primary_key, &Password::empty()).map_err(key_err)?;
        signatures.extend(one.signatures().iter().cloned());
    }
    // Every signature is over the same normalised text, so they combine into one message.
    let msg = CleartextSignedMessage::new_many(&clean, |_| Ok(signatures)).map_err(key_err)?;
    msg.to_armored_string(ArmorOptions::default()).map_err(key_err)
}

/// The keys a repository signs with: the current key first, then the next one while a key is
/// being rotated.
#[derive(Debug, Clone)]
pub struct Keyring {
    keys: Vec<Signer>,
}

impl Keyring {
    /// A keyring of `keys`, the current key first.
    ///
    /// # Errors
    /// [`SignError`] when `keys` is empty.
    pub fn new(keys: Vec<Signer>) -> Result<Self, SignError> {
        if keys.is_empty() {
            return Err(SignError::Key("a repository needs a signing key".into()));
        }
        Ok(Self { keys })
    }

    /// The fingerprints, current key first.
    #[must_use]
    pub fn fingerprints(&self) -> Vec<String> {
        self.keys.iter().map(Signer::fingerprint).collect()
    }

    /// `InRelease`: `text` clear-signed by every key of the ring, in one message.
    ///
    /// # Errors
    /// [`SignError`] if signing fails.
    pub fn clearsign(&self, text: &str) -> Result<String, SignError> {
        clearsign_with(&self.keys, text)
    }

    /// `Release.gpg`: detached SHA-256 signatures over `data` by every key, in one armored block.
    ///
    /// # Errors
    /// [`SignError`] if signing fails.
    pub fn detached(&self, data: &[u8]) -> Result<String, SignError> {
        let sigs = self
            .keys
            .iter()
            .map(|k| k.detached_signature(data))
            .collect::<Result<Vec<_>, _>>()?;
        armored(&sigs, BlockType::Signature)
    }

    fn publics(&self) -> Vec<SignedPublicKey> {
        self.keys.iter().map(Signer::public).collect()
    }

    /// The public keys, ASCII-armored in one block (`key.asc`).
    ///
    /// # Errors
    /// [`SignError`] on serialisation failure.
    pub fn public_armored(&self) -> Result<String, SignError> {
        armored(&self.publics(), BlockType::PublicKey)
    }

    /// The public keys, binary, one after the other (`key.gpg`, for `signed-by`).
    ///
    /// # Errors
    /// [`SignError`] on serialisation failure.
    pub fn public_binary(&self) -> Result<Vec<u8>, SignError> {
        self.publics().to_bytes().map_err(key_err)
    }
}

fn armored(packets: &impl Serialize, typ: BlockType) -> Result<String, SignError> {
    let mut out = Vec::new();
    pgp::armor::write(packets, typ, &mut out, None, true).map_err(key_err)?;
    String::from_utf8(out).map_err(key_err)
}

/// Text exactly as it should be signed and published: no trailing blanks, one final newline.
#[must_use]
pub fn normalise(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 1);
    for line in text.lines() {
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_key_round_trips_and_signs() {
        let s = Signer::generate("Test <t@example.com>").expect("generate");
        let again = Signer::from_secret_bytes(&s.to_secret_bytes().expect("bytes")).expect("load");
        assert_eq!(s.fingerprint(), again.fingerprint());
        assert_eq!(s.fingerprint().len(), 40);
        let signed = again.clearsign("Origin: x  \nLabel: y").expect("sign");
        assert!(
            signed.starts_with("-----BEGIN PGP SIGNED MESSAGE-----\nHash: SHA256\n\nOrigin: x\nLabel: y\n"),
            "{signed}"
        );
        let one = Keyring::new(vec![s.clone()]).expect("ring");
        assert!(one.detached(b"abc").expect("sig").starts_with("-----BEGIN PGP SIGNATURE-----"));
        assert!(
            one.public_armored()
                .expect("asc")
                .starts_with("-----BEGIN PGP PUBLIC KEY BLOCK-----")
        );
        let armored = s.key.to_armored_string(ArmorOptions::default()).expect("armor");
        assert_eq!(Signer::import(armored.as_bytes()).expect("import").fingerprint(), s.fingerprint());
        assert!(Signer::import(b"not a key").is_err());
    }

    #[test]
    fn a_keyring_of_two_signs_with_both_and_publishes_both() {
        let old = Signer::generate("Old <o@example.com>").expect("generate");
        let new = Signer::generate("New <n@example.com>").expect("generate");
        let ring = Keyring::new(vec![old.clone(), new.clone()]).expect("ring");
        assert_eq!(ring.fingerprints(), vec![old.fingerprint(), new.fingerprint()]);
        let text = ring.clearsign("Origin: x\nLabel: y\n").expect("sign");
        let (msg, _) = CleartextSignedMessage::from_string(&text).expect("parse");
        assert_eq!(msg.signatures().len(), 2);
        assert_eq!(msg.signed_text(), "Origin: x\r\nLabel: y\r\n");
        // Each key alone verifies its own signature.
        for k in [&old, &new] {
            msg.verify(&k.public()).expect("verifies");
        }
        let stranger = Signer::generate("S <s@example.com>").expect("generate");
        assert!(msg.verify(&stranger.public()).is_err());
        let det = ring.detached(b"data").expect("sig");
        let (det, _) = DetachedSignature::from_armor_many(det.as_bytes()).expect("armor");
        assert_eq!(det.count(), 2);
        let asc = ring.public_armored().expect("asc");
        let (keys, _) = SignedPublicKey::from_armor_many(asc.as_bytes()).expect("armor");
        let fps: Vec<String> = keys.map(|k| hex::encode_upper(k.expect("key").fingerprint().as_bytes())).collect();
        assert_eq!(fps, ring.fingerprints());
        assert!(Keyring::new(Vec::new()).is_err());
    }
}
