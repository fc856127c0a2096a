//! What one seed did ([`Report`]): the proxy's statistics, the scripted actions' counters and what
//! the checks counted, and the lines printed for each seed and for the whole run.

use std::collections::BTreeMap;
use std::sync::atomic::Ordering;

use super::context::Ctx;

/// What one seed did, for the report.
#[derive(Debug, Default, Clone)]
pub struct Report {
    pub seed: u64,
    pub participants: usize,
    pub millis: u128,
    pub connections: u64,
    pub cuts: u64,
    pub mid_cuts: u64,
    pub refused: u64,
    pub refusal_windows: u64,
    pub pauses: u64,
    pub pause_ms: u64,
    pub delayed_chunks: u64,
    pub partitions: u64,
    pub hangs: u64,
    pub resumes: u64,
    pub wire_resumes: u64,
    pub resync_snapshots: u64,
    pub resume_refusals: u64,
    pub unapplied_after_cut: u64,
    pub ghost_stays: u64,
    pub leaves_by_expiry: u64,
    pub join_retries: u64,
    pub kicks_by_host: u64,
    pub kicks_by_rest: u64,
    pub kick_retries: u64,
    pub patches: u64,
    pub patch_retries: u64,
    pub kick_all_attempts: u64,
    pub webhook_events: u64,
    pub webhook_attempts: u64,
    pub webhook_500: u64,
    pub webhook_dropped: u64,
    pub fates: BTreeMap<String, u64>,
}

impl Report {
    /// Takes the proxy's statistics and the scripted actions' counters at the end of the seed.
    pub fn take_counts(&mut self, ctx: &Ctx) {
        let stats = ctx.proxy.stats();
        self.connections = stats.connections.load(Ordering::Relaxed);
        self.cuts = stats.cuts.load(Ordering::Relaxed);
        self.mid_cuts = stats.mid_cuts.load(Ordering::Relaxed);
        self.refused = stats.refused.load(Ordering::Relaxed);
        self.delayed_chunks = stats.delayed.load(Ordering::Relaxed);
        let c = &ctx.counters;
        self.refusal_windows = c.refusal_windows.load(Ordering::Relaxed);
        self.pauses = c.pauses.load(Ordering::Relaxed);
        self.pause_ms = c.pause_ms.load(Ordering::Relaxed);
        self.partitions = c.partitions.load(Ordering::Relaxed);
        self.hangs = c.hangs.load(Ordering::Relaxed);
        self.join_retries = c.join_retries.load(Ordering::Relaxed);
        self.kicks_by_host = c.kicks_by_host.load(Ordering::Relaxed);
        self.kicks_by_rest = c.kicks_by_rest.load(Ordering::Relaxed);
        self.kick_retries = c.kick_retries.load(Ordering::Relaxed);
        self.patches = c.patches.load(Ordering::Relaxed);
        self.patch_retries = c.patch_retries.load(Ordering::Relaxed);
    }

    /// The line printed for a seed that passed.
    pub fn line(&self) -> String {
        let seed = self.seed;
        format!(
        "seed {seed:>3}: {:>3} participants {:>6} ms | conns {:>4} cuts {:>3} mid-frame {:>3} refused {:>3} pauses {} ({} ms) hung {} partitions {} | resumes {:>3} (wire {:>3}, snapshots {:>2}, refused {:>2}) ghosts {} leaves-by-expiry {} | kicks {}+{} patches {} | webhooks {} events, {} attempts ({} x500, {} dropped) | {:?}",
        self.participants,
        self.millis,
        self.connections,
        self.cuts,
        self.mid_cuts,
        self.refused,
        self.pauses,
        self.pause_ms,
        self.hangs,
        self.partitions,
        self.resumes,
        self.wire_resumes,
        self.resync_snapshots,
        self.resume_refusals,
        self.ghost_stays,
        self.leaves_by_expiry,
        self.kicks_by_host,
        self.kicks_by_rest,
        self.patches,
        self.webhook_events,
        self.webhook_attempts,
        self.webhook_500,
        self.webhook_dropped,
        self.fates,
    )
    }

    /// The line printed at the end of a run of `reports`, which took `seconds`.
    pub fn totals(reports: &[Report], seconds: f64) -> String {
        let sum = |f: fn(&Report) -> u64| reports.iter().map(f).sum::<u64>();
        format!(
        "chaos: {} seeds, {} participants, {:.1} s | connections {}, cuts {} + {} mid-frame, refused {} in {} windows, pauses {} ({} ms), hung connections {}, partitions {}, delayed chunks {} | resumes {} (wire {}, snapshot resyncs {}, refused {}), events written but not applied before a cut {}, ghost stays {}, leaves learned by expiry {}, join retries {} | kicks {} by host + {} by REST ({} retries), patches {} ({} retries), kick-all attempts {} | webhook events {}, attempts {} ({} answered 500, {} dropped)",
        reports.len(),
        reports.iter().map(|r| r.participants).sum::<usize>(),
        seconds,
        sum(|r| r.connections),
        sum(|r| r.cuts),
        sum(|r| r.mid_cuts),
        sum(|r| r.refused),
        sum(|r| r.refusal_windows),
        sum(|r| r.pauses),
        sum(|r| r.pause_ms),
        sum(|r| r.hangs),
        sum(|r| r.partitions),
        sum(|r| r.delayed_chunks),
        sum(|r| r.resumes),
        sum(|r| r.wire_resumes),
        sum(|r| r.resync_snapshots),
        sum(|r| r.resume_refusals),
        sum(|r| r.unapplied_after_cut),
        sum(|r| r.ghost_stays),
        sum(|r| r.leaves_by_expiry),
        sum(|r| r.join_retries),
        sum(|r| r.kicks_by_host),
        sum(|r| r.kicks_by_rest),
        sum(|r| r.kick_retries),
        sum(|r| r.patches),
        sum(|r| r.patch_retries),
        sum(|r| r.kick_all_attempts),
        sum(|r| r.webhook_events),
        sum(|r| r.webhook_attempts),
        sum(|r| r.webhook_500),
        sum(|r| r.webhook_dropped),
    )
    }
}
