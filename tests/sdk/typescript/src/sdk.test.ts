// Cloudflare's official TypeScript SDK (`cloudflare` on npm, pinned in ../package.json) against a
// real convene-server: every RealtimeKit method of the SDK for what Convene implements (apps,
// presets, meetings, participants, active session, sessions, recordings, webhooks). Each answer is
// checked twice against the SDK's declared response type: by tsc, which compiles this file in
// strict mode against the SDK's .d.ts (what the tests read of an answer must be there, typed), and
// at run time by `strict`, against a JSON schema generated from that same type (./strict.ts). Each
// test also checks that the call did what it says. The Python SDK's tests (../python) are the twin.

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, describe, test } from 'node:test';
import Cloudflare from 'cloudflare';
import type * as RK from 'cloudflare/resources/realtime-kit/index';
import { ConveneServer } from './server.js';
import { violations } from './strict.js';

/** The SDK's response types this file checks, by name: `strict` ties a call to its type's name. */
interface Answers {
  AppGetResponse: RK.AppGetResponse;
  AppPostResponse: RK.AppPostResponse;
  PresetCreateResponse: RK.PresetCreateResponse;
  PresetGetPresetByIDResponse: RK.PresetGetPresetByIDResponse;
  PresetGetResponse: RK.PresetGetResponse;
  PresetDeleteResponse: RK.PresetDeleteResponse;
  PresetUpdateResponse: RK.PresetUpdateResponse;
  PresetReplacePresetByIDResponse: RK.PresetReplacePresetByIDResponse;
  MeetingCreateResponse: RK.MeetingCreateResponse;
  MeetingGetMeetingByIDResponse: RK.MeetingGetMeetingByIDResponse;
  MeetingGetResponse: RK.MeetingGetResponse;
  MeetingUpdateMeetingByIDResponse: RK.MeetingUpdateMeetingByIDResponse;
  MeetingReplaceMeetingByIDResponse: RK.MeetingReplaceMeetingByIDResponse;
  MeetingAddParticipantResponse: RK.MeetingAddParticipantResponse;
  MeetingGetMeetingParticipantResponse: RK.MeetingGetMeetingParticipantResponse;
  MeetingGetMeetingParticipantsResponse: RK.MeetingGetMeetingParticipantsResponse;
  MeetingRefreshParticipantTokenResponse: RK.MeetingRefreshParticipantTokenResponse;
  MeetingEditParticipantResponse: RK.MeetingEditParticipantResponse;
  MeetingDeleteMeetingParticipantResponse: RK.MeetingDeleteMeetingParticipantResponse;
  ActiveSessionGetActiveSessionResponse: RK.ActiveSessionGetActiveSessionResponse;
  ActiveSessionKickParticipantsResponse: RK.ActiveSessionKickParticipantsResponse;
  ActiveSessionKickAllParticipantsResponse: RK.ActiveSessionKickAllParticipantsResponse;
  SessionGetSessionsResponse: RK.SessionGetSessionsResponse;
  SessionGetSessionDetailsResponse: RK.SessionGetSessionDetailsResponse;
  SessionGetSessionParticipantsResponse: RK.SessionGetSessionParticipantsResponse;
  SessionGetSessionParticipantDetailsResponse: RK.SessionGetSessionParticipantDetailsResponse;
  SessionGetParticipantDataFromPeerIDResponse: RK.SessionGetParticipantDataFromPeerIDResponse;
  RecordingStartRecordingsResponse: RK.RecordingStartRecordingsResponse;
  RecordingPauseResumeStopRecordingResponse: RK.RecordingPauseResumeStopRecordingResponse;
  RecordingGetOneRecordingResponse: RK.RecordingGetOneRecordingResponse;
  RecordingGetRecordingsResponse: RK.RecordingGetRecordingsResponse;
  RecordingGetActiveRecordingsResponse: RK.RecordingGetActiveRecordingsResponse;
  WebhookCreateWebhookResponse: RK.WebhookCreateWebhookResponse;
  WebhookGetWebhookByIDResponse: RK.WebhookGetWebhookByIDResponse;
  WebhookGetWebhooksResponse: RK.WebhookGetWebhooksResponse;
  WebhookEditWebhookResponse: RK.WebhookEditWebhookResponse;
  WebhookDeleteWebhookResponse: RK.WebhookDeleteWebhookResponse;
  WebhookReplaceWebhookResponse: RK.WebhookReplaceWebhookResponse;
}

