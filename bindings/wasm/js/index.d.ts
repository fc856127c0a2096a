// Types of the convene-client npm package: RealtimeKit's API for the participant lifecycle.
//
// The payloads, states, permissions and error codes are generated from the Rust types, with their
// documentation, into generated.d.ts (`cargo test -p convene-core --features typescript`, which
// fails when that file differs from what the Rust types give). This file is the JavaScript API
// around them.

import type {
  Actor,
  KickedPayload,
  PresetPermissions,
  PresetUpdates,
  ProducePermission,
  RecorderType,
  RecordingState,
  RoomJoinedPayload,
  RoomLeftPayload,
  RoomState,
  SessionEnd,
  SocketState,
  WaitingRoomType,
  WaitlistOutcome,
  WaitlistStatus,
} from './generated.js';

export * from './generated.js';

/** The room states a stay can end in (or be interrupted in: `disconnected`), as `roomLeft` gives them. */
export type LeaveRoomState = RoomLeftPayload['state'];

/** An error of a meeting operation (every promise of the API rejects with one). */
export class ClientError extends Error {
  /**
   * Numeric code, one of {@link ErrorCode} (e.g. `1201`, permission denied; `1205`, not joined),
   * or `0` for a failure outside the client. `err.code === 1201` works as RealtimeKit's
   * documentation writes it.
   */
  readonly code: number;
  /** The same code as RealtimeKit 2.0.2 sets it: a four-digit string, e.g. `'1201'`. */
  readonly codeString: string;
}

/** A listener of an emitter's events. */
export type Listener = (...args: any[]) => void;

/** RealtimeKit's emitters: `on`, `off`, `once`, and `*` for every event (its name first). */
export class Emitter {
  /** Calls `listener` at each `event` (`'*'`: at every event, with its name first). */
  on(event: string, listener: Listener): this;
  /** Stops calling `listener` at `event`. */
  off(event: string, listener: Listener): this;
  /** Calls `listener` at the next `event` only. */
  once(event: string, listener: Listener): this;
}

/** `meeting.self.permissions`: the permissions of the preset in force, live. */
export class PermissionsPreset extends Emitter {
  /** May remove participants, and end the session for everyone (`kickAll`). */
  readonly kickParticipant: boolean;
  /** May pin participants for everyone. */
  readonly pinParticipant: boolean;
  /** May accept or reject waiting-room requests. */
  readonly acceptWaitingRequests: boolean;
  /** May accept requests to produce media. */
  readonly canAcceptProductionRequests: boolean;
  /** May change other participants' permissions at run time. */
  readonly canChangeParticipantPermissions: boolean;
  /** May change their own display name (`meeting.self.setName`, before joining). */
  readonly canEditDisplayName: boolean;
  /** May start and stop recordings. */
  readonly canRecord: boolean;
  /** May start a livestream. */
  readonly canLivestream: boolean;
  /** May spotlight participants. */
  readonly canSpotlight: boolean;
  /** May mute other participants' audio. */
  readonly canDisableParticipantAudio: boolean;
  /** May turn off other participants' video. */
  readonly canDisableParticipantVideo: boolean;
  /** May stop other participants' screen share. */
  readonly canDisableParticipantScreensharing: boolean;
  /** The participant is not shown to others. */
  readonly hiddenParticipant: boolean;
  /** Whether this participant receives the participant list. */
  readonly showParticipantList: boolean;
  /** How this participant enters the meeting. */
  readonly waitingRoomBehaviour: WaitingRoomType;
  /** Whether the microphone may be used. */
  readonly canProduceAudio: ProducePermission;
  /** Whether the camera may be used. */
  readonly canProduceVideo: ProducePermission;
  /** Whether the screen may be shared. */
  readonly canProduceScreenshare: ProducePermission;
  /** Whether the stage is enabled. */
  readonly stageEnabled: boolean;
  /** Stage access. */
  readonly stageAccess: ProducePermission;
  /** May accept stage requests. */
  readonly acceptStageRequests: boolean;
  /** Whether this participant is a recorder. */
  readonly isRecorder: boolean;
  /** Recorder kind. */
  readonly recorderType: RecorderType;
  /** Whether transcription is enabled. */
  readonly transcriptionEnabled: boolean;
  /** Poll permissions. */
  readonly polls: PresetPermissions['polls'];
  /** Plugin permissions. */
  readonly plugins: PresetPermissions['plugins'];
  /** Public chat permissions. */
  readonly chatPublic: PresetPermissions['chat']['public'];
  /** Private chat permissions. */
  readonly chatPrivate: PresetPermissions['chat']['private'];
  /** Connected meetings (breakout rooms) permissions. */
  readonly connectedMeetings: PresetPermissions['connectedMeetings'];
  /** For a patch that touches chat, polls or plugins, that section's event (before `permissionsUpdate`). */
  on(event: 'chatUpdate' | 'pollsUpdate' | 'pluginsUpdate', listener: () => void): this;
  /** A host changed these permissions: what changed, and who changed it. */
  on(event: 'permissionsUpdate', listener: (patch: PresetUpdates, changedBy: Actor) => void): this;
  /** Any other event, and `'*'` for every event (its name first). */
  on(event: string, listener: Listener): this;
  /** The whole preset, camelCase. */
  toJSON(): PresetPermissions;
}

