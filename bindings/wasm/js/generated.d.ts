// Generated from convene-core's Rust types by `cargo test -p convene-core --features typescript`
// (CONVENE_WRITE_TYPES=1 to rewrite it): edit the Rust types and their docs, not this file.

/**
 * `meeting.self.roomState`, with RealtimeKit's strings.
 */
export type RoomState = "init" | "joined" | "waitlisted" | "left" | "kicked" | "ended" | "rejected" | "disconnected" | "failed";

/**
 * `meeting.self.waitlistStatus`.
 */
export type WaitlistStatus = "none" | "waiting" | "accepted" | "rejected";

/**
 * The signalling connection's state, as in `meeting.meta.socketState.state`.
 */
export type SocketConnectionState = "connected" | "disconnected" | "reconnecting" | "failed";

/**
 * `meeting.meta.socketState`.
 */
export type SocketState = { 
/**
 * The connection state.
 */
state: SocketConnectionState, 
/**
 * True once a connection has been re-established after a drop.
 */
reconnected: boolean, 
/**
 * The number of the reconnection attempt in progress (0 when none).
 */
reconnectionAttempt: number, };

/**
 * `meeting.recording.recordingState`.
 */
export type RecordingState = "IDLE" | "STARTING" | "RECORDING" | "PAUSED" | "STOPPING";

/**
 * Why a session ended, as in the `meeting.ended` webhook's `reason`.
 */
export type EndReason = "HOST_ENDED_MEETING" | "ALL_PARTICIPANTS_LEFT";

/**
 * Who did something to the session or to this participant.
 */
export type Actor = { "kind": "peer", 
/**
 * The acting peer's id.
 */
peerId: string, } | { "kind": "api" } | { "kind": "system" };

/**
 * How and by whom a session ended.
 */
export type SessionEnd = { 
/**
 * The session that ended.
 */
sessionId: string, 
/**
 * Why it ended.
 */
reason: EndReason, 
/**
 * Who ended it.
 */
endedBy: Actor, };

/**
 * The payload of `meeting.self`'s `roomJoined`.
 */
export type RoomJoinedPayload = { 
/**
 * True when this is a return after a dropped connection.
 */
reconnected: boolean, };

/**
 * The payload of `meeting.self`'s `roomLeft`: RealtimeKit's `state`, with who and why.
 */
export type RoomLeftPayload = { "state": "left" } | { "state": "kicked", 
/**
 * Who removed this participant.
 */
kickedBy: Actor, } | { "state": "ended", 
/**
 * The session that ended.
 */
sessionId: string, 
/**
 * Why it ended.
 */
reason: EndReason, 
/**
 * Who ended it.
 */
endedBy: Actor, } | { "state": "rejected", 
/**
 * Who rejected it.
 */
rejectedBy: Actor, } | { "state": "disconnected" } | { "state": "failed", 
/**
 * Attempts made.
 */
attempts: number, };

/**
 * The payload of `participants.joined`'s `kicked`: a remote participant was removed.
 */
export type KickedPayload = { 
/**
 * Its peer id.
 */
id: string, 
/**
 * Who removed it.
 */
kickedBy: Actor, };

/**
 * Why a waiting participant left the waiting room.
 */
export type WaitlistOutcome = "accepted" | "rejected" | "left";

/**
 * Whether a participant may produce a kind of media.
 */
export type ProducePermission = "ALLOWED" | "NOT_ALLOWED" | "CAN_REQUEST";

/**
 * How a participant with this preset enters the meeting.
 */
export type WaitingRoomType = "SKIP" | "ON_PRIVILEGED_USER_ENTRY" | "SKIP_ON_ACCEPT";

/**
 * Which kind of recorder a participant is, if any.
 */
export type RecorderType = "RECORDER" | "LIVESTREAMER" | "NONE";

/**
 * Plugin access for one plugin id.
 */
export type PluginAccess = "FULL_ACCESS" | "VIEW_ONLY";

/**
 * Per-plugin configuration.
 */
