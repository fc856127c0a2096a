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
//! assert_eq!(grant_kick.beyond(&sender), Some("kick_participant"));
//! let revoke_kick = PermissionsPatch { kick_participant: Some(false), ..Default::default() };
//! assert_eq!(revoke_kick.beyond(&sender), None);
//! ```

use super::{Permissions, PermissionsPatch, ProducePermission, RecorderType, WaitingRoomType};

/// How much a permission value allows: 0 allows nothing, higher allows more.
trait Power: Copy + PartialEq {
    fn rank(self) -> u8;
}

impl Power for bool {
    fn rank(self) -> u8 {
        u8::from(self)
    }
}

impl Power for ProducePermission {
    fn rank(self) -> u8 {
        match self {
            ProducePermission::NotAllowed => 0,
            ProducePermission::CanRequest => 1,
            ProducePermission::Allowed => 2,
        }
    }
}

impl Power for WaitingRoomType {
    fn rank(self) -> u8 {
        match self {
            WaitingRoomType::SkipOnAccept => 0,
            WaitingRoomType::OnPrivilegedUserEntry => 1,
            WaitingRoomType::Skip => 2,
        }
    }
}

impl Power for RecorderType {
    fn rank(self) -> u8 {
        u8::from(self != RecorderType::None)
    }
}

/// Walks a patch beside the sender's permissions and keeps the first field set above them.
struct Beyond {
    over: Option<&'static str>,
}

impl Beyond {
    fn field<T: Power>(&mut self, name: &'static str, value: Option<T>, held: T) {
        let Some(value) = value else { return };
        let within = value == held || value.rank() == 0 || value.rank() < held.rank();
        if !within && self.over.is_none() {
            self.over = Some(name);
        }
    }
}

impl PermissionsPatch {
    /// The first permission this patch sets to a value that allows more than `holder` has for
    /// that permission (`None`: the patch grants nothing beyond `holder`'s own powers). Values
    /// that allow nothing (`false`, `NOT_ALLOWED`, ...) are always within.
    pub fn beyond(&self, holder: &Permissions) -> Option<&'static str> {
        let h = holder;
        let mut c = Beyond { over: None };
        c.field("accept_waiting_requests", self.accept_waiting_requests, h.accept_waiting_requests);
        c.field(
            "can_accept_production_requests",
            self.can_accept_production_requests,
            h.can_accept_production_requests,
        );
        c.field(
            "can_change_participant_permissions",
            self.can_change_participant_permissions,
            h.can_change_participant_permissions,
        );
        c.field("can_edit_display_name", self.can_edit_display_name, h.can_edit_display_name);
        c.field("can_livestream", self.can_livestream, h.can_livestream);
        c.field("can_record", self.can_record, h.can_record);
        c.field("can_spotlight", self.can_spotlight, h.can_spotlight);
        c.field("disable_participant_audio", self.disable_participant_audio, h.disable_participant_audio);
        c.field(
            "disable_participant_screensharing",
            self.disable_participant_screensharing,
            h.disable_participant_screensharing,
        );
        c.field("disable_participant_video", self.disable_participant_video, h.disable_participant_video);
        c.field("hidden_participant", self.hidden_participant, h.hidden_participant);
        c.field("kick_participant", self.kick_participant, h.kick_participant);
        c.field("pin_participant", self.pin_participant, h.pin_participant);
        c.field("recorder_type", self.recorder_type, h.recorder_type);
        c.field("show_participant_list", self.show_participant_list, h.show_participant_list);
        c.field("waiting_room_type", self.waiting_room_type, h.waiting_room_type);
        c.field("accept_stage_requests", self.accept_stage_requests, h.accept_stage_requests);
        c.field("is_recorder", self.is_recorder, h.is_recorder);
        c.field("stage_access", self.stage_access, h.stage_access);
        c.field("stage_enabled", self.stage_enabled, h.stage_enabled);
        c.field("transcription_enabled", self.transcription_enabled, h.transcription_enabled);
        if let Some(chat) = &self.chat {
            if let Some(p) = &chat.public {
                c.field("chat.public.can_send", p.can_send, h.chat.public.can_send);
                c.field("chat.public.text", p.text, h.chat.public.text);
                c.field("chat.public.files", p.files, h.chat.public.files);
            }
            if let Some(p) = &chat.private {
                c.field("chat.private.can_send", p.can_send, h.chat.private.can_send);
                c.field("chat.private.can_receive", p.can_receive, h.chat.private.can_receive);
                c.field("chat.private.text", p.text, h.chat.private.text);
                c.field("chat.private.files", p.files, h.chat.private.files);
            }
        }
        if let Some(m) = &self.connected_meetings {
            let held = &h.connected_meetings;
            c.field(
                "connected_meetings.can_alter_connected_meetings",
                m.can_alter_connected_meetings,
                held.can_alter_connected_meetings,
            );
            c.field(
                "connected_meetings.can_switch_connected_meetings",
                m.can_switch_connected_meetings,
                held.can_switch_connected_meetings,
            );
            c.field(
                "connected_meetings.can_switch_to_parent_meeting",
                m.can_switch_to_parent_meeting,
                held.can_switch_to_parent_meeting,
            );
        }
        if let Some(m) = &self.media {
            let held = &h.media;
            c.field("media.audio", m.audio.and_then(|x| x.can_produce), held.audio.can_produce);
            c.field("media.video", m.video.and_then(|x| x.can_produce), held.video.can_produce);
            c.field("media.screenshare", m.screenshare.and_then(|x| x.can_produce), held.screenshare.can_produce);
        }
        if let Some(p) = &self.plugins {
            c.field("plugins.can_close", p.can_close, h.plugins.can_close);
            c.field("plugins.can_start", p.can_start, h.plugins.can_start);
            c.field("plugins.can_edit_config", p.can_edit_config, h.plugins.can_edit_config);
        }
        if let Some(p) = &self.polls {
            c.field("polls.can_create", p.can_create, h.polls.can_create);
            c.field("polls.can_view", p.can_view, h.polls.can_view);
            c.field("polls.can_vote", p.can_vote, h.polls.can_vote);
        }
        c.over
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::permissions::{MediaPatch, MediaProducePatch};

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

    #[test]
    fn each_kind_of_value_is_compared_by_what_it_allows() {
        let mut sender = Permissions::group_call_host();
        sender.kick_participant = false;
        sender.waiting_room_type = WaitingRoomType::OnPrivilegedUserEntry;
        sender.media.audio.can_produce = ProducePermission::CanRequest;
        let patch = |f: &dyn Fn(&mut PermissionsPatch)| {
            let mut p = PermissionsPatch::default();
            f(&mut p);
            p.beyond(&sender)
        };
        assert_eq!(patch(&|p| p.kick_participant = Some(true)), Some("kick_participant"));
        assert_eq!(patch(&|p| p.waiting_room_type = Some(WaitingRoomType::Skip)), Some("waiting_room_type"));
        assert_eq!(patch(&|p| p.waiting_room_type = Some(WaitingRoomType::SkipOnAccept)), None);
        let audio = |v| MediaPatch { audio: Some(MediaProducePatch { can_produce: Some(v) }), ..Default::default() };
        assert_eq!(patch(&|p| p.media = Some(audio(ProducePermission::Allowed))), Some("media.audio"));
        assert_eq!(patch(&|p| p.media = Some(audio(ProducePermission::CanRequest))), None);
        assert_eq!(patch(&|p| p.recorder_type = Some(RecorderType::Recorder)), Some("recorder_type"));
        assert_eq!(patch(&|p| p.recorder_type = Some(RecorderType::None)), None);
    }
}