/** `meeting.self`: the local participant. */
export class Self extends Emitter {
  /** Where the participant is: `init` until `join()`, then `joined`, `waitlisted`, or how it left. */
  readonly roomState: RoomState;
  /** Whether `roomState` is `joined`. */
  readonly roomJoined: boolean;
  /** Where the participant's waiting-room request is. */
  readonly waitlistStatus: WaitlistStatus;
  /** Its peer id in the session, once it has one (after the first connection). */
  readonly id: string | undefined;
  /** The same as `id`. */
  readonly peerId: string | undefined;
  /** Its participant id (the REST API's `id`). */
  readonly userId: string;
  /** Its display name. */
  readonly name: string;
  /** Its picture URL, if it has one. */
  readonly picture: string | undefined;
  /** The app's own id for the participant (`custom_participant_id`). */
  readonly customParticipantId: string;
  /** The name of its preset. */
  readonly presetName: string;
  /** The permissions of its preset, live. */
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
  /** Whether a host (or this participant) pinned it for everyone. */
  readonly isPinned: boolean;
  /**
   * Pins this participant for everyone (needs `pinParticipant`, else `1201`; `1205` before
   * joining). Resolves once the server has pinned it; everyone then sees `pinned`.
   *
   * @example
   * await meeting.self.pin();
   * meeting.self.on('unpinned', () => console.log('no longer pinned'));
   */
  pin(): Promise<void>;
  /** Unpins this participant for everyone (needs `pinParticipant`). */
  unpin(): Promise<void>;
  /** This participant was pinned for everyone. */
  on(event: 'pinned' | 'unpinned', listener: (self: Self) => void): this;
  /** In the meeting: at the join, and again after a dropped connection came back (`reconnected`). */
  on(event: 'roomJoined', listener: (payload: RoomJoinedPayload) => void): this;
  /** The stay ended (or was interrupted: `disconnected`), with who and why. */
  on(event: 'roomLeft', listener: (payload: RoomLeftPayload) => void): this;
  /** The participant was placed in the waiting room. */
  on(event: 'waitlisted', listener: () => void): this;
  /** Any other event, and `'*'` for every event (its name first). */
  on(event: string, listener: Listener): this;
}

/**
 * A remote participant: the same object for as long as it is in the meeting, with events of its
 * own.
 */
