//! The native client's integration tests, in one test binary: the client against a real
//! `convene-server` (embedded, on a loopback port) end to end, over TLS, through every shared
//! scenario file, and through the chaos proxy.

mod chaos;
mod e2e;
mod scenarios;
mod tls;
