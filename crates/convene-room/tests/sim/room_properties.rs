//! Property tests of the room alone, with raw frames rather than well-behaved participant cores
//! ([`crate::harness::raw`]): random hellos (new, and resumes from any point, of the right or the
//! wrong participant), every command from any status aimed at anyone, undecodable frames, lost
//! connections, REST commands (kick-all, kick, participant changed or deleted, preset changed,
//! recording actions), server restarts and time. After every step the room's invariants hold
//! ([`crate::harness::invariants::check_server`]), and every REST command is answered once.

use proptest::prelude::*;

use crate::harness::invariants;
use crate::harness::raw::{Op, Sim};

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        3 => (0..4usize, any::<bool>(), prop::bool::weighted(0.1), 0..8u64)
            .prop_map(|(who, resume, as_other, seq_back)| Op::Hello { who, resume, as_other, seq_back }),
        8 => (0..4usize, 0..12u8, 0..4usize).prop_map(|(who, kind, target)| Op::Frame { who, kind, target }),
        1 => (0..4usize).prop_map(|who| Op::BadFrame { who }),
        2 => (0..4usize).prop_map(|who| Op::Disconnect { who }),
        3 => (0..8u8, 0..4usize).prop_map(|(kind, target)| Op::Api { kind, target }),
        1 => Just(Op::Restart),
        2 => prop_oneof![0..2_000u64, 2_000..200_000u64].prop_map(Op::Wait),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn raw_inputs_keep_the_room_invariants(ops in proptest::collection::vec(op(), 1..80)) {
        let mut sim = Sim::new();
        for op in ops {
            sim.apply(op.clone());
            if let Err(broken) = invariants::check_server(&sim.s) {
                return Err(TestCaseError::fail(format!("after {op:?}: {broken}")));
            }
        }
        // Given time, every away peer runs out of grace and every empty session ends.
        sim.apply(Op::Wait(3_600_000));
        invariants::check_server(&sim.s).map_err(TestCaseError::fail)?;
        prop_assert!(sim.s.room().peers().all(|p| p.conn.is_some()), "an away peer outlived its grace");
    }
}
