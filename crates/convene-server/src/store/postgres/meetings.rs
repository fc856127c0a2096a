//! Meetings and participants in PostgreSQL.

use tokio_postgres::Row;

use super::{count, PgStore};
use crate::model::MeetingStatus;
use crate::model::{Meeting, Participant};
use crate::store::encoding::{contains_pattern, meeting_status, settings_from_json, settings_json};
use crate::store::{new_id, now_rfc3339, MeetingFilter, Page, ParticipantHome, StoreResult};

const MEETING_COLUMNS: &str = "id, title, status, keep_alive, record_on_start, persist_chat, live_stream_on_start,
    created_at, updated_at, summarize_on_end, transcribe_on_end, ai_config, recording_config";

fn meeting(r: &Row) -> StoreResult<Meeting> {
    Ok(Meeting {
        id: r.get(0),
        title: r.get(1),
        status: meeting_status(r.get(2)),
        session_keep_alive_time_in_secs: u32::try_from(r.get::<_, i64>(3)).unwrap_or(u32::MAX),
        record_on_start: r.get(4),
        persist_chat: r.get(5),
        live_stream_on_start: r.get(6),
        created_at: r.get(7),
        updated_at: r.get(8),
        summarize_on_end: r.get(9),
        transcribe_on_end: r.get(10),
        ai_config: settings_from_json(r.get(11))?,
        recording_config: settings_from_json(r.get(12))?,
    })
}

const PARTICIPANT_COLUMNS: &str = "id, custom_participant_id, preset_name, name, picture, created_at, updated_at";

fn participant(r: &Row) -> Participant {
    Participant {
        id: r.get(0),
        custom_participant_id: r.get(1),
        preset_name: r.get(2),
        name: r.get(3),
        picture: r.get(4),
        created_at: r.get(5),
        updated_at: r.get(6),
        token: None,
    }
}