export class Participant extends Emitter {
  /** Its peer id in the session. */
  readonly id: string;
  /** The same as `id`. */
  readonly peerId: string;
  /** Its participant id (the REST API's `id`). */
  readonly userId: string;
  /** Its display name. */
  readonly name: string;
  /** Its picture URL, if it has one. */
  readonly picture?: string;
  /** The app's own id for the participant (`custom_participant_id`). */
  readonly customParticipantId: string;
  /** The name of its preset. */
  readonly presetName: string;
  /** Whether it is pinned for everyone. */
  readonly isPinned: boolean;
  /** Removes this participant from the session (needs `kickParticipant`, else `1201`). */
  kick(): Promise<void>;
  /**
   * Pins this participant for everyone (needs `pinParticipant`, else `1201`); resolves once the
   * server has pinned it.
   *
   * @example
   * const p = meeting.participants.joined.toArray()[0];
   * p.on('pinned', () => console.log(`${p.name} is pinned`));
   * await p.pin();
   */
  pin(): Promise<void>;
  /** Unpins this participant for everyone (needs `pinParticipant`). */
  unpin(): Promise<void>;
  /** It was pinned or unpinned for everyone. */
  on(event: 'pinned' | 'unpinned', listener: (participant: Participant) => void): this;
  /** It was removed from the session. */
  on(event: 'kicked', listener: () => void): this;
  /** Any other event, and `'*'` for every event (its name first). */
  on(event: string, listener: Listener): this;
}

/**
 * `participants.joined`, `participants.waitlisted` and `participants.pinned`: Map-like, keyed by
 * peer id, with events (`pinned` gains a participant on its pin and loses it on its unpin or
 * its leave).
 */
export class ParticipantMap extends Emitter implements Iterable<[string, Participant]> {
  /** How many participants it holds. */
  readonly size: number;
  /** The participant with this peer id (or participant id), if it is here. */
  get(id: string): Participant | undefined;
  /** Whether the participant with this peer id (or participant id) is here. */
  has(id: string): boolean;
  /** The participants, in a new array. */
  toArray(): Participant[];
  /** The peer ids. */
  keys(): IterableIterator<string>;
  /** The participants. */
  values(): IterableIterator<Participant>;
  /** `[peer id, participant]` pairs. */
  entries(): IterableIterator<[string, Participant]>;
  /** Calls `fn` for each participant. */
  forEach(fn: (participant: Participant, id: string, map: ParticipantMap) => void): void;
  /** `[peer id, participant]` pairs, as a Map's. */
  [Symbol.iterator](): IterableIterator<[string, Participant]>;
  /** Someone arrived (`joined`: in the session; `waitlisted`: in the waiting room). */
  on(event: 'participantJoined', listener: (participant: Participant) => void): this;
  /**
   * Someone went, for any reason; on `waitlisted`, with how the wait ended (admitted, refused,
   * or gave up).
   */
  on(event: 'participantLeft', listener: (participant: Participant, outcome?: WaitlistOutcome) => void): this;
  /** Someone was removed from the session (a `participantLeft` follows). */
  on(event: 'kicked', listener: (payload: KickedPayload) => void): this;
  /** On `joined`: a participant was pinned or unpinned for everyone. */
  on(event: 'pinned' | 'unpinned', listener: (participant: Participant) => void): this;
  /** Any other event, and `'*'` for every event (its name first). */
  on(event: string, listener: Listener): this;
}

/** `meeting.participants`. */
export class Participants extends Emitter {
  /** Who is in the session, but the local participant. */
  readonly joined: ParticipantMap;
  /** Who is in the waiting room. */
  readonly waitlisted: ParticipantMap;
  /** Who in the session is pinned for everyone. */
  readonly pinned: ParticipantMap;
  /** How many remote participants are in the session. */
  readonly count: number;
  /**
   * Ends the session for everyone (needs `kickParticipant`, else `1201`); resolves once the server
   * has ended it, when every client sees `roomLeft` with state `ended`.
   */
  kickAll(): Promise<void>;
  /** Admits one waiting participant (needs `acceptWaitingRequests`). */
  acceptWaitingRoomRequest(id: string): Promise<void>;
  /** Admits these waiting participants, or everyone waiting (needs `acceptWaitingRequests`). */
  acceptAllWaitingRoomRequest(userIds?: string[]): Promise<void>;
  /** Refuses one waiting participant (needs `acceptWaitingRequests`). */
  rejectWaitingRoomRequest(id: string): Promise<void>;
  /**
   * Changes these participants' permissions at run time (needs `canChangeParticipantPermissions`;
   * a patch may grant only what the sender holds). `permissions` is RealtimeKit's camelCase
   * `PresetUpdates` (snake_case is accepted too).
   */
  updatePermissions(participantIds: string[], permissions: PresetUpdates): Promise<void>;
  /** Removes a participant (deprecated in RealtimeKit: use `participant.kick()`). */
  kick(participantId: string): Promise<void>;
}

