//! Security review, holes tried against the real binary: the data directory depends on the
//! umask (8), and admin token hygiene (12): short admin tokens refused, `token list` and
//! `token revoke`, a start with a new `--admin-token` that says which other tokens stay valid.

use crate::support;

use std::io::{BufRead, BufReader, Lines};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdout, Command, Stdio};

use serde_json::{json, Value};
use support::RawClient;

const BIN: &str = env!("CARGO_BIN_EXE_convene-server");

/// A started binary: its child, the lines it printed up to `ready app:`, its URL.
struct Started {
    child: Child,
    printed: Vec<String>,
    url: String,
    _rest: Lines<BufReader<ChildStdout>>,
}

impl Drop for Started {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts the binary through `sh` with `umask 000` and the admin token in the environment.
fn start(data: &Path, admin: &str) -> Started {
    let mut child = Command::new("sh")
        .args(["-c", "umask 000; exec \"$0\" \"$@\"", BIN, "--listen", "127.0.0.1:0"])
        .arg("--data")
        .arg(data)
        .env("CONVENE_ADMIN_TOKEN", admin)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut printed = Vec::new();
    let mut url = String::new();
    for line in lines.by_ref() {
        let line = line.unwrap();
        if let Some(rest) = line.strip_prefix("convene-server listening on ") {
            url = rest.trim().to_owned();
        }
        let done = line.contains("ready app:");
        printed.push(line);
        if done {
            break;
        }
    }
    assert!(!url.is_empty(), "the server did not start: {printed:?}");
    Started { child, printed, url, _rest: lines }
}

fn temp_dir(name: &str) -> PathBuf {
    std::env::temp_dir().join(format!("convene-{name}-{}", uuid::Uuid::new_v4()))
}

fn cli(data: &Path, args: &[&str]) -> (bool, String, String) {
    let out = Command::new(BIN).args(args).arg("--data").arg(data).output().unwrap();
    (out.status.success(), String::from_utf8_lossy(&out.stdout).into(), String::from_utf8_lossy(&out.stderr).into())
}

async fn api(url: &str, token: &str, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
    let mut req = reqwest::Client::new().request(method.parse().unwrap(), format!("{url}{path}")).bearer_auth(token);
    if let Some(b) = body {
        req = req.header("content-type", "application/json").body(b.to_string());
    }
    let resp = req.send().await.unwrap();
    let status = resp.status().as_u16();
    (status, serde_json::from_str(&resp.text().await.unwrap_or_default()).unwrap_or(Value::Null))
}

#[cfg(unix)]
fn mode(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).unwrap_or_else(|e| panic!("{}: {e}", path.display())).permissions().mode() & 0o777
}

#[cfg(unix)]
#[tokio::test]
async fn the_data_directory_is_the_owners_alone_whatever_the_umask() {
    let dir = temp_dir("modes");
    let admin = "cvn_modes_admin_token_0123456789abcdef";
    let server = start(&dir, admin);
    let kit = format!("/client/v4/accounts/local/realtime/kit/{}", app_of(&server));
    let (status, v) =
        api(&server.url, admin, "POST", &format!("{kit}/meetings"), Some(json!({"record_on_start": true}))).await;
    assert_eq!(status, 201, "{v}");
    let meeting = v["data"]["id"].as_str().unwrap().to_owned();
    let body = json!({"custom_participant_id": "a", "preset_name": "group_call_host"});
    let (status, v) =
        api(&server.url, admin, "POST", &format!("{kit}/meetings/{meeting}/participants"), Some(body)).await;
    assert_eq!(status, 201, "{v}");
    let ws = format!("{}/v1/signal", server.url.replace("http://", "ws://"));
    let _joined = {
        let mut c = RawClient::connect(&ws, v["data"]["token"].as_str().unwrap()).await;
        c.join().await;
        c
    };
    // The recording (started on the first join) has written its file.
    let recordings = dir.join("recordings");
    let mut files = Vec::new();
    for _ in 0..100 {
        files = walk(&recordings);
        if !files.is_empty() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert!(!files.is_empty(), "a recording file was written");
    assert_eq!(mode(&dir), 0o700);
    assert_eq!(mode(&recordings), 0o700);
    for file in ["convene.db", "convene.db-wal", "convene.db-shm", "webhook_key.pem"] {
        assert_eq!(mode(&dir.join(file)), 0o600, "{file}");
    }
    for f in &files {
        let expected = if f.is_dir() { 0o700 } else { 0o600 };
        assert_eq!(mode(f), expected, "{}", f.display());
    }
    drop(server);
    // A directory made loose by hand is tightened at the next start.
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(dir.join("convene.db"), std::fs::Permissions::from_mode(0o644)).unwrap();
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
    let again = start(&dir, admin);
    assert_eq!((mode(&dir), mode(&dir.join("convene.db"))), (0o700, 0o600));
    drop(again);
    std::fs::remove_dir_all(dir).unwrap();
}

/// Every path below `dir`.
fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = entry.path();
        if path.is_dir() {
            out.extend(walk(&path));
        }
        out.push(path);
    }
    out
}

