//! Rooms in cluster mode: starting a meeting's room only where the meeting is owned (claiming it
//! if nobody owns it, taking its session's event log over when it restores one), a relay to the
//! owner elsewhere; at start-up the meetings this node owned; and the sweep that takes over the
//! sessions no live node runs and mends the meetings this node owns but runs no room for.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc;

use super::{live_session_of, log_writer, owned, relay, NoRoom, Restored, RoomCommand, Rooms, ROOM_QUEUE};
use crate::cluster::event_log::TakenOver;
use crate::cluster::node::ClusterNode;
use crate::cluster::ownership::Claim;
use crate::model::Meeting;

/// How often a cluster node looks for live sessions that no live node runs.
pub(crate) const ORPHAN_SWEEP_EVERY: Duration = Duration::from_secs(2);

/// What a cluster node starting a meeting's room does when another node owns the meeting.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Elsewhere {
    /// Relays to the owner (a connection or a REST command wants the meeting).
    Relay,
    /// Nothing (a sweep or a start-up wanted to run it only if nobody does).
    Leave,
}

impl Rooms {
    /// Cluster mode: listens on the meeting's channel and claims it. Owned, its room starts
    /// here (restoring its live session from the store and its event log if it has one: the
    /// meeting was taken over, or this node restarted; a log a newer owner has taken refuses the
    /// start); owned elsewhere, a relay to the owner starts instead (or, with
    /// [`Elsewhere::Leave`], nothing).
    pub(super) async fn start_clustered(
        &self,
        node: &Arc<ClusterNode>,
        app_id: &str,
        meeting: Meeting,
        elsewhere: Elsewhere,
    ) -> Result<mpsc::Sender<RoomCommand>, NoRoom> {
        let _one_at_a_time = self.starting.lock(&meeting.id).await;
        self.start_clustered_locked(node, app_id, meeting, elsewhere).await
    }

    /// [`Rooms::start_clustered`], the meeting's start lock held.
    async fn start_clustered_locked(
        &self,
        node: &Arc<ClusterNode>,
        app_id: &str,
        meeting: Meeting,
        elsewhere: Elsewhere,
    ) -> Result<mpsc::Sender<RoomCommand>, NoRoom> {
        if let Some(tx) = self.registry.open(&meeting.id) {
            return Ok(tx);
        }
        let unavailable = |what: &str, e: &dyn std::fmt::Display| {
            tracing::warn!(error = %e, meeting = %meeting.id, "{what}");
            NoRoom::Unavailable
        };
        // Listening before claiming: a relay that learns of the claim finds the owner listening.
        let inbound = node.bus.serve(&meeting.id).await.map_err(|e| unavailable("could not listen on the bus", &e))?;
        let relay_epoch = match node.claim(&meeting.id).await {
            Ok(Claim::Owned(fence)) => match live_session_of(&*self.deps.store, app_id, &meeting.id).await {
                Ok(mut restored) => {
                    let stale = match restored.as_mut() {
                        Some(restored) => !take_log_over(node, &fence, restored).await,
                        None => false,
                    };
                    if stale {
                        // A newer owner has the session's log: this claim is stale.
                        let _ = node.release(&fence).await;
                        Err(NoRoom::Unavailable)
                    } else {
                        tracing::debug!(meeting = %meeting.id, epoch = fence.epoch, restored = restored.is_some(), "meeting claimed");
                        let owner = owned::Owner::new(node.clone(), fence, inbound);
                        return Ok(self.start(app_id, meeting, restored, Some(owner)));
                    }
                }
                Err(e) => {
                    // Not kept with no room to run it: other nodes would wait on it.
                    let _ = node.release(&fence).await;
                    Err(unavailable("could not read the meeting's live session", &e))
                }
            },
            Ok(Claim::OwnedBy { epoch, .. }) => Ok(epoch),
            Err(e) => Err(unavailable("could not claim the meeting", &e)),
        };
        drop(inbound);
        let _ = node.bus.stop_serving(&meeting.id).await;
        match elsewhere {
            Elsewhere::Relay => relay_epoch.map(|epoch| self.start_relay(node, &meeting.id, epoch)),
            Elsewhere::Leave => Err(NoRoom::Unavailable),
        }
    }

    /// Cluster mode, every [`ORPHAN_SWEEP_EVERY`]: takes over the live sessions no live node
    /// runs ([`ClusterNode::orphaned`]: their owner died and none of their clients came back to
    /// bring them to another node), so that their away peers' grace and their keep-alive run
    /// out and abandoned sessions end. A meeting another node claims first is left to it. Also
    /// mends this node's own stranded meetings ([`Rooms::mend_stranded`]). Returns how many
    /// rooms it started.
    pub(crate) async fn adopt_orphans(&self) -> usize {
        let Some(node) = self.deps.cluster.clone().filter(|node| node.holds()) else { return 0 };
        let mended = self.mend_stranded(&node).await;
        let orphans = found_or_nothing(node.orphaned().await, "could not look for sessions nobody runs");
        let mut adopted = 0;
        for (app_id, meeting_id) in orphans {
            if self.registry.open(&meeting_id).is_some() {
                continue;
            }
            let Ok(Some(meeting)) = self.deps.store.get_meeting(&app_id, &meeting_id).await else { continue };
            if self.start_clustered(&node, &app_id, meeting, Elsewhere::Leave).await.is_ok() {
                tracing::info!(meeting = %meeting_id, "took over a session whose owner is gone");
                adopted += 1;
            }
        }
        adopted + mended
    }

