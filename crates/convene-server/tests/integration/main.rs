//! The server's integration tests, in one test binary (each file used to be its own, each linking
//! SQLite, RSA and the server again). Every test starts its own server on a loopback port (or its
//! own process, for the crash tests) and stops it.

mod support;

mod abuse;
mod cli;
mod crash;
mod postgres_node;
mod rest;
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
