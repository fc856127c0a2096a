//! The permissions of presets as last read, so that a room taking in a new peer does not wait
//! for the database thread. Filled and emptied only on that thread, in order with the writes to
//! presets (a preset write empties its app's entries in the same call), so an entry always
//! equals what a read on that thread would answer at that point.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};

use convene_core::Permissions;

/// Preset permissions by app and preset name.
#[derive(Clone, Default)]
pub(super) struct PresetCache(Arc<Mutex<HashMap<String, HashMap<String, Permissions>>>>);

impl PresetCache {
    fn lock(&self) -> MutexGuard<'_, HashMap<String, HashMap<String, Permissions>>> {
        self.0.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The permissions of `app_id`'s preset `name`, if read since its app's presets last changed.
    pub(super) fn get(&self, app_id: &str, name: &str) -> Option<Permissions> {
        self.lock().get(app_id)?.get(name).cloned()
    }

    /// Remembers what the database thread just read.
    pub(super) fn fill(&self, app_id: &str, name: &str, permissions: &Permissions) {
        self.lock().entry(app_id.to_owned()).or_default().insert(name.to_owned(), permissions.clone());
    }

    /// Forgets an app's entries (its presets were written).
    pub(super) fn forget_app(&self, app_id: &str) {
        self.lock().remove(app_id);
    }
}
