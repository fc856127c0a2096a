// RealtimeKit's documented web-core snippets for the participant lifecycle (developers.cloudflare.com
// /realtime/realtimekit/core/: local-participant, remote-participants and its events, waiting-room,
// meeting-metadata, meeting-object-explained; end-a-session is in api.test.mjs), run unchanged
// against the package and a real server. Each snippet's text is the page's; it runs with `meeting`
// (and the page's free variables, such as `participantId`) bound, and what it logs is checked
// against what the page says it does. Snippets about media, chat, polls, plugins and grid pages
// are out of scope (the package's README lists what is there). The recording snippets are the
// web-core recording page's; the pinning ones are the remote-participant page's.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, eventually } from './helpers.mjs';

const AsyncFunction = (async () => {}).constructor;

/** Runs a documented snippet unchanged with `scope`'s names bound; returns what it logged. */
async function run(snippet, scope) {
  const logged = [];
  const log = console.log;
  console.log = (...args) => logged.push(args.join(' '));
  try {
    await new AsyncFunction(...Object.keys(scope), snippet)(...Object.values(scope));
  } finally {
    console.log = log;
  }
  return logged;
}

/** Collects what a snippet's handlers log while the test goes on. */
function listen(snippet, scope) {
  const logged = [];
  const capture = { log: (...args) => logged.push(args.join(' ')) };
  new Function(...Object.keys(scope), 'console', snippet)(...Object.values(scope), capture);
  return logged;
}

let server;
before(async () => { server = await startServer(); });
after(async () => { await server.stop(); });

async function two(title) {
  const m = await server.meeting({ title });
  const host = await server.client((await server.participant(m, 'host', 'group_call_host')).token);
  const guest = await server.client((await server.participant(m, 'John Guest', 'group_call_participant')).token);
  return { m, host, guest };
}

test('local participant: setName before joining, the metadata, roomJoined and roomLeft', async () => {
  const { host, guest } = await two('Local participant');
  await guest.join();
  const seen = new Promise((resolve) => guest.participants.joined.on('participantJoined', resolve));
  // "Change display name": before joining.
  await run('await meeting.self.setName("New Name");', { meeting: host });
  const joined = listen(`meeting.self.on("roomJoined", () => {
	console.log("Successfully joined the meeting");
});`, { meeting: host });
  await host.join();
  assert.deepEqual(joined, ['Successfully joined the meeting']);
  assert.equal(host.self.name, 'New Name');
  assert.equal((await seen).name, 'New Name', 'the others see the chosen name');

  await run(`// Participant identifiers
meeting.self.id; // Peer ID (unique per session)
meeting.self.userId; // User ID (persistent across sessions)
meeting.self.customParticipantId; // Custom identifier set by developer
meeting.self.name; // Display name
meeting.self.picture; // Display picture URL`, { meeting: host });
  assert.ok(host.self.id && host.self.userId);
  assert.deepEqual([host.self.customParticipantId, host.self.roomJoined, host.self.roomState], ['host', true, 'joined']);

  const left = listen(`meeting.self.on("roomLeft", ({ state }) => {
	console.log("Left the meeting with state:", state);

	// Handle different leave states
	if (state === "left") {
		console.log("User voluntarily left");
	} else if (state === "kicked") {
		console.log("User was kicked from the meeting");
	} else if (state === "ended") {
		console.log("Meeting has ended");
	} else if (state === "disconnected") {
		console.log("Lost connection to meeting");
	}
});`, { meeting: guest });
  await guest.leave();
  await eventually('roomLeft', () => left.length === 2);
  assert.deepEqual(left, ['Left the meeting with state: left', 'User voluntarily left']);
});

