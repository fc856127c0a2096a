//! Meetings and participants.

use rusqlite::{params, OptionalExtension};

use super::{new_id, now_rfc3339, Page, Sqlite};
use crate::model::MeetingStatus;
use crate::model::{Meeting, Participant};
use crate::store::encoding::{contains_pattern, meeting_status, settings_from_json, settings_json};
use crate::store::StoreResult;
use crate::store::{MeetingFilter, ParticipantHome};

const MEETING_COLUMNS: &str = "id, title, status, keep_alive, record_on_start, persist_chat, live_stream_on_start,
    created_at, updated_at, summarize_on_end, transcribe_on_end, ai_config, recording_config";

/// Column `index`'s stored settings JSON, read back; a value that does not read is a conversion
/// error of that column.
fn settings<T: serde::de::DeserializeOwned>(r: &rusqlite::Row<'_>, index: usize) -> rusqlite::Result<Option<T>> {
    let stored: Option<String> = r.get(index)?;
    settings_from_json(stored.as_deref())
        .map_err(|e| rusqlite::Error::FromSqlConversionFailure(index, rusqlite::types::Type::Text, Box::new(e)))
}

fn meeting_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Meeting> {
    let status: String = r.get(2)?;
    Ok(Meeting {
        id: r.get(0)?,
        title: r.get(1)?,
        status: meeting_status(&status),
        session_keep_alive_time_in_secs: r.get(3)?,
        record_on_start: r.get(4)?,
        persist_chat: r.get(5)?,
        live_stream_on_start: r.get(6)?,
        created_at: r.get(7)?,
        updated_at: r.get(8)?,
        summarize_on_end: r.get(9)?,
        transcribe_on_end: r.get(10)?,
        ai_config: settings(r, 11)?,
        recording_config: settings(r, 12)?,
    })
}

const PARTICIPANT_COLUMNS: &str = "id, custom_participant_id, preset_name, name, picture, created_at, updated_at";

fn participant_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Participant> {
    Ok(Participant {
        id: r.get(0)?,
        custom_participant_id: r.get(1)?,
        preset_name: r.get(2)?,
        name: r.get(3)?,
        picture: r.get(4)?,
        created_at: r.get(5)?,
        updated_at: r.get(6)?,
        token: None,
    })
}

