//! The room: one meeting's live state, its inputs that are not protocol (time, a lost
//! connection, a restart's restore) and its outputs. The protocol's inputs are in
//! [`handshake`](crate::handshake), [`commands`](crate::commands) and [`api`](crate::api).

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::time::{Duration, Instant};

use convene_core::permissions::Permissions;
use convene_core::{Actor, EndReason, RecordingState};

use crate::clock::WallClock;
use crate::ids::IdSource;
use crate::output::{ConnId, Output, Timer};
use crate::peer::{Gone, PeerState, PeerStatus, PeerView};
use crate::recording::ActiveRecording;
use crate::records::{AppInfo, MeetingSettings, ParticipantInfo, StayOutcome};

/// Frames kept per connected peer for replay on resume. Older ones are dropped, and a resume
/// from before them gets a fresh snapshot instead.
pub const REPLAY_CONNECTED: usize = 64;
/// Frames kept per away peer; past this the resume gets a snapshot.
pub const REPLAY_AWAY: usize = 4096;
/// Sequence numbers skipped after a restart, above anything sent before it.
pub const RESTART_SEQ_MARGIN: u64 = 1_000_000;
/// How long the room remembers why a peer left (for resumes that come late).
pub const GONE_MEMORY: Duration = Duration::from_secs(600);

/// What a room is started with.
#[derive(Debug, Clone)]
pub struct RoomConfig {
    /// The app.
    pub app: AppInfo,
    /// The meeting's settings (changed later by [`ApiCommand::MeetingUpdated`](crate::ApiCommand)).
    pub meeting: MeetingSettings,
    /// The server's public base URL (for download links).
    pub base_url: String,
    /// How long a peer whose connection dropped stays, waiting to resume.
    pub away_grace: Duration,
    /// How long a room with nothing in it lives on.
    pub room_idle: Duration,
    /// Frames a connection's send queue holds (a replay longer than that becomes a snapshot).
    pub send_queue: usize,
    /// Emit every sequenced event as [`Output::Logged`] ahead of its frames, for a room that may
    /// take the session over (cluster mode).
    pub log_events: bool,
    /// The wall clock.
    pub clock: WallClock,
}

/// The live session.
#[derive(Debug, Clone)]
pub(crate) struct Live {
    pub id: String,
    pub started_at: String,
}

/// A live session restored from the store at start-up.
#[derive(Debug, Clone)]
pub struct Restored {
    /// Session id.
    pub session_id: String,
    /// Start time.
    pub started_at: String,
    /// Highest sequence number persisted.
    pub last_seq: u64,
    /// Peers that were in it.
    pub peers: Vec<RestoredPeer>,
    /// The session's event log, when one was kept (cluster mode): the peers then resume with
    /// an exact replay of what they missed, under the same sequence numbers.
    pub log: Option<crate::RestoredLog>,
}

/// A peer of a restored session.
#[derive(Debug, Clone)]
pub struct RestoredPeer {
    /// Peer id.
    pub peer_id: String,
    /// Its participant's record.
    pub participant: ParticipantInfo,
    /// Its preset's permissions now.
    pub permissions: Permissions,
    /// The name the stay went by, as stored: kept when it differs from the record's (a name
    /// chosen before joining). `None`: the record's.
    pub display_name: Option<String>,
    /// Whether it was pinned, as stored.
    pub pinned: bool,
}

/// One meeting's live session rules, sans IO: inputs are `handle_*` calls carrying the time,
/// outputs are drained with [`poll_output`](Self::poll_output), and
/// [`poll_timeout`](Self::poll_timeout) says when to call [`handle_timeout`](Self::handle_timeout).
pub struct Room {
    pub(crate) config: RoomConfig,
    pub(crate) ids: Box<dyn IdSource>,
    pub(crate) session: Option<Live>,
    pub(crate) seq: u64,
    pub(crate) peers: BTreeMap<String, PeerState>,
    /// Connections the room knows, and the peer each carries once welcomed.
    pub(crate) conns: BTreeMap<ConnId, Option<String>>,
    /// New connections waiting for their preset's permissions ([`Output::FindPermissions`]).
    pub(crate) arriving: BTreeMap<ConnId, crate::handshake::Arrival>,
    pub(crate) gone: BTreeMap<String, (Gone, Instant)>,
    /// `gone`'s peer ids in the order they went (times only grow), for its timer.
    gone_order: VecDeque<(Instant, String)>,
    /// Away peers by when they went away, for the grace timer.
    away: BTreeSet<(Instant, String)>,
    pub(crate) recording: Option<ActiveRecording>,
    /// A stopped recording whose file is being finished.
    pub(crate) finishing: Option<crate::recording::Finishing>,
    /// Actions waiting for a membership check.
    pub(crate) gates: BTreeMap<crate::output::CheckId, crate::gates::Gate>,
    pub(crate) next_check: u64,
    next_arrival: u64,
    /// Since when the session has had no joined peer.
    pub(crate) empty_since: Option<Instant>,
    /// Since when the room has had nothing at all.
    idle_since: Option<Instant>,
    pub(crate) outputs: VecDeque<Output>,
}