test('local participant: permission updates, by section and all', async () => {
  const preset = { name: 'snippet-no-files', permissions: { chat: { public: { can_send: true, text: true, files: false } } } };
  await server.rest('POST', '/presets', preset);
  const m = await server.meeting({ title: 'Permission updates' });
  const host = await server.client((await server.participant(m, 'host', 'group_call_host')).token);
  const guest = await server.client((await server.participant(m, 'John Guest', 'snippet-no-files')).token);
  assert.equal(guest.self.permissions.chatPublic.files, false);
  await host.join();
  await guest.join();
  const logged = listen(`// Listen to specific permission updates
meeting.self.permissions.on("chatUpdate", () => {
	console.log("Chat permissions updated");
	// Check meeting.self.permissions for updated permissions
});

meeting.self.permissions.on("pollsUpdate", () => {
	console.log("Polls permissions updated");
});

meeting.self.permissions.on("pluginsUpdate", () => {
	console.log("Plugins permissions updated");
});

// Listen to all permission updates
meeting.self.permissions.on("*", () => {
	console.log("Permissions updated");
});`, { meeting: guest });
  await eventually('the host sees the guest', () => host.participants.joined.size === 1);
  // The remote-participants page's "update permissions" snippets, run by the host.
  await run(`const participantIds = meeting.participants.joined
	.toArray()
	.filter((e) => e.name.startsWith("John"))
	.map((p) => p.id);
// Allow file upload permissions in public chat
const newPermissions = {
	chat: {
		public: {
			files: true,
		},
	},
};

meeting.participants.updatePermissions(participantIds, newPermissions);`, { meeting: host });
  await eventually('the patch at the guest', () => guest.self.permissions.chatPublic.files === true);
  assert.deepEqual(logged, ['Chat permissions updated', 'Permissions updated', 'Permissions updated']);
});

test('remote participants: joined and left, one participant, the kick', async () => {
  const { host, guest } = await two('Remote participants');
  await host.join();
  const logged = listen(`meeting.participants.joined.on("participantJoined", (participant) => {
	console.log(\`A participant with id "\${participant.id}" has joined\`);
});
meeting.participants.joined.on("participantLeft", (participant) => {
	console.log(\`A participant with id "\${participant.id}" has left the meeting\`);
});`, { meeting: host });
  const kickedLog = listen(`meeting.self.on("roomLeft", ({ state }) => {
	if (state === "kicked") {
		console.log("kicked: show a message and navigate out");
	}
});`, { meeting: guest });
  await guest.join();
  await eventually('joined', () => logged.length === 1);
  const participantId = guest.self.id;
  assert.deepEqual(logged, [`A participant with id "${participantId}" has joined`]);
  const got = await run(`const participant = meeting.participants.joined.get(participantId);

// Access participant properties
console.log(participant.name);`, { meeting: host, participantId });
  assert.deepEqual(got, ['John Guest']);
  // manage-participants: the kick, behind its permission check.
  await run(`const joinedParticipants = meeting.participants.joined.toArray();
const participant = joinedParticipants[0];
const canKickParticipant = meeting.self.permissions.kickParticipant === true;
if (canKickParticipant) {
	await participant.kick();
}`, { meeting: host });
  await eventually('left and kicked', () => logged.length === 2 && kickedLog.length === 1);
  assert.equal(logged[1], `A participant with id "${participantId}" has left the meeting`);
  assert.equal(guest.self.roomState, 'kicked');
});

