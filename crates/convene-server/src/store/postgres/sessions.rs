//! Sessions and the peers in them, in PostgreSQL.

use convene_core::SessionEnd;
use convene_room::{ParticipantInfo, StayOutcome, WebhookEvent};
use tokio_postgres::{GenericClient, Row};

use super::{count, PgStore};
use crate::model::{Session, SessionPeer};
use crate::store::encoding::{contains_pattern, end_reason_name, minutes_between, EndedStay};
use crate::store::StoreResult;
use crate::store::{now_rfc3339, LivePeerRow, LiveSessionRow, Page, SessionFilter, SessionOrder, SessionStatus};

const SESSION_COLUMNS: &str = "s.id, s.meeting_id, s.meeting_title, s.app_id, s.status, s.max_concurrent, s.started_at,
  s.ended_at, s.end_reason, s.created_at, s.updated_at,
  (SELECT count(*) FROM session_peers p WHERE p.session_id = s.id AND p.left_at IS NULL)";

fn to_u32(n: i64) -> u32 {
    u32::try_from(n.max(0)).unwrap_or(u32::MAX)
}

fn session(r: &Row) -> Session {
    Session {
        id: r.get(0),
        associated_id: r.get(1),
        meeting_display_name: r.get(2),
        organization_id: r.get(3),
        status: r.get(4),
        kind: "meeting".into(),
        max_concurrent_participants: to_u32(r.get(5)),
        started_at: r.get(6),
        ended_at: r.get(7),
        end_reason: r.get(8),
        created_at: r.get(9),
        updated_at: r.get(10),
        live_participants: to_u32(r.get(11)),
        minutes_consumed: 0.0,
    }
}

fn peer(r: &Row) -> SessionPeer {
    let joined_at: String = r.get(5);
    let left_at: Option<String> = r.get(6);
    SessionPeer {
        id: r.get(0),
        user_id: r.get(1),
        custom_participant_id: r.get(2),
        display_name: r.get(3),
        preset_name: r.get(4),
        duration: minutes_between(&joined_at, left_at.as_deref()),
        created_at: joined_at.clone(),
        updated_at: left_at.clone().unwrap_or_else(|| joined_at.clone()),
        joined_at,
        left_at,
    }
}

/// Every stay of a session, in the order they began.
async fn all_peers(client: &impl GenericClient, session_id: &str) -> StoreResult<Vec<SessionPeer>> {
    let rows = client
        .query(
            "SELECT peer_id, participant_id, custom_participant_id, display_name, preset_name, joined_at, left_at
             FROM session_peers WHERE session_id = $1 ORDER BY joined_at, seq",
            &[&session_id],
        )
        .await?;
    Ok(rows.iter().map(peer).collect())
}

/// A session with the minutes its stays add up to.
async fn with_minutes(client: &impl GenericClient, mut s: Session) -> StoreResult<Session> {
    s.minutes_consumed = all_peers(client, &s.id).await?.iter().map(|p| p.duration).sum();
    Ok(s)
}

/// Starts a session (status `LIVE`), on `client` (a room write's transaction).
pub(super) async fn start(
    client: &impl GenericClient,
    app_id: &str,
    id: &str,
    meeting_id: &str,
    title: Option<&str>,
    started_at: &str,
) -> StoreResult<()> {
    client
        .execute(
            "INSERT INTO sessions (id, app_id, meeting_id, meeting_title, status, started_at, created_at, updated_at)
             VALUES ($1, $2, $3, $4, 'LIVE', $5, $5, $5)",
            &[&id, &app_id, &meeting_id, &title, &started_at],
        )
        .await?;
    Ok(())
}

