//! The native client's integration tests, in one test binary: the client against a real
//! `convene-server` (embedded, on a loopback port) end to end, over TLS, through every shared
//! scenario file, and through the chaos proxy.

// The server's own tests' throwaway PostgreSQL and Redis, for chaos on a cluster.
#[allow(dead_code)]
#[path = "../../../convene-server/src/store/postgres/test_postgres.rs"]
mod test_postgres;
#[allow(dead_code)]
#[path = "../../../convene-server/src/cluster/test_redis.rs"]
mod test_redis;

mod chaos;
mod e2e;
mod scenarios;
mod tls;
