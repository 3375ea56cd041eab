//! Secrets at rest: AES-256-GCM under a master key. SigV4 verification needs the plain
//! secret, so a one-way hash cannot be used; sealing keeps a stolen database useless without
//! the master key.

use aes_gcm::aead::{Aead, KeyInit};
use aes_gcm::{Aes256Gcm, Nonce};
use base64::Engine;
use rand::RngCore;

use crate::{Error, Result};

/// A 256-bit master key, with the keys it replaced while a rotation is under way: it seals
/// with the first and unseals with any. Debug output never shows them.
#[derive(Clone)]
pub struct MasterKey {
    primary: [u8; 32],
    /// Still accepted for unsealing (secrets not yet re-sealed, other nodes not yet switched).
    previous: Vec<[u8; 32]>,
}

impl std::fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "MasterKey({} ..)", self.fingerprint())
    }
}

fn parse_one(t: &str) -> Result<[u8; 32]> {
    let raw = hex::decode(t)
        .ok()
        .or_else(|| base64::engine::general_purpose::STANDARD.decode(t).ok())
        .ok_or(Error::Seal("master key must be 64 hex digits or base64 of 32 bytes"))?;
    raw.try_into().map_err(|_| Error::Seal("master key must be exactly 32 bytes"))
}

impl MasterKey {
    /// A fresh random key.
    #[must_use]
    pub fn generate() -> Self {
        let mut k = [0u8; 32];
        rand::rngs::OsRng.fill_bytes(&mut k);
        Self {
            primary: k,
            previous: Vec::new(),
        }
    }

    /// Parses a key file: one key a line (64 hex digits or base64 of 32 bytes), the first the
    /// one that seals, the others still accepted; blank lines and `#` comments are ignored.
    ///
    /// # Errors
    /// [`Error::Seal`] if a line is not a 32-byte key or there is none.
    pub fn parse(text: &str) -> Result<Self> {
        let mut keys = text
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty() && !l.starts_with('#'))
            .map(parse_one);
        let primary = keys.next().ok_or(Error::Seal("the master key file holds no key"))??;
        let previous = keys.collect::<Result<Vec<_>>>()?;
        Ok(Self { primary, previous })
    }

    /// The primary key's textual form.
    #[must_use]
    pub fn to_hex(&self) -> String {
        hex::encode(self.primary)
    }

    /// The key file's text: the primary, then the accepted ones.
    #[must_use]
    pub fn to_file_text(&self) -> String {
        std::iter::once(&self.primary)
            .chain(&self.previous)
            .map(|k| hex::encode(k) + "\n")
            .collect()
    }

    /// `new` seals from now on; this key's keys stay accepted until the secrets are re-sealed.
    #[must_use]
    pub fn rotated_to(&self, new: &MasterKey) -> Self {
        let mut previous = vec![self.primary];
        previous.extend(self.previous.iter().filter(|k| **k != new.primary));
        Self {
            primary: new.primary,
            previous,
        }
    }

    /// Only the primary key (after every secret was re-sealed under it).
    #[must_use]
    pub fn without_previous(&self) -> Self {
        Self {
            primary: self.primary,
            previous: Vec::new(),
        }
    }

    /// A name for the primary key that reveals nothing of it (SHA-256, first 8 bytes, hex).
    #[must_use]
    pub fn fingerprint(&self) -> String {
        use sha2::Digest;
        hex::encode(&sha2::Sha256::digest(self.primary)[..8])
    }

    /// Whether `fingerprint` names one of this ring's keys; if so, that key becomes primary.
    #[must_use]
    pub fn promoted(&self, fingerprint: &str) -> Option<Self> {
        let all: Vec<[u8; 32]> = std::iter::once(self.primary).chain(self.previous.iter().copied()).collect();
        let hit = all.iter().find(|k| {
            use sha2::Digest;
            hex::encode(&sha2::Sha256::digest(k)[..8]) == fingerprint
        })?;
        Some(Self {
            primary: *hit,
            previous: all.iter().filter(|k| *k != hit).copied().collect(),
        })
    }

    /// Encrypts `plain` under the primary key; the output is nonce then ciphertext with tag.
    ///
    /// # Errors
    /// [`Error::Seal`] if encryption fails.
    pub fn seal(&self, plain: &[u8]) -> Result<Vec<u8>> {
        let cipher = Aes256Gcm::new_from_slice(&self.primary).map_err(|_| Error::Seal("bad key length"))?;
        let mut nonce = [0u8; 12];
        rand::rngs::OsRng.fill_bytes(&mut nonce);
        let ct = cipher
            .encrypt(Nonce::from_slice(&nonce), plain)
            .map_err(|_| Error::Seal("encryption failed"))?;
        let mut out = nonce.to_vec();
        out.extend_from_slice(&ct);
        Ok(out)
    }

    /// Decrypts what [`MasterKey::seal`] produced, under any key of the ring.
    ///
    /// # Errors
    /// [`Error::Seal`] if the data was sealed under another key or altered.
    pub fn unseal(&self, sealed: &[u8]) -> Result<Vec<u8>> {
        if sealed.len() < 12 + 16 {
            return Err(Error::Seal("sealed value too short"));
        }
        let (nonce, ct) = sealed.split_at(12);
        std::iter::once(&self.primary)
            .chain(&self.previous)
            .find_map(|k| {
                Aes256Gcm::new_from_slice(k)
                    .ok()
                    .and_then(|c| c.decrypt(Nonce::from_slice(nonce), ct).ok())
            })
            .ok_or(Error::Seal("cannot unseal: wrong master key or corrupt value"))
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
        assert!(!format!("{k:?}").contains(&k.to_hex()));
    }

    #[test]
    fn a_rotated_ring_seals_with_the_new_key_and_opens_both() {
        let old = MasterKey::generate();
        let new = MasterKey::generate();
        let before = old.seal(b"s1").expect("seal");
        let ring = old.rotated_to(&new);
        assert_eq!(ring.fingerprint(), new.fingerprint());
        assert_eq!(ring.unseal(&before).expect("old secret"), b"s1");
        let after = ring.seal(b"s2").expect("seal");
        assert_eq!(new.unseal(&after).expect("new key alone"), b"s2");
        assert!(old.unseal(&after).is_err(), "sealed under the new key");
        // The file keeps both, new first; the parsed file is the same ring.
        let text = ring.to_file_text();
        assert_eq!(text.lines().count(), 2);
        let parsed = MasterKey::parse(&format!("# rotated\n{text}\n")).expect("parse");
        assert_eq!(parsed.unseal(&before).expect("old"), b"s1");
        assert!(ring.without_previous().unseal(&before).is_err());
        // A node whose file lists the new key second promotes it when told to.
        let other_node = MasterKey::parse(&format!("{}\n{}\n", old.to_hex(), new.to_hex())).expect("parse");
        let promoted = other_node.promoted(&new.fingerprint()).expect("known key");
        assert_eq!(promoted.fingerprint(), new.fingerprint());
        assert!(other_node.promoted("0000000000000000").is_none());
        assert!(MasterKey::parse("\n# nothing\n").is_err());
    }
}
