//! The data directory's files are the operator's alone: directories are created `0700` and
//! files `0600` (the database with its WAL and shared-memory files, the key file, recordings),
//! whatever the umask, and existing ones are tightened at start. The database holds the
//! participant-token signing key and the hashes of API tokens; the key file holds the webhook
//! signing key.

use std::fs::{File, OpenOptions};
use std::io;
use std::path::Path;

/// Creates a directory (and its parents) readable by the owner only, or tightens it.
pub fn private_dir(path: &Path) -> io::Result<()> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        builder.mode(0o700);
    }
    builder.create(path)?;
    restrict(path, 0o700)
}

/// Opens a new file for writing, readable by the owner only.
pub fn create_private(path: &Path) -> io::Result<File> {
    let mut options = OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let file = options.open(path)?;
    restrict(path, 0o600)?;
    Ok(file)
}

/// Makes sure the database file exists `0600` before SQLite opens it (SQLite gives its WAL and
/// shared-memory files the database file's mode), and tightens those that exist already.
pub fn private_database(db: &Path) -> io::Result<()> {
    let mut options = OpenOptions::new();
    options.append(true).create(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    options.open(db)?;
    for suffix in ["", "-wal", "-shm", "-journal"] {
        let mut name = db.as_os_str().to_owned();
        name.push(suffix);
        let path = Path::new(&name);
        if path.exists() {
            restrict(path, 0o600)?;
        }
    }
    Ok(())
}

/// Sets a path's mode (on Unix; elsewhere the platform's defaults stand).
pub fn restrict(path: &Path, mode: u32) -> io::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))?;
    }
    #[cfg(not(unix))]
    let _ = (path, mode);
    Ok(())
}
