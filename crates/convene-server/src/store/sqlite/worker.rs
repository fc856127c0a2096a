//! [`SqliteStore`]: the [`Store`] trait over [`Sqlite`]. The database has one thread of its own
//! that runs the calls one at a time in the order they came (SQLite has one writer anyway), so
//! that a slow query or a busy database never holds up the async worker threads that drive
//! connections and rooms, and a burst of calls queues instead of starting a thread each.

use std::path::Path;
use std::sync::mpsc;

use convene_core::SessionEnd;
use convene_room::{ParticipantInfo, StayOutcome, WebhookEvent};
use serde_json::Value;

use super::preset_cache::PresetCache;
use super::Sqlite;
use crate::auth::Scope;
use crate::model::{App, Meeting, Participant, Preset, Recording, Session, SessionPeer, Webhook};
use crate::store::{
    DeliveryStatus, LivePeerRow, LiveSessionRow, MeetingFilter, OutboxRow, Page, ParticipantHome, PendingWrites,
    RecordingFilter, RoomWrite, RoomWritesApplied, SessionFilter, Store, StoreError, StoreResult, TokenRecord,
    TokenRow,
};

/// A call for the database's thread.
type Job = Box<dyn FnOnce(&Sqlite) + Send>;

/// The embedded SQLite store (the default; one file in the data directory, or in memory). Its
/// thread ends when the last clone is dropped.
#[derive(Clone)]
pub struct SqliteStore {
    jobs: mpsc::Sender<Job>,
    /// Preset permissions as last read (rooms ask for them at every arrival).
    presets: PresetCache,
}

impl SqliteStore {
    /// Opens (creating if needed, and migrating to the current schema) the database at `path`,
    /// or an in-memory one, and starts its thread. This blocks; call it before serving.
    pub fn open(path: Option<&Path>) -> StoreResult<Self> {
        let db = Sqlite::open(path)?;
        let (jobs, queue) = mpsc::channel::<Job>();
        std::thread::Builder::new()
            .name("convene-sqlite".into())
            .spawn(move || {
                for job in queue {
                    job(&db);
                }
            })
            .map_err(|e| StoreError::Worker(e.to_string()))?;
        Ok(Self { jobs, presets: PresetCache::default() })
    }

    /// Runs `f` in one transaction on the database's thread: for tools and tests that read what no
    /// operation of [`Store`] answers (raw rows of the outbox or of a session's stays). Presets
    /// changed this way are not seen by [`Store::preset_permissions`] until the next preset write
    /// through [`Store`].
    pub async fn tx<T: Send + 'static>(
        &self,
        f: impl FnOnce(&rusqlite::Transaction<'_>) -> StoreResult<T> + Send + 'static,
    ) -> StoreResult<T> {
        self.run(move |db| db.tx(f)).await
    }

    /// Runs `f` on the database's thread, after the calls queued before it, and awaits its
    /// answer.
    async fn run<T: Send + 'static>(
        &self,
        f: impl FnOnce(&Sqlite) -> StoreResult<T> + Send + 'static,
    ) -> StoreResult<T> {
        let (answer, answered) = tokio::sync::oneshot::channel();
        let job: Job = Box::new(move |db| {
            // A panicking call fails alone; the thread goes on with the next (SQLite rolls back
            // an unfinished transaction).
            let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| f(db)))
                .unwrap_or_else(|_| Err(StoreError::Worker("a database call panicked".into())));
            let _ = answer.send(result);
        });
        self.jobs.send(job).map_err(|_| StoreError::Worker("the database thread has stopped".into()))?;
        answered.await.map_err(|_| StoreError::Worker("the database thread stopped before answering".into()))?
    }

    /// Runs a write to `app_id`'s presets on the database thread and, in the same job, forgets
    /// the app's cached permissions, so that once the write is answered no read finds the old
    /// ones.
    async fn write_presets<T: Send + 'static>(
        &self,
        app_id: String,
        write: impl FnOnce(&Sqlite, &str) -> StoreResult<T> + Send + 'static,
    ) -> StoreResult<T> {
        let cache = self.presets.clone();
        self.run(move |db| {
            let written = write(db, &app_id);
            cache.forget_app(&app_id);
            written
        })
        .await
    }
}