    fn start_relay(&self, node: &Arc<ClusterNode>, meeting_id: &str, epoch: i64) -> mpsc::Sender<RoomCommand> {
        let (tx, rx) = mpsc::channel(ROOM_QUEUE);
        self.registry.lock().insert(meeting_id.to_owned(), tx.clone());
        relay::spawn(node.clone(), self.registry.clone(), meeting_id.to_owned(), epoch, rx);
        tx
    }

    /// Cluster mode, at start: the rooms of the meetings this node owned when it stopped, if it
    /// still owns them (nobody took them over meanwhile); no other node's meeting is touched.
    /// A meeting it owns with no live session is given up.
    pub(crate) async fn restore_owned(&self) -> Result<usize, crate::StartError> {
        let Some(node) = self.deps.cluster.clone() else { return Ok(0) };
        let live = self.deps.store.live_sessions(None).await?;
        let mut started = 0;
        for fence in node.owned_here().await? {
            let session = live.iter().find(|(s, _)| s.meeting_id == fence.meeting_id).map(|(s, _)| s);
            let meeting = match session {
                Some(s) => self.deps.store.get_meeting(&s.app_id, &s.meeting_id).await?.map(|m| (s.app_id.clone(), m)),
                None => None,
            };
            match meeting {
                Some((app_id, meeting)) => {
                    if self.start_clustered(&node, &app_id, meeting, Elsewhere::Leave).await.is_ok() {
                        started += 1;
                    }
                }
                None => {
                    node.release(&fence).await?;
                }
            }
        }
        Ok(started)
    }

    /// Cluster mode, with the sweep: the meetings this node owns by the database but runs no
    /// room for (its rooms stopped when its lease lapsed, and the lease holds again): one with a
    /// live session gets its room back, one without is given up. Without this, a meeting would
    /// stay owned by a live node that serves it not, and every other node would wait on it.
    /// Checked under each meeting's start lock, so that a room being started is never taken for
    /// one of these.
    async fn mend_stranded(&self, node: &Arc<ClusterNode>) -> usize {
        let stranded =
            found_or_nothing(node.owned_here_with_live_session().await, "could not list the meetings this node owns");
        let mut mended = 0;
        for (fence, live_in_app) in stranded {
            let _one_at_a_time = self.starting.lock(&fence.meeting_id).await;
            if self.registry.open(&fence.meeting_id).is_some() {
                continue;
            }
            let Some(app_id) = live_in_app else {
                if let Err(e) = node.release(&fence).await {
                    tracing::warn!(error = %e, meeting = %fence.meeting_id, "could not give up a meeting");
                }
                continue;
            };
            let Ok(Some(meeting)) = self.deps.store.get_meeting(&app_id, &fence.meeting_id).await else { continue };
            if self.start_clustered_locked(node, &app_id, meeting, Elsewhere::Leave).await.is_ok() {
                tracing::info!(meeting = %fence.meeting_id, "a meeting this node owns runs again");
                mended += 1;
            }
        }
        mended
    }
}

/// What a sweep's query found, or nothing when it failed (logged as `what`): the next sweep asks
/// again.
fn found_or_nothing<T>(found: Result<Vec<T>, crate::cluster::ClusterError>, what: &str) -> Vec<T> {
    found.unwrap_or_else(|e| {
        tracing::warn!(error = %e, "{what}");
        Vec::new()
    })
}

/// Takes the event log of the session being restored over for `fence` (no earlier owner can
/// add to it now) and hands what it holds to the room: its peers then resume with an exact
/// replay. Without a usable log (none, or Redis away) they resume with snapshots. `false` when a
/// newer owner has the log: this claim is stale.
async fn take_log_over(node: &ClusterNode, fence: &crate::cluster::ownership::Fence, restored: &mut Restored) -> bool {
    let mut log = node.event_log.clone();
    match log.take_over(&restored.session_id, fence.epoch).await {
        Ok(TakenOver::Fenced { epoch }) => {
            tracing::warn!(meeting = %fence.meeting_id, epoch, "a newer owner has the session's log");
            false
        }
        Ok(taken) => {
            restored.log = log_writer::restored_log(&restored.session_id, taken);
            true
        }
        Err(e) => {
            tracing::warn!(error = %e, meeting = %fence.meeting_id, "could not read the session's log; its peers get snapshots");
            true
        }
    }
}
