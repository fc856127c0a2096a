//! The browser driver: a `WebSocket` and one `setTimeout` around the core. After every input it
//! drains the core's outputs; events and promise settlements are handed to JavaScript only after
//! the current call has returned (in a microtask), never re-entrantly while the core is borrowed.

use std::cell::RefCell;
use std::rc::{Rc, Weak};

use convene_core::contract::Waiters;
use convene_core::proto::encode_client;
use convene_core::{ClientError, Command, CommandOk, Output, Participant};
use js_sys::{Array, Function, Promise};
use wasm_bindgen::prelude::*;
use web_sys::{CloseEvent, MessageEvent, WebSocket};

#[wasm_bindgen]
extern "C" {
    #[wasm_bindgen(js_name = setTimeout)]
    fn set_timeout(handler: &Function, ms: f64) -> JsValue;
    #[wasm_bindgen(js_name = clearTimeout)]
    fn clear_timeout(id: &JsValue);
    #[wasm_bindgen(js_name = queueMicrotask)]
    fn queue_microtask(callback: &Function);
}

/// A settled command, waiting to reach its promise.
enum Settlement {
    Resolve(Function, JsValue),
    Reject(Function, JsValue),
}

/// The error object a rejected promise carries: `{ code, message }` (the package wraps it in
/// `ClientError`).
pub(crate) fn error_value(e: &ClientError) -> JsValue {
    let v = serde_json::json!({ "code": e.code(), "message": e.to_string() });
    js_sys::JSON::parse(&v.to_string()).unwrap_or(JsValue::NULL)
}

pub(crate) fn json_value(v: &serde_json::Value) -> JsValue {
    js_sys::JSON::parse(&v.to_string()).unwrap_or(JsValue::NULL)
}

struct Socket {
    ws: WebSocket,
    _on_open: Closure<dyn FnMut()>,
    _on_message: Closure<dyn FnMut(MessageEvent)>,
    _on_close: Closure<dyn FnMut(CloseEvent)>,
    _on_error: Closure<dyn FnMut()>,
}

impl Drop for Socket {
    fn drop(&mut self) {
        self.ws.set_onopen(None);
        self.ws.set_onmessage(None);
        self.ws.set_onclose(None);
        self.ws.set_onerror(None);
        let _ = self.ws.close();
    }
}

pub(crate) struct Driver {
    pub core: Participant,
    ws_url: String,
    socket: Option<Socket>,
    timer: Option<(JsValue, Closure<dyn FnMut()>)>,
    /// Promises of requests in flight (a handful at most).
    waiters: Waiters<(Function, Function)>,
    events: Vec<JsValue>,
    settlements: Vec<Settlement>,
    flush_scheduled: bool,
    on_events: Function,
    #[cfg(feature = "fault-injection")]
    outage: bool,
    #[cfg(feature = "fault-injection")]
    deferred_connect: bool,
    this: Weak<RefCell<Driver>>,
}

fn now() -> u64 {
    js_sys::Date::now() as u64
}

impl Driver {
    pub fn new(core: Participant, ws_url: String, on_events: Function) -> Rc<RefCell<Driver>> {
        Rc::new_cyclic(|this| {
            RefCell::new(Driver {
                core,
                ws_url,
                socket: None,
                timer: None,
                waiters: Waiters::new(),
                events: Vec::new(),
                settlements: Vec::new(),
                flush_scheduled: false,
                on_events,
                #[cfg(feature = "fault-injection")]
                outage: false,
                #[cfg(feature = "fault-injection")]
                deferred_connect: false,
                this: this.clone(),
            })
        })
    }

    /// Runs a command; the promise settles when the server has acted or a local check failed.
    pub fn command(this: &Rc<RefCell<Driver>>, command: Command) -> Promise {
        let mut slot: Option<(Function, Function)> = None;
        let promise = Promise::new(&mut |resolve, reject| slot = Some((resolve, reject)));
        let (resolve, reject) = slot.expect("the executor runs at once");
        let mut d = this.borrow_mut();
        match d.core.command(now(), command) {
            Ok(req) => d.waiters.insert(req, (resolve, reject)),
            Err(e) => d.settlements.push(Settlement::Reject(reject, error_value(&e))),
        }
        d.pump();
        promise
    }

    /// Drains every output, then re-arms the timer and schedules the hand-over to JavaScript.
    pub fn pump(&mut self) {
        while let Some(output) = self.core.poll_output() {
            match output {
                Output::Connect => {
                    self.socket = None;
                    #[cfg(feature = "fault-injection")]
                    if self.outage {
                        self.deferred_connect = true;
                        continue;
                    }
                    self.connect();
                }
                Output::Transmit(msg) => {
                    let sent = self.socket.as_ref().is_some_and(|s| s.ws.send_with_str(&encode_client(&msg)).is_ok());
                    if !sent {
                        self.socket = None;
                        self.core.handle_transport_closed(now());
                    }
                }
                Output::Disconnect => self.socket = None,
                Output::Event(event) => self.events.push(json_value(&event.payload())),
                Output::Resolved { req, result } => {
                    if let Some((resolve, reject)) = self.waiters.take(req) {
                        self.settlements.push(match result {
                            Ok(ok) => Settlement::Resolve(resolve, ok_value(ok)),
                            Err(e) => Settlement::Reject(reject, error_value(&e)),
                        });
                    }
                }
            }
        }
        // One browser client: its roster is small enough to free at once.
        drop(self.core.take_released());
        self.arm_timer();
        self.schedule_flush();
    }