impl std::fmt::Debug for Room {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Room")
            .field("meeting", &self.config.meeting.id)
            .field("session", &self.session.as_ref().map(|s| &s.id))
            .field("seq", &self.seq)
            .field("peers", &self.peers.len())
            .finish_non_exhaustive()
    }
}

impl Room {
    /// A room with no session, started at `now`, taking its ids from `ids`.
    pub fn new(config: RoomConfig, ids: Box<dyn IdSource>, now: Instant) -> Self {
        Self {
            config,
            ids,
            session: None,
            seq: 0,
            peers: BTreeMap::new(),
            conns: BTreeMap::new(),
            arriving: BTreeMap::new(),
            gone: BTreeMap::new(),
            gone_order: VecDeque::new(),
            away: BTreeSet::new(),
            recording: None,
            finishing: None,
            gates: BTreeMap::new(),
            next_check: 1,
            next_arrival: 0,
            empty_since: None,
            idle_since: Some(now),
            outputs: VecDeque::new(),
        }
    }

    /// Takes up a session that was live when its room stopped (the server restarted, or in
    /// cluster mode the owner died): its peers are away and may resume within the grace period.
    /// With the session's event log ([`Restored::log`], one that reaches the sequence number the
    /// store last recorded), they resume with an exact replay and sequence numbers go on from
    /// the log's last; otherwise they resume with a snapshot, and sequence numbers continue
    /// [`RESTART_SEQ_MARGIN`] above the persisted ones. Returns whether the log was taken up (a
    /// room that logs then goes on with that log; otherwise it starts the log afresh).
    pub fn restore(&mut self, now: Instant, restored: Restored) -> bool {
        let log = restored.log.filter(|log| Self::log_covers(log, &restored.session_id, restored.last_seq));
        let replays = log.is_some();
        self.seq = match &log {
            Some(log) => log.top,
            None => restored.last_seq + RESTART_SEQ_MARGIN,
        };
        // Stored at once: only joins store the sequence otherwise, so a second restart before
        // any join would start again from the same base, below what clients already have.
        self.store(crate::StoreWrite::SessionTouched {
            session_id: restored.session_id.clone(),
            last_seq: self.seq,
            concurrent: 0,
        });
        self.session = Some(Live { id: restored.session_id, started_at: restored.started_at });
        for p in restored.peers {
            let mut state = PeerState::new(&p.peer_id, p.participant, p.permissions, PeerStatus::Joined, None);
            state.evicted_up_to = u64::MAX;
            if let Some(name) = p.display_name.filter(|name| *name != state.peer.name) {
                state.choose_name(name);
            }
            state.peer.pinned = p.pinned;
            self.add_peer(p.peer_id.clone(), state);
            self.set_away(&p.peer_id, Some(now));
        }
        if let Some(log) = log {
            self.replay_from_log(log);
        }
        if self.joined_ids().is_empty() {
            self.empty_since = Some(now);
        }
        self.idle_since = None;
        tracing::info!(meeting = %self.config.meeting.id, peers = self.peers.len(), replays, "restored a live session");
        replays
    }

    /// The next thing to do, in order.
    pub fn poll_output(&mut self) -> Option<Output> {
        self.outputs.pop_front()
    }

    /// How many outputs wait to be drained.
    pub fn pending_outputs(&self) -> usize {
        self.outputs.len()
    }

    /// The earliest timer and when it fires.
    pub fn poll_timeout(&self) -> Option<(Timer, Instant)> {
        self.timers().min_by_key(|(_, at)| *at)
    }

    /// Every armed timer and when it fires. The idle timer stays armed once past, until the
    /// driver drops the room ([`is_drained`](Self::is_drained)).
    pub fn timers(&self) -> impl Iterator<Item = (Timer, Instant)> {
        let away = self.away.first().map(|(at, _)| *at + self.config.away_grace);
        let keep_alive = self.empty_since.filter(|_| self.session.is_some()).map(|e| e + self.keep_alive());
        let idle = self.idle_since.map(|i| i + self.config.room_idle);
        let gone = self.gone_order.front().map(|(at, _)| *at + GONE_MEMORY);
        [(Timer::AwayGrace, away), (Timer::KeepAlive, keep_alive), (Timer::Idle, idle), (Timer::GoneMemory, gone)]
            .into_iter()
            .filter_map(|(timer, at)| at.map(|at| (timer, at)))
    }

