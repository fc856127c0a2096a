//! Preset permissions as plain data, runtime patches, and the built-in presets.
//!
//! The field names and nesting follow the `permissions` object of RealtimeKit's REST preset
//! (snake_case on the wire). Every field has an explicit default, which is the most restrictive
//! value ([`Permissions::default`] is the `group_call_participant` preset). Hosts get their powers
//! from [`Permissions::group_call_host`].
//!
//! ```
//! use convene_core::permissions::{Permissions, PermissionsPatch};
//!
//! let mut p = Permissions::group_call_participant();
//! assert!(!p.kick_participant);
//! let patch = PermissionsPatch { kick_participant: Some(true), ..Default::default() };
//! assert!(p.apply(&patch));
//! assert!(p.kick_participant);
//! ```

use serde::{Deserialize, Serialize};

mod diff;
mod grant;

/// Whether a participant may produce a kind of media.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
#[cfg_attr(feature = "typescript", derive(ts_rs::TS))]
pub enum ProducePermission {
    /// The participant may produce freely.
    Allowed,
    /// The participant may not produce.
    #[default]
    NotAllowed,
    /// The participant must ask a host first.
    CanRequest,
}

/// How a participant with this preset enters the meeting.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
#[cfg_attr(feature = "typescript", derive(ts_rs::TS))]
pub enum WaitingRoomType {
    /// Enter directly.
    #[default]
    Skip,
    /// Wait until a privileged participant (one who may accept waiting requests) is present.
    OnPrivilegedUserEntry,
    /// Wait until someone with `accept_waiting_requests` accepts the request.
    SkipOnAccept,
}

/// Which kind of recorder a participant is, if any.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
#[cfg_attr(feature = "typescript", derive(ts_rs::TS))]
pub enum RecorderType {
    /// A recording bot.
    Recorder,
    /// A livestreaming bot.
    Livestreamer,
    /// Not a recorder.
    #[default]
    None,
}

/// Plugin access for one plugin id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
#[cfg_attr(feature = "typescript", derive(ts_rs::TS))]
pub enum PluginAccess {
    /// Full control.
    FullAccess,
    /// View only.
    #[default]
    ViewOnly,
}

/// Public chat permissions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(default)]
#[cfg_attr(feature = "typescript", derive(ts_rs::TS))]
#[cfg_attr(feature = "typescript", ts(rename_all = "camelCase"))]
pub struct PublicChat {
    /// May send public messages.
    pub can_send: bool,
    /// May send text.
    pub text: bool,
    /// May send files.
    pub files: bool,
}

/// Private chat permissions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(default)]
#[cfg_attr(feature = "typescript", derive(ts_rs::TS))]
#[cfg_attr(feature = "typescript", ts(rename_all = "camelCase"))]
pub struct PrivateChat {
    /// May send private messages.
    pub can_send: bool,
    /// May receive private messages.
    pub can_receive: bool,
    /// May send text.
    pub text: bool,
    /// May send files.
    pub files: bool,
}

/// Chat permissions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(default)]
#[cfg_attr(feature = "typescript", derive(ts_rs::TS))]
#[cfg_attr(feature = "typescript", ts(rename_all = "camelCase"))]
pub struct ChatPermissions {
    /// Public chat.
    pub public: PublicChat,
    /// Private chat.
    pub private: PrivateChat,
}

/// Connected meetings (breakout rooms) permissions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(default)]
#[cfg_attr(feature = "typescript", derive(ts_rs::TS))]
#[cfg_attr(feature = "typescript", ts(rename_all = "camelCase"))]
pub struct ConnectedMeetingsPermissions {
    /// May create and change connected meetings.
    pub can_alter_connected_meetings: bool,
    /// May move between connected meetings.
    pub can_switch_connected_meetings: bool,
    /// May go back to the parent meeting.
    pub can_switch_to_parent_meeting: bool,
}

/// Production permission for one kind of media.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(default)]
#[cfg_attr(feature = "typescript", derive(ts_rs::TS))]
#[cfg_attr(feature = "typescript", ts(rename_all = "camelCase"))]
pub struct MediaProduce {
    /// Whether this media may be produced.
    pub can_produce: ProducePermission,
}

