//! What a patch grants, and the patch between two permission sets.
//!
//! A participant may change others' permissions only within its own: a patch may set a field to
//! a value that allows no more than the sender's own value of that field (revoking is always
//! allowed). A host with `can_change_participant_permissions` but not `kick_participant` cannot
//! grant `kick_participant`.
//!
//! ```
//! use convene_core::permissions::{Permissions, PermissionsPatch};
//!
//! let mut sender = Permissions::group_call_host();
//! sender.kick_participant = false;
//! let grant_kick = PermissionsPatch { kick_participant: Some(true), ..Default::default() };
//! assert_eq!(grant_kick.beyond(&sender).as_deref(), Some("kick_participant"));
//! let revoke_kick = PermissionsPatch { kick_participant: Some(false), ..Default::default() };
//! assert_eq!(revoke_kick.beyond(&sender), None);
//! ```

use serde_json::Value;

use super::{Permissions, PermissionsPatch};

/// How much a permission value allows, as it is written on the wire: 0 allows nothing, higher
/// allows more; `None` for values that are not ordered (they must equal the sender's own).
fn rank(value: &Value) -> Option<u8> {
    match value {
        Value::Bool(b) => Some(u8::from(*b)),
        Value::String(s) => match s.as_str() {
            "NOT_ALLOWED" | "SKIP_ON_ACCEPT" | "NONE" => Some(0),
            "CAN_REQUEST" | "ON_PRIVILEGED_USER_ENTRY" | "RECORDER" | "LIVESTREAMER" => Some(1),
            "ALLOWED" | "SKIP" => Some(2),
            _ => None,
        },
        _ => None,
    }
}

/// Whether setting a permission to `value` allows no more than `held`.
fn within(value: &Value, held: &Value) -> bool {
    value == held || rank(value) == Some(0) || matches!((rank(value), rank(held)), (Some(v), Some(h)) if v < h)
}

/// The path of the first leaf of `patch` set beyond the same leaf of `held`.
fn first_beyond(patch: &Value, held: &Value, path: &mut String) -> Option<String> {
    let Value::Object(fields) = patch else {
        return (!within(patch, held)).then(|| path.clone());
    };
    for (name, value) in fields {
        let len = path.len();
        if len > 0 {
            path.push('.');
        }
        path.push_str(name);
        if let Some(over) = first_beyond(value, held.get(name).unwrap_or(&Value::Null), path) {
            return Some(over);
        }
        path.truncate(len);
    }
    None
}

impl PermissionsPatch {
    /// The first permission this patch sets to a value that allows more than `holder` has for
    /// that permission, by its REST path (`"kick_participant"`, `"media.audio.can_produce"`);
    /// `None` when the patch grants nothing beyond `holder`'s own powers. Values that allow
    /// nothing (`false`, `NOT_ALLOWED`, `NONE`, `SKIP_ON_ACCEPT`) are always within. Every field
    /// is compared through its wire form, so a permission added later is checked too.
    pub fn beyond(&self, holder: &Permissions) -> Option<String> {
        let (Ok(patch), Ok(held)) = (serde_json::to_value(self), serde_json::to_value(holder)) else {
            // Not reachable (both are plain data); refuse rather than allow.
            return Some("permissions".into());
        };
        first_beyond(&patch, &held, &mut String::new())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::permissions::{MediaPatch, MediaProducePatch, ProducePermission, RecorderType, WaitingRoomType};

    #[test]
    fn a_full_host_may_grant_everything_a_participant_nothing_but_revokes() {
        let host = Permissions::group_call_host();
        let everything = Permissions::group_call_participant().patch_to(&host);
        assert!(!everything.is_empty());
        assert_eq!(everything.beyond(&host), None);
        let participant = Permissions::group_call_participant();
        assert!(everything.beyond(&participant).is_some());
        let revoke_all = host.patch_to(&participant);
        assert_eq!(revoke_all.beyond(&participant), None, "revoking needs no power");
    }

    /// What a patch made by `f` grants beyond `sender`.
    fn beyond(sender: &Permissions, f: impl Fn(&mut PermissionsPatch)) -> Option<String> {
        let mut p = PermissionsPatch::default();
        f(&mut p);
        p.beyond(sender)
    }

    #[test]
    fn each_kind_of_value_is_compared_by_what_it_allows() {
        let mut sender = Permissions::group_call_host();
        sender.kick_participant = false;
        sender.waiting_room_type = WaitingRoomType::OnPrivilegedUserEntry;
        sender.media.audio.can_produce = ProducePermission::CanRequest;
        sender.chat.public.files = false;
        let some = |s: &str| Some(s.to_owned());
        assert_eq!(beyond(&sender, |p| p.kick_participant = Some(true)), some("kick_participant"));
        assert_eq!(beyond(&sender, |p| p.waiting_room_type = Some(WaitingRoomType::Skip)), some("waiting_room_type"));
        assert_eq!(beyond(&sender, |p| p.waiting_room_type = Some(WaitingRoomType::SkipOnAccept)), None);
        let audio = |v| MediaPatch { audio: Some(MediaProducePatch { can_produce: Some(v) }), ..Default::default() };
        let allowed = audio(ProducePermission::Allowed);
        assert_eq!(beyond(&sender, |p| p.media = Some(allowed)), some("media.audio.can_produce"));
        let on_request = audio(ProducePermission::CanRequest);
        assert_eq!(beyond(&sender, |p| p.media = Some(on_request)), None);
        assert_eq!(beyond(&sender, |p| p.recorder_type = Some(RecorderType::Recorder)), some("recorder_type"));
        assert_eq!(beyond(&sender, |p| p.recorder_type = Some(RecorderType::None)), None);
        let files = crate::permissions::ChatPatch {
            public: Some(crate::permissions::PublicChatPatch { files: Some(true), ..Default::default() }),
            ..Default::default()
        };
        assert_eq!(beyond(&sender, |p| p.chat = Some(files)), some("chat.public.files"));
        // Two different recorders are not ordered: only the sender's own kind may be given.
        sender.recorder_type = RecorderType::Recorder;
        assert_eq!(beyond(&sender, |p| p.recorder_type = Some(RecorderType::Livestreamer)), some("recorder_type"));
        assert_eq!(beyond(&sender, |p| p.recorder_type = Some(RecorderType::Recorder)), None);
    }
}
