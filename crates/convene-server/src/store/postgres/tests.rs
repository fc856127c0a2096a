//! The PostgreSQL store against a real PostgreSQL (started by the test, loopback only).

use super::test_postgres::TestPostgres;
use super::PgStore;
use crate::store::conformance::every_store_answers_alike;

#[tokio::test]
async fn the_postgres_store_answers_as_every_store_does() {
    let pg = TestPostgres::start();
    let store = PgStore::connect(&pg.url(), "node-a").await.unwrap();
    every_store_answers_alike(&store).await;
}