/// Media permissions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(default)]
#[cfg_attr(feature = "typescript", derive(ts_rs::TS))]
#[cfg_attr(feature = "typescript", ts(rename_all = "camelCase"))]
pub struct MediaPermissions {
    /// Microphone.
    pub audio: MediaProduce,
    /// Camera.
    pub video: MediaProduce,
    /// Screen share.
    pub screenshare: MediaProduce,
}

/// Per-plugin configuration.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(default)]
#[cfg_attr(feature = "typescript", derive(ts_rs::TS))]
#[cfg_attr(feature = "typescript", ts(rename_all = "camelCase"))]
pub struct PluginConfig {
    /// Access level.
    pub access_control: PluginAccess,
    /// Whether the plugin handles view-only access itself.
    pub handles_view_only: bool,
}

/// Plugin permissions.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(default)]
#[cfg_attr(feature = "typescript", derive(ts_rs::TS))]
#[cfg_attr(feature = "typescript", ts(rename_all = "camelCase"))]
pub struct PluginPermissions {
    /// May close plugins.
    pub can_close: bool,
    /// May edit plugin configuration.
    pub can_edit_config: bool,
    /// May start plugins.
    pub can_start: bool,
    /// Per-plugin configuration, keyed by plugin id: each value is a [`PluginConfig`] (checked on
    /// input), kept as JSON since Convene runs no plugins.
    #[serde(deserialize_with = "plugin_configs")]
    // As given: a field it lacks takes its default where the server reads it.
    #[cfg_attr(feature = "typescript", ts(type = "{ [pluginId in string]: Partial<PluginConfig> }"))]
    pub config: serde_json::Map<String, serde_json::Value>,
}

/// Accepts a map of plugin id to [`PluginConfig`], refusing anything else.
fn plugin_configs<'de, D: serde::Deserializer<'de>>(
    d: D,
) -> Result<serde_json::Map<String, serde_json::Value>, D::Error> {
    let map = serde_json::Map::<String, serde_json::Value>::deserialize(d)?;
    for (id, value) in &map {
        if let Err(e) = serde_json::from_value::<PluginConfig>(value.clone()) {
            return Err(serde::de::Error::custom(format_args!("plugin {id}: {e}")));
        }
    }
    Ok(map)
}

/// Poll permissions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(default)]
#[cfg_attr(feature = "typescript", derive(ts_rs::TS))]
#[cfg_attr(feature = "typescript", ts(rename_all = "camelCase"))]
pub struct PollPermissions {
    /// May create polls.
    pub can_create: bool,
    /// May view polls.
    pub can_view: bool,
    /// May vote.
    pub can_vote: bool,
}

/// The full permission set of a preset, as in RealtimeKit's REST API (snake_case there, and
/// camelCase in the npm package).
///
/// Missing fields deserialize to their defaults, so a partial preset is accepted; the defaults are
/// the most restrictive values.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(default)]
#[cfg_attr(feature = "typescript", derive(ts_rs::TS))]
#[cfg_attr(feature = "typescript", ts(rename = "PresetPermissions"))]
#[cfg_attr(feature = "typescript", ts(rename_all = "camelCase"))]
pub struct Permissions {
    /// May accept or reject waiting-room requests.
    pub accept_waiting_requests: bool,
    /// May accept requests to produce media.
    pub can_accept_production_requests: bool,
    /// May change other participants' permissions at run time.
    pub can_change_participant_permissions: bool,
    /// May change their own display name.
    pub can_edit_display_name: bool,
    /// May start a livestream.
    pub can_livestream: bool,
    /// May start and stop recordings.
    pub can_record: bool,
    /// May spotlight participants.
    pub can_spotlight: bool,
    /// Chat permissions.
    pub chat: ChatPermissions,
    /// Connected meetings permissions.
    pub connected_meetings: ConnectedMeetingsPermissions,
    /// May mute other participants' audio.
    pub disable_participant_audio: bool,
    /// May stop other participants' screen share.
    pub disable_participant_screensharing: bool,
    /// May turn off other participants' video.
    pub disable_participant_video: bool,
    /// The participant is not shown to others.
    pub hidden_participant: bool,
    /// May remove participants, and end the session for everyone (`kickAll`).
    pub kick_participant: bool,
    /// Media production permissions.
    pub media: MediaPermissions,
    /// May pin participants for everyone.
    pub pin_participant: bool,
    /// Plugin permissions.
    pub plugins: PluginPermissions,
    /// Poll permissions.
    pub polls: PollPermissions,
    /// Recorder kind.
    pub recorder_type: RecorderType,
    /// Whether this participant receives the participant list.
    pub show_participant_list: bool,
    /// How this participant enters the meeting.
    pub waiting_room_type: WaitingRoomType,
    /// May accept stage requests.
    pub accept_stage_requests: bool,
    /// Whether this participant is a recorder.
    pub is_recorder: bool,
    /// Stage access.
    pub stage_access: ProducePermission,
    /// Whether the stage is enabled.
    pub stage_enabled: bool,
    /// Whether transcription is enabled.
    pub transcription_enabled: bool,
}

