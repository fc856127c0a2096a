// Types of the convene-client npm package: RealtimeKit's API for the participant lifecycle.

export type RoomState = 'init' | 'joined' | 'waitlisted' | LeaveRoomState;
export type LeaveRoomState = 'left' | 'kicked' | 'ended' | 'rejected' | 'disconnected' | 'failed';
export type WaitlistStatus = 'none' | 'waiting' | 'accepted' | 'rejected';
export type RecordingState = 'IDLE' | 'STARTING' | 'RECORDING' | 'PAUSED' | 'STOPPING';
export type ProducePermission = 'ALLOWED' | 'NOT_ALLOWED' | 'CAN_REQUEST';
export type WaitingRoomType = 'SKIP' | 'ON_PRIVILEGED_USER_ENTRY' | 'SKIP_ON_ACCEPT';
export type EndReason = 'HOST_ENDED_MEETING' | 'ALL_PARTICIPANTS_LEFT';

/** Who did something: a participant (by peer id), the REST API, or the server itself. */
export type Actor = { kind: 'peer'; peerId: string } | { kind: 'api' } | { kind: 'system' };

/** The payload of `roomLeft`: RealtimeKit's `state`, plus who and why. */
export type RoomLeftPayload =
  | { state: 'left' }
  | { state: 'kicked'; kickedBy: Actor }
  | { state: 'ended'; sessionId: string; reason: EndReason; endedBy: Actor }
  | { state: 'rejected'; rejectedBy: Actor }
  | { state: 'disconnected' }
  | { state: 'failed'; attempts: number };

export interface SocketState {
  state: 'connected' | 'disconnected' | 'reconnecting' | 'failed';
  reconnected: boolean;
  reconnectionAttempt: number;
}

/** An error of a meeting operation. */
export class ClientError extends Error {
  /** Numeric code, e.g. 1201 (permission denied), 1205 (not joined). */
  readonly code: number;
  /** The four-digit string RealtimeKit 2.0.2 sets, e.g. '1201'. */
  readonly codeString: string;
}

export type Listener = (...args: any[]) => void;

export class Emitter {
  on(event: string, listener: Listener): this;
  off(event: string, listener: Listener): this;
  once(event: string, listener: Listener): this;
}

/** RealtimeKit's camelCase `PresetUpdates` (all optional). */
export interface PresetUpdates {
  acceptWaitingRequests?: boolean;
  canAcceptProductionRequests?: boolean;
  canChangeParticipantPermissions?: boolean;
  canEditDisplayName?: boolean;
  canLivestream?: boolean;
  canRecord?: boolean;
  canSpotlight?: boolean;
  disableParticipantAudio?: boolean;
  disableParticipantScreensharing?: boolean;
  disableParticipantVideo?: boolean;
  hiddenParticipant?: boolean;
  kickParticipant?: boolean;
  pinParticipant?: boolean;
  showParticipantList?: boolean;
  waitingRoomType?: WaitingRoomType;
  isRecorder?: boolean;
  recorderType?: 'RECORDER' | 'LIVESTREAMER' | 'NONE';
  stageAccess?: ProducePermission;
  stageEnabled?: boolean;
  acceptStageRequests?: boolean;
  transcriptionEnabled?: boolean;
  polls?: { canCreate?: boolean; canView?: boolean; canVote?: boolean };
  plugins?: { canClose?: boolean; canStart?: boolean; canEditConfig?: boolean };
  chat?: {
    public?: { canSend?: boolean; text?: boolean; files?: boolean };
    private?: { canSend?: boolean; canReceive?: boolean; text?: boolean; files?: boolean };
  };
  connectedMeetings?: {
    canAlterConnectedMeetings?: boolean;
    canSwitchConnectedMeetings?: boolean;
    canSwitchToParentMeeting?: boolean;
  };
  media?: {
    audio?: { canProduce?: ProducePermission };
    video?: { canProduce?: ProducePermission };
    screenshare?: { canProduce?: ProducePermission };
  };
}

