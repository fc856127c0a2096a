//! The per-seed plan, drawn from the seed before anything runs: how big and how hard the run is
//! ([`Mode`]), the server's timings for it, and who does what when: each participant's join time,
//! the time of its action, and its [`Fate`] (stays to the end, leaves, is kicked, or is cut off).

use std::time::Duration;

use convene_client::RoomState;
use convene_server::Timings;

use super::rng::Rng;

/// How big and how hard a run is.
#[derive(Debug, Clone, Copy)]
pub struct Mode {
    /// Participants per seed (the host included), inclusive.
    pub sizes: (u64, u64),
    /// Length of the chaos phase, ms, inclusive.
    pub chaos_ms: (u64, u64),
    /// The server's away grace.
    pub away_grace: Duration,
    /// The server's idle timeout (clients ping every 10 s).
    pub idle_timeout: Duration,
    /// Chance of one global pause longer than the away grace (after a quiet moment, so that no
    /// one is away when it starts: connections stay open, the server keeps everyone).
    pub over_grace_pause_chance: f64,
    /// One global pause longer than the idle timeout, which is longer than the clients' ping
    /// interval, and shorter than the away grace: the server closes the silent connections, the
    /// clients resume after it.
    pub idle_pause: bool,
    /// Chance that one participant is cut off for longer than the away grace.
    pub partition_chance: f64,
    /// Chance of hanging the downlink of the host and some others, then cutting them.
    pub hang_chance: f64,
}

impl Mode {
    /// The default run: 20 to 60 participants; every 20th seed (10, 30, ...) has the pause
    /// longer than the idle timeout, with timings to match.
    pub fn default_for(seed: u64) -> Self {
        let mut m = Mode {
            sizes: (20, 60),
            chaos_ms: (2_500, 3_500),
            away_grace: Duration::from_secs(6),
            idle_timeout: Duration::from_secs(30),
            over_grace_pause_chance: 0.2,
            idle_pause: false,
            partition_chance: 0.2,
            hang_chance: 0.5,
        };
        if seed % 20 == 10 {
            m.away_grace = Duration::from_secs(20);
            m.idle_timeout = Duration::from_secs(12);
            m.idle_pause = true;
            m.over_grace_pause_chance = 0.0;
            m.partition_chance = 0.0;
        }
        m
    }

    /// The long run: 100 to 200 participants (seed 1 has 200), longer chaos, and the pause longer
    /// than the idle timeout in every seed.
    pub fn long_for(seed: u64) -> Self {
        Mode {
            sizes: if seed == 1 { (200, 200) } else { (100, 200) },
            chaos_ms: (6_000, 9_000),
            away_grace: Duration::from_secs(20),
            idle_timeout: Duration::from_secs(12),
            over_grace_pause_chance: 0.0,
            idle_pause: true,
            partition_chance: 0.5,
            hang_chance: 0.7,
        }
    }
}

/// What happens to a participant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fate {
    /// In until the end: `ended`.
    Stay,
    /// Leaves: `left`.
    Leave,
    /// Kicked by the host's client or by REST: `kicked`.
    Kick { by_rest: bool },
    /// Cut off longer than the away grace: `failed` (the server expires the stay).
    Partition,
}

impl Fate {
    /// The room state this fate ends in.
    pub fn final_state(self) -> RoomState {
        match self {
            Fate::Stay => RoomState::Ended,
            Fate::Leave => RoomState::Left,
            Fate::Kick { .. } => RoomState::Kicked,
            Fate::Partition => RoomState::Failed,
        }
    }
}

/// The server's timings for a mode.
pub fn timings(mode: &Mode) -> Timings {
    Timings {
        away_grace: mode.away_grace,
        handshake_timeout: Duration::from_secs(3),
        idle_timeout: mode.idle_timeout,
        webhook_retry_base: Duration::from_millis(20),
        webhook_max_attempts: 12,
        room_idle: Duration::from_secs(60),
        outgoing_queue: 1024,
        ..Timings::default()
    }
}

/// The per-seed plan: who does what when.
pub fn plan(rng: &mut Rng, mode: &Mode, n: usize, chaos_ms: u64) -> Vec<(Fate, u64, u64)> {
    let mut out = vec![(Fate::Stay, 0, 0)];
    let partition = (rng.chance(mode.partition_chance)).then(|| 1 + rng.below(n as u64 - 1) as usize);
    for i in 1..n {
        let storm = rng.chance(0.4);
        let join_at = if storm { 0 } else { rng.range(0, chaos_ms / 2) };
        let act_at = rng.range(join_at + 300, chaos_ms);
        let fate = if Some(i) == partition {
            Fate::Partition
        } else {
            match rng.below(100) {
                0..=13 => Fate::Leave,
                14..=19 => Fate::Kick { by_rest: false },
                20..=23 => Fate::Kick { by_rest: true },
                _ => Fate::Stay,
            }
        };
        out.push((fate, join_at, act_at));
    }
    out
}
