//! The server's integration tests, in one test binary (each file used to be its own, each linking
//! SQLite, RSA and the server again). Every test starts its own server on a loopback port (or its
//! own process, for the crash tests) and stops it.

mod support;

// The lib's own tests' PostgreSQL and Redis; here not every part of them is used.
#[allow(dead_code)]
#[path = "../../src/store/postgres/test_postgres.rs"]
mod test_postgres;
#[allow(dead_code)]
#[path = "../../src/cluster/test_redis.rs"]
mod test_redis;

mod abuse;
mod backup;
mod cli;
mod cluster_faults;
mod cluster_nodes;
mod cluster_takeover;
mod cluster_webhooks;
mod crash;
mod health;
mod metrics;
mod postgres_node;
mod proxy;
mod rest;
mod rest_meeting_settings;
mod rest_replace;
mod rest_scopes;
mod rest_validation;
mod restart;
mod room_lifecycle;
mod security_binary;
mod security_http;
mod security_membership;
mod security_webhooks;
mod signalling;
mod webhooks;
