//! Writing files that hold secrets (keys, credentials) with the mode they need.

use std::io::Write as _;
use std::path::Path;

use anyhow::{Context, Result};

/// Writes (creating or replacing) `path` with `mode`; an existing file's mode is set too, since
/// opening keeps the old one.
///
/// # Errors
/// IO errors, naming the file.
pub fn write_with_mode(path: &Path, contents: &[u8], mode: u32) -> Result<()> {
    use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(mode)
        .open(path)
        .with_context(|| format!("writing {}", path.display()))?;
    f.set_permissions(std::fs::Permissions::from_mode(mode))
        .with_context(|| format!("setting the mode of {}", path.display()))?;
    f.write_all(contents).with_context(|| format!("writing {}", path.display()))
}