/// Names of the presets every new app gets.
pub const BUILT_IN_PRESETS: [&str; 4] =
    ["group_call_host", "group_call_participant", "webinar_presenter", "webinar_viewer"];

impl Permissions {
    /// `group_call_participant`: an ordinary participant. Every host permission is off; they may
    /// produce media, chat, view and vote in polls, and see the participant list.
    pub fn group_call_participant() -> Self {
        Self {
            chat: ChatPermissions {
                public: PublicChat { can_send: true, text: true, files: true },
                private: PrivateChat { can_send: true, can_receive: true, text: true, files: true },
            },
            media: MediaPermissions {
                audio: MediaProduce { can_produce: ProducePermission::Allowed },
                video: MediaProduce { can_produce: ProducePermission::Allowed },
                screenshare: MediaProduce { can_produce: ProducePermission::Allowed },
            },
            polls: PollPermissions { can_create: false, can_view: true, can_vote: true },
            show_participant_list: true,
            stage_access: ProducePermission::Allowed,
            ..Self::default()
        }
    }

    /// `group_call_host`: every host permission on.
    pub fn group_call_host() -> Self {
        let mut p = Self::group_call_participant();
        p.grant_host_powers();
        p
    }

    /// `webinar_presenter`: a host on a webinar stage.
    pub fn webinar_presenter() -> Self {
        let mut p = Self::group_call_host();
        p.stage_enabled = true;
        p
    }

    /// `webinar_viewer`: watches, may request to produce, sees the participant list.
    pub fn webinar_viewer() -> Self {
        let mut p = Self::group_call_participant();
        p.stage_enabled = true;
        p.stage_access = ProducePermission::CanRequest;
        p.media = MediaPermissions {
            audio: MediaProduce { can_produce: ProducePermission::CanRequest },
            video: MediaProduce { can_produce: ProducePermission::CanRequest },
            screenshare: MediaProduce { can_produce: ProducePermission::NotAllowed },
        };
        p
    }

    /// The built-in preset with this name, if it is one.
    pub fn built_in(name: &str) -> Option<Self> {
        match name {
            "group_call_host" => Some(Self::group_call_host()),
            "group_call_participant" => Some(Self::group_call_participant()),
            "webinar_presenter" => Some(Self::webinar_presenter()),
            "webinar_viewer" => Some(Self::webinar_viewer()),
            _ => None,
        }
    }

    fn grant_host_powers(&mut self) {
        self.accept_waiting_requests = true;
        self.can_accept_production_requests = true;
        self.can_change_participant_permissions = true;
        self.can_edit_display_name = true;
        self.can_livestream = true;
        self.can_record = true;
        self.can_spotlight = true;
        self.disable_participant_audio = true;
        self.disable_participant_screensharing = true;
        self.disable_participant_video = true;
        self.kick_participant = true;
        self.pin_participant = true;
        self.accept_stage_requests = true;
        self.connected_meetings = ConnectedMeetingsPermissions {
            can_alter_connected_meetings: true,
            can_switch_connected_meetings: true,
            can_switch_to_parent_meeting: true,
        };
        self.plugins.can_close = true;
        self.plugins.can_edit_config = true;
        self.plugins.can_start = true;
        self.polls.can_create = true;
    }

