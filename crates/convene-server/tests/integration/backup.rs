//! `convene-server backup`: taken from a running server's data directory, restored by starting a
//! server on the copy; refused into a directory that is not empty, and from one that is no data
//! directory.

use crate::support;

use std::path::Path;
use std::process::Command;

use convene_server::DataLocation;
use support::{fast_timings, TestServer};

const BIN: &str = env!("CARGO_BIN_EXE_convene-server");
const ADMIN: &str = "cvn_backup_test_admin_token_0123456789abcdef";

fn backup(data: &Path, dest: &Path) -> std::process::Output {
    Command::new(BIN)
        .args(["backup", "--data", data.to_str().unwrap(), dest.to_str().unwrap()])
        .output()
        .expect("the binary runs")
}

async fn serve(dir: &Path) -> TestServer {
    TestServer::start_with(DataLocation::Dir(dir.to_owned()), fast_timings(), Some(ADMIN)).await
}

#[tokio::test]
async fn a_backup_of_a_running_server_restores_into_a_working_one() {
    let root = std::env::temp_dir().join(format!("convene-backup-{}", uuid::Uuid::new_v4()));
    let (data, copy) = (root.join("data"), root.join("copy"));
    let s = serve(&data).await;
    let meeting = s.meeting(serde_json::json!({"title": "kept"})).await;
    let (participant, token) = s.participant(&meeting, "p1", "group_call_participant").await;
    let (_, key) = s.api("GET", "/.well-known/webhooks.json", None).await;

    let out = backup(&data, &copy);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stdout).contains("restore: convene-server --data"));
    #[cfg(unix)]
    for file in ["convene.db", "webhook_key.pem"] {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(copy.join(file)).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "{file}");
    }
    // Written after the backup: not in it.
    s.meeting(serde_json::json!({"title": "later"})).await;
    s.server.shutdown().await;

    let restored = serve(&copy).await;
    let (status, v) = restored.api("GET", &format!("/meetings/{meeting}"), None).await;
    assert_eq!((status, v["data"]["title"].as_str()), (200, Some("kept")), "{v}");
    let (_, list) = restored.api("GET", "/meetings", None).await;
    assert_eq!(list["paging"]["total_count"], 1, "{list}");
    // Tokens issued before the backup still work: the signing keys came along.
    let (status, me) = restored.api_as(&token, "GET", "/v1/participant/me", None).await;
    assert_eq!((status, me["data"]["participant"]["id"].as_str()), (200, Some(participant.as_str())), "{me}");
    assert_eq!(restored.api("GET", "/.well-known/webhooks.json", None).await.1, key, "the webhook key");
    restored.server.shutdown().await;
    let _ = std::fs::remove_dir_all(&root);
}

#[test]
fn a_backup_needs_a_data_directory_and_an_empty_destination() {
    let root = std::env::temp_dir().join(format!("convene-backup-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(root.join("full")).unwrap();
    std::fs::write(root.join("full/x"), "x").unwrap();
    let out = backup(&root.join("nowhere"), &root.join("copy"));
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("holds no Convene database"), "{out:?}");
    assert!(!root.join("copy").exists(), "nothing written");
    std::fs::create_dir_all(root.join("data")).unwrap();
    std::fs::write(root.join("data/convene.db"), "").unwrap();
    let out = backup(&root.join("data"), &root.join("full"));
    assert!(String::from_utf8_lossy(&out.stderr).contains("is not empty"), "{out:?}");
    let _ = std::fs::remove_dir_all(&root);
}
