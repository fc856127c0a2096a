//! Wall-clock time without a clock: the room is given, once, an [`Instant`] and the Unix time it
//! stood for, and derives the wall time of every later input from that input's `now`. Timestamps
//! in records and webhook payloads therefore follow the driver's (or a test's simulated) time.

use std::time::Instant;

/// A fixed pairing of a monotonic instant with a Unix time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WallClock {
    /// The instant.
    pub at: Instant,
    /// Milliseconds since the Unix epoch at `at`.
    pub unix_ms: u64,
}

impl WallClock {
    /// Milliseconds since the Unix epoch at `now` (instants before `at` count as `at`).
    pub fn unix_ms(&self, now: Instant) -> u64 {
        let since = now.saturating_duration_since(self.at).as_millis();
        self.unix_ms.saturating_add(u64::try_from(since).unwrap_or(u64::MAX))
    }

    /// `now` as RFC 3339 with milliseconds, UTC.
    pub fn rfc3339(&self, now: Instant) -> String {
        format_rfc3339(self.unix_ms(now))
    }
}

/// A Unix time in milliseconds as RFC 3339 with milliseconds, UTC (`2026-12-02T05:00:00.000Z`).
pub fn format_rfc3339(unix_ms: u64) -> String {
    let secs = unix_ms / 1000;
    let (days, rem) = (secs / 86_400, secs % 86_400);
    let (year, month, day) = civil_from_days(days);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:03}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60,
        unix_ms % 1000
    )
}

/// The proleptic Gregorian date of a day count since 1970-01-01 (Howard Hinnant's
/// `civil_from_days`, for non-negative counts).
fn civil_from_days(days: u64) -> (u64, u64, u64) {
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + u64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn formats_known_instants() {
        assert_eq!(format_rfc3339(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(format_rfc3339(951_782_400_000), "2000-02-29T00:00:00.000Z");
        assert_eq!(format_rfc3339(1_700_000_000_123), "2023-11-14T22:13:20.123Z");
        assert_eq!(format_rfc3339(4_107_542_399_999), "2100-02-28T23:59:59.999Z");
        assert_eq!(format_rfc3339(4_107_542_400_000), "2100-03-01T00:00:00.000Z");
    }

    #[test]
    fn wall_time_follows_the_inputs_instant() {
        let at = Instant::now();
        let clock = WallClock { at, unix_ms: 1_000 };
        assert_eq!(clock.unix_ms(at + Duration::from_millis(2_500)), 3_500);
        assert_eq!(clock.unix_ms(at), 1_000);
    }
}
