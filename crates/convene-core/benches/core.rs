//! Benchmarks of the core alone (no network): roster churn in a 10,000-person meeting, the
//! handling of a kick-all (session ended) in such a meeting, and the memory the roster takes per
//! remote participant (measured with a counting allocator, printed before the timings).
//!
//! Run: `cargo bench -p convene-core --bench core`

// The counting allocator needs `unsafe impl GlobalAlloc`; the library itself forbids unsafe code.
#![allow(unsafe_code, missing_docs)]

use std::alloc::{GlobalAlloc, Layout, System};
use std::hint::black_box;
use std::sync::atomic::{AtomicIsize, Ordering};

use convene_core::proto::{MeetingInfo, Peer, RoomSnapshot, SelfInfo, ServerMessage, SessionEvent, SessionInfo};
use convene_core::{Command, Config, Participant, Permissions, RecordingState};
use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};

/// Counts live heap bytes.
struct Counting;

static LIVE: AtomicIsize = AtomicIsize::new(0);

// SAFETY: every method forwards to the system allocator unchanged and only adjusts a counter.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        LIVE.fetch_add(layout.size() as isize, Ordering::Relaxed);
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size() as isize, Ordering::Relaxed);
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        LIVE.fetch_add(new_size as isize - layout.size() as isize, Ordering::Relaxed);
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOC: Counting = Counting;

const ROOM: usize = 10_000;

fn peer(i: usize) -> Peer {
    Peer {
        id: format!("peer-{i:08}"),
        user_id: format!("user-{i:08}"),
        name: format!("Participant {i}"),
        picture: None,
        custom_participant_id: format!("cp-{i}"),
        preset_name: "group_call_participant".into(),
        hidden: false,
        pinned: false,
    }
}

fn snapshot_frame(n: usize) -> String {
    let room = RoomSnapshot {
        self_peer: peer(usize::MAX),
        session: SessionInfo { id: "s1".into(), started_at: "2026-11-25T00:00:00Z".into() },
        peers: (0..n).map(peer).collect(),
        waitlisted: vec![],
        recording: RecordingState::Idle,
        recording_id: None,
    };
    convene_core::proto::encode_server(&ServerMessage::Event { seq: 1, event: SessionEvent::Joined { room } })
}

/// A core joined in a meeting of `n` remote participants.
fn joined(n: usize, snapshot: &str) -> Participant {
    let info = SelfInfo { permissions: Permissions::group_call_host(), ..SelfInfo::default() };
    let mut core = Participant::new(Config::new("t", info.clone(), MeetingInfo::default()));
    core.command(0, Command::Join).unwrap();
    core.handle_transport_opened(0);
    core.handle_server_message(
        0,
        ServerMessage::Welcome {
            protocol: 1,
            peer_id: peer(usize::MAX).id,
            resumed: false,
            self_info: info,
            meeting: MeetingInfo::default(),
        },
    );
    core.handle_frame(0, snapshot).unwrap();
    while core.poll_output().is_some() {}
    assert_eq!(core.roster().joined().len(), n);
    core
}

fn memory_per_remote_participant() {
    let snapshot = snapshot_frame(ROOM);
    let empty = snapshot_frame(0);
    let before = LIVE.load(Ordering::Relaxed);
    let small = joined(0, &empty);
    let base = LIVE.load(Ordering::Relaxed) - before;
    let big = joined(ROOM, &snapshot);
    let total = LIVE.load(Ordering::Relaxed) - before - base;
    let strings: usize = big
        .roster()
        .joined()
        .values()
        .map(|p| p.id.len() * 2 + p.user_id.len() + p.name.len() + p.custom_participant_id.len() + p.preset_name.len())
        .sum();
    let per_peer = total as f64 / ROOM as f64;
    let per_peer_strings = strings as f64 / ROOM as f64;
    println!(
        "memory: {ROOM} remote participants take {total} bytes: {per_peer:.0} bytes each, of which {per_peer_strings:.0} are string contents (structure: {:.0} bytes)",
        per_peer - per_peer_strings
    );
    drop((small, big));
}

fn roster_churn(c: &mut Criterion) {
    memory_per_remote_participant();
    let snapshot = snapshot_frame(ROOM);
    let mut core = joined(ROOM, &snapshot);
    let mut seq = 1u64;
    let mut next = ROOM;
    let mut oldest = 0usize;
    let mut group = c.benchmark_group("roster_churn_10k");
    group.throughput(Throughput::Elements(2));
    group.bench_function("leave_and_join_frames", |b| {
        b.iter(|| {
            seq += 1;
            let left = format!(r#"{{"type":"event","seq":{seq},"event":"peer_left","peer_id":"peer-{oldest:08}"}}"#);
            oldest += 1;
            core.handle_frame(0, &left).unwrap();
            seq += 1;
            let joined = convene_core::proto::encode_server(&ServerMessage::Event {
                seq,
                event: SessionEvent::PeerJoined { peer: peer(next) },
            });
            next += 1;
            core.handle_frame(0, &joined).unwrap();
            while let Some(o) = core.poll_output() {
                black_box(o);
            }
        })
    });
    group.finish();
    assert_eq!(core.roster().joined().len(), ROOM);
}

fn kick_all(c: &mut Criterion) {
    let snapshot = snapshot_frame(ROOM);
    let ended = r#"{"type":"event","seq":2,"event":"session_ended","end":{"session_id":"s1","reason":"HOST_ENDED_MEETING","ended_by":{"kind":"api"}}}"#;
    let mut group = c.benchmark_group("kick_all_10k");
    group.throughput(Throughput::Elements(1));
    group.bench_function("session_ended_frame", |b| {
        b.iter_batched(
            || joined(ROOM, &snapshot),
            |mut core| {
                core.handle_frame(1, ended).unwrap();
                let mut n = 0;
                while let Some(o) = core.poll_output() {
                    black_box(o);
                    n += 1;
                }
                assert_eq!(core.room_state(), convene_core::RoomState::Ended);
                // The driver frees the released roster once the events are out: part of the cost.
                drop(core.take_released());
                (core, n)
            },
            BatchSize::LargeInput,
        )
    });
    group.finish();
    let mut group = c.benchmark_group("join_snapshot");
    group.throughput(Throughput::Elements(ROOM as u64));
    group.sample_size(20);
    group.bench_function("decode_and_apply_10k_roster", |b| b.iter(|| black_box(joined(ROOM, &snapshot))));
    group.finish();
}

criterion_group!(benches, roster_churn, kick_all);
criterion_main!(benches);