export type PluginConfig = { 
/**
 * Access level.
 */
accessControl: PluginAccess, 
/**
 * Whether the plugin handles view-only access itself.
 */
handlesViewOnly: boolean, };

/**
 * Public chat permissions.
 */
export type PublicChat = { 
/**
 * May send public messages.
 */
canSend: boolean, 
/**
 * May send text.
 */
text: boolean, 
/**
 * May send files.
 */
files: boolean, };

/**
 * Private chat permissions.
 */
export type PrivateChat = { 
/**
 * May send private messages.
 */
canSend: boolean, 
/**
 * May receive private messages.
 */
canReceive: boolean, 
/**
 * May send text.
 */
text: boolean, 
/**
 * May send files.
 */
files: boolean, };

/**
 * Chat permissions.
 */
export type ChatPermissions = { 
/**
 * Public chat.
 */
public: PublicChat, 
/**
 * Private chat.
 */
private: PrivateChat, };

/**
 * Connected meetings (breakout rooms) permissions.
 */
export type ConnectedMeetingsPermissions = { 
/**
 * May create and change connected meetings.
 */
canAlterConnectedMeetings: boolean, 
/**
 * May move between connected meetings.
 */
canSwitchConnectedMeetings: boolean, 
/**
 * May go back to the parent meeting.
 */
canSwitchToParentMeeting: boolean, };

/**
 * Production permission for one kind of media.
 */
export type MediaProduce = { 
/**
 * Whether this media may be produced.
 */
canProduce: ProducePermission, };

/**
 * Media permissions.
 */
export type MediaPermissions = { 
/**
 * Microphone.
 */
audio: MediaProduce, 
/**
 * Camera.
 */
video: MediaProduce, 
/**
 * Screen share.
 */
screenshare: MediaProduce, };

/**
 * Plugin permissions.
 */
export type PluginPermissions = { 
/**
 * May close plugins.
 */
canClose: boolean, 
/**
 * May edit plugin configuration.
 */
canEditConfig: boolean, 
/**
 * May start plugins.
 */
canStart: boolean, 
/**
 * Per-plugin configuration, keyed by plugin id: each value is a `PluginConfig` (checked on
 * input), kept as JSON since Convene runs no plugins.
 */
config: { [pluginId in string]: Partial<PluginConfig> }, };

/**
 * Poll permissions.
 */
export type PollPermissions = { 
/**
 * May create polls.
 */
canCreate: boolean, 
/**
 * May view polls.
 */
canView: boolean, 
/**
 * May vote.
 */
canVote: boolean, };

/**
 * The full permission set of a preset, as in RealtimeKit's REST API (snake_case there, and
 * camelCase in the npm package).
 *
 * Missing fields deserialize to their defaults, so a partial preset is accepted; the defaults are
 * the most restrictive values.
 */
export type PresetPermissions = { 
/**
 * May accept or reject waiting-room requests.
 */
acceptWaitingRequests: boolean, 
/**
 * May accept requests to produce media.
 */
canAcceptProductionRequests: boolean, 
/**
 * May change other participants' permissions at run time.
 */
canChangeParticipantPermissions: boolean, 
/**
 * May change their own display name.
 */
canEditDisplayName: boolean, 
/**
 * May start a livestream.
 */
canLivestream: boolean, 
/**
 * May start and stop recordings.
 */
canRecord: boolean, 
/**
 * May spotlight participants.
 */
canSpotlight: boolean, 
/**
 * Chat permissions.
 */
chat: ChatPermissions, 
/**
 * Connected meetings permissions.
 */
connectedMeetings: ConnectedMeetingsPermissions, 
/**
 * May mute other participants' audio.
 */
disableParticipantAudio: boolean, 
/**
 * May stop other participants' screen share.
 */
disableParticipantScreensharing: boolean, 
/**
 * May turn off other participants' video.
 */
disableParticipantVideo: boolean, 
/**
 * The participant is not shown to others.
 */
hiddenParticipant: boolean, 
/**
 * May remove participants, and end the session for everyone (`kickAll`).
 */
kickParticipant: boolean, 
/**
 * Media production permissions.
 */
media: MediaPermissions, 
/**
 * May pin participants for everyone.
 */
pinParticipant: boolean, 
/**
 * Plugin permissions.
 */
plugins: PluginPermissions, 
/**
 * Poll permissions.
 */
polls: PollPermissions, 
/**
 * Recorder kind.
 */
recorderType: RecorderType, 
/**
 * Whether this participant receives the participant list.
 */
showParticipantList: boolean, 
/**
 * How this participant enters the meeting.
 */
waitingRoomType: WaitingRoomType, 
/**
 * May accept stage requests.
 */
acceptStageRequests: boolean, 
/**
 * Whether this participant is a recorder.
 */
isRecorder: boolean, 
/**
 * Stage access.
 */
stageAccess: ProducePermission, 
/**
 * Whether the stage is enabled.
 */
stageEnabled: boolean, 
/**
 * Whether transcription is enabled.
 */
transcriptionEnabled: boolean, };