test('waiting room: waitlisted, the host accepts, the state checks', async () => {
  await server.rest('POST', '/presets', { name: 'snippet-guest', permissions: { waiting_room_type: 'SKIP_ON_ACCEPT' } });
  const m = await server.meeting({ title: 'Waiting room' });
  const host = await server.client((await server.participant(m, 'host', 'group_call_host')).token);
  const guest = await server.client((await server.participant(m, 'guest', 'snippet-guest')).token);
  const refused = await server.client((await server.participant(m, 'refused', 'snippet-guest')).token);
  await host.join();
  const guestLog = listen(`meeting.self.on("roomJoined", () => {
	// Local user is in the meeting
	console.log("Successfully joined the meeting");
});
meeting.self.on("waitlisted", () => {
	// Local user is waitlisted
	console.log("You are in the waiting room. Waiting for host approval...");
});`, { meeting: guest });
  const stateCheck = `const currentState = meeting.self.roomState;

if (currentState === "waitlisted") {
	console.log("Waiting for approval");
} else if (currentState === "joined") {
	console.log("In the meeting");
} else if (currentState === "rejected") {
	console.log("Entry was rejected");
}`;
  await guest.join();
  await eventually('waitlisted', () => guestLog.length === 1);
  assert.deepEqual(await run(stateCheck, { meeting: guest }), ['Waiting for approval']);
  await eventually('the host sees the request', () => host.participants.waitlisted.size === 1);
  await run(`// Get waitlisted participants
const waitlistedParticipants = meeting.participants.waitlisted.toArray();

// Accept the first waitlisted participant
if (waitlistedParticipants.length > 0) {
	const participantId = waitlistedParticipants[0].id;
	await meeting.participants.acceptWaitingRoomRequest(participantId);
}`, { meeting: host });
  await eventually('admitted', () => guestLog.length === 2);
  assert.deepEqual(guestLog, ['You are in the waiting room. Waiting for host approval...', 'Successfully joined the meeting']);
  assert.deepEqual(await run(stateCheck, { meeting: guest }), ['In the meeting']);

  const refusedLog = listen(`meeting.self.on("roomLeft", ({ state }) => {
	if (state === "rejected") {
		// Host rejected the entry
		console.log("Your entry request was rejected");
	}
});`, { meeting: refused });
  await refused.join();
  await eventually('asked again', () => host.participants.waitlisted.size === 1);
  const participantId = host.participants.waitlisted.toArray()[0].id;
  await run('await meeting.participants.rejectWaitingRoomRequest(participantId);', { meeting: host, participantId });
  await eventually('rejected', () => refusedLog.length === 1);
  assert.deepEqual(await run(stateCheck, { meeting: refused }), ['Entry was rejected']);
});

test('meeting metadata and the meeting object: title, ids, join and leave, the socket', async () => {
  const { host } = await two('Metadata');
  const socket = listen(`meeting.meta.on(
	"socketConnectionUpdate",
	({ state, reconnectionAttempt, reconnected }) => {
		// state - 'connected' | 'disconnected' | 'reconnecting' | 'failed'

		console.log(\`Socket connection is now \${state}\`);

		if (reconnectionAttempt) {
			console.log(\`Reconnection attempt: \${reconnectionAttempt}\`);
		}

		if (reconnected) {
			console.log("Successfully reconnected");
		}
	},
);`, { meeting: host });
  await run(`// Join the meeting room
await meeting.join(); // Emits a \`roomJoined\` event on \`meeting.self\` when successful`, { meeting: host });
  const title = await run(`// Destructure the metadata to get meetingTitle
const { meetingTitle } = meeting.meta;

if (meeting.self.roomJoined) {
	console.log(
		\`The local user has joined a meeting with title \${meetingTitle}.\`,
	);
}`, { meeting: host });
  assert.deepEqual(title, ['The local user has joined a meeting with title Metadata.']);
  await run(`meeting.meta.meetingId; // Meeting identifier
meeting.meta.meetingTitle; // Meeting Title
meeting.meta.meetingStartedTimestamp; // Meeting start time`, { meeting: host });
  assert.ok(host.meta.meetingId && host.meta.meetingStartedTimestamp instanceof Date);
  assert.ok(socket.includes('Socket connection is now connected'), JSON.stringify(socket));
  host.simulateOutage(true);
  await eventually('disconnected', () => socket.some((l) => l.includes('disconnected') || l.includes('reconnecting')));
  host.simulateOutage(false);
  await eventually('reconnected', () => socket.includes('Successfully reconnected'));
  await run(`// Leave the meeting room
await meeting.leave();`, { meeting: host });
  assert.equal(host.self.roomState, 'left');
});

