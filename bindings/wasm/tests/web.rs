//! The bindings in headless Chromium (wasm-bindgen-test): local checks reject with RealtimeKit's
//! codes, a join to an unreachable server fails with 0012, getters read the core, and events
//! reach JavaScript only after the call that caused them has returned.

#![cfg(target_arch = "wasm32")]

use std::cell::RefCell;
use std::rc::Rc;

use convene_wasm::CoreClient;
use js_sys::{Array, Promise, Reflect};
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_browser);

/// The `data` of `GET /v1/participant/me`, as the server serves it.
const ME: &str = r#"{"participant":{"id":"u1","name":"Hana","picture":null,"custom_participant_id":"hana",
  "preset_name":"group_call_host"},"permissions":{"kick_participant":true,"show_participant_list":true},
  "meeting":{"id":"m1","title":"Test","status":"ACTIVE"},"session":null}"#;

fn client(events: Rc<RefCell<Vec<JsValue>>>) -> CoreClient {
    let sink = Closure::<dyn FnMut(Array)>::new(move |batch: Array| {
        events.borrow_mut().extend(batch.iter());
    });
    let f: js_sys::Function = sink.as_ref().clone().unchecked_into();
    sink.forget();
    // Port 9 on loopback: nothing listens, the connection is refused.
    let options = r#"{"reconnect":{"max_attempts":1},"request_timeout_ms":3000}"#.to_owned();
    CoreClient::new("http://127.0.0.1:9", "token".into(), ME, f, Some(options)).unwrap()
}

fn refusal(server_url: &str, me: &str, options: Option<&str>) -> String {
    let f = js_sys::Function::new_no_args("");
    match CoreClient::new(server_url, "token".into(), me, f, options.map(str::to_owned)) {
        Ok(_) => panic!("{server_url} {me} {options:?} was accepted"),
        Err(e) => Reflect::get(&JsValue::from(e), &"message".into()).unwrap().as_string().unwrap(),
    }
}

#[wasm_bindgen_test]
fn a_server_url_record_or_options_that_do_not_read_are_refused_by_name() {
    assert!(refusal("ws://127.0.0.1:9", ME, None).contains("http:// or https://"));
    let no_id = ME.replace(r#""id":"u1","#, "");
    assert!(refusal("http://127.0.0.1:9", &no_id, None).contains("participant.id"));
    assert!(refusal("http://127.0.0.1:9", "{", None).starts_with("me:"));
    let bad = r#"{"reconnect":{"max_attempts":"many"}}"#;
    assert!(refusal("http://127.0.0.1:9", ME, Some(bad)).contains("options.reconnect.max_attempts"));
    assert_eq!(
        convene_wasm::participant_me_url("https://meet.example.com/").ok().as_deref(),
        Some("https://meet.example.com/v1/participant/me")
    );
}

fn code(err: &JsValue) -> f64 {
    Reflect::get(err, &"code".into()).unwrap().as_f64().unwrap()
}

#[wasm_bindgen_test]
async fn commands_before_joining_reject_with_1205() {
    let c = client(Rc::default());
    let err = JsFuture::from(c.kick_all()).await.unwrap_err();
    assert_eq!(code(&err), 1205.0);
    let err = JsFuture::from(c.leave()).await.unwrap_err();
    assert_eq!(code(&err), 1205.0);
    assert_eq!(c.room_state(), "init");
}

#[wasm_bindgen_test]
async fn getters_read_the_core() {
    let c = client(Rc::default());
    assert_eq!(c.room_state(), "init");
    assert_eq!(c.waitlist_status().as_string().as_deref(), Some("none"));
    let info = c.self_info();
    let permissions = Reflect::get(&info, &"permissions".into()).unwrap();
    assert_eq!(Reflect::get(&permissions, &"kick_participant".into()).unwrap().as_bool(), Some(true));
    assert_eq!(Reflect::get(&c.meeting(), &"title".into()).unwrap().as_string().as_deref(), Some("Test"));
    assert!(c.session().is_null());
    assert_eq!(Array::from(&c.joined()).length(), 0);
    let socket = c.socket_state();
    assert_eq!(Reflect::get(&socket, &"state".into()).unwrap().as_string().as_deref(), Some("disconnected"));
}

#[wasm_bindgen_test]
async fn a_join_to_an_unreachable_server_fails_with_0012() {
    let c = client(Rc::default());
    let err = JsFuture::from(c.join()).await.unwrap_err();
    assert_eq!(code(&err), 12.0);
    assert_eq!(c.room_state(), "init", "the join can be tried again");
}

#[wasm_bindgen_test]
async fn events_arrive_after_the_call_returns() {
    let events: Rc<RefCell<Vec<JsValue>>> = Rc::default();
    let c = client(events.clone());
    let joining = c.join();
    // Leaving while the connection is still being made leaves at once: the core emits roomLeft.
    let leaving = c.leave();
    assert_eq!(c.room_state(), "left");
    assert!(events.borrow().is_empty(), "no listener ran inside the call");
    JsFuture::from(Promise::resolve(&JsValue::NULL)).await.unwrap();
    JsFuture::from(leaving).await.unwrap();
    let got: Vec<String> =
        events.borrow().iter().map(|e| Reflect::get(e, &"event".into()).unwrap().as_string().unwrap()).collect();
    assert!(got.contains(&"roomLeft".to_owned()), "{got:?}");
    let err = JsFuture::from(joining).await.unwrap_err();
    assert_eq!(code(&err), 4501.0, "the abandoned join settles as closed");
    let err = JsFuture::from(c.join()).await.unwrap_err();
    assert_eq!(code(&err), 4501.0, "a terminal state refuses every command");
}