/**
 * Partial public chat permissions.
 */
export type PublicChatPatch = { 
/**
 * May send public messages.
 */
canSend?: boolean, 
/**
 * May send text.
 */
text?: boolean, 
/**
 * May send files.
 */
files?: boolean, };

/**
 * Partial private chat permissions.
 */
export type PrivateChatPatch = { 
/**
 * May send private messages.
 */
canSend?: boolean, 
/**
 * May receive private messages.
 */
canReceive?: boolean, 
/**
 * May send text.
 */
text?: boolean, 
/**
 * May send files.
 */
files?: boolean, };

/**
 * Partial chat permissions.
 */
export type ChatPatch = { 
/**
 * Public chat changes.
 */
public?: PublicChatPatch, 
/**
 * Private chat changes.
 */
private?: PrivateChatPatch, };

/**
 * Partial connected meetings permissions.
 */
export type ConnectedMeetingsPatch = { 
/**
 * May create and change connected meetings.
 */
canAlterConnectedMeetings?: boolean, 
/**
 * May move between connected meetings.
 */
canSwitchConnectedMeetings?: boolean, 
/**
 * May go back to the parent meeting.
 */
canSwitchToParentMeeting?: boolean, };

/**
 * Partial production permission for one kind of media.
 */
export type MediaProducePatch = { 
/**
 * Whether this media may be produced.
 */
canProduce?: ProducePermission, };

/**
 * Partial media permissions.
 */
export type MediaPatch = { 
/**
 * Microphone.
 */
audio?: MediaProducePatch, 
/**
 * Camera.
 */
video?: MediaProducePatch, 
/**
 * Screen share.
 */
screenshare?: MediaProducePatch, };

/**
 * Partial plugin permissions.
 */
export type PluginsPatch = { 
/**
 * May close plugins.
 */
canClose?: boolean, 
/**
 * May start plugins.
 */
canStart?: boolean, 
/**
 * May edit plugin configuration.
 */
canEditConfig?: boolean, };

/**
 * Partial poll permissions.
 */
export type PollsPatch = { 
/**
 * May create polls.
 */
canCreate?: boolean, 
/**
 * May view polls.
 */
canView?: boolean, 
/**
 * May vote.
 */
canVote?: boolean, };

/**
 * A runtime change to a participant's permissions: RealtimeKit's `PresetUpdates` (snake_case on
 * the wire, and camelCase in the npm package, which takes snake_case too).
 * Every field is optional; absent fields are left as they are. Unknown fields are refused.
 */