#[async_trait::async_trait]
impl Store for SqliteStore {
    fn submit_room_writes(
        &self,
        app_id: &str,
        fence: Option<crate::store::Fence>,
        writes: Vec<RoomWrite>,
    ) -> PendingWrites {
        debug_assert!(fence.is_none(), "SQLite runs one node; nothing fences its rooms");
        let app_id = app_id.to_owned();
        let (answer, answered) = tokio::sync::oneshot::channel();
        let job: Job = Box::new(move |db| {
            let apply = || {
                let mut applied = RoomWritesApplied::default();
                for write in writes {
                    match db.apply_room_write(&app_id, &write) {
                        Ok(queued) => applied.deliveries_queued += queued,
                        Err(e) => applied.failed.push((write, e)),
                    }
                }
                applied
            };
            // A panic fails this batch alone (its answer is dropped); the thread goes on.
            if let Ok(applied) = std::panic::catch_unwind(std::panic::AssertUnwindSafe(apply)) {
                let _ = answer.send(applied);
            }
        });
        let submitted = self.jobs.send(job);
        Box::pin(async move {
            let unreached = |why: &str| RoomWritesApplied {
                unreached: Some(StoreError::Worker(why.into())),
                ..RoomWritesApplied::default()
            };
            if submitted.is_err() {
                return unreached("the database thread has stopped");
            }
            answered.await.unwrap_or_else(|_| {
                unreached("the batch was not applied whole (a write panicked, or the database thread stopped)")
            })
        })
    }

    async fn kv_get(&self, key: &str) -> StoreResult<Option<String>> {
        let key = key.to_owned();
        self.run(move |db| db.kv_get(&key)).await
    }

    async fn ping(&self) -> StoreResult<()> {
        self.run(|db| db.ping()).await
    }

    async fn gauges(&self) -> StoreResult<crate::store::StoreGauges> {
        self.run(|db| db.gauges()).await
    }

    async fn kv_set(&self, key: &str, value: &str) -> StoreResult<()> {
        let (key, value) = (key.to_owned(), value.to_owned());
        self.run(move |db| db.kv_set(&key, &value)).await
    }

    async fn create_app(&self, account_id: &str, name: &str) -> StoreResult<App> {
        let (account_id, name) = (account_id.to_owned(), name.to_owned());
        self.run(move |db| db.create_app(&account_id, &name)).await
    }

    async fn get_app(&self, account_id: &str, app_id: &str) -> StoreResult<Option<App>> {
        let (account_id, app_id) = (account_id.to_owned(), app_id.to_owned());
        self.run(move |db| db.get_app(&account_id, &app_id)).await
    }

    async fn list_apps(&self, account_id: &str) -> StoreResult<Vec<App>> {
        let account_id = account_id.to_owned();
        self.run(move |db| db.list_apps(&account_id)).await
    }

    async fn app_account(&self, app_id: &str) -> StoreResult<Option<String>> {
        let app_id = app_id.to_owned();
        self.run(move |db| db.app_account(&app_id)).await
    }

    async fn app_name(&self, app_id: &str) -> StoreResult<Option<String>> {
        let app_id = app_id.to_owned();
        self.run(move |db| db.app_name(&app_id)).await
    }

    async fn insert_token(
        &self,
        hash: &str,
        scope: Scope,
        account_id: Option<&str>,
        app_id: Option<&str>,
    ) -> StoreResult<(TokenRecord, bool)> {
        let (hash, account_id, app_id) = (hash.to_owned(), account_id.map(str::to_owned), app_id.map(str::to_owned));
        self.run(move |db| db.insert_token(&hash, scope, account_id.as_deref(), app_id.as_deref())).await
    }

    async fn token_by_hash(&self, hash: &str) -> StoreResult<Option<TokenRecord>> {
        let hash = hash.to_owned();
        self.run(move |db| db.token_by_hash(&hash)).await
    }