/// Ends a session, closes its open stays and queues `webhook`, within `tx`. Returns how many
/// deliveries were queued (none when the session had ended already).
pub(super) async fn end(
    tx: &tokio_postgres::Transaction<'_>,
    app_id: &str,
    end: &SessionEnd,
    last_seq: u64,
    ended_at: &str,
    webhook: &WebhookEvent,
) -> StoreResult<usize> {
    let ended_by = serde_json::to_string(&end.ended_by)?;
    let reason = end_reason_name(end.reason);
    let last_seq = i64::try_from(last_seq).unwrap_or(i64::MAX);
    let ended = tx
        .execute(
            "UPDATE sessions SET status = 'ENDED', ended_at = $2, end_reason = $3, ended_by = $4, last_seq = $5,
               updated_at = $2 WHERE id = $1 AND status = 'LIVE'",
            &[&end.session_id, &ended_at, &reason, &ended_by, &last_seq],
        )
        .await?;
    if ended == 0 {
        // Already ended (the store is the truth): no second `meeting.ended`.
        return Ok(0);
    }
    tx.execute(
        "UPDATE session_peers SET left_at = $2, outcome = COALESCE(outcome, 'ended')
         WHERE session_id = $1 AND left_at IS NULL",
        &[&end.session_id, &ended_at],
    )
    .await?;
    super::outbox::queue_event(tx, app_id, webhook).await
}

/// Records the highest sequence number used and the peak of concurrent peers, on `client`.
pub(super) async fn touch(client: &impl GenericClient, id: &str, last_seq: u64, concurrent: u32) -> StoreResult<()> {
    let last_seq = i64::try_from(last_seq).unwrap_or(i64::MAX);
    client
        .execute(
            "UPDATE sessions SET last_seq = GREATEST(last_seq, $2), max_concurrent = GREATEST(max_concurrent, $3),
               updated_at = $4 WHERE id = $1",
            &[&id, &last_seq, &i64::from(concurrent), &now_rfc3339()],
        )
        .await?;
    Ok(())
}

/// Records a peer entering a session, on `client`.
pub(super) async fn peer_joined(
    client: &impl GenericClient,
    session_id: &str,
    peer_id: &str,
    p: &ParticipantInfo,
    at: &str,
) -> StoreResult<()> {
    client
        .execute(
            "INSERT INTO session_peers (peer_id, session_id, participant_id, custom_participant_id, display_name,
               preset_name, joined_at) VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (peer_id) DO NOTHING",
            &[
                &peer_id,
                &session_id,
                &p.id,
                &p.custom_participant_id,
                &p.name.as_deref().unwrap_or(""),
                &p.preset_name,
                &at,
            ],
        )
        .await?;
    Ok(())
}

/// Records a peer leaving a session, on `client`.
/// A live stay pinned or unpinned.
pub(super) async fn peer_pinned(client: &impl GenericClient, peer_id: &str, pinned: bool) -> StoreResult<()> {
    client
        .execute("UPDATE session_peers SET pinned = $2 WHERE peer_id = $1 AND left_at IS NULL", &[&peer_id, &pinned])
        .await?;
    Ok(())
}

pub(super) async fn peer_left(
    client: &impl GenericClient,
    peer_id: &str,
    outcome: StayOutcome,
    at: &str,
) -> StoreResult<()> {
    client
        .execute(
            "UPDATE session_peers SET left_at = $2, outcome = $3 WHERE peer_id = $1 AND left_at IS NULL",
            &[&peer_id, &at, &outcome.as_str()],
        )
        .await?;
    Ok(())
}

impl PgStore {
    /// Starts a session (status `LIVE`) with the id and start time its room gave it.
    pub(crate) async fn start_session(
        &self,
        app_id: &str,
        id: &str,
        meeting_id: &str,
        title: Option<&str>,
        started_at: &str,
    ) -> StoreResult<()> {
        start(&**self.client().await?, app_id, id, meeting_id, title, started_at).await
    }

    /// Ends a session, closes its open stays and queues `webhook`, in one transaction. Returns
    /// how many deliveries were queued.
    pub(crate) async fn end_session(
        &self,
        app_id: &str,
        session_end: &SessionEnd,
        last_seq: u64,
        ended_at: &str,
        webhook: &WebhookEvent,
    ) -> StoreResult<usize> {
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        let queued = end(&tx, app_id, session_end, last_seq, ended_at, webhook).await?;
        tx.commit().await?;
        Ok(queued)
    }

    /// Records the highest sequence number used, and the peak of concurrent peers.
    pub(crate) async fn touch_session(&self, id: &str, last_seq: u64, concurrent: u32) -> StoreResult<()> {
        touch(&**self.client().await?, id, last_seq, concurrent).await
    }

