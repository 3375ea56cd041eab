//! Writing files that hold secrets (keys, tokens, credentials): the one writer, so each gets the
//! same care.

use std::io::Write as _;
use std::path::Path;

use anyhow::{Context, Result};

/// Replaces `path` with `contents` atomically, readable as `mode` says: a temporary file in the
/// same directory created with that mode (a secret is never readable by others, not even for a
/// moment), written, fsynced and renamed over the old file. A reader sees the old contents or the
/// new, never a mix, and a crash leaves the old file.
///
/// # Errors
/// IO errors, naming the file.
pub fn write_secret(path: &Path, contents: &[u8], mode: u32) -> Result<()> {
    use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
    let tmp = path.with_extension(format!("tmp-{}", std::process::id()));
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(mode)
        .open(&tmp)
        .with_context(|| format!("creating {}", tmp.display()))?;
    // A leftover temporary file keeps its old mode when opened: set it.
    f.set_permissions(std::fs::Permissions::from_mode(mode))
        .with_context(|| format!("setting the mode of {}", tmp.display()))?;
    f.write_all(contents)
        .and_then(|()| f.sync_all())
        .with_context(|| format!("writing {}", tmp.display()))?;
    std::fs::rename(&tmp, path).with_context(|| format!("replacing {}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_replaced_whole_with_their_mode() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().expect("dir");
        let p = dir.path().join("key");
        std::fs::write(&p, "old and longer").expect("old");
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o644)).expect("mode");
        write_secret(&p, b"new", 0o600).expect("write");
        assert_eq!(std::fs::read(&p).expect("read"), b"new");
        assert_eq!(std::fs::metadata(&p).expect("meta").permissions().mode() & 0o777, 0o600);
        assert_eq!(std::fs::read_dir(dir.path()).expect("dir").count(), 1, "no temporary file left");
    }
}
