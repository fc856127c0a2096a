//! Security review, HTTP holes, each tried against a real server: the per-token rate limit reads
//! the token as authentication does (11).

mod support;

use convene_server::limits::{Limits, Rate};
use convene_server::DataLocation;
use support::{fast_timings, TestServer};

#[tokio::test]
async fn every_spelling_of_one_token_draws_on_the_same_rate_limit_bucket() {
    let limits = Limits { rest_per_token: Some(Rate::new(3, 0.0)), ..Limits::off() };
    let s = TestServer::start_limited(DataLocation::Memory, fast_timings(), None, limits).await;
    let http = reqwest::Client::new();
    let url = format!("{}/meetings", s.kit());
    let spellings = [format!("Bearer {}", s.token), format!("bearer {}", s.token), format!("BEARER   {} ", s.token)];
    for header in &spellings {
        let r = http.get(&url).header("authorization", header).send().await.unwrap();
        assert_eq!(r.status().as_u16(), 200, "{header:?} authenticates");
    }
    for header in &spellings {
        let r = http.get(&url).header("authorization", header).send().await.unwrap();
        assert_eq!(r.status().as_u16(), 429, "{header:?} counts against the same bucket");
    }
}

#[tokio::test]
async fn a_token_of_one_account_cannot_reach_another_accounts_apps() {
    let s = support::TestServer::start().await;
    let store = s.server.state.store();
    let acme_admin = "cvn_acme_admin_token_0123456789abcdef";
    store.insert_token(&convene_server::auth::hash_secret(acme_admin), "admin", Some("acme"), None).unwrap();
    let root = "/client/v4/accounts";
    // Its own account: apps are made and listed.
    let (status, v) = s
        .api_as(
            acme_admin,
            "POST",
            &format!("{root}/acme/realtime/kit/apps"),
            Some(serde_json::json!({"name": "acme app"})),
        )
        .await;
    assert_eq!(status, 201, "{v}");
    let acme_app = v["data"]["id"].as_str().unwrap().to_owned();
    let (status, v) = s.api_as(acme_admin, "GET", &format!("{root}/acme/realtime/kit/{acme_app}/meetings"), None).await;
    assert_eq!(status, 200, "{v}");
    // Another account's: nothing, whatever the route.
    let local = format!("{root}/{}/realtime/kit", s.account);
    for (method, path) in [
        ("GET", format!("{local}/apps")),
        ("POST", format!("{local}/apps")),
        ("GET", format!("{local}/{}/meetings", s.app)),
        ("GET", format!("{local}/{}/presets", s.app)),
        ("GET", format!("{local}/{}/webhooks", s.app)),
    ] {
        let body = (method == "POST").then(|| serde_json::json!({"name": "intruder"}));
        let (status, v) = s.api_as(acme_admin, method, &path, body).await;
        assert_eq!(status, 403, "{method} {path}: {v}");
    }
    // The operator's token reaches both.
    let (status, _) = s.api("GET", &format!("{root}/acme/realtime/kit/apps"), None).await;
    assert_eq!(status, 200);
    let (status, v) = s.api("GET", &format!("{local}/apps"), None).await;
    assert_eq!((status, v["paging"]["total_count"].as_u64()), (200, Some(1)), "no app was made in local");
}