    /// Records a peer entering a session at `at`.
    pub(crate) async fn peer_joined(
        &self,
        session_id: &str,
        peer_id: &str,
        p: &ParticipantInfo,
        at: &str,
    ) -> StoreResult<()> {
        peer_joined(&**self.client().await?, session_id, peer_id, p, at).await
    }

    /// Records a peer leaving a session at `at`.
    pub(crate) async fn peer_left(&self, peer_id: &str, outcome: StayOutcome, at: &str) -> StoreResult<()> {
        peer_left(&**self.client().await?, peer_id, outcome, at).await
    }

    /// A session of an app.
    pub(crate) async fn get_session(&self, app_id: &str, id: &str) -> StoreResult<Option<Session>> {
        let client = self.client().await?;
        let sql = format!("SELECT {SESSION_COLUMNS} FROM sessions s WHERE s.app_id = $1 AND s.id = $2");
        match client.query_opt(&sql, &[&app_id, &id]).await? {
            Some(r) => Ok(Some(with_minutes(&**client, session(&r)).await?)),
            None => Ok(None),
        }
    }

    /// The live session of a meeting.
    pub(crate) async fn live_session(&self, app_id: &str, meeting_id: &str) -> StoreResult<Option<Session>> {
        let client = self.client().await?;
        let sql = format!(
            "SELECT {SESSION_COLUMNS} FROM sessions s WHERE s.app_id = $1 AND s.meeting_id = $2 AND s.status = 'LIVE'"
        );
        match client.query_opt(&sql, &[&app_id, &meeting_id]).await? {
            Some(r) => Ok(Some(with_minutes(&**client, session(&r)).await?)),
            None => Ok(None),
        }
    }

    /// The id and start time of a meeting's live session, without counts and minutes.
    pub(crate) async fn live_session_start(
        &self,
        app_id: &str,
        meeting_id: &str,
    ) -> StoreResult<Option<(String, String)>> {
        let sql = "SELECT id, started_at FROM sessions WHERE app_id = $1 AND meeting_id = $2 AND status = 'LIVE'";
        let row = self.client().await?.query_opt(sql, &[&app_id, &meeting_id]).await?;
        Ok(row.map(|r| (r.get(0), r.get(1))))
    }

