//! Secrets at rest: AES-256-GCM under a master key. SigV4 verification needs the plain
//! secret, so a one-way hash cannot be used; sealing keeps a stolen database useless without
//! the master key.

use aes_gcm::aead::{Aead, KeyInit};
use aes_gcm::{Aes256Gcm, Nonce};
use base64::Engine;
use rand::RngCore;

use crate::{Error, Result};

/// A 256-bit master key. Debug output never shows it.
#[derive(Clone)]
pub struct MasterKey([u8; 32]);

impl std::fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("MasterKey(..)")
    }
}

impl MasterKey {
    /// A fresh random key.
    #[must_use]
    pub fn generate() -> Self {
        let mut k = [0u8; 32];
        rand::rngs::OsRng.fill_bytes(&mut k);
        Self(k)
    }

    /// Parses the textual form: 64 hex digits or base64 of 32 bytes, surrounding whitespace ignored.
    ///
    /// # Errors
    /// [`Error::Seal`] if the text is not a 32-byte key.
    pub fn parse(text: &str) -> Result<Self> {
        let t = text.trim();
        let raw = hex::decode(t)
            .ok()
            .or_else(|| base64::engine::general_purpose::STANDARD.decode(t).ok())
            .ok_or(Error::Seal("master key must be 64 hex digits or base64 of 32 bytes"))?;
        let k: [u8; 32] = raw.try_into().map_err(|_| Error::Seal("master key must be exactly 32 bytes"))?;
        Ok(Self(k))
    }

    /// The textual form written to a key file.
    #[must_use]
    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }

    /// Encrypts `plain`; the output is nonce then ciphertext with tag.
    ///
    /// # Errors
    /// [`Error::Seal`] if encryption fails.
    pub fn seal(&self, plain: &[u8]) -> Result<Vec<u8>> {
        let cipher = Aes256Gcm::new_from_slice(&self.0).map_err(|_| Error::Seal("bad key length"))?;
        let mut nonce = [0u8; 12];
        rand::rngs::OsRng.fill_bytes(&mut nonce);
        let ct = cipher
            .encrypt(Nonce::from_slice(&nonce), plain)
            .map_err(|_| Error::Seal("encryption failed"))?;
        let mut out = nonce.to_vec();
        out.extend_from_slice(&ct);
        Ok(out)
    }

    /// Decrypts what [`MasterKey::seal`] produced.
    ///
    /// # Errors
    /// [`Error::Seal`] if the data was sealed under another key or altered.
    pub fn unseal(&self, sealed: &[u8]) -> Result<Vec<u8>> {
        if sealed.len() < 12 + 16 {
            return Err(Error::Seal("sealed value too short"));
        }
        let cipher = Aes256Gcm::new_from_slice(&self.0).map_err(|_| Error::Seal("bad key length"))?;
        let (nonce, ct) = sealed.split_at(12);
        cipher
            .decrypt(Nonce::from_slice(nonce), ct)
            .map_err(|_| Error::Seal("cannot unseal: wrong master key or corrupt value"))
    }

    /// [`MasterKey::unseal`] for sealed text (secrets, PEM keys).
    ///
    /// # Errors
    /// As [`MasterKey::unseal`], or [`Error::Seal`] if the value is not UTF-8.
    pub fn unseal_text(&self, sealed: &[u8]) -> Result<String> {
        String::from_utf8(self.unseal(sealed)?).map_err(|_| Error::Seal("sealed value is not UTF-8"))
    }
}

/// Compares two secrets (or their hashes) in time that does not depend on where they differ.
#[must_use]
pub fn same_secret(a: &[u8], b: &[u8]) -> bool {
    use subtle::ConstantTimeEq;
    a.ct_eq(b).into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seal_round_trip_and_tamper_detection() {
        let k = MasterKey::generate();
        let s = k.seal(b"secret").expect("seal");
        assert!(!s.windows(6).any(|w| w == b"secret"));
        assert_eq!(k.unseal(&s).expect("unseal"), b"secret");
        let mut bad = s.clone();
        bad[20] ^= 1;
        assert!(k.unseal(&bad).is_err());
        assert!(MasterKey::generate().unseal(&s).is_err());
        assert!(MasterKey::parse(&k.to_hex()).is_ok());
        assert!(MasterKey::parse("abc").is_err());
        assert_eq!(format!("{k:?}"), "MasterKey(..)");
    }
}