    async fn list_tokens(&self) -> StoreResult<Vec<TokenRow>> {
        self.run(move |db| db.list_tokens()).await
    }

    async fn revoke_token(&self, id: &str) -> StoreResult<bool> {
        let id = id.to_owned();
        self.run(move |db| db.revoke_token(&id)).await
    }

    async fn admin_token_count(&self) -> StoreResult<u64> {
        self.run(move |db| db.admin_token_count()).await
    }

    async fn create_meeting(&self, app_id: &str, meeting: Meeting) -> StoreResult<Meeting> {
        let app_id = app_id.to_owned();
        self.run(move |db| db.create_meeting(&app_id, meeting)).await
    }

    async fn get_meeting(&self, app_id: &str, id: &str) -> StoreResult<Option<Meeting>> {
        let (app_id, id) = (app_id.to_owned(), id.to_owned());
        self.run(move |db| db.get_meeting(&app_id, &id)).await
    }

    async fn list_meetings(
        &self,
        app_id: &str,
        filter: &MeetingFilter,
        page: Page,
    ) -> StoreResult<(Vec<Meeting>, u64)> {
        let (app_id, filter) = (app_id.to_owned(), filter.clone());
        self.run(move |db| db.list_meetings(&app_id, &filter, page)).await
    }

    async fn update_meeting(&self, app_id: &str, meeting: &Meeting) -> StoreResult<()> {
        let (app_id, meeting) = (app_id.to_owned(), meeting.clone());
        self.run(move |db| db.update_meeting(&app_id, &meeting)).await
    }

    async fn create_participant(
        &self,
        app_id: &str,
        meeting_id: &str,
        custom_participant_id: &str,
        preset_name: &str,
        name: Option<&str>,
        picture: Option<&str>,
    ) -> StoreResult<Participant> {
        let (app_id, meeting_id, custom_participant_id, preset_name, name, picture) = (
            app_id.to_owned(),
            meeting_id.to_owned(),
            custom_participant_id.to_owned(),
            preset_name.to_owned(),
            name.map(str::to_owned),
            picture.map(str::to_owned),
        );
        self.run(move |db| {
            db.create_participant(
                &app_id,
                &meeting_id,
                &custom_participant_id,
                &preset_name,
                name.as_deref(),
                picture.as_deref(),
            )
        })
        .await
    }

    async fn get_participant(&self, app_id: &str, meeting_id: &str, id: &str) -> StoreResult<Option<Participant>> {
        let (app_id, meeting_id, id) = (app_id.to_owned(), meeting_id.to_owned(), id.to_owned());
        self.run(move |db| db.get_participant(&app_id, &meeting_id, &id)).await
    }

    async fn participant_by_id(&self, id: &str) -> StoreResult<Option<(Participant, ParticipantHome)>> {
        let id = id.to_owned();
        self.run(move |db| db.participant_by_id(&id)).await
    }

    async fn participants_by_custom_id(&self, meeting_id: &str, custom_id: &str) -> StoreResult<Vec<String>> {
        let (meeting_id, custom_id) = (meeting_id.to_owned(), custom_id.to_owned());
        self.run(move |db| db.participants_by_custom_id(&meeting_id, &custom_id)).await
    }

    async fn list_participants(
        &self,
        app_id: &str,
        meeting_id: &str,
        page: Page,
    ) -> StoreResult<(Vec<Participant>, u64)> {
        let (app_id, meeting_id) = (app_id.to_owned(), meeting_id.to_owned());
        self.run(move |db| db.list_participants(&app_id, &meeting_id, page)).await
    }

    async fn update_participant(&self, app_id: &str, meeting_id: &str, p: &Participant) -> StoreResult<()> {
        let (app_id, meeting_id, p) = (app_id.to_owned(), meeting_id.to_owned(), p.clone());
        self.run(move |db| db.update_participant(&app_id, &meeting_id, &p)).await
    }

    async fn delete_participant(&self, app_id: &str, meeting_id: &str, id: &str) -> StoreResult<bool> {
        let (app_id, meeting_id, id) = (app_id.to_owned(), meeting_id.to_owned(), id.to_owned());
        self.run(move |db| db.delete_participant(&app_id, &meeting_id, &id)).await
    }

