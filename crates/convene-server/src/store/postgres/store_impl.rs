//! [`Store`] for [`PgStore`]: each call is the inherent method of the same name (the tables'
//! modules), and a room's writes go to the ordered writer.

use convene_core::SessionEnd;
use convene_room::{ParticipantInfo, StayOutcome, WebhookEvent};
use serde_json::Value;

use super::PgStore;
use crate::auth::Scope;
use crate::model::{App, Meeting, Participant, Preset, Recording, Session, SessionPeer, Webhook};
use crate::store::{
    DeliveryStatus, Fence, LivePeerRow, LiveSessionRow, MeetingFilter, OutboxRow, Page, ParticipantHome, PendingWrites,
    RecordingFilter, RoomWrite, SessionFilter, Store, StoreResult, TokenRecord, TokenRow,
};

#[async_trait::async_trait]
impl Store for PgStore {
    fn submit_room_writes(&self, app_id: &str, fence: Option<Fence>, writes: Vec<RoomWrite>) -> PendingWrites {
        self.writes.submit(app_id, fence, writes)
    }

    async fn kv_get(&self, key: &str) -> StoreResult<Option<String>> {
        PgStore::kv_get(self, key).await
    }

    async fn ping(&self) -> StoreResult<()> {
        PgStore::ping(self).await
    }

    async fn gauges(&self) -> StoreResult<crate::store::StoreGauges> {
        PgStore::gauges(self).await
    }

    async fn kv_set(&self, key: &str, value: &str) -> StoreResult<()> {
        PgStore::kv_set(self, key, value).await
    }

    async fn create_app(&self, account_id: &str, name: &str) -> StoreResult<App> {
        PgStore::create_app(self, account_id, name).await
    }

    async fn get_app(&self, account_id: &str, app_id: &str) -> StoreResult<Option<App>> {
        PgStore::get_app(self, account_id, app_id).await
    }

    async fn list_apps(&self, account_id: &str) -> StoreResult<Vec<App>> {
        PgStore::list_apps(self, account_id).await
    }

    async fn app_account(&self, app_id: &str) -> StoreResult<Option<String>> {
        PgStore::app_account(self, app_id).await
    }

    async fn app_name(&self, app_id: &str) -> StoreResult<Option<String>> {
        PgStore::app_name(self, app_id).await
    }

    async fn insert_token(
        &self,
        hash: &str,
        scope: Scope,
        account_id: Option<&str>,
        app_id: Option<&str>,
    ) -> StoreResult<(TokenRecord, bool)> {
        PgStore::insert_token(self, hash, scope, account_id, app_id).await
    }

    async fn token_by_hash(&self, hash: &str) -> StoreResult<Option<TokenRecord>> {
        PgStore::token_by_hash(self, hash).await
    }

    async fn list_tokens(&self) -> StoreResult<Vec<TokenRow>> {
        PgStore::list_tokens(self).await
    }

    async fn revoke_token(&self, id: &str) -> StoreResult<bool> {
        PgStore::revoke_token(self, id).await
    }

    async fn admin_token_count(&self) -> StoreResult<u64> {
        PgStore::admin_token_count(self).await
    }

    async fn create_meeting(&self, app_id: &str, meeting: Meeting) -> StoreResult<Meeting> {
        PgStore::create_meeting(self, app_id, meeting).await
    }

    async fn get_meeting(&self, app_id: &str, id: &str) -> StoreResult<Option<Meeting>> {
        PgStore::get_meeting(self, app_id, id).await
    }

    async fn list_meetings(
        &self,
        app_id: &str,
        filter: &MeetingFilter,
        page: Page,
    ) -> StoreResult<(Vec<Meeting>, u64)> {
        PgStore::list_meetings(self, app_id, filter, page).await
    }

    async fn update_meeting(&self, app_id: &str, meeting: &Meeting) -> StoreResult<()> {
        PgStore::update_meeting(self, app_id, meeting).await
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
        PgStore::create_participant(self, app_id, meeting_id, custom_participant_id, preset_name, name, picture).await
    }