export class PermissionsPreset extends Emitter {
  readonly kickParticipant: boolean;
  readonly pinParticipant: boolean;
  readonly acceptWaitingRequests: boolean;
  readonly canAcceptProductionRequests: boolean;
  readonly canChangeParticipantPermissions: boolean;
  readonly canEditDisplayName: boolean;
  readonly canRecord: boolean;
  readonly canLivestream: boolean;
  readonly canSpotlight: boolean;
  readonly canDisableParticipantAudio: boolean;
  readonly canDisableParticipantVideo: boolean;
  readonly canDisableParticipantScreensharing: boolean;
  readonly hiddenParticipant: boolean;
  readonly showParticipantList: boolean;
  readonly waitingRoomBehaviour: WaitingRoomType;
  readonly canProduceAudio: ProducePermission;
  readonly canProduceVideo: ProducePermission;
  readonly canProduceScreenshare: ProducePermission;
  readonly stageEnabled: boolean;
  readonly stageAccess: ProducePermission;
  readonly acceptStageRequests: boolean;
  readonly isRecorder: boolean;
  readonly recorderType: 'RECORDER' | 'LIVESTREAMER' | 'NONE';
  readonly transcriptionEnabled: boolean;
  readonly polls: { canCreate: boolean; canView: boolean; canVote: boolean };
  readonly plugins: { canClose: boolean; canEditConfig: boolean; canStart: boolean; config: Record<string, unknown> };
  readonly chatPublic: { canSend: boolean; text: boolean; files: boolean };
  readonly chatPrivate: { canSend: boolean; canReceive: boolean; text: boolean; files: boolean };
  readonly connectedMeetings: {
    canAlterConnectedMeetings: boolean;
    canSwitchConnectedMeetings: boolean;
    canSwitchToParentMeeting: boolean;
  };
  /** For a patch that touches chat, polls or plugins, that section's event (before `permissionsUpdate`). */
  on(event: 'chatUpdate' | 'pollsUpdate' | 'pluginsUpdate', listener: () => void): this;
  on(event: 'permissionsUpdate', listener: (patch: PresetUpdates, changedBy: Actor) => void): this;
  on(event: string, listener: Listener): this;
  toJSON(): Record<string, unknown>;
}

export class Self extends Emitter {
  readonly roomState: RoomState;
  readonly roomJoined: boolean;
  readonly waitlistStatus: WaitlistStatus;
  readonly id: string | undefined;
  readonly peerId: string | undefined;
  readonly userId: string;
  readonly name: string;
  readonly picture: string | undefined;
  readonly customParticipantId: string;
  readonly presetName: string;
  readonly permissions: PermissionsPreset;
  /**
   * Sets the display name to join with, which everyone then sees (on `meeting.self.name` at once,
   * and on this participant for the others once joined). Only before `join()`, as RealtimeKit's
   * (whose later changes reach no one); needs `canEditDisplayName`; 1 to 200 characters once
   * trimmed, no control characters. Rejects with `ClientError` `4501` once the client has left,
   * `4504` after `join()` or for a name out of bounds, `1201` without the permission, and
   * changes nothing then.
   *
   * @example
   * await meeting.self.setName('New Name');
   * await meeting.join();
   */
  setName(name: string): Promise<void>;
  on(event: 'roomJoined', listener: (payload: { reconnected: boolean }) => void): this;
  on(event: 'roomLeft', listener: (payload: RoomLeftPayload) => void): this;
  on(event: 'waitlisted', listener: () => void): this;
  on(event: string, listener: Listener): this;
}

export class Participant {
  readonly id: string;
  readonly peerId: string;
  readonly userId: string;
  readonly name: string;
  readonly picture?: string;
  readonly customParticipantId: string;
  readonly presetName: string;
  kick(): Promise<void>;
}

export class ParticipantMap extends Emitter implements Iterable<[string, Participant]> {
  readonly size: number;
  get(id: string): Participant | undefined;
  has(id: string): boolean;
  toArray(): Participant[];
  keys(): IterableIterator<string>;
  values(): IterableIterator<Participant>;
  entries(): IterableIterator<[string, Participant]>;
  forEach(fn: (participant: Participant, id: string, map: ParticipantMap) => void): void;
  [Symbol.iterator](): IterableIterator<[string, Participant]>;
  on(event: 'participantJoined' | 'participantLeft', listener: (participant: Participant) => void): this;
  on(event: 'kicked', listener: (payload: { id: string; kickedBy: Actor }) => void): this;
  on(event: string, listener: Listener): this;
}