/** What the SDK's calls give back: an `APIPromise` that can also yield the HTTP response. */
interface Call<T> {
  withResponse(): Promise<{ data: T; response: Response }>;
}

/** A whole preset, every section of Cloudflare's schema: shared with the Python SDK's tests. */
const PRESET = JSON.parse(readFileSync(new URL('../../preset.json', import.meta.url), 'utf8')) as Pick<
  RK.PresetCreateParams,
  'config' | 'ui' | 'permissions'
>;

let server: ConveneServer;
let kit: Cloudflare['realtimeKit'];
let account: { account_id: string };
let ids: { account_id: string; app_id: string };
let app: string;

before(async () => {
  server = await ConveneServer.start();
  const cf = new Cloudflare({ apiToken: server.token, baseURL: `${server.url}/client/v4`, maxRetries: 0 });
  kit = cf.realtimeKit;
  app = server.app;
  account = { account_id: server.account };
  ids = { account_id: server.account, app_id: server.app };
});

after(async () => {
  await server.stop();
});

/** Awaits `call`, checks its status and `success`, and its body strictly against the SDK's
 * declared type `name` (../convene-extras.json lists the few undeclared fields allowed). */
async function strict<K extends keyof Answers>(name: K, call: Call<Answers[K]>, status = 200): Promise<Answers[K]> {
  const { data, response } = await call.withResponse();
  assert.equal(response.status, status, JSON.stringify(data));
  assert.deepEqual(violations(name, data), [], `${name}: ${JSON.stringify(data)}`);
  assert.equal((data as { success?: unknown }).success, true);
  return data;
}

/** `value`, which the SDK's type leaves optional, asserted present. */
function present<T>(value: T | undefined | null, what: string): T {
  assert.ok(value !== undefined && value !== null, `${what} is missing`);
  return value;
}

async function meeting(title: string): Promise<string> {
  const answer = await strict('MeetingCreateResponse', kit.meetings.create(app, { ...account, title }), 201);
  return present(answer.data, 'data').id;
}

async function participant(meetingId: string, name: string, preset = 'group_call_host') {
  const params = { ...ids, custom_participant_id: name, preset_name: preset, name };
  const answer = await strict('MeetingAddParticipantResponse', kit.meetings.addParticipant(meetingId, params), 201);
  return present(answer.data, 'data');
}

/** A meeting with a live session: one host joined and staying. */
async function liveMeeting(title: string) {
  const meetingId = await meeting(title);
  const host = await participant(meetingId, `${title}-host`);
  await server.join(host.token);
  return { meetingId, host };
}

async function activeSessionId(meetingId: string): Promise<string> {
  const answer = await kit.activeSession.getActiveSession(meetingId, ids);
  return present(answer.data, 'data').id;
}

const secondAgo = () => new Date(Date.now() - 1000).toISOString();

describe('apps', () => {
  test('get lists the ready app', async () => {
    const answer = await strict('AppGetResponse', kit.apps.get(account));
    assert.ok(present(answer.data, 'data').some((a) => a.id === app));
  });

  test('post creates an app and answers it in data.app', async () => {
    const answer = await strict('AppPostResponse', kit.apps.post({ ...account, name: 'ts sdk app' }));
    const made = present(present(answer.data, 'data').app, 'data.app');
    assert.equal(made.name, 'ts sdk app');
    const listed = present((await kit.apps.get(account)).data, 'data');
    assert.ok(listed.some((a) => a.id === made.id));
  });
});