    async fn get_participant(&self, app_id: &str, meeting_id: &str, id: &str) -> StoreResult<Option<Participant>> {
        PgStore::get_participant(self, app_id, meeting_id, id).await
    }

    async fn participant_by_id(&self, id: &str) -> StoreResult<Option<(Participant, ParticipantHome)>> {
        PgStore::participant_by_id(self, id).await
    }

    async fn participants_by_custom_id(&self, meeting_id: &str, custom_id: &str) -> StoreResult<Vec<String>> {
        PgStore::participants_by_custom_id(self, meeting_id, custom_id).await
    }

    async fn list_participants(
        &self,
        app_id: &str,
        meeting_id: &str,
        page: Page,
    ) -> StoreResult<(Vec<Participant>, u64)> {
        PgStore::list_participants(self, app_id, meeting_id, page).await
    }

    async fn update_participant(&self, app_id: &str, meeting_id: &str, p: &Participant) -> StoreResult<()> {
        PgStore::update_participant(self, app_id, meeting_id, p).await
    }

    async fn delete_participant(&self, app_id: &str, meeting_id: &str, id: &str) -> StoreResult<bool> {
        PgStore::delete_participant(self, app_id, meeting_id, id).await
    }

    async fn create_preset(
        &self,
        app_id: &str,
        name: &str,
        config: &Value,
        permissions: &Value,
        ui: &Value,
    ) -> StoreResult<Option<Preset>> {
        PgStore::create_preset(self, app_id, name, config, permissions, ui).await
    }

    async fn get_preset(&self, app_id: &str, id: &str) -> StoreResult<Option<Preset>> {
        PgStore::get_preset(self, app_id, id).await
    }

    async fn preset_by_name(&self, app_id: &str, name: &str) -> StoreResult<Option<Preset>> {
        PgStore::preset_by_name(self, app_id, name).await
    }

    async fn preset_permissions(&self, app_id: &str, name: &str) -> StoreResult<convene_core::Permissions> {
        PgStore::preset_permissions(self, app_id, name).await
    }

    async fn list_presets(&self, app_id: &str, page: Page) -> StoreResult<(Vec<Preset>, u64)> {
        PgStore::list_presets(self, app_id, page).await
    }

    async fn update_preset(&self, app_id: &str, preset: &Preset) -> StoreResult<Result<(), ()>> {
        PgStore::update_preset(self, app_id, preset).await
    }

    async fn delete_preset(&self, app_id: &str, id: &str) -> StoreResult<bool> {
        PgStore::delete_preset(self, app_id, id).await
    }

    async fn start_session(
        &self,
        app_id: &str,
        id: &str,
        meeting_id: &str,
        title: Option<&str>,
        started_at: &str,
    ) -> StoreResult<()> {
        PgStore::start_session(self, app_id, id, meeting_id, title, started_at).await
    }

    async fn end_session(
        &self,
        app_id: &str,
        end: &SessionEnd,
        last_seq: u64,
        ended_at: &str,
        webhook: &WebhookEvent,
    ) -> StoreResult<usize> {
        PgStore::end_session(self, app_id, end, last_seq, ended_at, webhook).await
    }

    async fn touch_session(&self, id: &str, last_seq: u64, concurrent: u32) -> StoreResult<()> {
        PgStore::touch_session(self, id, last_seq, concurrent).await
    }

    async fn get_session(&self, app_id: &str, id: &str) -> StoreResult<Option<Session>> {
        PgStore::get_session(self, app_id, id).await
    }

    async fn live_session(&self, app_id: &str, meeting_id: &str) -> StoreResult<Option<Session>> {
        PgStore::live_session(self, app_id, meeting_id).await
    }

    async fn live_session_start(&self, app_id: &str, meeting_id: &str) -> StoreResult<Option<(String, String)>> {
        PgStore::live_session_start(self, app_id, meeting_id).await
    }

    async fn list_sessions(
        &self,
        app_id: &str,
        filter: &SessionFilter,
        page: Page,
    ) -> StoreResult<(Vec<Session>, u64)> {
        PgStore::list_sessions(self, app_id, filter, page).await
    }

    async fn peer_joined(&self, session_id: &str, peer_id: &str, p: &ParticipantInfo, at: &str) -> StoreResult<()> {
        PgStore::peer_joined(self, session_id, peer_id, p, at).await
    }

