//! Recordings.

use rusqlite::{params, OptionalExtension};

use super::{Page, Sqlite};
use crate::store::encoding::contains_pattern;
use crate::store::encoding::{INTERRUPTED_STOP_REASON, UNFINISHED_RECORDING_STATUSES};
use crate::store::{RecordingFilter, StoreResult};
use convene_room::RecordingStatus;

use crate::model::Recording;

const COLUMNS: &str = "id, meeting_id, session_id, status, invoked_time, started_time, stopped_time, output_file_name,
  file_size, duration, start_reason, stop_reason";

fn row(r: &rusqlite::Row<'_>) -> rusqlite::Result<(Recording, String, Option<String>)> {
    let status: String = r.get(3)?;
    let status = RecordingStatus::parse(&status)
        .map_err(|e| rusqlite::Error::FromSqlConversionFailure(3, rusqlite::types::Type::Text, Box::new(e)))?;
    let start: String = r.get(10)?;
    let stop: Option<String> = r.get(11)?;
    Ok((
        Recording {
            id: r.get(0)?,
            meeting_id: r.get(1)?,
            session_id: r.get(2)?,
            status,
            invoked_time: r.get(4)?,
            started_time: r.get(5)?,
            stopped_time: r.get(6)?,
            output_file_name: r.get(7)?,
            download_url: None,
            audio_download_url: None,
            download_url_expiry: None,
            file_size: r.get::<_, Option<i64>>(8)?.map(|n| n as u64),
            recording_duration: r.get::<_, Option<i64>>(9)?.map(|n| n as u64),
            start_reason: serde_json::Value::Null,
            stop_reason: None,
        },
        start,
        stop,
    ))
}

fn finish(parts: (Recording, String, Option<String>)) -> StoreResult<Recording> {
    let (mut rec, start, stop) = parts;
    rec.start_reason = serde_json::from_str(&start)?;
    rec.stop_reason = stop.map(|s| serde_json::from_str(&s)).transpose()?;
    Ok(rec)
}

impl Sqlite {
    /// Inserts or replaces a recording's row.
    pub(crate) fn save_recording(&self, app_id: &str, rec: &Recording) -> StoreResult<()> {
        self.lock().execute(
            "INSERT INTO recordings (id, app_id, meeting_id, session_id, status, invoked_time, started_time, stopped_time,
               output_file_name, file_size, duration, start_reason, stop_reason)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)
             ON CONFLICT (id) DO UPDATE SET status = excluded.status, session_id = excluded.session_id,
               started_time = excluded.started_time, stopped_time = excluded.stopped_time,
               file_size = excluded.file_size, duration = excluded.duration, stop_reason = excluded.stop_reason",
            params![
                rec.id,
                app_id,
                rec.meeting_id,
                rec.session_id,
                rec.status.as_str(),
                rec.invoked_time,
                rec.started_time,
                rec.stopped_time,
                rec.output_file_name,
                rec.file_size.map(|n| n as i64),
                rec.recording_duration.map(|n| n as i64),
                rec.start_reason.to_string(),
                rec.stop_reason.as_ref().map(|v| v.to_string()),
            ],
        )?;
        Ok(())
    }

    /// A recording of an app.
    pub(crate) fn get_recording(&self, app_id: &str, id: &str) -> StoreResult<Option<Recording>> {
        let sql = format!("SELECT {COLUMNS} FROM recordings WHERE app_id = ?1 AND id = ?2");
        let r = self.lock().query_row(&sql, [app_id, id], row).optional()?;
        r.map(finish).transpose()
    }

    /// A page of an app's recordings (optionally of one meeting), newest first, and the total.
    pub(crate) fn list_recordings(
        &self,
        app_id: &str,
        filter: &RecordingFilter,
        page: Page,
    ) -> StoreResult<(Vec<Recording>, u64)> {
        let conn = self.lock();
        let statuses = serde_json::to_string(&filter.status_names()).expect("names serialise");
        let pattern = contains_pattern(filter.search.as_deref());
        let (meeting_id, from, until) = (&filter.meeting_id, &filter.invoked.from, &filter.invoked.until);
        let kept = "r.app_id = ?1 AND (?2 IS NULL OR r.meeting_id = ?2)
             AND r.status IN (SELECT value FROM json_each(?3))
             AND (r.meeting_id LIKE ?4 ESCAPE '\\' OR EXISTS (SELECT 1 FROM meetings m
                  WHERE m.app_id = r.app_id AND m.id = r.meeting_id AND COALESCE(m.title, '') LIKE ?4 ESCAPE '\\'))
             AND (?5 IS NULL OR r.invoked_time >= ?5) AND (?6 IS NULL OR r.invoked_time <= ?6)";
        let values = params![app_id, meeting_id, statuses, pattern, from, until];
        let total: u64 =
            conn.query_row(&format!("SELECT COUNT(*) FROM recordings r WHERE {kept}"), values, |r| r.get(0))?;
        let (limit, offset) = page.limit_offset();
        let sql = format!(
            "SELECT {COLUMNS} FROM recordings r WHERE {kept} ORDER BY r.invoked_time {0}, r.rowid {0} LIMIT ?7 OFFSET ?8",
            filter.order.sql()
        );
        let mut stmt = conn.prepare(&sql)?;
        let rows: Vec<_> = stmt
            .query_map(params![app_id, meeting_id, statuses, pattern, from, until, limit, offset], row)?
            .collect::<Result<_, _>>()?;
        Ok((rows.into_iter().map(finish).collect::<StoreResult<_>>()?, total))
    }

    /// Recordings left `INVOKED`/`RECORDING` by a crash: marked `ERRORED` at start-up.
    pub(crate) fn fail_unfinished_recordings(&self) -> StoreResult<usize> {
        let [a, b, c, d] = UNFINISHED_RECORDING_STATUSES;
        Ok(self.lock().execute(
            "UPDATE recordings SET status = 'ERRORED', stop_reason = ?1 WHERE status IN (?2, ?3, ?4, ?5)",
            [INTERRUPTED_STOP_REASON, a, b, c, d],
        )?)
    }
}
