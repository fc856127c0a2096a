//! Runs every shared scenario file (`tests/scenarios/*.json` at the workspace root) against the
//! real room machine.

use crate::harness;

use std::path::PathBuf;

use convene_core::scenario::Scenario;

fn scenario_files() -> Vec<PathBuf> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/scenarios");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("reading {}: {e}", dir.display()))
        .map(|entry| entry.expect("directory entry").path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    files.sort();
    files
}

#[test]
fn every_scenario_file_passes_against_the_room_core() {
    let files = scenario_files();
    assert!(files.len() >= 15, "expected at least 15 scenario files, found {}", files.len());
    let mut failures = Vec::new();
    for file in &files {
        let text = std::fs::read_to_string(file).expect("scenario readable");
        let scenario = Scenario::parse(&text).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
        assert!(
            scenario.steps.iter().any(|s| matches!(s, convene_core::scenario::Step::Expect { .. })),
            "{}: a scenario must expect something",
            file.display()
        );
        if let Err(e) = harness::scenario_runner::run(&scenario) {
            failures.push(format!("{}: {e}", file.display()));
        }
    }
    assert!(failures.is_empty(), "{} scenario(s) failed:\n{}", failures.len(), failures.join("\n"));
}

#[test]
fn a_wrong_expectation_fails() {
    // The runner must be able to fail: a scenario expecting the wrong state is reported.
    let text = r#"{"name":"wrong","participants":{"h":{"preset":"group_call_host"}},
        "steps":[{"do":"join","as":"h"},{"do":"expect","as":"h","room_state":"ended"}]}"#;
    let err = harness::scenario_runner::run(&Scenario::parse(text).unwrap()).err().expect("must fail");
    assert!(err.contains("room state joined, expected ended"), "{err}");
    let text = r#"{"name":"wrong","participants":{"h":{"preset":"group_call_host"}},
        "steps":[{"do":"join","as":"h"},{"do":"expect","as":"h","events":[{"event":"roomLeft"}]}]}"#;
    assert!(harness::scenario_runner::run(&Scenario::parse(text).unwrap()).is_err());
    let text = r#"{"name":"wrong","participants":{"h":{"preset":"group_call_host"}},
        "steps":[{"do":"kick_all","as":"h","error":1201}]}"#;
    let err = harness::scenario_runner::run(&Scenario::parse(text).unwrap()).err().expect("must fail");
    assert!(err.contains("expected error 1201, got 1205"), "{err}");
}
