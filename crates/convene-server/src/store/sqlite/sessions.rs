//! Sessions and the peers in them.

use rusqlite::{params, OptionalExtension};

use convene_core::SessionEnd;
use convene_room::{ParticipantInfo, StayOutcome, WebhookEvent};

use super::{now_rfc3339, Page, Sqlite};
use crate::model::{Session, SessionPeer};
use crate::store::encoding::{contains_pattern, end_reason_name, minutes_between, EndedStay};
use crate::store::{LivePeerRow, LiveSessionRow};
use crate::store::{SessionFilter, SessionOrder, SessionStatus, StoreResult};

const SESSION_COLUMNS: &str = "s.id, s.meeting_id, s.meeting_title, s.app_id, s.status, s.max_concurrent, s.started_at,
  s.ended_at, s.end_reason, s.created_at, s.updated_at,
  (SELECT COUNT(*) FROM session_peers p WHERE p.session_id = s.id AND p.left_at IS NULL)";

fn session_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Session> {
    Ok(Session {
        id: r.get(0)?,
        associated_id: r.get(1)?,
        meeting_display_name: r.get(2)?,
        organization_id: r.get(3)?,
        status: r.get(4)?,
        kind: "meeting".into(),
        max_concurrent_participants: r.get(5)?,
        started_at: r.get(6)?,
        ended_at: r.get(7)?,
        end_reason: r.get(8)?,
        created_at: r.get(9)?,
        updated_at: r.get(10)?,
        live_participants: r.get(11)?,
        minutes_consumed: 0.0,
    })
}

fn peer_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<SessionPeer> {
    let joined_at: String = r.get(5)?;
    let left_at: Option<String> = r.get(6)?;
    Ok(SessionPeer {
        id: r.get(0)?,
        user_id: r.get(1)?,
        custom_participant_id: r.get(2)?,
        display_name: r.get(3)?,
        preset_name: r.get(4)?,
        duration: minutes_between(&joined_at, left_at.as_deref()),
        created_at: joined_at.clone(),
        updated_at: left_at.clone().unwrap_or_else(|| joined_at.clone()),
        joined_at,
        left_at,
    })
}

impl Sqlite {
    /// Starts a session (status `LIVE`) with the id and start time its room gave it.
    pub(crate) fn start_session(
        &self,
        app_id: &str,
        id: &str,
        meeting_id: &str,
        title: Option<&str>,
        started_at: &str,
    ) -> StoreResult<()> {
        self.lock().execute(
            "INSERT INTO sessions (id, app_id, meeting_id, meeting_title, status, started_at, created_at, updated_at)
             VALUES (?1, ?2, ?3, ?4, 'LIVE', ?5, ?5, ?5)",
            params![id, app_id, meeting_id, title, started_at],
        )?;
        Ok(())
    }

    /// Ends a session at `ended_at`, closes every open peer stay, and queues `webhook` for the
    /// app's subscribers, all in one transaction. Returns how many
    /// deliveries were queued.
    pub(crate) fn end_session(
        &self,
        app_id: &str,
        end: &SessionEnd,
        last_seq: u64,
        ended_at: &str,
        webhook: &WebhookEvent,
    ) -> StoreResult<usize> {
        let id = &end.session_id;
        let ended_by = serde_json::to_string(&end.ended_by)?;
        let reason = end_reason_name(end.reason);
        self.tx(|tx| {
            let ended = tx.execute(
                "UPDATE sessions SET status = 'ENDED', ended_at = ?2, end_reason = ?3, ended_by = ?4, last_seq = ?5,
                   updated_at = ?2 WHERE id = ?1 AND status = 'LIVE'",
                params![id, ended_at, reason, ended_by, last_seq as i64],
            )?;
            if ended == 0 {
                // Already ended (the store is the truth): no second `meeting.ended`.
                return Ok(0);
            }
            tx.execute(
                "UPDATE session_peers SET left_at = ?2, outcome = COALESCE(outcome, 'ended') WHERE session_id = ?1 AND left_at IS NULL",
                params![id, ended_at],
            )?;
            super::outbox::queue(tx, app_id, webhook)
        })
    }

    /// Records the highest sequence number used, and the peak of concurrent peers.
    pub(crate) fn touch_session(&self, id: &str, last_seq: u64, concurrent: u32) -> StoreResult<()> {
        self.lock().execute(
            "UPDATE sessions SET last_seq = MAX(last_seq, ?2), max_concurrent = MAX(max_concurrent, ?3), updated_at = ?4
             WHERE id = ?1",
            params![id, last_seq as i64, concurrent, now_rfc3339()],
        )?;
        Ok(())
    }

    /// A session of an app.
    pub(crate) fn get_session(&self, app_id: &str, id: &str) -> StoreResult<Option<Session>> {
        let sql = format!("SELECT {SESSION_COLUMNS} FROM sessions s WHERE s.app_id = ?1 AND s.id = ?2");
        let session = self.lock().query_row(&sql, [app_id, id], session_row).optional()?;
        session.map(|s| self.with_minutes(s)).transpose()
    }

