// The demo page: RealtimeKit's end-a-session steps with the convene-client package.
// Open it as index.html?token=<participant token>&server=<convene-server URL>.
import ConveneClient from '/pkg/index.js';

const params = new URLSearchParams(location.search);
const $ = (id) => document.getElementById(id);

const ENDED_SCREENS = {
  ended: ['The meeting has ended', 'A host ended the session for everyone.'],
  left: ['You left the meeting', 'The others are still there.'],
  kicked: ['You were removed from the meeting', 'A host removed you.'],
  rejected: ['Your request to join was declined', 'A host declined your waiting-room request.'],
  failed: ['Connection lost', 'Could not reconnect. Reload the page to try again.'],
};

const meeting = await ConveneClient.init({ authToken: params.get('token'), baseURI: params.get('server') ?? undefined });
window.meeting = meeting; // for the tests and the curious

function render() {
  $('name').textContent = meeting.self.name;
  $('title').textContent = meeting.meta.meetingTitle || 'Convene meeting';
  $('room-state').textContent = meeting.self.roomState;
  const roster = $('roster');
  roster.replaceChildren(...[...meeting.participants.joined.values()].map((p) => {
    const li = document.createElement('li');
    li.textContent = `${p.name} (${p.presetName})`;
    return li;
  }));
  // Step 1: show host controls only when the preset allows it.
  $('host-controls').hidden = meeting.self.permissions.kickParticipant !== true;
}

meeting.self.on('roomJoined', () => {
  $('lobby').hidden = true;
  $('room').hidden = false;
  render();
});
meeting.participants.joined.on('participantJoined', render);
meeting.participants.joined.on('participantLeft', render);
meeting.self.permissions.on('permissionsUpdate', render);

// Step 3: listen for the end of the session (and every other way out).
meeting.self.on('roomLeft', ({ state }) => {
  $('room-state').textContent = meeting.self.roomState;
  const screen = ENDED_SCREENS[state];
  if (!screen) return; // 'disconnected': the client is reconnecting
  $('lobby').hidden = true;
  $('room').hidden = true;
  $('ended').hidden = false;
  $('ended').dataset.state = state;
  [$('ended-title').textContent, $('ended-detail').textContent] = screen;
});

$('join').addEventListener('click', async () => {
  try {
    await meeting.join();
  } catch (err) {
    $('error').textContent = `Could not join (${err.code}): ${err.message}`;
  }
  render();
});

// Step 2: end the session for everyone.
$('end-all').addEventListener('click', async () => {
  try {
    await meeting.participants.kickAll();
  } catch (err) {
    if (err?.code === 1201) $('error').textContent = 'You are not allowed to end the meeting for everyone.';
    else $('error').textContent = `Could not end the meeting (${err.code}): ${err.message}`;
  }
});

$('leave').addEventListener('click', () => meeting.leave());
render();
