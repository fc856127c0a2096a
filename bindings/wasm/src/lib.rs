//! # convene-wasm
//!
//! The browser client of Convene: the same sans-IO core as the native client, driven by a
//! `WebSocket` and `setTimeout`. This crate exports one low-level class, `CoreClient`; the npm
//! package wraps it in RealtimeKit's API (`ConveneClient.init`, `meeting.self`,
//! `meeting.participants`, `meeting.meta`, `meeting.recording`, `on`/`off`/`once`, `ClientError`).
//!
//! Every command returns a `Promise` settled when the server has acted (or rejected with
//! `{ code, message }` when a local check fails). Events are delivered as batches of payloads
//! (`{ event: "roomLeft", state: "ended", ... }`) to the `onEvents` callback, in a microtask after
//! the call that produced them has returned.

mod driver;

/// The allocator: Talc, whose code is smaller than the default dlmalloc's (the package's size
/// budget; docs/benchmarks.md). Single-threaded, as the browser build is.
#[cfg(all(target_arch = "wasm32", not(target_feature = "atomics")))]
#[global_allocator]
static ALLOCATOR: talc::wasm::WasmDynamicTalc = talc::wasm::new_wasm_dynamic_allocator();

use std::cell::RefCell;
use std::rc::Rc;

use convene_core::contract::{ClientOptions, ParticipantMe, ServerUrl};
use convene_core::{Command, Config, Participant, PermissionsPatch};
use js_sys::{Function, Promise};
use wasm_bindgen::prelude::*;

use driver::{json_value, Driver};

/// The core and its browser driver.
#[wasm_bindgen]
pub struct CoreClient {
    driver: Rc<RefCell<Driver>>,
}

/// Parses JSON text given by JavaScript.
fn parse_value(what: &str, json: &str) -> Result<serde_json::Value, JsError> {
    serde_json::from_str(json).map_err(|e| JsError::new(&format!("{what}: {e}")))
}

/// Parses through `serde_json::Value`, as the core decodes server frames, so that each type has
/// one decoder in the binary.
fn parse<T: serde::de::DeserializeOwned>(what: &str, json: &str) -> Result<T, JsError> {
    serde_json::from_value(parse_value(what, json)?).map_err(|e| JsError::new(&format!("{what}: {e}")))
}

/// The URL of `GET /v1/participant/me` on the server at `server_url`, which the package fetches
/// before it makes a [`CoreClient`]; refuses a URL that is not `http://` or `https://`.
#[wasm_bindgen(js_name = participantMeUrl)]
pub fn participant_me_url(server_url: &str) -> Result<String, JsError> {
    ServerUrl::parse(server_url).map(|s| s.me()).map_err(|e| JsError::new(&e.to_string()))
}

#[wasm_bindgen]
impl CoreClient {
    /// A client in state `init`, for the participant of `auth_token` on the server at
    /// `server_url` (`http://` or `https://`, a path prefix allowed). `me` is the `data` of the
    /// server's answer to `GET /v1/participant/me` (see [`participant_me_url`]), as JSON;
    /// `options` is optional JSON `{ "reconnect": { "initial_delay_ms", "max_delay_ms",
    /// "max_attempts", "attempt_timeout_ms" }, "request_timeout_ms", "seed" }` (the seed defaults
    /// to one drawn from the token). Both are read by the core's own readers, as the native
    /// client's are; a field of the wrong type is refused by name.
    #[wasm_bindgen(constructor)]
    pub fn new(
        server_url: &str,
        auth_token: String,
        me: &str,
        on_events: Function,
        options: Option<String>,
    ) -> Result<CoreClient, JsError> {
        let server = ServerUrl::parse(server_url).map_err(|e| JsError::new(&e.to_string()))?;
        let me = ParticipantMe::from_value(&parse_value("me", me)?).map_err(|e| JsError::new(&format!("me: {e}")))?;
        let options = match options {
            Some(json) => {
                ClientOptions::from_value(&parse_value("options", &json)?).map_err(|e| JsError::new(&e.to_string()))?
            }
            None => ClientOptions::default(),
        };
        let config = Config::from_me(&auth_token, &me, &options);
        Ok(CoreClient { driver: Driver::new(Participant::new(config), server.signal(), on_events) })
    }

    fn run(&self, command: Command) -> Promise {
        Driver::command(&self.driver, command)
    }

    /// `meeting.join()`.
    pub fn join(&self) -> Promise {
        self.run(Command::Join)
    }

    /// `meeting.leave()`.
    pub fn leave(&self) -> Promise {
        self.run(Command::Leave)
    }

    /// `meeting.self.setName(name)`: before `join()` only; throws `{ code, message }` on a failed
    /// check and changes nothing.
    #[wasm_bindgen(js_name = setName)]
    pub fn set_name(&self, name: &str) -> Result<(), JsValue> {
        self.driver.borrow_mut().core.set_name(name).map_err(|e| driver::error_value(&e))
    }

    /// `participant.kick()`, by peer id or participant id.
    pub fn kick(&self, id: String) -> Promise {
        self.run(Command::Kick { peer_id: id })
    }

    /// `participant.pin()` / `unpin()`, `self.pin()` / `unpin()`: for everyone, by peer id or
    /// participant id.
    pub fn pin(&self, id: String, pinned: bool) -> Promise {
        self.run(Command::Pin { id, pinned })
    }

    /// `meeting.self.isPinned`.
    #[wasm_bindgen(js_name = isPinned)]
    pub fn is_pinned(&self) -> bool {
        self.read(Participant::is_pinned)
    }

    /// `participants.kickAll()`: resolves once the server has ended the session.
    #[wasm_bindgen(js_name = kickAll)]
    pub fn kick_all(&self) -> Promise {
        self.run(Command::KickAll)
    }

