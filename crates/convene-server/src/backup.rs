//! `convene-server backup`: a consistent copy of a SQLite data directory, taken while the server
//! runs, that is itself a data directory: start a server with `--data` on it to restore.
//!
//! The database is copied with SQLite's `VACUUM INTO`, which reads one snapshot of it (writes the
//! running server makes meanwhile are not in the copy, and are not blocked for long); the webhook
//! signing key is copied beside it, so that receivers keep verifying. Recordings are not copied:
//! they are files that do not change once finished, for the operator's usual file backups
//! (`docs/deploy.md`). The copy's files are `0600` in a `0700` directory, as the original's.

use std::path::{Path, PathBuf};

use rusqlite::{Connection, OpenFlags};

use crate::files;

/// The files of a data directory a backup copies.
const DATABASE: &str = "convene.db";
const WEBHOOK_KEY: &str = "webhook_key.pem";
/// The database while it is being copied.
const PARTIAL: &str = "convene.db.partial";

/// Why a backup could not be made. Nothing is left half-written in the destination but the
/// directory itself.
#[derive(Debug, thiserror::Error)]
pub enum BackupError {
    /// The data directory has no database.
    #[error("{0} holds no Convene database (convene.db); is it a data directory?")]
    NoDatabase(PathBuf),
    /// The destination exists and is not an empty directory.
    #[error("{0} exists and is not empty: a backup goes to a new or empty directory")]
    DestinationNotEmpty(PathBuf),
    /// A file could not be read or written.
    #[error("{0}: {1}")]
    Io(PathBuf, std::io::Error),
    /// SQLite could not copy the database.
    #[error("copying the database: {0}")]
    Sqlite(#[from] rusqlite::Error),
}

/// What a backup wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Backup {
    /// The copied database.
    pub database: PathBuf,
    /// The copied webhook key, when the data directory had one.
    pub webhook_key: Option<PathBuf>,
}

/// The error of an I/O step on `path`.
fn io(path: &Path) -> impl FnOnce(std::io::Error) -> BackupError {
    let path = path.to_owned();
    move |e| BackupError::Io(path, e)
}

/// Copies the data directory `data` into `dest` (created if missing; it must be empty).
pub fn backup(data: &Path, dest: &Path) -> Result<Backup, BackupError> {
    let db = data.join(DATABASE);
    if !db.is_file() {
        return Err(BackupError::NoDatabase(data.to_owned()));
    }
    if dest.exists() && std::fs::read_dir(dest).map_err(io(dest))?.next().is_some() {
        return Err(BackupError::DestinationNotEmpty(dest.to_owned()));
    }
    files::private_dir(dest).map_err(io(dest))?;
    let copied = copy_files(data, dest);
    if copied.is_err() {
        for name in [PARTIAL, DATABASE, WEBHOOK_KEY] {
            let _ = std::fs::remove_file(dest.join(name));
        }
    }
    copied
}

fn copy_files(data: &Path, dest: &Path) -> Result<Backup, BackupError> {
    let database = dest.join(DATABASE);
    // Written under another name and renamed once whole and on disk, so that a copy cut short
    // (a kill, a power loss) never looks like a backup.
    let partial = dest.join(PARTIAL);
    // An empty 0600 file first: SQLite writes into it and keeps its mode.
    files::create_private(&partial).map_err(io(&partial))?;
    let conn = Connection::open_with_flags(data.join(DATABASE), OpenFlags::SQLITE_OPEN_READ_WRITE)?;
    conn.busy_timeout(std::time::Duration::from_secs(10))?;
    let target = partial.to_str().ok_or_else(|| {
        BackupError::Io(partial.clone(), std::io::Error::new(std::io::ErrorKind::InvalidInput, "not UTF-8"))
    })?;
    conn.execute("VACUUM INTO ?1", [target])?;
    std::fs::File::open(&partial).and_then(|f| f.sync_all()).map_err(io(&partial))?;
    std::fs::rename(&partial, &database).map_err(io(&database))?;
    let key = data.join(WEBHOOK_KEY);
    if !key.is_file() {
        std::fs::File::open(dest).and_then(|d| d.sync_all()).map_err(io(dest))?;
        return Ok(Backup { database, webhook_key: None });
    }
    let copy = dest.join(WEBHOOK_KEY);
    let bytes = std::fs::read(&key).map_err(io(&key))?;
    use std::io::Write;
    files::create_private(&copy)
        .and_then(|mut f| f.write_all(&bytes).and_then(|()| f.sync_all()))
        .map_err(io(&copy))?;
    // The renames and the key's entry on disk too.
    std::fs::File::open(dest).and_then(|d| d.sync_all()).map_err(io(dest))?;
    Ok(Backup { database, webhook_key: Some(copy) })
}