describe('presets', () => {
  async function create(name: string): Promise<string> {
    const answer = await strict('PresetCreateResponse', kit.presets.create(app, { ...account, name, ...PRESET }), 201);
    const preset = present(answer.data, 'data');
    assert.equal(preset.name, name);
    assert.equal(preset.permissions.kick_participant, true);
    return preset.id;
  }

  test('create, get, list and delete', async () => {
    const presetId = await create('ts_sdk_preset');
    const got = await strict('PresetGetPresetByIDResponse', kit.presets.getPresetByID(presetId, ids));
    assert.equal(present(got.data, 'data').id, presetId);
    const listed = await strict('PresetGetResponse', kit.presets.get(app, account));
    assert.ok(listed.data.some((p) => p.id === presetId));
    const deleted = await strict('PresetDeleteResponse', kit.presets.delete(presetId, ids));
    assert.equal(present(deleted.data, 'data').id, presetId);
    const after = await kit.presets.get(app, account);
    assert.ok(!after.data.some((p) => p.id === presetId));
  });

  test('update changes only what it names', async () => {
    const presetId = await create('ts_sdk_preset_update');
    const params = { ...ids, name: 'ts_sdk_preset_renamed', permissions: { kick_participant: false } };
    const updated = present((await strict('PresetUpdateResponse', kit.presets.update(presetId, params))).data, 'data');
    assert.equal(updated.name, 'ts_sdk_preset_renamed');
    assert.equal(updated.permissions.kick_participant, false);
    assert.equal(updated.permissions.pin_participant, true);
    assert.equal(updated.permissions.waiting_room_type, 'SKIP');
  });

  test('replace', async () => {
    const presetId = await create('ts_sdk_preset_replace');
    const params = { ...ids, name: 'ts_sdk_preset_replaced', ...PRESET };
    const answer = await strict('PresetReplacePresetByIDResponse', kit.presets.replacePresetByID(presetId, params));
    assert.equal(present(answer.data, 'data').name, 'ts_sdk_preset_replaced');
  });
});

describe('meetings', () => {
  test('create, get and list', async () => {
    const meetingId = await meeting('ts sdk meeting');
    const got = await strict('MeetingGetMeetingByIDResponse', kit.meetings.getMeetingByID(meetingId, ids));
    assert.equal(present(got.data, 'data').title, 'ts sdk meeting');
    const listed = await strict('MeetingGetResponse', kit.meetings.get(app, { ...account, page_no: 1, per_page: 100 }));
    assert.ok(listed.data.some((m) => m.id === meetingId));
  });

  test('update and replace', async () => {
    const meetingId = await meeting('ts sdk before');
    const updated = await strict(
      'MeetingUpdateMeetingByIDResponse',
      kit.meetings.updateMeetingByID(meetingId, { ...ids, title: 'ts sdk after' }),
    );
    assert.equal(present(updated.data, 'data').title, 'ts sdk after');
    const replaced = await strict(
      'MeetingReplaceMeetingByIDResponse',
      kit.meetings.replaceMeetingByID(meetingId, { ...ids, title: 'ts sdk replaced' }),
    );
    assert.equal(present(replaced.data, 'data').title, 'ts sdk replaced');
  });

  test('list filters', async () => {
    const since = secondAgo();
    const active = await meeting('ts sdk filter one');
    const inactive = await meeting('ts sdk filter two');
    await kit.meetings.updateMeetingByID(inactive, { ...ids, status: 'INACTIVE' });
    const listed = async (query: Omit<RK.MeetingGetParams, 'account_id'>) => {
      const answer = await strict('MeetingGetResponse', kit.meetings.get(app, { ...account, per_page: 100, ...query }));
      return answer.data.map((m) => m.id);
    };
    assert.deepEqual(await listed({ status: 'ACTIVE', search: 'ts sdk filter' }), [active]);
    assert.deepEqual(await listed({ status: 'INACTIVE', search: 'ts sdk filter' }), [inactive]);
    assert.deepEqual(await listed({ search: inactive.slice(0, 8) }), [inactive], 'a search matches ids too');
    assert.deepEqual(await listed({ search: 'ts sdk filter', start_time: since }), [active, inactive]);
    assert.deepEqual(await listed({ search: 'ts sdk filter', end_time: since }), []);
  });

  test('media settings are stored and answered', async () => {
    const params = {
      ...account,
      title: 'ts sdk fields',
      record_on_start: false,
      summarize_on_end: true,
      transcribe_on_end: true,
      ai_config: { transcription: { language: 'en-US' as const }, summarization: { summary_type: 'lecture' as const } },
      recording_config: { max_seconds: 60, storage_config: { type: 'gcs' as const, secret: 'not kept' } },
    };
    const made = await strict('MeetingCreateResponse', kit.meetings.create(app, params), 201);
    const got = await strict('MeetingGetMeetingByIDResponse', kit.meetings.getMeetingByID(present(made.data, 'data').id, ids));
    const meeting = present(got.data, 'data');
    assert.deepEqual([meeting.summarize_on_end, meeting.transcribe_on_end], [true, true]);
    assert.equal(meeting.ai_config?.transcription?.language, 'en-US');
    assert.equal(meeting.ai_config?.summarization?.summary_type, 'lecture');
    assert.equal(meeting.recording_config?.max_seconds, 60);
    assert.equal(meeting.recording_config?.storage_config, undefined, 'storage credentials are not kept');
  });
});