    /// Applies a runtime patch. Returns whether anything changed.
    pub fn apply(&mut self, patch: &PermissionsPatch) -> bool {
        let before = self.clone();
        set(&mut self.accept_waiting_requests, patch.accept_waiting_requests);
        set(&mut self.can_accept_production_requests, patch.can_accept_production_requests);
        set(&mut self.can_change_participant_permissions, patch.can_change_participant_permissions);
        set(&mut self.can_edit_display_name, patch.can_edit_display_name);
        set(&mut self.can_livestream, patch.can_livestream);
        set(&mut self.can_record, patch.can_record);
        set(&mut self.can_spotlight, patch.can_spotlight);
        set(&mut self.disable_participant_audio, patch.disable_participant_audio);
        set(&mut self.disable_participant_screensharing, patch.disable_participant_screensharing);
        set(&mut self.disable_participant_video, patch.disable_participant_video);
        set(&mut self.hidden_participant, patch.hidden_participant);
        set(&mut self.kick_participant, patch.kick_participant);
        set(&mut self.pin_participant, patch.pin_participant);
        set(&mut self.recorder_type, patch.recorder_type);
        set(&mut self.show_participant_list, patch.show_participant_list);
        set(&mut self.waiting_room_type, patch.waiting_room_type);
        set(&mut self.accept_stage_requests, patch.accept_stage_requests);
        set(&mut self.is_recorder, patch.is_recorder);
        set(&mut self.stage_access, patch.stage_access);
        set(&mut self.stage_enabled, patch.stage_enabled);
        set(&mut self.transcription_enabled, patch.transcription_enabled);
        if let Some(chat) = &patch.chat {
            if let Some(p) = &chat.public {
                set(&mut self.chat.public.can_send, p.can_send);
                set(&mut self.chat.public.text, p.text);
                set(&mut self.chat.public.files, p.files);
            }
            if let Some(p) = &chat.private {
                set(&mut self.chat.private.can_send, p.can_send);
                set(&mut self.chat.private.can_receive, p.can_receive);
                set(&mut self.chat.private.text, p.text);
                set(&mut self.chat.private.files, p.files);
            }
        }
        if let Some(c) = &patch.connected_meetings {
            let m = &mut self.connected_meetings;
            set(&mut m.can_alter_connected_meetings, c.can_alter_connected_meetings);
            set(&mut m.can_switch_connected_meetings, c.can_switch_connected_meetings);
            set(&mut m.can_switch_to_parent_meeting, c.can_switch_to_parent_meeting);
        }
        if let Some(m) = &patch.media {
            set(&mut self.media.audio.can_produce, m.audio.as_ref().and_then(|x| x.can_produce));
            set(&mut self.media.video.can_produce, m.video.as_ref().and_then(|x| x.can_produce));
            let screen = m.screenshare.as_ref().and_then(|x| x.can_produce);
            set(&mut self.media.screenshare.can_produce, screen);
        }
        if let Some(p) = &patch.plugins {
            set(&mut self.plugins.can_close, p.can_close);
            set(&mut self.plugins.can_start, p.can_start);
            set(&mut self.plugins.can_edit_config, p.can_edit_config);
        }
        if let Some(p) = &patch.polls {
            set(&mut self.polls.can_create, p.can_create);
            set(&mut self.polls.can_view, p.can_view);
            set(&mut self.polls.can_vote, p.can_vote);
        }
        *self != before
    }
}

fn set<T: Copy>(field: &mut T, value: Option<T>) {
    if let Some(v) = value {
        *field = v;
    }
}

/// Partial public chat permissions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
#[cfg_attr(feature = "typescript", derive(ts_rs::TS))]
#[cfg_attr(feature = "typescript", ts(rename_all = "camelCase"))]
#[cfg_attr(feature = "typescript", ts(optional_fields))]
pub struct PublicChatPatch {
    /// May send public messages.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub can_send: Option<bool>,
    /// May send text.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub text: Option<bool>,
    /// May send files.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub files: Option<bool>,
}

/// Partial private chat permissions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
#[cfg_attr(feature = "typescript", derive(ts_rs::TS))]
#[cfg_attr(feature = "typescript", ts(rename_all = "camelCase"))]
#[cfg_attr(feature = "typescript", ts(optional_fields))]
pub struct PrivateChatPatch {
    /// May send private messages.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub can_send: Option<bool>,
    /// May receive private messages.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub can_receive: Option<bool>,
    /// May send text.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub text: Option<bool>,
    /// May send files.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub files: Option<bool>,
}

/// Partial chat permissions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
#[cfg_attr(feature = "typescript", derive(ts_rs::TS))]
#[cfg_attr(feature = "typescript", ts(rename_all = "camelCase"))]
#[cfg_attr(feature = "typescript", ts(optional_fields))]
pub struct ChatPatch {
    /// Public chat changes.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub public: Option<PublicChatPatch>,
    /// Private chat changes.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub private: Option<PrivateChatPatch>,
}

