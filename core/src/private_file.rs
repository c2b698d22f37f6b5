//! Files only the relay's user may read — the key store, the usage ledger, a rewritten dead
//! letter — replaced atomically, so a reader (or a crash) sees the old file or the new one,
//! never half of one.

use std::io::Write;
use std::path::Path;

/// Replaces `path` with `bytes`: a 0600 temp file in the same directory (created if missing),
/// fsynced, renamed over it.
pub fn replace(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let dir = path.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir)?;
    let tmp =
        dir.join(format!(".{}.tmp{}", path.file_name().and_then(|n| n.to_str()).unwrap_or("file"), std::process::id()));
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    let mut f = opts.open(&tmp)?;
    f.write_all(bytes).and_then(|_| f.sync_all())?;
    std::fs::rename(&tmp, path)
}