test('recording: start with allowMultiple, the recordings list, pause, resume and stop by id', async () => {
  const { host, guest } = await two('Recording');
  await host.join();
  await guest.join();
  const states = [];
  guest.recording.on('recordingUpdate', (state) => states.push(state));
  await run('await meeting.recording.start({ allowMultiple: true });', { meeting: host });
  await eventually('recording at the guest', () => guest.recording.recordingState === 'RECORDING');
  const listed = await run(`const recordings = meeting.recording.recordings;
console.log(JSON.stringify(recordings));`, { meeting: guest });
  const [recording] = JSON.parse(listed[0]);
  assert.deepEqual(Object.keys(recording).sort(), ['id', 'state', 'type']);
  assert.equal(recording.state, 'RECORDING');
  const recordingId = recording.id;
  assert.equal(host.recording.recordings[0].id, recordingId, 'the same recording for everyone');
  await run('await meeting.recording.pause(recordingId);', { meeting: host, recordingId });
  await eventually('paused at the guest', () => guest.recording.recordingState === 'PAUSED');
  await run('await meeting.recording.resume();', { meeting: host });
  await eventually('resumed at the guest', () => guest.recording.recordingState === 'RECORDING');
  await assert.rejects(host.recording.stop('not-this-recording'), (err) => err.code === 1004);
  await assert.rejects(guest.recording.pause(), (err) => err.code === 1001, 'the guest may not record');
  await run('await meeting.recording.stop(recordingId);', { meeting: host, recordingId });
  await eventually('idle at the guest', () => guest.recording.recordingState === 'IDLE');
  assert.deepEqual(guest.recording.recordings, []);
  assert.deepEqual(states, ['STARTING', 'RECORDING', 'PAUSED', 'RECORDING', 'STOPPING', 'IDLE']);
  const stored = await server.rest('GET', `/recordings/${recordingId}`);
  assert.equal(stored.body.data.status, 'UPLOADED');
});

test('pinning: the events of the pinned map, participant.pin() and unpin(), meeting.self.pin()', async () => {
  const { host, guest } = await two('Pinning');
  await host.join();
  await guest.join();
  await eventually('the host sees the guest', () => host.participants.joined.size === 1);
  // The remote-participant page: the pinned map emits participantJoined and participantLeft.
  // (The unpinned handler is the page's second, cut short in our copy; it mirrors the first.)
  const logged = listen(`// Listen for when a participant gets pinned
meeting.participants.pinned.on("participantJoined", (participant) => {
  console.log(\`Participant \${participant.name} got pinned\`);
});
// Listen for when a participant gets unpinned
meeting.participants.pinned.on("participantLeft", (participant) => {
  console.log(\`Participant \${participant.name} got unpinned\`);
});`, { meeting: host });
  const participantId = guest.self.id;
  const participant = host.participants.joined.get(participantId);
  const own = [];
  participant.on('pinned', (p) => own.push(['pinned', p.id]));
  participant.on('unpinned', (p) => own.push(['unpinned', p.id]));
  const selfPins = [];
  guest.self.on('pinned', () => selfPins.push('pinned'));
  guest.self.on('unpinned', () => selfPins.push('unpinned'));
  await run(`const participant = meeting.participants.joined.get(participantId);
await participant.pin();`, { meeting: host, participantId });
  await eventually('pinned everywhere', () => logged.length === 1 && selfPins.length === 1);
  assert.deepEqual(logged, ['Participant John Guest got pinned']);
  assert.equal(host.participants.joined.get(participantId), participant, 'one object per participant');
  assert.equal(participant.isPinned, true);
  assert.deepEqual(host.participants.pinned.toArray().map((p) => p.id), [participantId]);
  assert.equal(guest.self.isPinned, true, 'meeting.self.isPinned at the pinned participant');
  assert.deepEqual(own, [['pinned', participantId]], "the participant's own event");
  await assert.rejects(guest.self.pin(), (err) => err.code === 1201, 'the guest may not pin');

  await participant.unpin();
  await eventually('unpinned everywhere', () => logged.length === 2 && selfPins.length === 2);
  assert.deepEqual(logged[1], 'Participant John Guest got unpinned');
  assert.equal(host.participants.pinned.size, 0);
  assert.deepEqual(selfPins, ['pinned', 'unpinned']);
  // The host pins itself: everyone sees it, the host on meeting.self.
  const hostId = host.self.id;
  await host.self.pin();
  await eventually('the guest sees the host pinned', () => guest.participants.pinned.has(hostId));
  assert.equal(host.self.isPinned, true);
  assert.equal(guest.participants.joined.get(hostId).isPinned, true);
});