describe('participants', () => {
  test('add, get, list and refresh the token', async () => {
    const meetingId = await meeting('ts sdk participants');
    const added = await participant(meetingId, 'ts-sdk-one');
    assert.ok(added.token);
    const args = { ...ids, meeting_id: meetingId };
    const got = await strict('MeetingGetMeetingParticipantResponse', kit.meetings.getMeetingParticipant(added.id, args));
    assert.equal(present(got.data, 'data').custom_participant_id, 'ts-sdk-one');
    const listed = await strict(
      'MeetingGetMeetingParticipantsResponse',
      kit.meetings.getMeetingParticipants(meetingId, ids),
    );
    assert.deepEqual(
      listed.data.map((p) => p.id),
      [added.id],
    );
    const token = await strict(
      'MeetingRefreshParticipantTokenResponse',
      kit.meetings.refreshParticipantToken(added.id, args),
    );
    assert.ok(token.data.token);
  });

  test('edit answers the participant with a new token', async () => {
    const meetingId = await meeting('ts sdk edit');
    const added = await participant(meetingId, 'ts-sdk-edit');
    const params = { ...ids, meeting_id: meetingId, name: 'edited' };
    const edited = await strict('MeetingEditParticipantResponse', kit.meetings.editParticipant(added.id, params));
    const data = present(edited.data, 'data');
    assert.equal(data.name, 'edited');
    assert.ok(data.token);
  });

  test('delete', async () => {
    const meetingId = await meeting('ts sdk delete');
    const added = await participant(meetingId, 'ts-sdk-delete');
    const params = { ...ids, meeting_id: meetingId };
    const deleted = await strict(
      'MeetingDeleteMeetingParticipantResponse',
      kit.meetings.deleteMeetingParticipant(added.id, params),
    );
    assert.equal(present(deleted.data, 'data').custom_participant_id, 'ts-sdk-delete');
    const listed = await kit.meetings.getMeetingParticipants(meetingId, ids);
    assert.deepEqual(listed.data, []);
  });
});

