// convene: RealtimeKit's meeting API for the participant lifecycle, on the Convene core (WebAssembly).
// The state lives in the core; everything here is a view on it or routes its events.

import initWasm, { CoreClient, participantMeUrl } from './convene_wasm.js';

/** An error of a meeting operation, with RealtimeKit's numeric `code` (e.g. 1201, 1205). */
export class ClientError extends Error {
  constructor(code, message) {
    super(message);
    this.name = 'ClientError';
    /** Numeric code: `err.code === 1201` works as RealtimeKit's documentation writes it. */
    this.code = code;
    /** The same code as RealtimeKit 2.0.2 sets it: a four-digit string, e.g. `'1201'`. */
    this.codeString = String(code).padStart(4, '0');
  }
}

function toClientError(e) {
  if (e instanceof ClientError) return e;
  if (e && typeof e.code === 'number') return new ClientError(e.code, e.message);
  return new ClientError(0, String(e && e.message ? e.message : e));
}

async function call(promise) {
  try {
    return await promise;
  } catch (e) {
    throw toClientError(e);
  }
}

/** `on`, `off`, `once` and the `*` wildcard, as RealtimeKit's emitters. */
export class Emitter {
  #listeners = new Map();
  on(event, listener) {
    if (!this.#listeners.has(event)) this.#listeners.set(event, new Set());
    this.#listeners.get(event).add(listener);
    return this;
  }
  off(event, listener) {
    this.#listeners.get(event)?.delete(listener);
    return this;
  }
  once(event, listener) {
    const wrapped = (...args) => {
      this.off(event, wrapped);
      listener(...args);
    };
    return this.on(event, wrapped);
  }
  emit(event, ...args) {
    for (const l of [...(this.#listeners.get(event) ?? [])]) safely(l, args);
    for (const l of [...(this.#listeners.get('*') ?? [])]) safely(l, [event, ...args]);
  }
}

function safely(listener, args) {
  try {
    listener(...args);
  } catch (e) {
    console.error('convene: a listener threw', e);
  }
}

const snakeKey = (k) => k.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
const camelKey = (k) => k.replace(/_([a-z])/g, (_, c) => c.toUpperCase());
function rekey(value, f) {
  if (Array.isArray(value)) return value.map((v) => rekey(v, f));
  if (value && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [f(k), rekey(v, f)]));
  }
  return value;
}

/** The plugin permissions, camelCase but for the plugin ids that key their configs. */
function plugins(p) {
  const config = Object.fromEntries(Object.entries(p.config ?? {}).map(([id, c]) => [id, rekey(c, camelKey)]));
  return { ...rekey({ ...p, config: {} }, camelKey), config };
}

/** `meeting.self.permissions`: getters over the preset in force, and `permissionsUpdate`. */
export class PermissionsPreset extends Emitter {
  #core;
  constructor(core) {
    super();
    this.#core = core;
  }
  get #p() {
    return this.#core.selfInfo().permissions;
  }
  get kickParticipant() { return this.#p.kick_participant; }
  get pinParticipant() { return this.#p.pin_participant; }
  get acceptWaitingRequests() { return this.#p.accept_waiting_requests; }
  get canAcceptProductionRequests() { return this.#p.can_accept_production_requests; }
  get canChangeParticipantPermissions() { return this.#p.can_change_participant_permissions; }
  get canEditDisplayName() { return this.#p.can_edit_display_name; }
  get canRecord() { return this.#p.can_record; }
  get canLivestream() { return this.#p.can_livestream; }
  get canSpotlight() { return this.#p.can_spotlight; }
  get canDisableParticipantAudio() { return this.#p.disable_participant_audio; }
  get canDisableParticipantVideo() { return this.#p.disable_participant_video; }
  get canDisableParticipantScreensharing() { return this.#p.disable_participant_screensharing; }
  get hiddenParticipant() { return this.#p.hidden_participant; }
  get showParticipantList() { return this.#p.show_participant_list; }
  get waitingRoomBehaviour() { return this.#p.waiting_room_type; }
  get canProduceAudio() { return this.#p.media.audio.can_produce; }
  get canProduceVideo() { return this.#p.media.video.can_produce; }
  get canProduceScreenshare() { return this.#p.media.screenshare.can_produce; }
  get stageEnabled() { return this.#p.stage_enabled; }
  get stageAccess() { return this.#p.stage_access; }
  get acceptStageRequests() { return this.#p.accept_stage_requests; }
  get isRecorder() { return this.#p.is_recorder; }
  get recorderType() { return this.#p.recorder_type; }
  get transcriptionEnabled() { return this.#p.transcription_enabled; }
  get polls() { return rekey(this.#p.polls, camelKey); }
  get plugins() { return plugins(this.#p.plugins); }
  get chatPublic() { return rekey(this.#p.chat.public, camelKey); }
  get chatPrivate() { return rekey(this.#p.chat.private, camelKey); }
  get connectedMeetings() { return rekey(this.#p.connected_meetings, camelKey); }
  /** The whole preset, camelCase. */
  toJSON() { return { ...rekey(this.#p, camelKey), plugins: plugins(this.#p.plugins) }; }
}

/** A live patch of `meeting.self.permissions`: `chatUpdate`, `pollsUpdate`, `pluginsUpdate` for the
 * sections it touches, then `permissionsUpdate` with the patch. */
function permissionsPatched(permissions, patch, changedBy) {
  for (const section of ['chat', 'polls', 'plugins']) if (patch?.[section]) permissions.emit(`${section}Update`);
  permissions.emit('permissionsUpdate', patch, changedBy);
}

/** `meeting.self`. */
export class Self extends Emitter {
  #core;
  constructor(core) {
    super();
    this.#core = core;
    /** The preset's permissions. */
    this.permissions = new PermissionsPreset(core);
  }
  get roomState() { return this.#core.roomState(); }
  get roomJoined() { return this.#core.roomState() === 'joined'; }
  get waitlistStatus() { return this.#core.waitlistStatus(); }
  get id() { return this.#core.peerId() ?? undefined; }
  get peerId() { return this.id; }
  get userId() { return this.#core.selfInfo().user_id; }
  get name() { return this.#core.selfInfo().name; }
  get picture() { return this.#core.selfInfo().picture ?? undefined; }
  get customParticipantId() { return this.#core.selfInfo().custom_participant_id; }
  get presetName() { return this.#core.selfInfo().preset_name; }
  /** The name to join with, which everyone then sees: before `join()` only, and with
   * `canEditDisplayName`. */
  async setName(name) { await call(Promise.resolve().then(() => this.#core.setName(name))); }
  /** Whether a host pinned this participant for everyone. */
  get isPinned() { return this.#core.isPinned(); }
  /** Pins this participant for everyone (needs `pinParticipant`). */
  pin() { return call(this.#core.pin(this.id ?? '', true)); }
  /** Unpins this participant for everyone (needs `pinParticipant`). */
  unpin() { return call(this.#core.pin(this.id ?? '', false)); }
}

/** A remote participant: one object per peer for as long as it is in the meeting, an emitter of
 * its own events (`pinned`, `unpinned`, `kicked`). */
export class Participant extends Emitter {
  #core;
  constructor(core, record) {
    super();
    this.#core = core;
    this.update(record);
  }
  /** Takes the fields of the core's record (camelCase: `id`, `userId`, `name`, `picture`,
   * `customParticipantId`, `presetName`), `peerId` (the `id`) and `isPinned`. */
  update({ pinned, ...record }) {
    return Object.assign(this, record, { peerId: record.id, isPinned: !!pinned });
  }
  /** Removes this participant (needs `kickParticipant`). */
  kick() { return call(this.#core.kick(this.id)); }
  /** Pins this participant for everyone (needs `pinParticipant`). */
  pin() { return call(this.#core.pin(this.id, true)); }
  /** Unpins this participant for everyone (needs `pinParticipant`). */
  unpin() { return call(this.#core.pin(this.id, false)); }
}

/** The participant objects of one client, by peer id: the same object for the same peer. */
class Registry extends Map {
  #core;
  constructor(core) {
    super();
    this.#core = core;
  }
  of(record) {
    const known = this.get(record.id);
    return known ? known.update(record) : this.set(record.id, new Participant(this.#core, record)).get(record.id);
  }
  /** The object of a joined peer, with its record as the core has it now. */
  joined(id) {
    const record = this.#core.joined().find((r) => r.id === id);
    return record && this.of(record);
  }
}

/** `participants.joined` / `participants.waitlisted`: Map-like, keyed by peer id, with events. */
export class ParticipantMap extends Emitter {
  #core;
  #list;
  #registry;
  constructor(core, list, registry) {
    super();
    this.#core = core;
    this.#list = list;
    this.#registry = registry;
  }
  #records() { return this.#list(this.#core).map((r) => this.#registry.of(r)); }
  get size() { return this.#list(this.#core).length; }
  get(id) { return this.#records().find((p) => p.id === id || p.userId === id); }
  has(id) { return this.get(id) !== undefined; }
  toArray() { return this.#records(); }
  keys() { return this.#records().map((p) => p.id)[Symbol.iterator](); }
  values() { return this.#records()[Symbol.iterator](); }
  entries() { return this.#records().map((p) => [p.id, p])[Symbol.iterator](); }
  forEach(fn) { for (const p of this.#records()) fn(p, p.id, this); }
  [Symbol.iterator]() { return this.entries(); }
}

/** `meeting.participants`. */
export class Participants extends Emitter {
  #core;
  constructor(core, registry = new Registry(core)) {
    super();
    this.#core = core;
    this.joined = new ParticipantMap(core, (c) => c.joined(), registry);
    this.waitlisted = new ParticipantMap(core, (c) => c.waitlisted(), registry);
    /** The joined participants pinned for everyone. */
    this.pinned = new ParticipantMap(core, (c) => c.joined().filter((r) => r.pinned), registry);
  }
  /** Number of remote participants in the meeting. */
  get count() { return this.joined.size; }
  /** Ends the session for everyone; resolves once the server has ended it. */
  async kickAll() { await call(this.#core.kickAll()); }
  acceptWaitingRoomRequest(id) { return call(this.#core.acceptWaiting(JSON.stringify([id]))); }
  acceptAllWaitingRoomRequest(ids) {
    return call(ids === undefined ? this.#core.acceptEveryoneWaiting() : this.#core.acceptWaiting(JSON.stringify(ids)));
  }
  rejectWaitingRoomRequest(id) { return call(this.#core.rejectWaiting(id)); }
  /** `patch` takes RealtimeKit's camelCase `PresetUpdates` (snake_case is accepted too). */
  updatePermissions(ids, patch) {
    return call(Promise.resolve().then(() => this.#core.updatePermissions(JSON.stringify(ids), JSON.stringify(rekey(patch, snakeKey)))));
  }
  /** Deprecated in RealtimeKit; use `participant.kick()`. */
  kick(id) { return call(this.#core.kick(id)); }
}

/** `meeting.meta`. */
export class Meta extends Emitter {
  #core;
  constructor(core) {
    super();
    this.#core = core;
  }
  get meetingId() { return this.#core.meeting().id; }
  get meetingTitle() { return this.#core.meeting().title; }
  get sessionId() { return this.#core.session()?.id; }
  get meetingStartedTimestamp() {
    const s = this.#core.session();
    return s ? new Date(s.started_at) : undefined;
  }
  get socketState() { return this.#core.socketState(); }
}

/** `meeting.recording`. */
export class Recording extends Emitter {
  #core;
  constructor(core) {
    super();
    this.#core = core;
  }
  get recordingState() { return this.#core.recordingState(); }
  /** The session's recordings in progress, `{ id, state, type }` (one runs at a time here). */
  get recordings() {
    const r = this.#core.recordingInProgress();
    return r ? [{ id: r[0], state: r[1], type: 'COMPOSITE' }] : [];
  }
  /** Needs `canRecord`; `allowMultiple` is accepted, but a second start still rejects with 1005. */
  start(options) { return call(this.#core.startRecording(!!options?.allowMultiple)); }
  stop(recordingId) { return call(this.#core.stopRecording(recordingId)); }
  pause(recordingId) { return call(this.#core.pauseRecording(recordingId)); }
  resume(recordingId) { return call(this.#core.resumeRecording(recordingId)); }
}

let ready;
function loadWasm(wasm) {
  if (!ready) ready = initWasm(wasm === undefined ? undefined : { module_or_path: wasm });
  return ready;
}

/** A meeting client with RealtimeKit's API for the participant lifecycle. */
export default class ConveneClient extends Emitter {
  #core;
  #registry;
  constructor(core) {
    super();
    this.#core = core;
    this.#registry = new Registry(core);
    this.self = new Self(core);
    this.participants = new Participants(core, this.#registry);
    this.meta = new Meta(core);
    this.recording = new Recording(core);
  }

  /**
   * Fetches who the participant is, its preset and the meeting, and returns a client in state
   * `init`. `baseURI` is the Convene server (default: this page's origin).
   */
  static async init({ authToken, baseURI, wasm, options } = {}) {
    if (!authToken) throw new ClientError(4, 'authToken was not passed');
    const base = baseURI ?? globalThis.location?.origin ?? '';
    await loadWasm(wasm);
    let meURL;
    try {
      meURL = participantMeUrl(base);
    } catch (e) {
      throw new ClientError(1, `failed to initialize: ${e.message}`);
    }
    let response;
    try {
      response = await fetch(meURL, { headers: { authorization: `Bearer ${authToken}` } });
    } catch (e) {
      throw new ClientError(1, `failed to initialize: ${e.message}`);
    }
    const body = await response.json().catch(() => ({}));
    if (response.status === 401) throw new ClientError(4, body?.error?.message ?? 'invalid auth token');
    if (!response.ok) throw new ClientError(1, `failed to initialize: HTTP ${response.status}`);
    let client;
    let core;
    try {
      // The core reads the participant record and the options itself, as the native client does.
      core = new CoreClient(base, authToken, JSON.stringify(body.data ?? null),
        (events) => client.#route(events), options ? JSON.stringify(options) : undefined);
    } catch (e) {
      throw new ClientError(1, `failed to initialize: ${e.message}`);
    }
    client = new ConveneClient(core);
    return client;
  }

  /** Joins (or enters the waiting room); resolves once the server has answered. */
  join() { return call(this.#core.join()); }
  /** Leaves: only this participant goes. */
  leave() { return call(this.#core.leave()); }
  /** Deprecated aliases. */
  joinRoom() { return this.join(); }
  leaveRoom() { return this.leave(); }

  /** Fault injection for tests: drops the connection and holds reconnection while `true`. Only in
   * builds with the `fault-injection` feature; other builds throw. */
  simulateOutage(down) {
    if (!this.#core.simulateOutage) throw new Error('simulateOutage needs the fault-injection feature');
    this.#core.simulateOutage(down);
  }

  #route(events) {
    for (const e of events) {
      const { event, ...rest } = e;
      switch (event) {
        case 'roomJoined': this.self.emit('roomJoined', rest); break;
        case 'roomLeft': this.self.emit('roomLeft', rest); break;
        case 'waitlisted': this.self.emit('waitlisted'); break;
        case 'participantJoined': this.#arrived(rest.participant); break;
        case 'participantLeft': this.#went(rest.participant); break;
        case 'kicked':
          this.#registry.get(rest.id)?.emit('kicked');
          this.participants.joined.emit('kicked', { id: rest.id, kickedBy: rest.kickedBy });
          break;
        case 'pinned':
        case 'unpinned': this.#pinChanged(event, rest.id); break;
        case 'waitlistAdded':
          this.participants.waitlisted.emit('participantJoined', this.#registry.of(rest.participant));
          break;
        case 'waitlistRemoved': {
          const p = this.#registry.of(rest.participant);
          // An admitted peer keeps its object: the same one arrives in `joined`.
          if (rest.outcome !== 'accepted') this.#registry.delete(p.id);
          this.participants.waitlisted.emit('participantLeft', p, rest.outcome);
          break;
        }
        case 'permissionsUpdate': permissionsPatched(this.self.permissions, rest.patch, rest.changedBy); break;
        case 'recordingUpdate': this.recording.emit('recordingUpdate', rest.state); break;
        case 'socketConnectionUpdate': this.meta.emit('socketConnectionUpdate', rest); break;
        case 'sessionEnded': this.emit('sessionEnded', rest); break;
        default: break;
      }
      this.emit('event', e);
    }
  }

  #arrived(record) {
    const p = this.#registry.of(record);
    this.participants.joined.emit('participantJoined', p);
    if (p.isPinned) this.participants.pinned.emit('participantJoined', p);
  }

  #went(record) {
    const p = this.#registry.of(record);
    this.#registry.delete(p.id);
    if (p.isPinned) this.participants.pinned.emit('participantLeft', p);
    this.participants.joined.emit('participantLeft', p);
  }

  /** `pinned` / `unpinned`: on `meeting.self`, or on the participant, `joined` and `pinned`. */
  #pinChanged(event, id) {
    if (id === this.self.id) return this.self.emit(event, this.self);
    const p = this.#registry.joined(id);
    if (!p) return;
    p.emit(event, p);
    this.participants.joined.emit(event, p);
    this.participants.pinned.emit(event === 'pinned' ? 'participantJoined' : 'participantLeft', p);
  }
}
