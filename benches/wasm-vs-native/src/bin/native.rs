//! The native side of the wasm-versus-native comparison: prints one JSON line with the time per
//! leave-and-join pair. Usage: `roster-churn-native [PEERS] [PAIRS] [ROUNDS]`.

use std::time::Instant;

use convene_churn_bench::RosterChurn;

fn main() {
    let arg = |i: usize, default: usize| std::env::args().nth(i).and_then(|a| a.parse().ok()).unwrap_or(default);
    let (peers, pairs, rounds) = (arg(1, 10_000), arg(2, 20_000), arg(3, 5));
    let mut churn = RosterChurn::new(peers);
    churn.run(pairs / 10); // warm-up
    let mut best = f64::MAX;
    for _ in 0..rounds {
        let t = Instant::now();
        let events = churn.run(pairs);
        let ns = t.elapsed().as_secs_f64() * 1e9 / pairs as f64;
        assert_eq!(events, 2 * pairs, "every pair gives two events");
        best = best.min(ns);
    }
    assert_eq!(churn.roster_len(), peers);
    println!(r#"{{"side":"native","peers":{peers},"pairs":{pairs},"rounds":{rounds},"best_ns_per_pair":{best:.0}}}"#);
}
