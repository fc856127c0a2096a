//! Recordings in PostgreSQL.

use convene_room::RecordingStatus;
use tokio_postgres::{GenericClient, Row};

use super::{count, PgStore};
use crate::model::Recording;
use crate::store::encoding::contains_pattern;
use crate::store::encoding::{INTERRUPTED_STOP_REASON, UNFINISHED_RECORDING_STATUSES};
use crate::store::{Page, RecordingFilter, StoreError, StoreResult};

const COLUMNS: &str = "id, meeting_id, session_id, status, invoked_time, started_time, stopped_time, output_file_name,
  file_size, duration, start_reason, stop_reason";

fn recording(r: &Row) -> StoreResult<Recording> {
    let status: String = r.get(3);
    let status = RecordingStatus::parse(&status).map_err(|_| StoreError::Corrupt("recording status", status))?;
    let stop: Option<&str> = r.get(11);
    Ok(Recording {
        id: r.get(0),
        meeting_id: r.get(1),
        session_id: r.get(2),
        status,
        invoked_time: r.get(4),
        started_time: r.get(5),
        stopped_time: r.get(6),
        output_file_name: r.get(7),
        download_url: None,
        audio_download_url: None,
        download_url_expiry: None,
        file_size: r.get::<_, Option<i64>>(8).map(|n| n.max(0) as u64),
        recording_duration: r.get::<_, Option<i64>>(9).map(|n| n.max(0) as u64),
        start_reason: serde_json::from_str(r.get(10))?,
        stop_reason: stop.map(serde_json::from_str).transpose()?,
    })
}

/// Inserts or replaces a recording's row, on `client` (a room write's transaction).
pub(super) async fn save(client: &impl GenericClient, app_id: &str, rec: &Recording) -> StoreResult<()> {
    let size = rec.file_size.map(|n| i64::try_from(n).unwrap_or(i64::MAX));
    let duration = rec.recording_duration.map(|n| i64::try_from(n).unwrap_or(i64::MAX));
    client
        .execute(
            "INSERT INTO recordings (id, app_id, meeting_id, session_id, status, invoked_time, started_time, stopped_time,
               output_file_name, file_size, duration, start_reason, stop_reason)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)
             ON CONFLICT (id) DO UPDATE SET status = excluded.status, session_id = excluded.session_id,
               started_time = excluded.started_time, stopped_time = excluded.stopped_time,
               file_size = excluded.file_size, duration = excluded.duration, stop_reason = excluded.stop_reason",
            &[
                &rec.id,
                &app_id,
                &rec.meeting_id,
                &rec.session_id,
                &rec.status.as_str(),
                &rec.invoked_time,
                &rec.started_time,
                &rec.stopped_time,
                &rec.output_file_name,
                &size,
                &duration,
                &rec.start_reason.to_string(),
                &rec.stop_reason.as_ref().map(|v| v.to_string()),
            ],
        )
        .await?;
    Ok(())
}

impl PgStore {
    /// Inserts or replaces a recording's row.
    pub(crate) async fn save_recording(&self, app_id: &str, rec: &Recording) -> StoreResult<()> {
        save(&**self.client().await?, app_id, rec).await
    }

    /// A recording of an app.
    pub(crate) async fn get_recording(&self, app_id: &str, id: &str) -> StoreResult<Option<Recording>> {
        let sql = format!("SELECT {COLUMNS} FROM recordings WHERE app_id = $1 AND id = $2");
        self.client().await?.query_opt(&sql, &[&app_id, &id]).await?.as_ref().map(recording).transpose()
    }

    /// A page of an app's recordings (optionally of one meeting), newest first, and the total.
    pub(crate) async fn list_recordings(
        &self,
        app_id: &str,
        filter: &RecordingFilter,
        page: Page,
    ) -> StoreResult<(Vec<Recording>, u64)> {
        let statuses = filter.status_names();
        let pattern = contains_pattern(filter.search.as_deref());
        let (meeting_id, from, until) = (&filter.meeting_id, &filter.invoked.from, &filter.invoked.until);
        let kept = "r.app_id = $1 AND ($2::text IS NULL OR r.meeting_id = $2) AND r.status = ANY($3)
             AND (r.meeting_id LIKE $4 ESCAPE '\\' OR EXISTS (SELECT 1 FROM meetings m
                  WHERE m.app_id = r.app_id AND m.id = r.meeting_id AND COALESCE(m.title, '') LIKE $4 ESCAPE '\\'))
             AND ($5::text IS NULL OR r.invoked_time >= $5) AND ($6::text IS NULL OR r.invoked_time <= $6)";
        let client = self.client().await?;
        let values: [&(dyn tokio_postgres::types::ToSql + Sync); 6] =
            [&app_id, meeting_id, &statuses, &pattern, from, until];
        let total = count(&client, &format!("SELECT count(*) FROM recordings r WHERE {kept}"), &values).await?;
        let (limit, offset) = page.limit_offset();
        let sql = format!(
            "SELECT {COLUMNS} FROM recordings r WHERE {kept} ORDER BY r.invoked_time {0}, r.seq {0} LIMIT $7 OFFSET $8",
            filter.order.sql()
        );
        let rows =
            client.query(&sql, &[&app_id, meeting_id, &statuses, &pattern, from, until, &limit, &offset]).await?;
        Ok((rows.iter().map(recording).collect::<StoreResult<_>>()?, total))
    }

    /// Recordings left unfinished by a stop: marked `ERRORED`. In a cluster, only those of
    /// meetings no live node owns (another node's recordings are going on).
    pub(crate) async fn fail_unfinished_recordings(&self) -> StoreResult<usize> {
        let statuses: Vec<&str> = UNFINISHED_RECORDING_STATUSES.to_vec();
        let failed = self
            .client()
            .await?
            .execute(
                "UPDATE recordings r SET status = 'ERRORED', stop_reason = $1
                 WHERE r.status = ANY($2)
                   AND NOT EXISTS (SELECT 1 FROM meeting_owners o WHERE o.meeting_id = r.meeting_id
                                   AND o.node_id IS NOT NULL AND o.node_id <> $3)",
                &[&INTERRUPTED_STOP_REASON, &statuses, &self.node_id],
            )
            .await?;
        Ok(failed as usize)
    }
}
