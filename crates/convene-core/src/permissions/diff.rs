//! The patch that turns one permission set into another (for a preset changed at run time).

use super::{
    ChatPatch, ConnectedMeetingsPatch, MediaPatch, MediaProducePatch, Permissions, PermissionsPatch, PluginsPatch,
    PollsPatch, PrivateChatPatch, PublicChatPatch,
};

/// `Some(new)` where it differs from `old`.
fn changed<T: PartialEq + Copy>(old: T, new: T) -> Option<T> {
    (old != new).then_some(new)
}

/// `Some(patch)` unless it is empty.
fn non_empty<T: Default + PartialEq>(patch: T) -> Option<T> {
    (patch != T::default()).then_some(patch)
}

impl Permissions {
    /// The patch that, applied to `self`, gives `new` (every field that differs, nothing else;
    /// plugin configurations are not part of a patch).
    ///
    /// ```
    /// use convene_core::permissions::Permissions;
    ///
    /// let host = Permissions::group_call_host();
    /// let participant = Permissions::group_call_participant();
    /// let mut p = host.clone();
    /// p.apply(&host.patch_to(&participant));
    /// assert_eq!(p.kick_participant, participant.kick_participant);
    /// assert!(host.patch_to(&host).is_empty());
    /// ```
    pub fn patch_to(&self, new: &Permissions) -> PermissionsPatch {
        let (o, n) = (self, new);
        let (oc, nc) = (&o.chat, &n.chat);
        let chat = ChatPatch {
            public: non_empty(PublicChatPatch {
                can_send: changed(oc.public.can_send, nc.public.can_send),
                text: changed(oc.public.text, nc.public.text),
                files: changed(oc.public.files, nc.public.files),
            }),
            private: non_empty(PrivateChatPatch {
                can_send: changed(oc.private.can_send, nc.private.can_send),
                can_receive: changed(oc.private.can_receive, nc.private.can_receive),
                text: changed(oc.private.text, nc.private.text),
                files: changed(oc.private.files, nc.private.files),
            }),
        };
        let (om, nm) = (&o.connected_meetings, &n.connected_meetings);
        let connected_meetings = ConnectedMeetingsPatch {
            can_alter_connected_meetings: changed(om.can_alter_connected_meetings, nm.can_alter_connected_meetings),
            can_switch_connected_meetings: changed(om.can_switch_connected_meetings, nm.can_switch_connected_meetings),
            can_switch_to_parent_meeting: changed(om.can_switch_to_parent_meeting, nm.can_switch_to_parent_meeting),
        };
        let produce = |old: super::MediaProduce, new: super::MediaProduce| {
            non_empty(MediaProducePatch { can_produce: changed(old.can_produce, new.can_produce) })
        };
        let media = MediaPatch {
            audio: produce(o.media.audio, n.media.audio),
            video: produce(o.media.video, n.media.video),
            screenshare: produce(o.media.screenshare, n.media.screenshare),
        };
        let plugins = PluginsPatch {
            can_close: changed(o.plugins.can_close, n.plugins.can_close),
            can_start: changed(o.plugins.can_start, n.plugins.can_start),
            can_edit_config: changed(o.plugins.can_edit_config, n.plugins.can_edit_config),
        };
        let polls = PollsPatch {
            can_create: changed(o.polls.can_create, n.polls.can_create),
            can_view: changed(o.polls.can_view, n.polls.can_view),
            can_vote: changed(o.polls.can_vote, n.polls.can_vote),
        };
        PermissionsPatch {
            accept_waiting_requests: changed(o.accept_waiting_requests, n.accept_waiting_requests),
            can_accept_production_requests: changed(o.can_accept_production_requests, n.can_accept_production_requests),
            can_change_participant_permissions: changed(
                o.can_change_participant_permissions,
                n.can_change_participant_permissions,
            ),
            can_edit_display_name: changed(o.can_edit_display_name, n.can_edit_display_name),
            can_livestream: changed(o.can_livestream, n.can_livestream),
            can_record: changed(o.can_record, n.can_record),
            can_spotlight: changed(o.can_spotlight, n.can_spotlight),
            chat: non_empty(chat),
            connected_meetings: non_empty(connected_meetings),
            disable_participant_audio: changed(o.disable_participant_audio, n.disable_participant_audio),
            disable_participant_screensharing: changed(
                o.disable_participant_screensharing,
                n.disable_participant_screensharing,
            ),
            disable_participant_video: changed(o.disable_participant_video, n.disable_participant_video),
            hidden_participant: changed(o.hidden_participant, n.hidden_participant),
            kick_participant: changed(o.kick_participant, n.kick_participant),
            media: non_empty(media),
            pin_participant: changed(o.pin_participant, n.pin_participant),
            plugins: non_empty(plugins),
            polls: non_empty(polls),
            recorder_type: changed(o.recorder_type, n.recorder_type),
            show_participant_list: changed(o.show_participant_list, n.show_participant_list),
            waiting_room_type: changed(o.waiting_room_type, n.waiting_room_type),
            accept_stage_requests: changed(o.accept_stage_requests, n.accept_stage_requests),
            is_recorder: changed(o.is_recorder, n.is_recorder),
            stage_access: changed(o.stage_access, n.stage_access),
            stage_enabled: changed(o.stage_enabled, n.stage_enabled),
            transcription_enabled: changed(o.transcription_enabled, n.transcription_enabled),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_patch_between_any_two_built_in_presets_turns_one_into_the_other() {
        for a in super::super::BUILT_IN_PRESETS {
            for b in super::super::BUILT_IN_PRESETS {
                let (from, to) = (Permissions::built_in(a).unwrap(), Permissions::built_in(b).unwrap());
                let mut p = from.clone();
                let patch = from.patch_to(&to);
                assert_eq!(p.apply(&patch), a != b && from != to, "{a} -> {b}");
                assert_eq!(p, to, "{a} -> {b}");
            }
        }
    }
}
