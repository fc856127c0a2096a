//! Reconnect policy as data: exponential backoff with seeded jitter and a give-up point.
//!
//! The core never reads a clock or an unseeded random source: the driver passes the time in, and
//! the jitter comes from a [`SplitMix64`] seeded by [`crate::Config::seed`].

/// When and how often to try again after the connection drops.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReconnectPolicy {
    /// Delay before the first attempt, in ms (before jitter).
    pub initial_delay_ms: u64,
    /// Upper bound of the delay, in ms (before jitter).
    pub max_delay_ms: u64,
    /// Attempts before giving up (the room state becomes `failed`). At least 1.
    pub max_attempts: u32,
    /// How long one attempt may take to open and complete the handshake, in ms.
    pub attempt_timeout_ms: u64,
}

impl Default for ReconnectPolicy {
    fn default() -> Self {
        Self { initial_delay_ms: 250, max_delay_ms: 5_000, max_attempts: 8, attempt_timeout_ms: 10_000 }
    }
}

impl ReconnectPolicy {
    /// The delay before attempt `attempt` (1-based): the exponential delay, halved, plus a random
    /// share of the other half ("equal jitter"), so retries of many clients spread out.
    pub fn delay_ms(&self, attempt: u32, rng: &mut SplitMix64) -> u64 {
        let exp = attempt.saturating_sub(1).min(32);
        let base = self.initial_delay_ms.saturating_mul(1u64 << exp).min(self.max_delay_ms).max(1);
        let half = base / 2;
        half + rng.next_u64() % (base - half + 1)
    }
}

/// A small, fast, seeded pseudo-random generator (SplitMix64). Deterministic on every platform.
#[derive(Debug, Clone)]
pub struct SplitMix64 {
    state: u64,
}

impl SplitMix64 {
    /// A generator with this seed.
    pub fn new(seed: u64) -> Self {
        Self { state: seed }
    }

    /// The next number.
    pub fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_grow_stay_bounded_and_are_seeded() {
        let p = ReconnectPolicy::default();
        let mut a = SplitMix64::new(7);
        let mut b = SplitMix64::new(7);
        let da: Vec<u64> = (1..=10).map(|n| p.delay_ms(n, &mut a)).collect();
        let db: Vec<u64> = (1..=10).map(|n| p.delay_ms(n, &mut b)).collect();
        assert_eq!(da, db, "same seed, same delays");
        for (i, d) in da.iter().enumerate() {
            let base = (250u64 << i).min(5_000);
            assert!(*d >= base / 2 && *d <= base, "attempt {}: {d} not in [{}, {base}]", i + 1, base / 2);
        }
        let mut c = SplitMix64::new(8);
        let dc: Vec<u64> = (1..=10).map(|n| p.delay_ms(n, &mut c)).collect();
        assert_ne!(da, dc, "another seed spreads differently");
    }

    #[test]
    fn huge_attempt_numbers_do_not_overflow() {
        let p = ReconnectPolicy::default();
        let d = p.delay_ms(u32::MAX, &mut SplitMix64::new(1));
        assert!(d <= 5_000);
    }
}