    async fn peer_left(&self, peer_id: &str, outcome: StayOutcome, at: &str) -> StoreResult<()> {
        PgStore::peer_left(self, peer_id, outcome, at).await
    }

    async fn session_peers(&self, session_id: &str, page: Page) -> StoreResult<(Vec<SessionPeer>, u64)> {
        PgStore::session_peers(self, session_id, page).await
    }

    async fn session_peer(&self, app_id: &str, peer_id: &str) -> StoreResult<Option<(String, SessionPeer)>> {
        PgStore::session_peer(self, app_id, peer_id).await
    }

    async fn ended_stay(&self, peer_id: &str, participant_id: &str) -> StoreResult<Option<SessionEnd>> {
        PgStore::ended_stay(self, peer_id, participant_id).await
    }

    async fn live_sessions(
        &self,
        meeting: Option<(&str, &str)>,
    ) -> StoreResult<Vec<(LiveSessionRow, Vec<LivePeerRow>)>> {
        PgStore::live_sessions(self, meeting).await
    }

    async fn save_recording(&self, app_id: &str, rec: &Recording) -> StoreResult<()> {
        PgStore::save_recording(self, app_id, rec).await
    }

    async fn get_recording(&self, app_id: &str, id: &str) -> StoreResult<Option<Recording>> {
        PgStore::get_recording(self, app_id, id).await
    }

    async fn list_recordings(
        &self,
        app_id: &str,
        filter: &RecordingFilter,
        page: Page,
    ) -> StoreResult<(Vec<Recording>, u64)> {
        PgStore::list_recordings(self, app_id, filter, page).await
    }

    async fn fail_unfinished_recordings(&self) -> StoreResult<usize> {
        PgStore::fail_unfinished_recordings(self).await
    }

    async fn create_webhook(
        &self,
        app_id: &str,
        name: &str,
        url: &str,
        events: &[String],
        enabled: bool,
    ) -> StoreResult<Webhook> {
        PgStore::create_webhook(self, app_id, name, url, events, enabled).await
    }

    async fn get_webhook(&self, app_id: &str, id: &str) -> StoreResult<Option<Webhook>> {
        PgStore::get_webhook(self, app_id, id).await
    }

    async fn list_webhooks(&self, app_id: &str, page: Page) -> StoreResult<(Vec<Webhook>, u64)> {
        PgStore::list_webhooks(self, app_id, page).await
    }

    async fn update_webhook(&self, app_id: &str, w: &Webhook) -> StoreResult<()> {
        PgStore::update_webhook(self, app_id, w).await
    }

    async fn delete_webhook(&self, app_id: &str, id: &str) -> StoreResult<bool> {
        PgStore::delete_webhook(self, app_id, id).await
    }

    async fn enqueue_webhook_event(&self, app_id: &str, event: &WebhookEvent) -> StoreResult<usize> {
        PgStore::enqueue_webhook_event(self, app_id, event).await
    }

    async fn due_per_webhook(&self, now_ms: i64, limit: usize) -> StoreResult<Vec<OutboxRow>> {
        PgStore::due_per_webhook(self, now_ms, limit).await
    }

    async fn next_due_per_webhook(&self) -> StoreResult<Vec<(String, i64)>> {
        PgStore::next_due_per_webhook(self).await
    }

    async fn delivery_outcome(
        &self,
        id: i64,
        status: DeliveryStatus,
        next_attempt_ms: i64,
        error: Option<&str>,
    ) -> StoreResult<bool> {
        PgStore::delivery_outcome(self, id, status, next_attempt_ms, error).await
    }

    async fn prune_outbox(&self, cutoff: &str) -> StoreResult<usize> {
        PgStore::prune_outbox(self, cutoff).await
    }

    async fn retry_pending_now(&self, now_ms: i64) -> StoreResult<usize> {
        PgStore::retry_pending_now(self, now_ms).await
    }

    async fn outbox_counts(&self) -> StoreResult<Vec<(DeliveryStatus, u64)>> {
        PgStore::outbox_counts(self).await
    }
}