impl PgStore {
    /// Stores a new meeting (its id and times are set here).
    pub(crate) async fn create_meeting(&self, app_id: &str, mut meeting: Meeting) -> StoreResult<Meeting> {
        meeting.id = new_id();
        meeting.created_at = now_rfc3339();
        meeting.updated_at = meeting.created_at.clone();
        self.client()
            .await?
            .execute(
                "INSERT INTO meetings (id, app_id, title, status, keep_alive, record_on_start, persist_chat,
                   live_stream_on_start, created_at, updated_at, summarize_on_end, transcribe_on_end, ai_config,
                   recording_config) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)",
                &[
                    &meeting.id,
                    &app_id,
                    &meeting.title,
                    &meeting.status.as_str(),
                    &i64::from(meeting.session_keep_alive_time_in_secs),
                    &meeting.record_on_start,
                    &meeting.persist_chat,
                    &meeting.live_stream_on_start,
                    &meeting.created_at,
                    &meeting.updated_at,
                    &meeting.summarize_on_end,
                    &meeting.transcribe_on_end,
                    &settings_json(&meeting.ai_config)?,
                    &settings_json(&meeting.recording_config)?,
                ],
            )
            .await?;
        Ok(meeting)
    }

    /// A meeting of an app.
    pub(crate) async fn get_meeting(&self, app_id: &str, id: &str) -> StoreResult<Option<Meeting>> {
        let sql = format!("SELECT {MEETING_COLUMNS} FROM meetings WHERE app_id = $1 AND id = $2");
        self.client().await?.query_opt(&sql, &[&app_id, &id]).await?.as_ref().map(meeting).transpose()
    }

    /// A page of an app's meetings (optionally whose title contains `search`) and the total.
    pub(crate) async fn list_meetings(
        &self,
        app_id: &str,
        filter: &MeetingFilter,
        page: Page,
    ) -> StoreResult<(Vec<Meeting>, u64)> {
        let pattern = contains_pattern(filter.search.as_deref());
        let status = filter.status.map(MeetingStatus::as_str);
        let (from, until) = (&filter.created.from, &filter.created.until);
        let kept = "app_id = $1 AND (COALESCE(title, '') LIKE $2 ESCAPE '\\' OR id LIKE $2 ESCAPE '\\')
             AND ($3::text IS NULL OR status = $3) AND ($4::text IS NULL OR created_at >= $4)
             AND ($5::text IS NULL OR created_at <= $5)";
        let client = self.client().await?;
        let values: [&(dyn tokio_postgres::types::ToSql + Sync); 5] = [&app_id, &pattern, &status, from, until];
        let total = count(&client, &format!("SELECT count(*) FROM meetings WHERE {kept}"), &values).await?;
        let (limit, offset) = page.limit_offset();
        let sql =
            format!("SELECT {MEETING_COLUMNS} FROM meetings WHERE {kept} ORDER BY created_at, seq LIMIT $6 OFFSET $7");
        let rows = client.query(&sql, &[&app_id, &pattern, &status, from, until, &limit, &offset]).await?;
        Ok((rows.iter().map(meeting).collect::<StoreResult<_>>()?, total))
    }

    /// Writes a meeting's fields back.
    pub(crate) async fn update_meeting(&self, app_id: &str, meeting: &Meeting) -> StoreResult<()> {
        self.client()
            .await?
            .execute(
                "UPDATE meetings SET title = $3, status = $4, keep_alive = $5, record_on_start = $6, persist_chat = $7,
                   live_stream_on_start = $8, updated_at = $9, summarize_on_end = $10, transcribe_on_end = $11,
                   ai_config = $12, recording_config = $13 WHERE app_id = $1 AND id = $2",
                &[
                    &app_id,
                    &meeting.id,
                    &meeting.title,
                    &meeting.status.as_str(),
                    &i64::from(meeting.session_keep_alive_time_in_secs),
                    &meeting.record_on_start,
                    &meeting.persist_chat,
                    &meeting.live_stream_on_start,
                    &meeting.updated_at,
                    &meeting.summarize_on_end,
                    &meeting.transcribe_on_end,
                    &settings_json(&meeting.ai_config)?,
                    &settings_json(&meeting.recording_config)?,
                ],
            )
            .await?;
        Ok(())
    }

    /// Adds a participant to a meeting.
    pub(crate) async fn create_participant(
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
        self.client()
            .await?
            .execute(
                "INSERT INTO participants (id, app_id, meeting_id, custom_participant_id, preset_name, name, picture,
                   created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
                &[
                    &p.id,
                    &app_id,
                    &meeting_id,
                    &p.custom_participant_id,
                    &p.preset_name,
                    &p.name,
                    &p.picture,
                    &p.created_at,
                    &p.updated_at,
                ],
            )
            .await?;
        Ok(p)
    }

    /// A live (not deleted) participant of a meeting.
    pub(crate) async fn get_participant(
        &self,
        app_id: &str,
        meeting_id: &str,
        id: &str,
    ) -> StoreResult<Option<Participant>> {
        let sql = format!(
            "SELECT {PARTICIPANT_COLUMNS} FROM participants
             WHERE app_id = $1 AND meeting_id = $2 AND id = $3 AND NOT deleted"
        );
        Ok(self.client().await?.query_opt(&sql, &[&app_id, &meeting_id, &id]).await?.as_ref().map(participant))
    }

    /// A live participant by id alone, with where it belongs (for participant tokens).
    pub(crate) async fn participant_by_id(&self, id: &str) -> StoreResult<Option<(Participant, ParticipantHome)>> {
        let sql =
            format!("SELECT {PARTICIPANT_COLUMNS}, app_id, meeting_id FROM participants WHERE id = $1 AND NOT deleted");
        let row = self.client().await?.query_opt(&sql, &[&id]).await?;
        Ok(row.map(|r| (participant(&r), ParticipantHome { app_id: r.get(7), meeting_id: r.get(8) })))
    }

    /// Live participants of a meeting by custom id.
    pub(crate) async fn participants_by_custom_id(
        &self,
        meeting_id: &str,
        custom_id: &str,
    ) -> StoreResult<Vec<String>> {
        let sql = "SELECT id FROM participants WHERE meeting_id = $1 AND custom_participant_id = $2 AND NOT deleted
                   ORDER BY created_at, seq";
        let rows = self.client().await?.query(sql, &[&meeting_id, &custom_id]).await?;
        Ok(rows.iter().map(|r| r.get(0)).collect())
    }

    /// A page of a meeting's live participants and the total.
    pub(crate) async fn list_participants(
        &self,
        app_id: &str,
        meeting_id: &str,
        page: Page,
    ) -> StoreResult<(Vec<Participant>, u64)> {
        let filter = "app_id = $1 AND meeting_id = $2 AND NOT deleted";
        let client = self.client().await?;
        let total =
            count(&client, &format!("SELECT count(*) FROM participants WHERE {filter}"), &[&app_id, &meeting_id])
                .await?;
        let (limit, offset) = page.limit_offset();
        let sql = format!(
            "SELECT {PARTICIPANT_COLUMNS} FROM participants WHERE {filter} ORDER BY created_at, seq LIMIT $3 OFFSET $4"
        );
        let rows = client.query(&sql, &[&app_id, &meeting_id, &limit, &offset]).await?;
        Ok((rows.iter().map(participant).collect(), total))
    }

    /// Writes a participant's editable fields back.
    pub(crate) async fn update_participant(&self, app_id: &str, meeting_id: &str, p: &Participant) -> StoreResult<()> {
        self.client()
            .await?
            .execute(
                "UPDATE participants SET name = $4, picture = $5, preset_name = $6, updated_at = $7
                 WHERE app_id = $1 AND meeting_id = $2 AND id = $3",
                &[&app_id, &meeting_id, &p.id, &p.name, &p.picture, &p.preset_name, &p.updated_at],
            )
            .await?;
        Ok(())
    }

    /// Deletes a participant: every token of it stops working at once.
    pub(crate) async fn delete_participant(&self, app_id: &str, meeting_id: &str, id: &str) -> StoreResult<bool> {
        let deleted = self
            .client()
            .await?
            .execute(
                "UPDATE participants SET deleted = true, updated_at = $4
                 WHERE app_id = $1 AND meeting_id = $2 AND id = $3 AND NOT deleted",
                &[&app_id, &meeting_id, &id, &now_rfc3339()],
            )
            .await?;
        Ok(deleted == 1)
    }
}
