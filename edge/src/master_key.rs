//! Where the master key comes from, and the key file's rewrites during a rotation.
//!
//! The file holds one key a line: the first seals, the others are still accepted (see
//! [`MasterKey::parse`]). A rotation writes the new key first and keeps the old ones, so a node
//! restarted mid-rotation still opens every secret; retiring drops the old lines.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use rustshare_control::seal::MasterKey;

/// Where this node's master key lives.
#[derive(Debug, Clone)]
pub enum KeySource {
    /// `RUSTSHARE_MASTER_KEY`: fixed for the life of the process; rotation needs a key file.
    Env,
    /// A key file (`master_key_file`).
    File(PathBuf),
}

/// Loads the key, making a key file with a fresh key on first start.
///
/// # Errors
/// A malformed key or file, or an unwritable data directory.
pub fn load(path: &Path) -> Result<(MasterKey, KeySource)> {
    if let Ok(v) = std::env::var("RUSTSHARE_MASTER_KEY") {
        return Ok((MasterKey::parse(&v).context("RUSTSHARE_MASTER_KEY")?, KeySource::Env));
    }
    let source = KeySource::File(path.to_owned());
    if path.exists() {
        return Ok((reread(&source)?, source));
    }
    let k = MasterKey::generate();
    crate::files::write_secret(path, k.to_file_text().as_bytes(), 0o600).with_context(|| format!("creating {}", path.display()))?;
    eprintln!(
        "Generated a master key in {} (mode 0600). Back it up: without it, stored S3 secrets cannot be used.",
        path.display()
    );
    Ok((k, source))
}

/// Reads the key file (again, after other nodes' rotations).
///
/// # Errors
/// An unreadable or malformed file; [`KeySource::Env`] cannot be re-read.
pub fn reread(source: &KeySource) -> Result<MasterKey> {
    match source {
        KeySource::Env => anyhow::bail!("the master key comes from RUSTSHARE_MASTER_KEY and cannot change while the node runs"),
        KeySource::File(p) => {
            let t = std::fs::read_to_string(p).with_context(|| format!("reading master key file {}", p.display()))?;
            MasterKey::parse(&t).with_context(|| format!("master key file {}", p.display()))
        }
    }
}

/// Replaces the key file with `ring` atomically (a temporary file in the same directory,
/// fsynced, renamed over it), mode 0600.
///
/// # Errors
/// IO errors, with the path.
pub fn write(path: &Path, ring: &MasterKey) -> Result<()> {
    crate::files::write_secret(path, ring.to_file_text().as_bytes(), 0o600)
}