    /// `acceptWaitingRoomRequest(id)` / `acceptAllWaitingRoomRequest(ids)`; `ids` is a JSON array
    /// of strings.
    #[wasm_bindgen(js_name = acceptWaiting)]
    pub fn accept_waiting(&self, ids: &str) -> Result<Promise, JsError> {
        let ids: Vec<String> = parse("ids", ids)?;
        Ok(self.run(Command::AcceptWaiting { ids }))
    }

    /// Accepts everyone waiting now.
    #[wasm_bindgen(js_name = acceptEveryoneWaiting)]
    pub fn accept_everyone_waiting(&self) -> Promise {
        self.run(Command::AcceptAllWaiting)
    }

    /// `rejectWaitingRoomRequest(id)`.
    #[wasm_bindgen(js_name = rejectWaiting)]
    pub fn reject_waiting(&self, id: String) -> Promise {
        self.run(Command::RejectWaiting { id })
    }

    /// `updatePermissions(ids, patch)`; `ids` is a JSON array of strings, `patch` JSON in
    /// snake_case.
    #[wasm_bindgen(js_name = updatePermissions)]
    pub fn update_permissions(&self, ids: &str, patch: &str) -> Result<Promise, JsError> {
        let ids: Vec<String> = parse("ids", ids)?;
        let patch: PermissionsPatch = parse("patch", patch)?;
        Ok(self.run(Command::UpdatePermissions { ids, patch }))
    }

    /// `recording.start({ allowMultiple })`.
    #[wasm_bindgen(js_name = startRecording)]
    pub fn start_recording(&self, allow_multiple: bool) -> Promise {
        self.run(Command::StartRecording { allow_multiple })
    }

    /// `recording.stop(recordingId?)`.
    #[wasm_bindgen(js_name = stopRecording)]
    pub fn stop_recording(&self, id: Option<String>) -> Promise {
        self.run(Command::StopRecording { id })
    }

    /// `recording.pause(recordingId?)`.
    #[wasm_bindgen(js_name = pauseRecording)]
    pub fn pause_recording(&self, id: Option<String>) -> Promise {
        self.run(Command::PauseRecording { id })
    }

    /// `recording.resume(recordingId?)`.
    #[wasm_bindgen(js_name = resumeRecording)]
    pub fn resume_recording(&self, id: Option<String>) -> Promise {
        self.run(Command::ResumeRecording { id })
    }

    fn read<T>(&self, f: impl FnOnce(&Participant) -> T) -> T {
        f(&self.driver.borrow().core)
    }

    /// `roomState`.
    #[wasm_bindgen(js_name = roomState)]
    pub fn room_state(&self) -> String {
        self.read(|c| c.room_state().as_str().to_owned())
    }

    /// `waitlistStatus`.
    #[wasm_bindgen(js_name = waitlistStatus)]
    pub fn waitlist_status(&self) -> JsValue {
        self.read(|c| json_value(&serde_json::json!(c.waitlist_status())))
    }

    /// The peer id, once connected.
    #[wasm_bindgen(js_name = peerId)]
    pub fn peer_id(&self) -> Option<String> {
        self.read(|c| c.peer_id().map(str::to_owned))
    }

    /// Who this participant is (snake_case, with `permissions`).
    #[wasm_bindgen(js_name = selfInfo)]
    pub fn self_info(&self) -> JsValue {
        self.read(|c| json_value(&serde_json::json!(c.self_info())))
    }

    /// The meeting `{ id, title }`.
    pub fn meeting(&self) -> JsValue {
        self.read(|c| json_value(&serde_json::json!(c.meeting())))
    }

    /// The session `{ id, started_at }`, once joined.
    pub fn session(&self) -> JsValue {
        self.read(|c| c.session().map(|s| json_value(&serde_json::json!(s))).unwrap_or(JsValue::NULL))
    }

    /// `socketState` `{ state, reconnected, reconnectionAttempt }`.
    #[wasm_bindgen(js_name = socketState)]
    pub fn socket_state(&self) -> JsValue {
        self.read(|c| {
            let s = c.socket_state();
            json_value(&serde_json::json!({
                "state": s.state, "reconnected": s.reconnected, "reconnectionAttempt": s.reconnection_attempt,
            }))
        })
    }

    /// `recordingState`.
    #[wasm_bindgen(js_name = recordingState)]
    pub fn recording_state(&self) -> JsValue {
        self.read(|c| json_value(&serde_json::json!(c.recording_state())))
    }

    /// The recording in progress, `[id, state]`, or `null`.
    #[wasm_bindgen(js_name = recordingInProgress)]
    pub fn recording_in_progress(&self) -> JsValue {
        self.read(|c| c.recording().map_or(JsValue::NULL, |r| json_value(&serde_json::json!(r))))
    }

    /// The joined map's participants (camelCase records), ordered by peer id.
    pub fn joined(&self) -> JsValue {
        self.read(|c| {
            json_value(&convene_core::event::camelize(serde_json::json!(c
                .roster()
                .joined()
                .values()
                .collect::<Vec<_>>())))
        })
    }

    /// The waiting room's participants (camelCase records).
    pub fn waitlisted(&self) -> JsValue {
        self.read(|c| {
            json_value(&convene_core::event::camelize(serde_json::json!(c
                .roster()
                .waitlisted()
                .values()
                .collect::<Vec<_>>())))
        })
    }

    /// Fault injection for tests: `true` drops the connection and holds reconnection. Only in
    /// builds with the `fault-injection` feature (`scripts/build-wasm.sh --fault-injection`).
    #[cfg(feature = "fault-injection")]
    #[wasm_bindgen(js_name = simulateOutage)]
    pub fn simulate_outage(&self, down: bool) {
        self.driver.borrow_mut().outage(down);
    }
}
