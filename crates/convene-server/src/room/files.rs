//! Recording files: the room machine's timeline lines, appended to one private file per
//! recording under the recordings directory.

use std::collections::HashMap;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use convene_room::{RecordingIo, RecordingIoResult};

/// The path of a recording's file.
pub(crate) fn recording_path(dir: &Path, id: &str) -> PathBuf {
    dir.join(format!("{id}.jsonl"))
}

/// The open recording files of one room.
pub(super) struct RecordingFiles {
    dir: PathBuf,
    /// Open files; `None` once a write failed (the rest of the timeline is lost, the recording
    /// still finishes with what was written).
    open: HashMap<String, Option<BufWriter<File>>>,
}

impl RecordingFiles {
    pub(super) fn new(dir: PathBuf) -> Self {
        Self { dir, open: HashMap::new() }
    }

    /// Does what the machine asked; the result, if it waits for one.
    pub(super) fn apply(&mut self, io: RecordingIo) -> Option<(String, RecordingIoResult)> {
        match io {
            RecordingIo::Open { id } => {
                let result = self.create(&id);
                Some((id, result))
            }
            RecordingIo::Append { id, line } => {
                self.append(&id, &line);
                None
            }
            RecordingIo::Finish { id } => {
                let result = self.finish(&id);
                Some((id, result))
            }
        }
    }

    fn create(&mut self, id: &str) -> RecordingIoResult {
        let path = recording_path(&self.dir, id);
        match crate::files::private_dir(&self.dir).and_then(|_| crate::files::create_private(&path)) {
            Ok(file) => {
                self.open.insert(id.to_owned(), Some(BufWriter::new(file)));
                RecordingIoResult::Opened
            }
            Err(e) => {
                tracing::error!(error = %e, path = %path.display(), "cannot create the recording file");
                RecordingIoResult::OpenFailed
            }
        }
    }

    fn append(&mut self, id: &str, line: &str) {
        let Some(slot) = self.open.get_mut(id) else { return };
        if let Some(file) = slot {
            if let Err(e) = file.write_all(line.as_bytes()) {
                tracing::error!(error = %e, "recording write failed");
                *slot = None;
            }
        }
    }

    fn finish(&mut self, id: &str) -> RecordingIoResult {
        let flushed = self.open.remove(id).flatten().map(|mut f| f.flush()).transpose();
        match (flushed, std::fs::metadata(recording_path(&self.dir, id))) {
            (Ok(_), Ok(meta)) => RecordingIoResult::Finished { bytes: meta.len() },
            (flushed, meta) => {
                tracing::error!(?flushed, meta = ?meta.err(), "recording could not be finished");
                RecordingIoResult::FinishFailed
            }
        }
    }
}