    async fn create_preset(
        &self,
        app_id: &str,
        name: &str,
        config: &Value,
        permissions: &Value,
        ui: &Value,
    ) -> StoreResult<Option<Preset>> {
        let (app_id, name, config, permissions, ui) =
            (app_id.to_owned(), name.to_owned(), config.clone(), permissions.clone(), ui.clone());
        self.write_presets(app_id, move |db, app_id| db.create_preset(app_id, &name, &config, &permissions, &ui)).await
    }

    async fn get_preset(&self, app_id: &str, id: &str) -> StoreResult<Option<Preset>> {
        let (app_id, id) = (app_id.to_owned(), id.to_owned());
        self.run(move |db| db.get_preset(&app_id, &id)).await
    }

    async fn preset_by_name(&self, app_id: &str, name: &str) -> StoreResult<Option<Preset>> {
        let (app_id, name) = (app_id.to_owned(), name.to_owned());
        self.run(move |db| db.preset_by_name(&app_id, &name)).await
    }

    async fn preset_permissions(&self, app_id: &str, name: &str) -> StoreResult<convene_core::Permissions> {
        if let Some(permissions) = self.presets.get(app_id, name) {
            return Ok(permissions);
        }
        let (app_id, name) = (app_id.to_owned(), name.to_owned());
        let cache = self.presets.clone();
        self.run(move |db| {
            let permissions = db.preset_permissions(&app_id, &name)?;
            cache.fill(&app_id, &name, &permissions);
            Ok(permissions)
        })
        .await
    }

    async fn list_presets(&self, app_id: &str, page: Page) -> StoreResult<(Vec<Preset>, u64)> {
        let app_id = app_id.to_owned();
        self.run(move |db| db.list_presets(&app_id, page)).await
    }

    async fn update_preset(&self, app_id: &str, preset: &Preset) -> StoreResult<Result<(), ()>> {
        let (app_id, preset) = (app_id.to_owned(), preset.clone());
        self.write_presets(app_id, move |db, app_id| db.update_preset(app_id, &preset)).await
    }

    async fn delete_preset(&self, app_id: &str, id: &str) -> StoreResult<bool> {
        let (app_id, id) = (app_id.to_owned(), id.to_owned());
        self.write_presets(app_id, move |db, app_id| db.delete_preset(app_id, &id)).await
    }

    async fn start_session(
        &self,
        app_id: &str,
        id: &str,
        meeting_id: &str,
        title: Option<&str>,
        started_at: &str,
    ) -> StoreResult<()> {
        let (app_id, id, meeting_id, title, started_at) =
            (app_id.to_owned(), id.to_owned(), meeting_id.to_owned(), title.map(str::to_owned), started_at.to_owned());
        self.run(move |db| db.start_session(&app_id, &id, &meeting_id, title.as_deref(), &started_at)).await
    }

    async fn end_session(
        &self,
        app_id: &str,
        end: &SessionEnd,
        last_seq: u64,
        ended_at: &str,
        webhook: &WebhookEvent,
    ) -> StoreResult<usize> {
        let (app_id, end, ended_at, webhook) = (app_id.to_owned(), end.clone(), ended_at.to_owned(), webhook.clone());
        self.run(move |db| db.end_session(&app_id, &end, last_seq, &ended_at, &webhook)).await
    }

    async fn touch_session(&self, id: &str, last_seq: u64, concurrent: u32) -> StoreResult<()> {
        let id = id.to_owned();
        self.run(move |db| db.touch_session(&id, last_seq, concurrent)).await
    }

    async fn get_session(&self, app_id: &str, id: &str) -> StoreResult<Option<Session>> {
        let (app_id, id) = (app_id.to_owned(), id.to_owned());
        self.run(move |db| db.get_session(&app_id, &id)).await
    }

    async fn live_session(&self, app_id: &str, meeting_id: &str) -> StoreResult<Option<Session>> {
        let (app_id, meeting_id) = (app_id.to_owned(), meeting_id.to_owned());
        self.run(move |db| db.live_session(&app_id, &meeting_id)).await
    }