/// Partial connected meetings permissions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
#[cfg_attr(feature = "typescript", derive(ts_rs::TS))]
#[cfg_attr(feature = "typescript", ts(rename_all = "camelCase"))]
#[cfg_attr(feature = "typescript", ts(optional_fields))]
pub struct ConnectedMeetingsPatch {
    /// May create and change connected meetings.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub can_alter_connected_meetings: Option<bool>,
    /// May move between connected meetings.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub can_switch_connected_meetings: Option<bool>,
    /// May go back to the parent meeting.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub can_switch_to_parent_meeting: Option<bool>,
}

/// Partial production permission for one kind of media.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
#[cfg_attr(feature = "typescript", derive(ts_rs::TS))]
#[cfg_attr(feature = "typescript", ts(rename_all = "camelCase"))]
#[cfg_attr(feature = "typescript", ts(optional_fields))]
pub struct MediaProducePatch {
    /// Whether this media may be produced.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub can_produce: Option<ProducePermission>,
}

/// Partial media permissions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
#[cfg_attr(feature = "typescript", derive(ts_rs::TS))]
#[cfg_attr(feature = "typescript", ts(rename_all = "camelCase"))]
#[cfg_attr(feature = "typescript", ts(optional_fields))]
pub struct MediaPatch {
    /// Microphone.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub audio: Option<MediaProducePatch>,
    /// Camera.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub video: Option<MediaProducePatch>,
    /// Screen share.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub screenshare: Option<MediaProducePatch>,
}

/// Partial plugin permissions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
#[cfg_attr(feature = "typescript", derive(ts_rs::TS))]
#[cfg_attr(feature = "typescript", ts(rename_all = "camelCase"))]
#[cfg_attr(feature = "typescript", ts(optional_fields))]
pub struct PluginsPatch {
    /// May close plugins.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub can_close: Option<bool>,
    /// May start plugins.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub can_start: Option<bool>,
    /// May edit plugin configuration.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub can_edit_config: Option<bool>,
}

/// Partial poll permissions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
#[cfg_attr(feature = "typescript", derive(ts_rs::TS))]
#[cfg_attr(feature = "typescript", ts(rename_all = "camelCase"))]
#[cfg_attr(feature = "typescript", ts(optional_fields))]
pub struct PollsPatch {
    /// May create polls.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub can_create: Option<bool>,
    /// May view polls.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub can_view: Option<bool>,
    /// May vote.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub can_vote: Option<bool>,
}

/// A runtime change to a participant's permissions: RealtimeKit's `PresetUpdates` (snake_case on
/// the wire, and camelCase in the npm package, which takes snake_case too).
/// Every field is optional; absent fields are left as they are. Unknown fields are refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
#[cfg_attr(feature = "typescript", derive(ts_rs::TS))]
#[cfg_attr(feature = "typescript", ts(rename = "PresetUpdates"))]
#[cfg_attr(feature = "typescript", ts(rename_all = "camelCase"))]
#[cfg_attr(feature = "typescript", ts(optional_fields))]
pub struct PermissionsPatch {
    /// May accept or reject waiting-room requests.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub accept_waiting_requests: Option<bool>,
    /// May accept requests to produce media.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub can_accept_production_requests: Option<bool>,
    /// May change other participants' permissions at run time.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub can_change_participant_permissions: Option<bool>,
    /// May change their own display name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub can_edit_display_name: Option<bool>,
    /// May start a livestream.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub can_livestream: Option<bool>,
    /// May start and stop recordings.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub can_record: Option<bool>,
    /// May spotlight participants.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub can_spotlight: Option<bool>,
    /// Chat permissions.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub chat: Option<ChatPatch>,
    /// Connected meetings permissions.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub connected_meetings: Option<ConnectedMeetingsPatch>,
    /// May mute other participants' audio.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub disable_participant_audio: Option<bool>,
    /// May stop other participants' screen share.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub disable_participant_screensharing: Option<bool>,
    /// May turn off other participants' video.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub disable_participant_video: Option<bool>,
    /// The participant is not shown to others.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hidden_participant: Option<bool>,
    /// May remove participants, and end the session for everyone (`kickAll`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kick_participant: Option<bool>,
    /// Media production permissions.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub media: Option<MediaPatch>,
    /// May pin participants for everyone.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pin_participant: Option<bool>,
    /// Plugin permissions.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub plugins: Option<PluginsPatch>,
    /// Poll permissions.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub polls: Option<PollsPatch>,
    /// Recorder kind.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub recorder_type: Option<RecorderType>,
    /// Whether this participant receives the participant list.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub show_participant_list: Option<bool>,
    /// How this participant enters the meeting.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub waiting_room_type: Option<WaitingRoomType>,
    /// May accept stage requests.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub accept_stage_requests: Option<bool>,
    /// Whether this participant is a recorder.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub is_recorder: Option<bool>,
    /// Stage access.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stage_access: Option<ProducePermission>,
    /// Whether the stage is enabled.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stage_enabled: Option<bool>,
    /// Whether transcription is enabled.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub transcription_enabled: Option<bool>,
}