impl Sqlite {
    /// Stores a new meeting (its id and times are set here).
    pub(crate) fn create_meeting(&self, app_id: &str, mut meeting: Meeting) -> StoreResult<Meeting> {
        meeting.id = new_id();
        meeting.created_at = now_rfc3339();
        meeting.updated_at = meeting.created_at.clone();
        self.lock().execute(
            "INSERT INTO meetings (id, app_id, title, status, keep_alive, record_on_start, persist_chat,
               live_stream_on_start, created_at, updated_at, summarize_on_end, transcribe_on_end, ai_config,
               recording_config) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)",
            params![
                meeting.id,
                app_id,
                meeting.title,
                meeting.status.as_str(),
                meeting.session_keep_alive_time_in_secs,
                meeting.record_on_start,
                meeting.persist_chat,
                meeting.live_stream_on_start,
                meeting.created_at,
                meeting.updated_at,
                meeting.summarize_on_end,
                meeting.transcribe_on_end,
                settings_json(&meeting.ai_config)?,
                settings_json(&meeting.recording_config)?
            ],
        )?;
        Ok(meeting)
    }

    /// A meeting of an app.
    pub(crate) fn get_meeting(&self, app_id: &str, id: &str) -> StoreResult<Option<Meeting>> {
        let sql = format!("SELECT {MEETING_COLUMNS} FROM meetings WHERE app_id = ?1 AND id = ?2");
        Ok(self.lock().query_row(&sql, [app_id, id], meeting_row).optional()?)
    }

    /// A page of an app's meetings (optionally whose title contains `search`) and the total.
    pub(crate) fn list_meetings(
        &self,
        app_id: &str,
        filter: &MeetingFilter,
        page: Page,
    ) -> StoreResult<(Vec<Meeting>, u64)> {
        let conn = self.lock();
        let pattern = contains_pattern(filter.search.as_deref());
        let status = filter.status.map(MeetingStatus::as_str);
        let (from, until) = (&filter.created.from, &filter.created.until);
        let kept = "app_id = ?1 AND (COALESCE(title, '') LIKE ?2 ESCAPE '\\' OR id LIKE ?2 ESCAPE '\\')
             AND (?3 IS NULL OR status = ?3) AND (?4 IS NULL OR created_at >= ?4) AND (?5 IS NULL OR created_at <= ?5)";
        let total: u64 = conn.query_row(
            &format!("SELECT COUNT(*) FROM meetings WHERE {kept}"),
            params![app_id, pattern, status, from, until],
            |r| r.get(0),
        )?;
        let (limit, offset) = page.limit_offset();
        let sql = format!(
            "SELECT {MEETING_COLUMNS} FROM meetings WHERE {kept} ORDER BY created_at, rowid LIMIT ?6 OFFSET ?7"
        );
        let mut stmt = conn.prepare(&sql)?;
        let rows = stmt
            .query_map(params![app_id, pattern, status, from, until, limit, offset], meeting_row)?
            .collect::<Result<_, _>>()?;
        Ok((rows, total))
    }

    /// Writes a meeting's fields back.
    pub(crate) fn update_meeting(&self, app_id: &str, meeting: &Meeting) -> StoreResult<()> {
        self.lock().execute(
            "UPDATE meetings SET title = ?3, status = ?4, keep_alive = ?5, record_on_start = ?6, persist_chat = ?7,
               live_stream_on_start = ?8, updated_at = ?9, summarize_on_end = ?10, transcribe_on_end = ?11,
               ai_config = ?12, recording_config = ?13 WHERE app_id = ?1 AND id = ?2",
            params![
                app_id,
                meeting.id,
                meeting.title,
                meeting.status.as_str(),
                meeting.session_keep_alive_time_in_secs,
                meeting.record_on_start,
                meeting.persist_chat,
                meeting.live_stream_on_start,
                meeting.updated_at,
                meeting.summarize_on_end,
                meeting.transcribe_on_end,
                settings_json(&meeting.ai_config)?,
                settings_json(&meeting.recording_config)?
            ],
        )?;
        Ok(())
    }

    /// Adds a participant to a meeting.
    pub(crate) fn create_participant(
        &self,
        app_id: &str,
        meeting_id: &str,
        custom_participant_id: &str,
        preset_name: &str,
        name: Option<&str>,
        picture: Option<&str>,
    ) -> StoreResult<Participant> {
        let now = now_rfc3339();
        let p = Participant {
            id: new_id(),
            custom_participant_id: custom_participant_id.to_owned(),
            preset_name: preset_name.to_owned(),
            name: name.map(str::to_owned),
            picture: picture.map(str::to_owned),
            created_at: now.clone(),
            updated_at: now,
            token: None,
        };
        self.lock().execute(
            "INSERT INTO participants (id, app_id, meeting_id, custom_participant_id, preset_name, name, picture,
               created_at, updated_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
            params![
                p.id,
                app_id,
                meeting_id,
                p.custom_participant_id,
                p.preset_name,
                p.name,
                p.picture,
                p.created_at,
                p.updated_at
            ],
        )?;
        Ok(p)
    }

    /// A live (not deleted) participant of a meeting.
    pub(crate) fn get_participant(&self, app_id: &str, meeting_id: &str, id: &str) -> StoreResult<Option<Participant>> {
        let sql = format!(
            "SELECT {PARTICIPANT_COLUMNS} FROM participants WHERE app_id = ?1 AND meeting_id = ?2 AND id = ?3 AND deleted = 0"
        );
        Ok(self.lock().query_row(&sql, [app_id, meeting_id, id], participant_row).optional()?)
    }

    /// A live participant by id alone, with where it belongs (for participant tokens).
    pub(crate) fn participant_by_id(&self, id: &str) -> StoreResult<Option<(Participant, ParticipantHome)>> {
        let sql =
            format!("SELECT {PARTICIPANT_COLUMNS}, app_id, meeting_id FROM participants WHERE id = ?1 AND deleted = 0");
        Ok(self
            .lock()
            .query_row(&sql, [id], |r| {
                Ok((participant_row(r)?, ParticipantHome { app_id: r.get(7)?, meeting_id: r.get(8)? }))
            })
            .optional()?)
    }

    /// Live participants of a meeting by custom id.
    pub(crate) fn participants_by_custom_id(&self, meeting_id: &str, custom_id: &str) -> StoreResult<Vec<String>> {
        let conn = self.lock();
        let mut stmt = conn.prepare(
            "SELECT id FROM participants WHERE meeting_id = ?1 AND custom_participant_id = ?2 AND deleted = 0",
        )?;
        let rows = stmt.query_map([meeting_id, custom_id], |r| r.get(0))?.collect::<Result<_, _>>()?;
        Ok(rows)
    }

    /// A page of a meeting's live participants and the total.
    pub(crate) fn list_participants(
        &self,
        app_id: &str,
        meeting_id: &str,
        page: Page,
    ) -> StoreResult<(Vec<Participant>, u64)> {
        let conn = self.lock();
        let total: u64 = conn.query_row(
            "SELECT COUNT(*) FROM participants WHERE app_id = ?1 AND meeting_id = ?2 AND deleted = 0",
            [app_id, meeting_id],
            |r| r.get(0),
        )?;
        let (limit, offset) = page.limit_offset();
        let sql = format!(
            "SELECT {PARTICIPANT_COLUMNS} FROM participants WHERE app_id = ?1 AND meeting_id = ?2 AND deleted = 0
             ORDER BY created_at, rowid LIMIT ?3 OFFSET ?4"
        );
        let mut stmt = conn.prepare(&sql)?;
        let rows =
            stmt.query_map(params![app_id, meeting_id, limit, offset], participant_row)?.collect::<Result<_, _>>()?;
        Ok((rows, total))
    }

    /// Writes a participant's editable fields back.
    pub(crate) fn update_participant(&self, app_id: &str, meeting_id: &str, p: &Participant) -> StoreResult<()> {
        self.lock().execute(
            "UPDATE participants SET name = ?4, picture = ?5, preset_name = ?6, updated_at = ?7
             WHERE app_id = ?1 AND meeting_id = ?2 AND id = ?3",
            params![app_id, meeting_id, p.id, p.name, p.picture, p.preset_name, p.updated_at],
        )?;
        Ok(())
    }

    /// Deletes a participant: every token of it stops working at once.
    pub(crate) fn delete_participant(&self, app_id: &str, meeting_id: &str, id: &str) -> StoreResult<bool> {
        Ok(self.lock().execute(
            "UPDATE participants SET deleted = 1, updated_at = ?4 WHERE app_id = ?1 AND meeting_id = ?2 AND id = ?3 AND deleted = 0",
            params![app_id, meeting_id, id, now_rfc3339()],
        )? == 1)
    }
}