describe('active session', () => {
  test('get, kick and kick all', async () => {
    const { meetingId } = await liveMeeting('ts-sdk-active');
    const guest = await participant(meetingId, 'ts-sdk-active-guest', 'group_call_participant');
    await server.join(guest.token);
    const session = await strict('ActiveSessionGetActiveSessionResponse', kit.activeSession.getActiveSession(meetingId, ids));
    assert.equal(present(session.data, 'data').associated_id, meetingId);
    const kicked = await strict(
      'ActiveSessionKickParticipantsResponse',
      kit.activeSession.kickParticipants(meetingId, { ...ids, participant_ids: [guest.id] }),
    );
    assert.deepEqual(
      present(present(kicked.data, 'data').participants, 'participants').map((p) => p.id),
      [guest.id],
    );
    await strict('ActiveSessionKickAllParticipantsResponse', kit.activeSession.kickAllParticipants(meetingId, ids));
    await assert.rejects(kit.activeSession.getActiveSession(meetingId, ids), Cloudflare.NotFoundError);
  });
});

describe('sessions', () => {
  test('list and get', async () => {
    const { meetingId } = await liveMeeting('ts-sdk-sessions');
    const listed = await strict(
      'SessionGetSessionsResponse',
      kit.sessions.getSessions(app, { ...account, associated_id: meetingId }),
    );
    const sessions = present(present(listed.data, 'data').sessions, 'sessions');
    assert.equal(sessions.length, 1);
    const sessionId = present(sessions[0], 'the session').id;
    const got = await strict('SessionGetSessionDetailsResponse', kit.sessions.getSessionDetails(sessionId, ids));
    assert.equal(present(got.data, 'data').id, sessionId);
  });

  test('participants, one participant and the peer report', async () => {
    const { meetingId, host } = await liveMeeting('ts-sdk-session-peers');
    const sessionId = await activeSessionId(meetingId);
    const listed = await strict(
      'SessionGetSessionParticipantsResponse',
      kit.sessions.getSessionParticipants(sessionId, ids),
    );
    const peers = present(present(listed.data, 'data').participants, 'participants');
    assert.deepEqual(
      peers.map((p) => p.custom_participant_id),
      [host.custom_participant_id],
    );
    const peerId = present(present(peers[0], 'the peer').id, 'the peer id');
    const one = await strict(
      'SessionGetSessionParticipantDetailsResponse',
      kit.sessions.getSessionParticipantDetails(peerId, { ...ids, session_id: sessionId }),
    );
    const stay = present(present(one.data, 'data').participant, 'participant');
    assert.deepEqual([stay.id, stay.user_id], [peerId, host.id]);
    const report = await strict(
      'SessionGetParticipantDataFromPeerIDResponse',
      kit.sessions.getParticipantDataFromPeerID(peerId, { ...ids, filters: 'events' }),
    );
    const reported = present(present(report.data, 'data').participant, 'participant');
    assert.deepEqual([reported.user_id, reported.session_id], [host.id, sessionId]);
  });

  test('list sorted and filtered', async () => {
    const since = secondAgo();
    const first = (await liveMeeting('ts-sdk-sorted-first')).meetingId;
    const second = (await liveMeeting('ts-sdk-sorted-second')).meetingId;
    const listed = async (query: Omit<RK.SessionGetSessionsParams, 'account_id'>) => {
      const params = { ...account, per_page: 100, search: 'ts-sdk-sorted', ...query };
      const answer = await strict('SessionGetSessionsResponse', kit.sessions.getSessions(app, params));
      return present(present(answer.data, 'data').sessions, 'sessions').map((s) => s.associated_id);
    };
    assert.deepEqual(await listed({ sort_by: 'createdAt', sort_order: 'ASC' }), [first, second]);
    assert.deepEqual(await listed({ sort_by: 'createdAt', sort_order: 'DESC' }), [second, first]);
    assert.deepEqual(await listed({ status: 'LIVE', start_time: since }), [second, first]);
    assert.deepEqual(await listed({ end_time: since }), []);
    assert.deepEqual(await listed({ status: 'ENDED' }), []);
    // The first session's host has been in longer: more participant-minutes.
    assert.deepEqual(await listed({ sort_by: 'minutesConsumed', sort_order: 'DESC' }), [first, second]);
  });
});