/** `meeting.meta`: the meeting and the connection. */
export class Meta extends Emitter {
  /** The meeting's id. */
  readonly meetingId: string;
  /** The meeting's title. */
  readonly meetingTitle: string;
  /** The live session's id, once joined. */
  readonly sessionId: string | undefined;
  /** When the live session started, once joined. */
  readonly meetingStartedTimestamp: Date | undefined;
  /** The signalling connection's state. */
  readonly socketState: SocketState;
  /** The signalling connection changed. */
  on(event: 'socketConnectionUpdate', listener: (state: SocketState) => void): this;
  /** Any other event, and `'*'` for every event (its name first). */
  on(event: string, listener: Listener): this;
}

/** A recording of the session, as `meeting.recording.recordings` lists it. */
export interface RecordingInfo {
  /** The recording's id. */
  id: string;
  /** Where it is. */
  state: RecordingState;
  /** Always `COMPOSITE` here (the session's signalling timeline). */
  type: 'COMPOSITE';
}

/** `meeting.recording`. */
export class Recording extends Emitter {
  /** The state of the session's recording. */
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
  /** The recording's state changed. */
  on(event: 'recordingUpdate', listener: (state: RecordingState) => void): this;
  /** Any other event, and `'*'` for every event (its name first). */
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
  /** Reconnection after a dropped connection. */
  reconnect?: ReconnectOptions;
  /** How long a command may wait for the server's reply, in ms (default 10000). */
  request_timeout_ms?: number;
  /** Seed of the reconnect jitter (default: derived from the token). */
  seed?: number;
}

/** What `ConveneClient.init` takes. */
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

/** A meeting client with RealtimeKit's API for the participant lifecycle. */
export default class ConveneClient extends Emitter {
  /**
   * Fetches who the participant is, its preset and the meeting, and resolves with a client in
   * room state `init` (rejects with code `4` for a bad token, `1` when the server cannot be
   * reached).
   *
   * @example
   * const meeting = await ConveneClient.init({ authToken, baseURI: 'http://127.0.0.1:8790' });
   * await meeting.join();
   */
  static init(options: InitOptions): Promise<ConveneClient>;
  /** The local participant. */
  readonly self: Self;
  /** The others, and the host controls. */
  readonly participants: Participants;
  /** The meeting and the connection. */
  readonly meta: Meta;
  /** The session's recording. */
  readonly recording: Recording;
  /** Joins (or enters the waiting room); resolves once the server has answered. */
  join(): Promise<void>;
  /** Leaves: only this participant goes. */
  leave(): Promise<void>;
  /** Deprecated alias of `join()`. */
  joinRoom(): Promise<void>;
  /** Deprecated alias of `leave()`. */
  leaveRoom(): Promise<void>;
  /** Fault injection for tests: drops the connection and holds reconnection while `true`. Only
   * in builds with the `fault-injection` feature (`scripts/build-wasm.sh --fault-injection`);
   * other builds throw. */
  simulateOutage(down: boolean): void;
  /** The session ended for everyone: its id, why, and who ended it. */
  on(event: 'sessionEnded', listener: (payload: SessionEnd) => void): this;
  /** Every event the client routes, as `{ event, ...payload }`. */
  on(event: 'event', listener: (payload: { event: string } & Record<string, unknown>) => void): this;
  /** Any other event, and `'*'` for every event (its name first). */
  on(event: string, listener: Listener): this;
}
