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
