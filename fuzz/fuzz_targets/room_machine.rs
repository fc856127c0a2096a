//! The sans-IO room machine driven by a fuzzed participant side ([`harness::raw`], the same driver
//! as the room's property test): four participants' connections sending hellos (new, and resumes
//! from any point, as themselves or as another), every command from any status aimed at anyone,
//! undecodable frames and lost connections; REST commands (kick-all, kick, participant changed or
//! deleted, preset changed, start, stop, pause and resume recording); server restarts that
//! restore the session from the persisted writes; and time.
//!
//! Invariants, checked after every step ([`harness::invariants::check_server`]): no panic;
//! sequence numbers on a connection only grow and a resume replays nothing at or below its
//! `last_seq`; a command its sender lacks the permission for changes nothing and is answered with
//! one error; every REST command is answered once; a session ends exactly once; the persisted
//! writes, replayed in order, make sense and describe the machine's state (the live session, the
//! open stays equal to the joined peers, the recording).

#![no_main]

use arbitrary::Unstructured;
use libfuzzer_sys::fuzz_target;

#[allow(dead_code, unused_imports)]
#[path = "../../crates/convene-room/tests/sim/harness/mod.rs"]
mod harness;

use harness::raw::{Op, Sim};

fn op(u: &mut Unstructured<'_>) -> arbitrary::Result<Op> {
    let who = u.int_in_range(0..=3usize)?;
    Ok(match u.int_in_range(0..=19u8)? {
        0..=2 => Op::Hello { who, resume: u.arbitrary()?, as_other: u.ratio(1, 10)?, seq_back: u.int_in_range(0..=8)? },
        3..=10 => Op::Frame { who, kind: u.int_in_range(0..=11)?, target: u.int_in_range(0..=3)? },
        11 => Op::BadFrame { who },
        12 | 13 => Op::Disconnect { who },
        14..=16 => Op::Api { kind: u.int_in_range(0..=7)?, target: who },
        17 => Op::Restart,
        _ => Op::Wait(u.int_in_range(0..=200_000)?),
    })
}

fuzz_target!(|data: &[u8]| {
    let mut u = Unstructured::new(data);
    let mut sim = Sim::new();
    while !u.is_empty() {
        let Ok(step) = op(&mut u) else { break };
        sim.apply(step.clone());
        if let Err(broken) = harness::invariants::check_server(&sim.s) {
            panic!("invariant violated after {step:?}: {broken}");
        }
    }
    sim.apply(Op::Wait(3_600_000));
    if let Err(broken) = harness::invariants::check_server(&sim.s) {
        panic!("invariant violated at the end: {broken}");
    }
});