    fn connect(&mut self) {
        let ws = match WebSocket::new(&self.ws_url) {
            Ok(ws) => ws,
            Err(_) => {
                self.core.handle_transport_closed(now());
                return;
            }
        };
        let weak = self.this.clone();
        let on_open = Closure::<dyn FnMut()>::new(move || with(&weak, |d| d.core.handle_transport_opened(now())));
        let weak = self.this.clone();
        let on_message = Closure::<dyn FnMut(MessageEvent)>::new(move |e: MessageEvent| {
            if let Some(text) = e.data().as_string() {
                with(&weak, |d| {
                    if d.core.handle_frame(now(), &text).is_err() {
                        web_sys::console::warn_1(&"convene: a frame from the server was refused".into());
                    }
                });
            }
        });
        let weak = self.this.clone();
        let on_close = Closure::<dyn FnMut(CloseEvent)>::new(move |_e: CloseEvent| {
            with(&weak, |d| {
                d.socket = None;
                d.core.handle_transport_closed(now());
            })
        });
        // An error is always followed by a close event, which drives the core; handling it keeps
        // environments that treat unhandled socket errors as exceptions quiet.
        let on_error = Closure::<dyn FnMut()>::new(|| {});
        ws.set_onerror(Some(on_error.as_ref().unchecked_ref()));
        ws.set_onopen(Some(on_open.as_ref().unchecked_ref()));
        ws.set_onmessage(Some(on_message.as_ref().unchecked_ref()));
        ws.set_onclose(Some(on_close.as_ref().unchecked_ref()));
        self.socket =
            Some(Socket { ws, _on_open: on_open, _on_message: on_message, _on_close: on_close, _on_error: on_error });
    }

    fn arm_timer(&mut self) {
        if let Some((id, _)) = self.timer.take() {
            clear_timeout(&id);
        }
        let Some(deadline) = self.core.poll_timeout() else { return };
        let weak = self.this.clone();
        let fire = Closure::<dyn FnMut()>::new(move || with(&weak, |d| d.core.handle_timeout(now())));
        let delay = deadline.saturating_sub(now()) as f64;
        let id = set_timeout(fire.as_ref().unchecked_ref(), delay);
        self.timer = Some((id, fire));
    }

    fn schedule_flush(&mut self) {
        if self.flush_scheduled || (self.events.is_empty() && self.settlements.is_empty()) {
            return;
        }
        self.flush_scheduled = true;
        let weak = self.this.clone();
        let flush = Closure::once_into_js(move || flush(&weak));
        queue_microtask(flush.unchecked_ref());
    }

    /// A simulated network outage for tests: the connection drops and reconnection waits.
    #[cfg(feature = "fault-injection")]
    pub fn outage(&mut self, down: bool) {
        self.outage = down;
        if down {
            if self.socket.take().is_some() {
                self.core.handle_transport_closed(now());
            }
        } else if std::mem::take(&mut self.deferred_connect) {
            self.connect();
        }
        self.pump();
    }
}

fn ok_value(ok: CommandOk) -> JsValue {
    match ok.kicked_participants_count {
        Some(n) => json_value(&serde_json::json!({ "kickedParticipantsCount": n })),
        None => JsValue::UNDEFINED,
    }
}

/// Runs `f` on the driver (if it still exists), then drains.
fn with(weak: &Weak<RefCell<Driver>>, f: impl FnOnce(&mut Driver)) {
    if let Some(rc) = weak.upgrade() {
        let mut d = rc.borrow_mut();
        f(&mut d);
        d.pump();
    }
}

/// Hands queued events and settlements to JavaScript, with the driver no longer borrowed.
fn flush(weak: &Weak<RefCell<Driver>>) {
    let Some(rc) = weak.upgrade() else { return };
    let (events, settlements, on_events) = {
        let mut d = rc.borrow_mut();
        d.flush_scheduled = false;
        (std::mem::take(&mut d.events), std::mem::take(&mut d.settlements), d.on_events.clone())
    };
    if !events.is_empty() {
        let batch: Array = events.into_iter().collect();
        if let Err(e) = on_events.call1(&JsValue::NULL, &batch) {
            web_sys::console::error_2(&"convene: an event listener threw".into(), &e);
        }
    }
    for s in settlements {
        let _ = match s {
            Settlement::Resolve(f, v) => f.call1(&JsValue::NULL, &v),
            Settlement::Reject(f, v) => f.call1(&JsValue::NULL, &v),
        };
    }
}