    async fn live_session_start(&self, app_id: &str, meeting_id: &str) -> StoreResult<Option<(String, String)>> {
        let (app_id, meeting_id) = (app_id.to_owned(), meeting_id.to_owned());
        self.run(move |db| db.live_session_start(&app_id, &meeting_id)).await
    }

    async fn list_sessions(
        &self,
        app_id: &str,
        filter: &SessionFilter,
        page: Page,
    ) -> StoreResult<(Vec<Session>, u64)> {
        let (app_id, filter) = (app_id.to_owned(), filter.clone());
        self.run(move |db| db.list_sessions(&app_id, &filter, page)).await
    }

    async fn peer_joined(&self, session_id: &str, peer_id: &str, p: &ParticipantInfo, at: &str) -> StoreResult<()> {
        let (session_id, peer_id, p, at) = (session_id.to_owned(), peer_id.to_owned(), p.clone(), at.to_owned());
        self.run(move |db| db.peer_joined(&session_id, &peer_id, &p, &at)).await
    }

    async fn peer_left(&self, peer_id: &str, outcome: StayOutcome, at: &str) -> StoreResult<()> {
        let (peer_id, at) = (peer_id.to_owned(), at.to_owned());
        self.run(move |db| db.peer_left(&peer_id, outcome, &at)).await
    }

    async fn session_peers(&self, session_id: &str, page: Page) -> StoreResult<(Vec<SessionPeer>, u64)> {
        let session_id = session_id.to_owned();
        self.run(move |db| db.session_peers(&session_id, page)).await
    }

    async fn session_peer(&self, app_id: &str, peer_id: &str) -> StoreResult<Option<(String, SessionPeer)>> {
        let (app_id, peer_id) = (app_id.to_owned(), peer_id.to_owned());
        self.run(move |db| db.session_peer(&app_id, &peer_id)).await
    }

    async fn ended_stay(&self, peer_id: &str, participant_id: &str) -> StoreResult<Option<SessionEnd>> {
        let (peer_id, participant_id) = (peer_id.to_owned(), participant_id.to_owned());
        self.run(move |db| db.ended_stay(&peer_id, &participant_id)).await
    }

    async fn live_sessions(
        &self,
        meeting: Option<(&str, &str)>,
    ) -> StoreResult<Vec<(LiveSessionRow, Vec<LivePeerRow>)>> {
        let meeting = meeting.map(|(app, id)| (app.to_owned(), id.to_owned()));
        self.run(move |db| db.live_sessions(meeting.as_ref().map(|(app, id)| (app.as_str(), id.as_str())))).await
    }

    async fn save_recording(&self, app_id: &str, rec: &Recording) -> StoreResult<()> {
        let (app_id, rec) = (app_id.to_owned(), rec.clone());
        self.run(move |db| db.save_recording(&app_id, &rec)).await
    }

    async fn get_recording(&self, app_id: &str, id: &str) -> StoreResult<Option<Recording>> {
        let (app_id, id) = (app_id.to_owned(), id.to_owned());
        self.run(move |db| db.get_recording(&app_id, &id)).await
    }

    async fn list_recordings(
        &self,
        app_id: &str,
        filter: &RecordingFilter,
        page: Page,
    ) -> StoreResult<(Vec<Recording>, u64)> {
        let (app_id, filter) = (app_id.to_owned(), filter.clone());
        self.run(move |db| db.list_recordings(&app_id, &filter, page)).await
    }

    async fn fail_unfinished_recordings(&self) -> StoreResult<usize> {
        self.run(move |db| db.fail_unfinished_recordings()).await
    }

    async fn create_webhook(
        &self,
        app_id: &str,
        name: &str,
        url: &str,
        events: &[String],
        enabled: bool,
    ) -> StoreResult<Webhook> {
        let (app_id, name, url, events) = (app_id.to_owned(), name.to_owned(), url.to_owned(), events.to_vec());
        self.run(move |db| db.create_webhook(&app_id, &name, &url, &events, enabled)).await
    }

