//! The `convene-server` binary: help, first-start output, `token create`, graceful SIGTERM.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_convene-server");

fn curl(args: &[&str]) -> (u16, String) {
    let out = Command::new("curl").args(["-s", "-w", "\n%{http_code}"]).args(args).output().expect("curl runs");
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    let (body, code) = text.rsplit_once('\n').unwrap();
    (code.trim().parse().unwrap(), body.to_owned())
}

/// The start-up banner a server prints, up to its last line ("ready app"). The caller keeps
/// `out` open: the server writes to it again when it stops.
fn banner(out: &mut impl BufRead) -> Vec<String> {
    let mut printed = Vec::new();
    for line in out.lines().map_while(Result::ok) {
        let done = line.contains("ready app:");
        printed.push(line);
        if done {
            break;
        }
    }
    printed
}

/// The last word of the banner line holding `label` (empty when none does).
fn last_word(banner: &[String], label: &str) -> String {
    let line = banner.iter().find(|l| l.contains(label));
    line.and_then(|l| l.split_whitespace().last()).unwrap_or_default().to_owned()
}

#[test]
fn help_documents_every_option() {
    let out = Command::new(BIN).arg("--help").output().unwrap();
    let help = String::from_utf8_lossy(&out.stdout);
    for flag in [
        "--listen",
        "--data",
        "--admin-token",
        "CONVENE_ADMIN_TOKEN",
        "--base-url",
        "--away-grace-secs",
        "token",
        "backup",
        "--trusted-proxy",
    ] {
        assert!(help.contains(flag), "--help lacks {flag}:\n{help}");
    }
    let out = Command::new(BIN).args(["token", "create", "--help"]).output().unwrap();
    let help = String::from_utf8_lossy(&out.stdout);
    assert!(help.contains("--scope") && help.contains("--app"), "{help}");
}

#[test]
fn a_trusted_proxy_that_is_no_network_is_refused_by_name() {
    let out = Command::new(BIN)
        .args(["--listen", "127.0.0.1:0", "--data", ":memory:", "--trusted-proxy", "10.0.0.0/33"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("--trusted-proxy") && err.contains("is not an IP address or a CIDR network"), "{err}");
}

#[test]
fn first_start_prints_what_a_developer_needs_and_sigterm_stops_it() {
    let dir = std::env::temp_dir().join(format!("convene-cli-{}", uuid::Uuid::new_v4()));
    let data = dir.to_str().unwrap().to_owned();
    let mut child = Command::new(BIN)
        .args(["--listen", "127.0.0.1:0", "--data", &data])
        .env_remove("CONVENE_ADMIN_TOKEN")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut out = BufReader::new(child.stdout.take().unwrap());
    let printed = banner(&mut out);
    let url = last_word(&printed, "convene-server listening on ");
    let app_path = last_word(&printed, "REST API:").trim_end_matches("/...").to_owned();
    let token = last_word(&printed, "admin API token (shown once");
    assert!(url.starts_with("http://127.0.0.1:"), "{url}");
    assert!(token.starts_with("cvn_"), "{token}");
    let auth = format!("Authorization: Bearer {token}");
    let (code, body) = curl(&[&format!("{app_path}/presets"), "-H", &auth]);
    assert_eq!(code, 200, "{body}");
    assert!(body.contains("group_call_host") && body.contains("webinar_viewer"), "{body}");

    // A read-only token made by the CLI on the same data directory works at once.
    let out = Command::new(BIN)
        .args(["token", "create", "--scope", "read", "--all-accounts", "--data", &data])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let read = String::from_utf8_lossy(&out.stdout).trim().to_owned();
    let read_auth = format!("Authorization: Bearer {read}");
    assert_eq!(curl(&[&format!("{app_path}/meetings"), "-H", &read_auth]).0, 200);
    let (code, body) = curl(&[&format!("{app_path}/meetings"), "-H", &read_auth, "--json", "{}"]);
    assert_eq!(code, 403, "{body}");
    let out = Command::new(BIN)
        .args(["token", "create", "--scope", "root", "--all-accounts", "--data", &data])
        .output()
        .unwrap();
    assert!(!out.status.success());

    Command::new("kill").args(["-TERM", &child.id().to_string()]).status().unwrap();
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        assert!(started.elapsed() < Duration::from_secs(10), "no exit after SIGTERM");
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(status.success(), "{status:?}");

    // A second start keeps the data and does not print a new token.
    let mut child = Command::new(BIN)
        .args(["--listen", "127.0.0.1:0", "--data", &data])
        .env_remove("CONVENE_ADMIN_TOKEN")
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut out = BufReader::new(child.stdout.take().unwrap());
    let printed = banner(&mut out);
    assert!(!printed.iter().any(|l| l.contains("shown once")), "{printed:?}");
    child.kill().unwrap();
    let _ = child.wait();
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn json_logs_carry_the_request_id_and_the_rooms_meeting_id() {
    let admin = "cvn_json_logs_admin_token_0123456789abcdef";
    let mut child = Command::new(BIN)
        .args(["--listen", "127.0.0.1:0", "--data", ":memory:", "--admin-token", admin, "--log-format", "json"])
        .env("RUST_LOG", "convene_server=debug")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Unless the test is done first, the server is killed in 20 s, which ends its output.
    let pid = child.id().to_string();
    let (done, finished) = std::sync::mpsc::channel::<()>();
    std::thread::spawn(move || {
        if finished.recv_timeout(Duration::from_secs(20)).is_err() {
            let _ = Command::new("kill").args(["-KILL", &pid]).status();
        }
    });
    // The banner on standard output, the JSON log lines on standard error.
    let mut out = BufReader::new(child.stdout.take().unwrap());
    let app_path = last_word(&banner(&mut out), "REST API:").trim_end_matches("/...").to_owned();
    let lines = BufReader::new(child.stderr.take().unwrap()).lines().map_while(Result::ok);
    let auth = format!("Authorization: Bearer {admin}");
    let (code, body) = curl(&[&format!("{app_path}/meetings"), "-H", &auth, "--json", r#"{"title":"logged"}"#]);
    assert_eq!(code, 201, "{body}");
    let meeting: serde_json::Value = serde_json::from_str(&body).unwrap();
    let meeting_id = meeting["data"]["id"].as_str().unwrap().to_owned();
    // A kick-all starts the meeting's room (and finds no session).
    let (code, _) =
        curl(&["-X", "POST", &format!("{app_path}/meetings/{meeting_id}/active-session/kick-all"), "-H", &auth]);
    assert_eq!(code, 404);
    let (mut answered, mut room_line) = (None, None);
    for line in lines {
        let v: serde_json::Value = serde_json::from_str(&line).unwrap_or_else(|_| panic!("not JSON: {line}"));
        if v["fields"]["message"] == "answered" && v["span"]["route"].as_str().unwrap_or("").ends_with("/meetings") {
            answered = Some(v.clone());
        }
        if v["span"]["name"] == "room" {
            room_line = Some(v);
        }
        if answered.is_some() && room_line.is_some() {
            break;
        }
    }
    let _ = done.send(());
    let _ = child.kill();
    let _ = child.wait();
    let answered = answered.expect("an access line for the create");
    assert_eq!(answered["fields"]["status"], 201);
    assert_eq!(answered["span"]["request_id"].as_str().map(str::len), Some(36), "{answered}");
    let room_line = room_line.expect("a line of the room");
    assert_eq!(room_line["span"]["meeting_id"], meeting_id.as_str(), "{room_line}");
    assert!(room_line["spans"].as_array().unwrap().iter().all(|s| s["name"] != "rest"), "{room_line}");
}