impl PermissionsPatch {
    /// Whether the patch changes nothing.
    pub fn is_empty(&self) -> bool {
        *self == Self::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_has_every_host_permission_participant_none() {
        let host = Permissions::group_call_host();
        let part = Permissions::group_call_participant();
        for (name, h, p) in [
            ("kick_participant", host.kick_participant, part.kick_participant),
            ("accept_waiting_requests", host.accept_waiting_requests, part.accept_waiting_requests),
            ("can_record", host.can_record, part.can_record),
            (
                "can_change_participant_permissions",
                host.can_change_participant_permissions,
                part.can_change_participant_permissions,
            ),
            ("pin_participant", host.pin_participant, part.pin_participant),
            ("disable_participant_audio", host.disable_participant_audio, part.disable_participant_audio),
            ("disable_participant_video", host.disable_participant_video, part.disable_participant_video),
        ] {
            assert!(h, "host lacks {name}");
            assert!(!p, "participant has {name}");
        }
    }

    #[test]
    fn partial_preset_json_takes_defaults() {
        let p: Permissions = serde_json::from_str(r#"{"kick_participant":true}"#).unwrap();
        assert!(p.kick_participant);
        assert!(!p.show_participant_list);
        assert_eq!(p.waiting_room_type, WaitingRoomType::Skip);
    }

    #[test]
    fn full_preset_round_trips_snake_case() {
        let host = Permissions::group_call_host();
        let json = serde_json::to_value(&host).unwrap();
        assert_eq!(json["media"]["audio"]["can_produce"], "ALLOWED");
        assert_eq!(json["waiting_room_type"], "SKIP");
        assert_eq!(json["chat"]["private"]["can_receive"], true);
        let back: Permissions = serde_json::from_value(json).unwrap();
        assert_eq!(back, host);
    }

    #[test]
    fn patch_refuses_unknown_fields_and_applies_nested() {
        assert!(serde_json::from_str::<PermissionsPatch>(r#"{"kick_everyone":true}"#).is_err());
        let patch: PermissionsPatch =
            serde_json::from_str(r#"{"media":{"video":{"can_produce":"NOT_ALLOWED"}},"polls":{"can_create":true}}"#)
                .unwrap();
        let mut p = Permissions::group_call_participant();
        assert!(p.apply(&patch));
        assert_eq!(p.media.video.can_produce, ProducePermission::NotAllowed);
        assert_eq!(p.media.audio.can_produce, ProducePermission::Allowed);
        assert!(p.polls.can_create);
        assert!(!p.apply(&patch), "applying the same patch twice changes nothing");
    }

    #[test]
    fn plugin_configs_are_checked() {
        let ok: Permissions =
            serde_json::from_str(r#"{"plugins":{"config":{"p1":{"access_control":"FULL_ACCESS"}}}}"#).unwrap();
        assert_eq!(ok.plugins.config["p1"]["access_control"], "FULL_ACCESS");
        let bad = serde_json::from_str::<Permissions>(r#"{"plugins":{"config":{"p1":{"access_control":"ROOT"}}}}"#);
        assert!(bad.unwrap_err().to_string().contains("plugin p1"));
    }

    #[test]
    fn built_in_names_resolve() {
        for name in BUILT_IN_PRESETS {
            assert!(Permissions::built_in(name).is_some(), "{name}");
        }
        assert!(Permissions::built_in("nope").is_none());
    }
}