    /// Runs the timers due at `now`: away peers past their grace leave, an empty session past
    /// its keep-alive ends, old reasons for leaving are forgotten.
    pub fn handle_timeout(&mut self, now: Instant) {
        let grace = self.config.away_grace;
        let expired: Vec<String> =
            self.away.iter().take_while(|(at, _)| now >= *at + grace).map(|(_, id)| id.clone()).collect();
        for id in expired {
            tracing::info!(peer = %id, "away too long; removed");
            self.remove_peer(now, &id, Gone::Expired, StayOutcome::Expired);
        }
        if self.session.is_some() && self.empty_since.is_some_and(|e| now >= e + self.keep_alive()) {
            self.end_session(now, EndReason::AllParticipantsLeft, Actor::System);
        }
        while let Some((at, id)) = self.gone_order.front().filter(|(at, _)| now >= *at + GONE_MEMORY).cloned() {
            self.gone_order.pop_front();
            if self.gone.get(&id).is_some_and(|(_, t)| *t == at) {
                self.gone.remove(&id);
            }
        }
        self.track_idle(now);
    }

    /// A connection closed (or the driver dropped it as too slow): its peer is away and may
    /// resume within the grace period; a peer that had not asked to join is forgotten.
    pub fn handle_disconnect(&mut self, now: Instant, conn: ConnId) {
        self.detach(now, conn);
        self.track_idle(now);
    }

    pub(crate) fn detach(&mut self, now: Instant, conn: ConnId) {
        self.arriving.remove(&conn);
        let Some(peer_id) = self.conns.remove(&conn).flatten() else { return };
        let Some(p) = self.peers.get_mut(&peer_id) else { return };
        if p.conn != Some(conn) {
            return;
        }
        p.conn = None;
        if p.status == PeerStatus::Joining {
            self.peers.remove(&peer_id);
            return;
        }
        self.set_away(&peer_id, Some(now));
        tracing::debug!(peer = %peer_id, "connection lost; waiting for a resume");
    }

    /// Sets when a peer went away (`None`: it is back), keeping the grace timer's index.
    pub(crate) fn set_away(&mut self, peer_id: &str, since: Option<Instant>) {
        let Some(p) = self.peers.get_mut(peer_id) else { return };
        if let Some(old) = p.away_since.take() {
            self.away.remove(&(old, peer_id.to_owned()));
        }
        p.away_since = since;
        if let Some(at) = since {
            self.away.insert((at, peer_id.to_owned()));
        }
    }

    /// Adds a peer, last in the order of arrival.
    pub(crate) fn add_peer(&mut self, peer_id: String, mut state: PeerState) {
        self.next_arrival += 1;
        state.arrival = self.next_arrival;
        self.peers.insert(peer_id, state);
    }

    /// Removes a peer's state (and its place in the grace timer's index).
    pub(crate) fn drop_peer(&mut self, peer_id: &str) -> Option<PeerState> {
        self.set_away(peer_id, None);
        self.peers.remove(peer_id)
    }

    /// Remembers why a peer went, for late resumes.
    pub(crate) fn remember_gone(&mut self, peer_id: &str, gone: Gone, now: Instant) {
        self.gone.insert(peer_id.to_owned(), (gone, now));
        self.gone_order.push_back((now, peer_id.to_owned()));
    }

    /// Whether the room has had nothing in it (no session, peer, connection or recording) for
    /// its idle time: the driver may then drop it, once no input is queued for it.
    pub fn is_drained(&self, now: Instant) -> bool {
        self.idle_since.is_some_and(|t| now >= t + self.config.room_idle)
    }

    /// Notes, after every input, since when the room has been empty.
    pub(crate) fn track_idle(&mut self, now: Instant) {
        let idle = self.session.is_none()
            && self.peers.is_empty()
            && self.conns.is_empty()
            && self.recording.is_none()
            && self.finishing.is_none();
        if !idle {
            self.idle_since = None;
        } else if self.idle_since.is_none() {
            self.idle_since = Some(now);
        }
    }

    fn keep_alive(&self) -> Duration {
        Duration::from_secs(u64::from(self.config.meeting.session_keep_alive_time_in_secs))
    }

    /// The meeting's settings.
    pub fn meeting(&self) -> &MeetingSettings {
        &self.config.meeting
    }

    /// The live session's id.
    pub fn session_id(&self) -> Option<&str> {
        self.session.as_ref().map(|s| s.id.as_str())
    }

    /// The highest sequence number used.
    pub fn last_seq(&self) -> u64 {
        self.seq
    }

    /// The recording's state as clients see it.
    pub fn recording_state(&self) -> RecordingState {
        self.recording.as_ref().map_or(RecordingState::Idle, ActiveRecording::client_state)
    }

    /// Every peer, by id.
    pub fn peers(&self) -> impl Iterator<Item = PeerView> + '_ {
        self.peers.values().map(|p| PeerView {
            peer: p.peer.clone(),
            status: p.status,
            permissions: p.permissions.clone(),
            conn: p.conn,
        })
    }

    /// Connections the room knows.
    pub fn connections(&self) -> impl Iterator<Item = ConnId> + '_ {
        self.conns.keys().copied()
    }
}