export type PresetUpdates = { 
/**
 * May accept or reject waiting-room requests.
 */
acceptWaitingRequests?: boolean, 
/**
 * May accept requests to produce media.
 */
canAcceptProductionRequests?: boolean, 
/**
 * May change other participants' permissions at run time.
 */
canChangeParticipantPermissions?: boolean, 
/**
 * May change their own display name.
 */
canEditDisplayName?: boolean, 
/**
 * May start a livestream.
 */
canLivestream?: boolean, 
/**
 * May start and stop recordings.
 */
canRecord?: boolean, 
/**
 * May spotlight participants.
 */
canSpotlight?: boolean, 
/**
 * Chat permissions.
 */
chat?: ChatPatch, 
/**
 * Connected meetings permissions.
 */
connectedMeetings?: ConnectedMeetingsPatch, 
/**
 * May mute other participants' audio.
 */
disableParticipantAudio?: boolean, 
/**
 * May stop other participants' screen share.
 */
disableParticipantScreensharing?: boolean, 
/**
 * May turn off other participants' video.
 */
disableParticipantVideo?: boolean, 
/**
 * The participant is not shown to others.
 */
hiddenParticipant?: boolean, 
/**
 * May remove participants, and end the session for everyone (`kickAll`).
 */
kickParticipant?: boolean, 
/**
 * Media production permissions.
 */
media?: MediaPatch, 
/**
 * May pin participants for everyone.
 */
pinParticipant?: boolean, 
/**
 * Plugin permissions.
 */
plugins?: PluginsPatch, 
/**
 * Poll permissions.
 */
polls?: PollsPatch, 
/**
 * Recorder kind.
 */
recorderType?: RecorderType, 
/**
 * Whether this participant receives the participant list.
 */
showParticipantList?: boolean, 
/**
 * How this participant enters the meeting.
 */
waitingRoomType?: WaitingRoomType, 
/**
 * May accept stage requests.
 */
acceptStageRequests?: boolean, 
/**
 * Whether this participant is a recorder.
 */
isRecorder?: boolean, 
/**
 * Stage access.
 */
stageAccess?: ProducePermission, 
/**
 * Whether the stage is enabled.
 */
stageEnabled?: boolean, 
/**
 * Whether transcription is enabled.
 */
transcriptionEnabled?: boolean, };

/** The numeric codes of `ClientError.code`, by name: RealtimeKit's where it has one. */
export interface ErrorCodes {
  /** `0001`: the client could not initialise (the server unreachable, a refused certificate, an unexpected answer). */
  InitFailed: 1;
  /** `0002`: the join was refused (the meeting is `INACTIVE`). */
  JoinRefused: 2;
  /** `0004`: the participant token is invalid, expired or revoked (at `hello`, or at `join` when the participant was deleted since). */
  InvalidAuthToken: 4;
  /** `0012`: the connection was lost before the reply (client-side only). */
  ConnectionLost: 12;
  /** `1001`: the preset lacks `can_record`. */
  RecordingPermissionDenied: 1001;
  /** `1004`: no recording to stop. */
  RecordingNotStarted: 1004;
  /** `1005`: a recording is already running. */
  RecordingInProgress: 1005;
  /** `1200`: the server failed (its store, say); nothing was changed. */
  Internal: 1200;
  /** `1201`: the preset lacks the permission (or a patch grants one the sender lacks). */
  PermissionDenied: 1201;
  /** `1202`: no such participant (in the session, or in the waiting room). */
  ParticipantNotFound: 1202;
  /** `1203`: the action cannot be done on oneself. */
  ActionOnSelf: 1203;
  /** `1205`: not permitted without joining the room. */
  NotJoined: 1205;
  /** `4501`: the room was left (a terminal state); create a new client (client-side only). */
  RoomClosed: 4501;
  /** `4502`: no reply in time (client-side only). */
  Timeout: 4502;
  /** `4503`: already joining or joined. */
  AlreadyJoining: 4503;
  /** `4504`: an invalid argument. */
  InvalidArgument: 4504;
  /** `4400`: a malformed frame (not JSON, not a known message, or not allowed now). */
  MalformedFrame: 4400;
  /** `4413`: a frame over the size limit (the connection is also closed with `CloseCode::TooLarge`). */
  FrameTooLarge: 4413;
  /** `4429`: too fast: a command over the connection's frame rate, or a connection over the participant's connection or peer cap (then closed with `CloseCode::TryAgainLater`). */
  TooFast: 4429;
}

/** A numeric error code (`err.code`): one of {@link ErrorCodes}. */
export type ErrorCode = ErrorCodes[keyof ErrorCodes];