    /// The live session of a meeting.
    pub(crate) fn live_session(&self, app_id: &str, meeting_id: &str) -> StoreResult<Option<Session>> {
        let sql = format!(
            "SELECT {SESSION_COLUMNS} FROM sessions s WHERE s.app_id = ?1 AND s.meeting_id = ?2 AND s.status = 'LIVE'"
        );
        let session = self.lock().query_row(&sql, [app_id, meeting_id], session_row).optional()?;
        session.map(|s| self.with_minutes(s)).transpose()
    }

    /// The id and start time of a meeting's live session: a lookup on the live-session index,
    /// without the counts and minutes that [`Store::live_session`] adds up over every stay (which
    /// grow with the session's history). Every client start asks for it.
    pub(crate) fn live_session_start(&self, app_id: &str, meeting_id: &str) -> StoreResult<Option<(String, String)>> {
        let session = self
            .lock()
            .query_row(
                "SELECT id, started_at FROM sessions WHERE app_id = ?1 AND meeting_id = ?2 AND status = 'LIVE'",
                [app_id, meeting_id],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()?;
        Ok(session)
    }

    fn with_minutes(&self, mut s: Session) -> StoreResult<Session> {
        s.minutes_consumed = self.session_peers_all(&s.id)?.iter().map(|p| p.duration).sum();
        Ok(s)
    }

    /// A page of an app's sessions, filtered by meeting and status, newest first, and the total.
    pub(crate) fn list_sessions(
        &self,
        app_id: &str,
        filter: &SessionFilter,
        page: Page,
    ) -> StoreResult<(Vec<Session>, u64)> {
        let (meeting_id, status) = (&filter.meeting_id, filter.status.map(SessionStatus::as_str));
        let pattern = contains_pattern(filter.search.as_deref());
        let (from, until) = (&filter.created.from, &filter.created.until);
        let kept = "s.app_id = ?1 AND (?2 IS NULL OR s.meeting_id = ?2) AND (?3 IS NULL OR s.status = ?3)
             AND (COALESCE(s.meeting_title, '') LIKE ?4 ESCAPE '\\' OR s.meeting_id LIKE ?4 ESCAPE '\\'
                  OR s.id LIKE ?4 ESCAPE '\\')
             AND (?5 IS NULL OR s.created_at >= ?5) AND (?6 IS NULL OR s.created_at <= ?6)";
        let order = match filter.order {
            SessionOrder::CreatedAt(d) => format!("s.created_at {0}, s.rowid {0}", d.sql()),
            // The stays' minutes as `minutes_between` counts them (a stay still on: until now).
            SessionOrder::MinutesConsumed(d) => format!(
                "(SELECT COALESCE(SUM(MAX(julianday(COALESCE(p.left_at, 'now')) - julianday(p.joined_at), 0)), 0)
                  FROM session_peers p WHERE p.session_id = s.id) {}, s.created_at DESC, s.rowid DESC",
                d.sql()
            ),
        };
        let (rows, total) = {
            let conn = self.lock();
            let total: u64 = conn.query_row(
                &format!("SELECT COUNT(*) FROM sessions s WHERE {kept}"),
                params![app_id, meeting_id, status, pattern, from, until],
                |r| r.get(0),
            )?;
            let (limit, offset) = page.limit_offset();
            let sql =
                format!("SELECT {SESSION_COLUMNS} FROM sessions s WHERE {kept} ORDER BY {order} LIMIT ?7 OFFSET ?8");
            let mut stmt = conn.prepare(&sql)?;
            let rows: Vec<Session> = stmt
                .query_map(params![app_id, meeting_id, status, pattern, from, until, limit, offset], session_row)?
                .collect::<Result<_, _>>()?;
            (rows, total)
        };
        Ok((rows.into_iter().map(|s| self.with_minutes(s)).collect::<StoreResult<_>>()?, total))
    }