describe('recordings', () => {
  test('start, pause, resume, stop, get and list', async () => {
    const { meetingId } = await liveMeeting('ts-sdk-recording');
    const started = await strict(
      'RecordingStartRecordingsResponse',
      kit.recordings.startRecordings(app, { ...account, meeting_id: meetingId }),
    );
    const recordingId = present(started.data, 'data').id;
    for (const action of ['pause', 'resume', 'stop'] as const) {
      await strict(
        'RecordingPauseResumeStopRecordingResponse',
        kit.recordings.pauseResumeStopRecording(recordingId, { ...ids, action }),
      );
    }
    const got = await strict('RecordingGetOneRecordingResponse', kit.recordings.getOneRecording(recordingId, ids));
    assert.equal(present(got.data, 'data').id, recordingId);
    const listed = async (query: Omit<RK.RecordingGetRecordingsParams, 'account_id'>) => {
      const params = { ...account, meeting_id: meetingId, ...query };
      const answer = await strict('RecordingGetRecordingsResponse', kit.recordings.getRecordings(app, params));
      return answer.data.map((r) => r.id);
    };
    assert.deepEqual(await listed({}), [recordingId]);
    const uploaded = { status: ['UPLOADED', 'UPLOADING'] as Array<'UPLOADED' | 'UPLOADING'> };
    assert.deepEqual(await listed({ ...uploaded, sort_by: 'invokedTime', sort_order: 'ASC' }), [recordingId]);
    assert.deepEqual(await listed({ status: ['RECORDING'] }), []);
    assert.deepEqual(await listed({ expired: false, search: 'ts-sdk-recording' }), [recordingId]);
    assert.deepEqual(await listed({ expired: true }), [], 'nothing expires here');
  });

  test('active recording', async () => {
    const { meetingId } = await liveMeeting('ts-sdk-recording-active');
    const started = await kit.recordings.startRecordings(app, { ...account, meeting_id: meetingId });
    const recordingId = present(started.data, 'data').id;
    const answer = await strict(
      'RecordingGetActiveRecordingsResponse',
      kit.recordings.getActiveRecordings(meetingId, ids),
    );
    assert.equal(answer.data.id, recordingId);
  });
});

describe('webhooks', () => {
  async function create(name: string): Promise<string> {
    const params = { ...account, name, url: 'http://127.0.0.1:9/hook', events: ['meeting.started' as const] };
    const answer = await strict('WebhookCreateWebhookResponse', kit.webhooks.createWebhook(app, params), 201);
    return answer.data.id;
  }

  test('create, get, list, edit and delete', async () => {
    const webhookId = await create('ts sdk hook');
    const got = await strict('WebhookGetWebhookByIDResponse', kit.webhooks.getWebhookByID(webhookId, ids));
    assert.equal(got.data.name, 'ts sdk hook');
    const listed = await strict('WebhookGetWebhooksResponse', kit.webhooks.getWebhooks(app, account));
    assert.ok(listed.data.some((w) => w.id === webhookId));
    const edited = await strict(
      'WebhookEditWebhookResponse',
      kit.webhooks.editWebhook(webhookId, { ...ids, name: 'ts sdk hook 2' }),
    );
    assert.equal(edited.data.name, 'ts sdk hook 2');
    await strict('WebhookDeleteWebhookResponse', kit.webhooks.deleteWebhook(webhookId, ids));
    const after = await kit.webhooks.getWebhooks(app, account);
    assert.ok(!after.data.some((w) => w.id === webhookId));
  });

  test('replace', async () => {
    const webhookId = await create('ts sdk hook to replace');
    const params = { ...ids, name: 'replaced', url: 'http://127.0.0.1:9/other', events: ['meeting.ended' as const] };
    const answer = await strict('WebhookReplaceWebhookResponse', kit.webhooks.replaceWebhook(webhookId, params));
    assert.equal(answer.data.url, 'http://127.0.0.1:9/other');
  });
});
