//! Every client at once: run a step on all of them concurrently, let them read in the background
//! while the server is killed, and the two phases after a restart (resume everyone, then join
//! those who are not in a session).

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;

use convene_core::proto::{ResumeRefusal, ServerMessage, SessionEvent};

use super::raw_client::Client;

/// Runs `f` on every client at once (each in its own task) and gives them back in order.
pub async fn each<F, Fut>(clients: Vec<Client>, f: F) -> Vec<Client>
where
    F: Fn(usize, Client) -> Fut,
    Fut: std::future::Future<Output = Client> + Send + 'static,
{
    let tasks: Vec<_> = clients.into_iter().enumerate().map(|(i, c)| tokio::spawn(f(i, c))).collect();
    let mut out = Vec::new();
    for t in tasks {
        out.push(tokio::time::timeout(Duration::from_secs(60), t).await.expect("client task ends").expect("no panic"));
    }
    out
}

/// Lets every client read in the background until its connection ends; `join_all` gives them back.
pub fn read_on(clients: Vec<Client>) -> Vec<tokio::task::JoinHandle<Client>> {
    clients
        .into_iter()
        .map(|mut c| {
            tokio::spawn(async move {
                c.drain(Duration::from_secs(120)).await;
                c
            })
        })
        .collect()
}

/// Gives back the clients of [`read_on`] once their connections have ended.
pub async fn join_all(tasks: Vec<tokio::task::JoinHandle<Client>>) -> Vec<Client> {
    let mut out = Vec::new();
    for t in tasks {
        out.push(
            tokio::time::timeout(Duration::from_secs(30), t).await.expect("client sees the end").expect("no panic"),
        );
    }
    out
}

// The phases after a restart.

/// After a restart: every client with a peer id resumes at once; those the store kept get the same
/// session back with a fresh snapshot of everyone else the store kept; the others are refused.
/// Returns the clients, connected where resumed.
pub async fn resume_all(clients: Vec<Client>, url: &str, kept: &BTreeMap<String, String>) -> Vec<Client> {
    let url = url.to_owned();
    let kept = Arc::new(kept.clone());
    each(clients, move |_, mut c| {
        let url = url.clone();
        let kept = kept.clone();
        async move {
            let Some(peer) = c.peer_id.clone() else { return c };
            if c.ended().is_some() {
                return c;
            }
            c.resumed = None;
            c.refused = None;
            let before = c.last_seq;
            let answer = c.hello(&url, true).await;
            match (kept.get(&peer), answer) {
                (Some(session), Some(ServerMessage::Welcome { resumed: true, peer_id, .. })) => {
                    assert_eq!(peer_id, peer, "{}: the same peer", c.name);
                    // The event log did not survive: a snapshot, numbered above anything before.
                    loop {
                        match c.recv(Duration::from_secs(5)).await {
                            Some(ServerMessage::Event { seq, event: SessionEvent::Joined { room } }) => {
                                assert!(seq > before, "{}: snapshot seq {seq} not above {before}", c.name);
                                assert_eq!(&room.session.id, session, "{}: the same session", c.name);
                                let others: BTreeSet<String> = room.peers.iter().map(|p| p.id.clone()).collect();
                                let expected: BTreeSet<String> = kept
                                    .iter()
                                    .filter(|(p, s)| **p != peer && *s == session)
                                    .map(|(p, _)| p.clone())
                                    .collect();
                                assert_eq!(others, expected, "{}: the snapshot holds everyone the store kept", c.name);
                                break;
                            }
                            Some(_) => continue,
                            None => panic!("{}: no snapshot after resuming", c.name),
                        }
                    }
                }
                (None, Some(ServerMessage::ResumeRefused { refusal: ResumeRefusal::Expired })) => {}
                (kept_session, answer) => {
                    panic!("{}: kept in the store as {kept_session:?}, resume answered {answer:?}", c.name)
                }
            }
            c
        }
    })
    .await
}

/// Clients that are not in a session (never admitted, refused, or their session ended) join.
pub async fn join_missing(clients: Vec<Client>, url: &str) -> Vec<Client> {
    let url = url.to_owned();
    each(clients, move |_, mut c| {
        let url = url.clone();
        async move {
            if c.ws.is_some() && c.refused.is_none() {
                return c;
            }
            let welcomed = matches!(c.hello(&url, false).await, Some(ServerMessage::Welcome { .. }));
            assert!(welcomed && c.join().await, "{}: a fresh join works", c.name);
            c
        }
    })
    .await
}
