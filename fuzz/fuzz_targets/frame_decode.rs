//! Arbitrary bytes into the core's frame decoders, `decode_server` (what a client receives) and
//! `decode_client` (what the server receives).
//!
//! Invariants: neither decoder panics; a refused frame is a typed error with code 4400 or 4413;
//! a frame that decodes re-encodes to a frame that decodes to an equal value, and encoding that
//! value again gives the same text (the encoding is stable after one round).

#![no_main]

use convene_core::proto::{
    decode_client, decode_server, encode_client, encode_server, FrameError, MAX_CLIENT_FRAME_BYTES,
    MAX_SERVER_FRAME_BYTES,
};
use libfuzzer_sys::fuzz_target;

fn check_error(err: &FrameError, text: &str, limit: usize) {
    match err {
        FrameError::TooLarge { size, limit: l } => {
            assert_eq!(*size, text.len());
            assert_eq!(*l, limit);
            assert!(text.len() > limit, "TooLarge for a frame within the limit");
            assert_eq!(err.code(), 4413);
        }
        FrameError::Malformed(_) => assert_eq!(err.code(), 4400),
    }
}

fuzz_target!(|data: &[u8]| {
    // Frames are WebSocket text frames: valid UTF-8. Invalid bytes are replaced, as a lenient
    // driver would, so that every input reaches the decoder.
    let text = String::from_utf8_lossy(data);

    match decode_server(&text) {
        Ok(msg) => {
            let encoded = encode_server(&msg);
            let again = decode_server(&encoded)
                .unwrap_or_else(|e| panic!("a re-encoded server frame does not decode: {e}\n{encoded}"));
            assert_eq!(again, msg, "server frame round trip\n input: {text}\n encoded: {encoded}");
            assert_eq!(encode_server(&again), encoded, "server frame encoding is not stable");
        }
        Err(e) => check_error(&e, &text, MAX_SERVER_FRAME_BYTES),
    }

    match decode_client(&text) {
        Ok(msg) => {
            let encoded = encode_client(&msg);
            let again = decode_client(&encoded)
                .unwrap_or_else(|e| panic!("a re-encoded client frame does not decode: {e}\n{encoded}"));
            assert_eq!(again, msg, "client frame round trip\n input: {text}\n encoded: {encoded}");
            assert_eq!(encode_client(&again), encoded, "client frame encoding is not stable");
            // What the core would send for this message is what the server reads back.
            assert_eq!(msg.request_id(), again.request_id());
        }
        Err(e) => check_error(&e, &text, MAX_CLIENT_FRAME_BYTES),
    }
});
