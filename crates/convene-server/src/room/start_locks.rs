//! One room start at a time per meeting (cluster mode): a start subscribes to the meeting's bus
//! channel and claims the meeting, and two starts of one meeting must not interleave; starts of
//! different meetings do not wait on each other.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use tokio::sync::OwnedMutexGuard;

/// The meetings being started, each with the lock its starts take turns on.
#[derive(Default)]
pub(super) struct StartLocks {
    locks: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
}

/// A meeting's start lock, held; released (and forgotten once nobody waits on it) when dropped.
pub(super) struct StartGuard<'a> {
    locks: &'a StartLocks,
    meeting_id: String,
    held: Option<OwnedMutexGuard<()>>,
}

impl StartLocks {
    /// Waits until no other start of `meeting_id` is under way, and holds its lock.
    pub(super) async fn lock(&self, meeting_id: &str) -> StartGuard<'_> {
        let lock = self.map().entry(meeting_id.to_owned()).or_default().clone();
        let held = lock.lock_owned().await;
        StartGuard { locks: self, meeting_id: meeting_id.to_owned(), held: Some(held) }
    }

    fn map(&self) -> std::sync::MutexGuard<'_, HashMap<String, Arc<tokio::sync::Mutex<()>>>> {
        self.locks.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Meetings with a start under way or waited for.
    #[cfg(test)]
    fn len(&self) -> usize {
        self.map().len()
    }
}

impl Drop for StartGuard<'_> {
    fn drop(&mut self) {
        drop(self.held.take());
        let mut map = self.locks.map();
        // Waiters clone the lock under the map's mutex: one left only in the map has none.
        if map.get(&self.meeting_id).is_some_and(|lock| Arc::strong_count(lock) == 1) {
            map.remove(&self.meeting_id);
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[tokio::test]
    async fn starts_of_one_meeting_take_turns_and_other_meetings_do_not_wait() {
        let locks = Arc::new(StartLocks::default());
        let first = locks.lock("m1").await;
        let other = tokio::time::timeout(Duration::from_millis(100), locks.lock("m2")).await;
        assert!(other.is_ok(), "another meeting's start does not wait");
        drop(other);
        let again = tokio::time::timeout(Duration::from_millis(100), locks.lock("m1")).await;
        assert!(again.is_err(), "a second start of m1 waits for the first");
        let waiter = {
            let locks = locks.clone();
            tokio::spawn(async move {
                let _turn = locks.lock("m1").await;
            })
        };
        tokio::time::sleep(Duration::from_millis(20)).await;
        assert!(!waiter.is_finished(), "still waiting");
        drop(first);
        tokio::time::timeout(Duration::from_secs(1), waiter).await.expect("its turn comes").unwrap();
        assert_eq!(locks.len(), 0, "nothing kept once no start is under way");
    }
}
