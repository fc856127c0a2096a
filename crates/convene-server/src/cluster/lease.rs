//! A node's own judgement of its lease, sans-IO. The database calls a node dead once its last
//! heartbeat is older than the lease by the database's clock; the node must stop acting for its
//! meetings before that. The heartbeat's row gets the database's `now()`, which is later than the
//! moment the node sent it, so a node that stops `lease - margin` after *sending* its last
//! heartbeat that committed stops before any other node can see it dead, whatever the two clocks
//! read. A heartbeat that fails or does not answer extends nothing.

use std::time::{Duration, Instant};

/// How long a heartbeat keeps a node alive in the database's eyes, and how much sooner the node
/// itself stops.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct LeasePolicy {
    /// The lease the database judges by.
    pub(crate) lease: Duration,
    /// How long before the lease runs out the node stops its rooms (for clock rate differences
    /// and the time stopping takes). Less than `lease`.
    pub(crate) margin: Duration,
}

/// What a node knows of its own lease.
#[derive(Debug, Clone)]
pub(crate) struct Lease {
    policy: LeasePolicy,
    /// Until when the node may act, from its last committed heartbeat.
    holds_until: Option<Instant>,
}

impl Lease {
    /// A node that has not yet had a heartbeat commit: it holds nothing.
    pub(crate) fn new(policy: LeasePolicy) -> Self {
        assert!(policy.margin < policy.lease, "the margin must be shorter than the lease");
        Self { policy, holds_until: None }
    }

    /// A heartbeat sent at `sent_at` has committed.
    pub(crate) fn handle_heartbeat_committed(&mut self, sent_at: Instant) {
        let until = sent_at + (self.policy.lease - self.policy.margin);
        if self.holds_until.is_none_or(|u| until > u) {
            self.holds_until = Some(until);
        }
    }

    /// Whether the node may still act for its meetings at `now`.
    pub(crate) fn holds(&self, now: Instant) -> bool {
        self.holds_until.is_some_and(|until| now < until)
    }

    /// When the node must have stopped its rooms unless another heartbeat commits (the timer a
    /// driver sets); `None` before the first.
    pub(crate) fn poll_timeout(&self) -> Option<Instant> {
        self.holds_until
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const POLICY: LeasePolicy = LeasePolicy { lease: Duration::from_secs(10), margin: Duration::from_secs(2) };

    #[test]
    fn a_node_holds_nothing_before_its_first_heartbeat_commits() {
        let lease = Lease::new(POLICY);
        assert!(!lease.holds(Instant::now()));
        assert_eq!(lease.poll_timeout(), None);
    }

    #[test]
    fn the_lease_runs_from_the_sending_of_the_last_committed_heartbeat_less_the_margin() {
        let t0 = Instant::now();
        let mut lease = Lease::new(POLICY);
        lease.handle_heartbeat_committed(t0);
        assert!(lease.holds(t0 + Duration::from_millis(7_999)));
        assert!(!lease.holds(t0 + Duration::from_secs(8)), "stops 2 s before the database would call it dead");
        assert_eq!(lease.poll_timeout(), Some(t0 + Duration::from_secs(8)));
        lease.handle_heartbeat_committed(t0 + Duration::from_secs(5));
        assert!(lease.holds(t0 + Duration::from_secs(12)));
    }

    #[test]
    fn a_late_answer_to_an_older_heartbeat_shortens_nothing() {
        let t0 = Instant::now();
        let mut lease = Lease::new(POLICY);
        lease.handle_heartbeat_committed(t0 + Duration::from_secs(5));
        lease.handle_heartbeat_committed(t0);
        assert_eq!(lease.poll_timeout(), Some(t0 + Duration::from_secs(13)));
    }
}