/// The ready app's id, from the printed REST API line.
fn app_of(server: &Started) -> String {
    let line = server.printed.iter().find(|l| l.contains("REST API:")).unwrap();
    line.split("/realtime/kit/").nth(1).unwrap().trim_end_matches("/...").to_owned()
}

#[test]
fn an_admin_token_shorter_than_32_characters_is_refused_at_start() {
    let dir = temp_dir("short");
    let out = Command::new(BIN)
        .args(["--listen", "127.0.0.1:0", "--data"])
        .arg(&dir)
        .env("CONVENE_ADMIN_TOKEN", "cvn_too_short")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("at least 32 characters"), "{err}");
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test]
async fn admin_tokens_are_listed_revoked_and_a_new_one_says_what_stays_valid() {
    let dir = temp_dir("tokens");
    let first = "cvn_first_admin_token_0123456789abcdef";
    let server = start(&dir, first);
    assert!(
        server.printed.iter().any(|l| l.contains("--admin-token / CONVENE_ADMIN_TOKEN: added")),
        "{:?}",
        server.printed
    );
    let apps = "/client/v4/accounts/local/realtime/kit/apps";
    // A token belongs to an account unless it is made for all of them on purpose.
    let (ok, _, err) = cli(&dir, &["token", "create", "--scope", "admin"]);
    assert!(!ok && err.contains("--account"), "{err}");
    // A token made beside the running server works at once, is listed, and stops on revoke.
    let (ok, secret, err) = cli(&dir, &["token", "create", "--scope", "admin", "--all-accounts"]);
    assert!(ok, "{err}");
    let secret = secret.trim().to_owned();
    let id = err.split_whitespace().nth(2).unwrap().to_owned();
    assert_eq!(api(&server.url, &secret, "GET", apps, None).await.0, 200);
    let (ok, list, _) = cli(&dir, &["token", "list"]);
    assert!(ok && list.contains(&id), "{list}");
    assert!(!list.contains(&secret) && !list.contains(first), "secrets are never listed");
    let (ok, out, _) = cli(&dir, &["token", "revoke", &id]);
    assert!(ok, "{out}");
    assert_eq!(api(&server.url, &secret, "GET", apps, None).await.0, 401, "revoked at once");
    let (ok, _, err) = cli(&dir, &["token", "revoke", &id]);
    assert!(!ok && err.contains("no token"), "{err}");
    drop(server);
    // A start with a new admin token says the first one is still valid, and how to revoke it.
    let second = "cvn_second_admin_token_0123456789abcdef";
    let server = start(&dir, second);
    let said = server.printed.join("\n");
    assert!(said.contains("1 other admin token(s) are still valid") && said.contains("token revoke"), "{said}");
    let (_, list, _) = cli(&dir, &["token", "list"]);
    let first_id = list.lines().nth(1).unwrap().split_whitespace().next().unwrap().to_owned();
    assert!(cli(&dir, &["token", "revoke", &first_id]).0);
    assert_eq!(api(&server.url, first, "GET", apps, None).await.0, 401);
    assert_eq!(api(&server.url, second, "GET", apps, None).await.0, 200);
    drop(server);
    std::fs::remove_dir_all(dir).unwrap();
}