    async fn get_webhook(&self, app_id: &str, id: &str) -> StoreResult<Option<Webhook>> {
        let (app_id, id) = (app_id.to_owned(), id.to_owned());
        self.run(move |db| db.get_webhook(&app_id, &id)).await
    }

    async fn list_webhooks(&self, app_id: &str, page: Page) -> StoreResult<(Vec<Webhook>, u64)> {
        let app_id = app_id.to_owned();
        self.run(move |db| db.list_webhooks(&app_id, page)).await
    }

    async fn update_webhook(&self, app_id: &str, w: &Webhook) -> StoreResult<()> {
        let (app_id, w) = (app_id.to_owned(), w.clone());
        self.run(move |db| db.update_webhook(&app_id, &w)).await
    }

    async fn delete_webhook(&self, app_id: &str, id: &str) -> StoreResult<bool> {
        let (app_id, id) = (app_id.to_owned(), id.to_owned());
        self.run(move |db| db.delete_webhook(&app_id, &id)).await
    }

    async fn enqueue_webhook_event(&self, app_id: &str, event: &WebhookEvent) -> StoreResult<usize> {
        let (app_id, event) = (app_id.to_owned(), event.clone());
        self.run(move |db| db.enqueue_webhook_event(&app_id, &event)).await
    }

    async fn due_per_webhook(&self, now_ms: i64, limit: usize) -> StoreResult<Vec<OutboxRow>> {
        self.run(move |db| db.due_per_webhook(now_ms, limit)).await
    }

    async fn next_due_per_webhook(&self) -> StoreResult<Vec<(String, i64)>> {
        self.run(move |db| db.next_due_per_webhook()).await
    }

    async fn delivery_outcome(
        &self,
        id: i64,
        status: DeliveryStatus,
        next_attempt_ms: i64,
        error: Option<&str>,
    ) -> StoreResult<bool> {
        let error = error.map(str::to_owned);
        self.run(move |db| db.delivery_outcome(id, status, next_attempt_ms, error.as_deref())).await
    }

    async fn prune_outbox(&self, cutoff: &str) -> StoreResult<usize> {
        let cutoff = cutoff.to_owned();
        self.run(move |db| db.prune_outbox(&cutoff)).await
    }

    async fn retry_pending_now(&self, now_ms: i64) -> StoreResult<usize> {
        self.run(move |db| db.retry_pending_now(now_ms)).await
    }

    async fn outbox_counts(&self) -> StoreResult<Vec<(DeliveryStatus, u64)>> {
        self.run(move |db| db.outbox_counts()).await
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[tokio::test]
    async fn the_sqlite_store_answers_as_every_store_does() {
        crate::store::conformance::every_store_answers_alike(&SqliteStore::open(None).unwrap()).await;
    }

    /// Permissions read once are answered from memory, and every preset write is seen at once.
    #[tokio::test]
    async fn preset_permissions_follow_every_preset_write() {
        let store = SqliteStore::open(None).unwrap();
        let app = store.create_app("acct", "app").await.unwrap();
        let kick = |on: bool| json!({ "kick_participant": on });
        let read = || store.preset_permissions(&app.id, "moderator");

        assert_eq!(read().await.unwrap(), convene_core::Permissions::default(), "no such preset yet");
        let preset = store.create_preset(&app.id, "moderator", &json!({}), &kick(true), &json!({})).await.unwrap();
        let mut preset = preset.expect("created");
        assert!(read().await.unwrap().kick_participant, "a created preset is seen");
        assert!(read().await.unwrap().kick_participant, "and seen again from memory");

        preset.permissions = kick(false);
        store.update_preset(&app.id, &preset).await.unwrap().unwrap();
        assert!(!read().await.unwrap().kick_participant, "an update is seen");

        store.delete_preset(&app.id, &preset.id).await.unwrap();
        assert_eq!(read().await.unwrap(), convene_core::Permissions::default(), "a deletion is seen");

        let host = store.preset_permissions(&app.id, "group_call_host").await.unwrap();
        assert_eq!(Some(host), convene_core::Permissions::built_in("group_call_host"), "built-in fallback");
    }
}