export class Participants extends Emitter {
  readonly joined: ParticipantMap;
  readonly waitlisted: ParticipantMap;
  readonly count: number;
  kickAll(): Promise<void>;
  acceptWaitingRoomRequest(id: string): Promise<void>;
  acceptAllWaitingRoomRequest(userIds?: string[]): Promise<void>;
  rejectWaitingRoomRequest(id: string): Promise<void>;
  updatePermissions(participantIds: string[], permissions: PresetUpdates): Promise<void>;
  kick(participantId: string): Promise<void>;
}

export class Meta extends Emitter {
  readonly meetingId: string;
  readonly meetingTitle: string;
  readonly sessionId: string | undefined;
  readonly meetingStartedTimestamp: Date | undefined;
  readonly socketState: SocketState;
  on(event: 'socketConnectionUpdate', listener: (state: SocketState) => void): this;
  on(event: string, listener: Listener): this;
}

/** A recording of the session, as `meeting.recording.recordings` lists it. */
export interface RecordingInfo {
  id: string;
  state: RecordingState;
  /** Always `COMPOSITE` here (the session's signalling timeline). */
  type: 'COMPOSITE';
}

export class Recording extends Emitter {
  readonly recordingState: RecordingState;
  /** The recordings in progress (one at most: one runs at a time here). */
  readonly recordings: RecordingInfo[];
  /**
   * Starts recording (needs `canRecord`, else `1001`; `1005` while one is in progress).
   * `allowMultiple` is accepted, but one recording runs at a time here, so a second start still
   * rejects with `1005`.
   *
   * @example
   * await meeting.recording.start({ allowMultiple: true });
   */
  start(options?: { allowMultiple?: boolean }): Promise<void>;
  /** Stops the recording in progress, or only `recordingId` (`1004` when it is not in progress). */
  stop(recordingId?: string): Promise<void>;
  /** Pauses the recording that is recording, or only `recordingId` (`1004` otherwise). */
  pause(recordingId?: string): Promise<void>;
  /** Resumes the paused recording, or only `recordingId` (`1004` otherwise). */
  resume(recordingId?: string): Promise<void>;
  on(event: 'recordingUpdate', listener: (state: RecordingState) => void): this;
  on(event: string, listener: Listener): this;
}

/** Reconnection after a dropped connection, in whole milliseconds; a missing key keeps its default. */
export interface ReconnectOptions {
  /** Delay before the first attempt (default 250). */
  initial_delay_ms?: number;
  /** Upper bound of the delay (default 5000). */
  max_delay_ms?: number;
  /** Attempts before giving up with roomLeft 'failed' (default 8). */
  max_attempts?: number;
  /** How long one attempt may take to connect and complete the handshake (default 10000). */
  attempt_timeout_ms?: number;
}

/** Timings, in whole milliseconds; a missing key keeps its default. */
export interface ClientOptions {
  reconnect?: ReconnectOptions;
  /** How long a command may wait for the server's reply, in ms (default 10000). */
  request_timeout_ms?: number;
  /** Seed of the reconnect jitter (default: derived from the token). */
  seed?: number;
}

export interface InitOptions {
  /** The participant's auth token. */
  authToken: string;
  /** The Convene server, e.g. 'http://127.0.0.1:8790' (default: the page's origin); a path
   * prefix is kept. Another scheme than http:// or https:// makes `init` reject with code 1. */
  baseURI?: string;
  /** Where to load the .wasm from (a URL, a Response, or bytes); default: next to this module
   * (fetched in a browser, read from the package's file in Node). */
  wasm?: unknown;
  /** Timings, snake_case: { reconnect: {...}, request_timeout_ms, seed }. A field that is not a
   * whole non-negative number makes `init` reject with code 1, naming the field
   * (e.g. `options.reconnect.max_attempts: expected a non-negative integer in range`). */
  options?: ClientOptions;
}

export default class ConveneClient extends Emitter {
  static init(options: InitOptions): Promise<ConveneClient>;
  readonly self: Self;
  readonly participants: Participants;
  readonly meta: Meta;
  readonly recording: Recording;
  join(): Promise<void>;
  leave(): Promise<void>;
  joinRoom(): Promise<void>;
  leaveRoom(): Promise<void>;
  /** Fault injection for tests: drops the connection and holds reconnection while `true`. Only
   * in builds with the `fault-injection` feature (`scripts/build-wasm.sh --fault-injection`);
   * other builds throw. */
  simulateOutage(down: boolean): void;
  on(event: 'sessionEnded', listener: (payload: { sessionId: string; reason: EndReason; endedBy: Actor }) => void): this;
  on(event: string, listener: Listener): this;
}
