//! The participant core and the room core tested together: real `convene_core::Participant`s
//! against the real `convene_room::Room`, in simulated time, through the real encoder and decoder.
//! The shared scenario files, the stories, the transition table and the property tests all run
//! here, against the one copy of the session rules the server runs too.

mod display_name;
mod harness;
mod model_check;
mod outcomes;
mod pinning;
mod properties;
mod recording_controls;
mod room_properties;
mod scenarios;
mod stories;
mod takeover;
mod transitions;