    /// A page of an app's sessions, filtered by meeting and status, newest first, and the total.
    pub(crate) async fn list_sessions(
        &self,
        app_id: &str,
        filter: &SessionFilter,
        page: Page,
    ) -> StoreResult<(Vec<Session>, u64)> {
        let (meeting_id, status) = (&filter.meeting_id, filter.status.map(SessionStatus::as_str));
        let pattern = contains_pattern(filter.search.as_deref());
        let (from, until) = (&filter.created.from, &filter.created.until);
        let kept = "s.app_id = $1 AND ($2::text IS NULL OR s.meeting_id = $2) AND ($3::text IS NULL OR s.status = $3)
             AND (COALESCE(s.meeting_title, '') LIKE $4 ESCAPE '\\' OR s.meeting_id LIKE $4 ESCAPE '\\'
                  OR s.id LIKE $4 ESCAPE '\\')
             AND ($5::text IS NULL OR s.created_at >= $5) AND ($6::text IS NULL OR s.created_at <= $6)";
        let order = match filter.order {
            SessionOrder::CreatedAt(d) => format!("s.created_at {0}, s.seq {0}", d.sql()),
            // The stays' minutes as `minutes_between` counts them (a stay still on: until now).
            SessionOrder::MinutesConsumed(d) => format!(
                "(SELECT COALESCE(SUM(GREATEST(EXTRACT(EPOCH FROM
                      COALESCE(p.left_at::timestamptz, now()) - p.joined_at::timestamptz), 0)), 0)
                  FROM session_peers p WHERE p.session_id = s.id) {}, s.created_at DESC, s.seq DESC",
                d.sql()
            ),
        };
        let client = self.client().await?;
        let values: [&(dyn tokio_postgres::types::ToSql + Sync); 6] =
            [&app_id, meeting_id, &status, &pattern, from, until];
        let total = count(&client, &format!("SELECT count(*) FROM sessions s WHERE {kept}"), &values).await?;
        let (limit, offset) = page.limit_offset();
        let sql = format!("SELECT {SESSION_COLUMNS} FROM sessions s WHERE {kept} ORDER BY {order} LIMIT $7 OFFSET $8");
        let rows = client.query(&sql, &[&app_id, meeting_id, &status, &pattern, from, until, &limit, &offset]).await?;
        let mut sessions = Vec::with_capacity(rows.len());
        for r in &rows {
            sessions.push(with_minutes(&**client, session(r)).await?);
        }
        Ok((sessions, total))
    }

    /// A page of a session's peers and the total.
    pub(crate) async fn session_peers(&self, session_id: &str, page: Page) -> StoreResult<(Vec<SessionPeer>, u64)> {
        let all = all_peers(&**self.client().await?, session_id).await?;
        let total = all.len() as u64;
        let (limit, offset) = page.limit_offset();
        Ok((all.into_iter().skip(offset as usize).take(limit as usize).collect(), total))
    }

    /// One stay of a session of the app, by its peer id, with its session's id.
    pub(crate) async fn session_peer(&self, app_id: &str, peer_id: &str) -> StoreResult<Option<(String, SessionPeer)>> {
        let client = self.client().await?;
        let row = client
            .query_opt(
                "SELECT p.session_id FROM session_peers p JOIN sessions s ON s.id = p.session_id
                 WHERE p.peer_id = $1 AND s.app_id = $2",
                &[&peer_id, &app_id],
            )
            .await?;
        let Some(row) = row else { return Ok(None) };
        let session_id: String = row.get(0);
        let peer = all_peers(&**client, &session_id).await?.into_iter().find(|p| p.id == peer_id);
        Ok(peer.map(|p| (session_id, p)))
    }

    /// How the session of a stay of `participant_id` ended, for a resume its room no longer
    /// remembers: `None` unless the stay is over because its session ended.
    pub(crate) async fn ended_stay(&self, peer_id: &str, participant_id: &str) -> StoreResult<Option<SessionEnd>> {
        let row = self
            .client()
            .await?
            .query_opt(
                "SELECT p.participant_id, p.outcome, s.id, s.end_reason, s.ended_by FROM session_peers p
                 JOIN sessions s ON s.id = p.session_id
                 WHERE p.peer_id = $1 AND p.outcome IS NOT NULL AND s.status = 'ENDED'
                   AND s.end_reason IS NOT NULL AND s.ended_by IS NOT NULL",
                &[&peer_id],
            )
            .await?;
        Ok(row.and_then(|r| {
            EndedStay {
                participant_id: r.get(0),
                outcome: r.get(1),
                session_id: r.get(2),
                end_reason: r.get(3),
                ended_by: r.get(4),
            }
            .session_end_for(participant_id)
        }))
    }

    /// Live sessions and their present peers, to restore after a restart: every one, or the one
    /// of `meeting` (`(app_id, meeting_id)`).
    pub(crate) async fn live_sessions(
        &self,
        meeting: Option<(&str, &str)>,
    ) -> StoreResult<Vec<(LiveSessionRow, Vec<LivePeerRow>)>> {
        let client = self.client().await?;
        const LIVE: &str = "SELECT id, app_id, meeting_id, started_at, last_seq FROM sessions WHERE status = 'LIVE'";
        let sessions = match meeting {
            None => client.query(LIVE, &[]).await?,
            Some((app_id, meeting_id)) => {
                let sql = format!("{LIVE} AND meeting_id = $1 AND app_id = $2");
                client.query(&sql, &[&meeting_id, &app_id]).await?
            }
        };
        let mut out = Vec::with_capacity(sessions.len());
        for r in &sessions {
            let s = LiveSessionRow {
                id: r.get(0),
                app_id: r.get(1),
                meeting_id: r.get(2),
                started_at: r.get(3),
                last_seq: u64::try_from(r.get::<_, i64>(4)).unwrap_or(0),
            };
            let peers = client
                .query(
                    "SELECT peer_id, participant_id, display_name, pinned FROM session_peers
                     WHERE session_id = $1 AND left_at IS NULL
                     ORDER BY joined_at, seq",
                    &[&s.id],
                )
                .await?;
            let peers = peers
                .iter()
                .map(|p| LivePeerRow {
                    peer_id: p.get(0),
                    participant_id: p.get(1),
                    display_name: p.get(2),
                    pinned: p.get(3),
                })
                .collect();
            out.push((s, peers));
        }
        Ok(out)
    }
}