    /// Records a peer entering a session at `at`.
    pub(crate) fn peer_joined(
        &self,
        session_id: &str,
        peer_id: &str,
        p: &ParticipantInfo,
        at: &str,
    ) -> StoreResult<()> {
        self.lock().execute(
            "INSERT INTO session_peers (peer_id, session_id, participant_id, custom_participant_id, display_name,
               preset_name, joined_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) ON CONFLICT (peer_id) DO NOTHING",
            params![
                peer_id,
                session_id,
                p.id,
                p.custom_participant_id,
                p.name.clone().unwrap_or_default(),
                p.preset_name,
                at
            ],
        )?;
        Ok(())
    }

    /// Records a peer leaving a session at `at`.
    pub(crate) fn peer_left(&self, peer_id: &str, outcome: StayOutcome, at: &str) -> StoreResult<()> {
        self.lock().execute(
            "UPDATE session_peers SET left_at = ?2, outcome = ?3 WHERE peer_id = ?1 AND left_at IS NULL",
            params![peer_id, at, outcome.as_str()],
        )?;
        Ok(())
    }

    /// A live stay pinned or unpinned.
    pub(crate) fn peer_pinned(&self, peer_id: &str, pinned: bool) -> StoreResult<()> {
        self.lock().execute(
            "UPDATE session_peers SET pinned = ?2 WHERE peer_id = ?1 AND left_at IS NULL",
            params![peer_id, pinned],
        )?;
        Ok(())
    }

    fn session_peers_all(&self, session_id: &str) -> StoreResult<Vec<SessionPeer>> {
        let conn = self.lock();
        let mut stmt = conn.prepare(
            "SELECT peer_id, participant_id, custom_participant_id, display_name, preset_name, joined_at, left_at
             FROM session_peers WHERE session_id = ?1 ORDER BY joined_at, rowid",
        )?;
        let rows = stmt.query_map([session_id], peer_row)?.collect::<Result<_, _>>()?;
        Ok(rows)
    }

    /// A page of a session's peers and the total.
    pub(crate) fn session_peers(&self, session_id: &str, page: Page) -> StoreResult<(Vec<SessionPeer>, u64)> {
        let all = self.session_peers_all(session_id)?;
        let total = all.len() as u64;
        let (limit, offset) = page.limit_offset();
        Ok((all.into_iter().skip(offset as usize).take(limit as usize).collect(), total))
    }

    /// One stay of a session of the app, by its peer id, with its session's id.
    pub(crate) fn session_peer(&self, app_id: &str, peer_id: &str) -> StoreResult<Option<(String, SessionPeer)>> {
        let session_id: Option<String> = self
            .lock()
            .query_row(
                "SELECT p.session_id FROM session_peers p JOIN sessions s ON s.id = p.session_id
                 WHERE p.peer_id = ?1 AND s.app_id = ?2",
                [peer_id, app_id],
                |r| r.get(0),
            )
            .optional()?;
        let Some(session_id) = session_id else { return Ok(None) };
        let peer = self.session_peers_all(&session_id)?.into_iter().find(|p| p.id == peer_id);
        Ok(peer.map(|p| (session_id, p)))
    }

    /// How the session of a stay of `participant_id` ended, for a resume that its room no
    /// longer remembers (a restart, or the room task idled out): `None` unless the stay is over
    /// because its session ended.
    pub(crate) fn ended_stay(&self, peer_id: &str, participant_id: &str) -> StoreResult<Option<SessionEnd>> {
        let Some(stay) = self
            .lock()
            .query_row(
                "SELECT p.participant_id, p.outcome, s.id, s.end_reason, s.ended_by FROM session_peers p
                 JOIN sessions s ON s.id = p.session_id
                 WHERE p.peer_id = ?1 AND p.outcome IS NOT NULL AND s.status = 'ENDED'
                   AND s.end_reason IS NOT NULL AND s.ended_by IS NOT NULL",
                [peer_id],
                |r| {
                    Ok(EndedStay {
                        participant_id: r.get(0)?,
                        outcome: r.get(1)?,
                        session_id: r.get(2)?,
                        end_reason: r.get(3)?,
                        ended_by: r.get(4)?,
                    })
                },
            )
            .optional()?
        else {
            return Ok(None);
        };
        Ok(stay.session_end_for(participant_id))
    }

    /// Live sessions and their present peers, to restore after a restart: every one, or the one
    /// of `meeting` (`(app_id, meeting_id)`).
    pub(crate) fn live_sessions(
        &self,
        meeting: Option<(&str, &str)>,
    ) -> StoreResult<Vec<(LiveSessionRow, Vec<LivePeerRow>)>> {
        let conn = self.lock();
        let mut stmt = conn.prepare(
            "SELECT id, app_id, meeting_id, started_at, last_seq FROM sessions WHERE status = 'LIVE'
             AND (?1 IS NULL OR (meeting_id = ?1 AND app_id = ?2))",
        )?;
        let (app_id, meeting_id) = meeting.map_or((None, None), |(app, id)| (Some(app), Some(id)));
        let sessions: Vec<LiveSessionRow> = stmt
            .query_map(rusqlite::params![meeting_id, app_id], |r| {
                Ok(LiveSessionRow {
                    id: r.get(0)?,
                    app_id: r.get(1)?,
                    meeting_id: r.get(2)?,
                    started_at: r.get(3)?,
                    last_seq: r.get::<_, i64>(4)? as u64,
                })
            })?
            .collect::<Result<_, _>>()?;
        let mut out = Vec::with_capacity(sessions.len());
        let mut peers_stmt = conn.prepare(
            "SELECT peer_id, participant_id, display_name, pinned FROM session_peers
             WHERE session_id = ?1 AND left_at IS NULL",
        )?;
        for s in sessions {
            let peers = peers_stmt
                .query_map([&s.id], |r| {
                    Ok(LivePeerRow {
                        peer_id: r.get(0)?,
                        participant_id: r.get(1)?,
                        display_name: r.get(2)?,
                        pinned: r.get(3)?,
                    })
                })?
                .collect::<Result<_, _>>()?;
            out.push((s, peers));
        }
        Ok(out)
    }
}
