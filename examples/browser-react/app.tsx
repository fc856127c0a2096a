// The demo page of examples/browser, in React with convene-react: RealtimeKit's end-a-session
// steps. Open it as index.html?token=<participant token>&server=<convene-server URL>
// (node examples/browser/serve.mjs --react prints those URLs).
import { useEffect, useRef, useState } from 'react';
import { createRoot } from 'react-dom/client';
import { ConveneProvider, useConveneClient, useConveneMeeting, useConveneSelector, type RoomState } from 'convene-react';

const params = new URLSearchParams(location.search);

const ENDED_SCREENS: Partial<Record<RoomState, [string, string]>> = {
  ended: ['The meeting has ended', 'A host ended the session for everyone.'],
  left: ['You left the meeting', 'The others are still there.'],
  kicked: ['You were removed from the meeting', 'A host removed you.'],
  rejected: ['Your request to join was declined', 'A host declined your waiting-room request.'],
  failed: ['Connection lost', 'Could not reconnect. Reload the page to try again.'],
};

/** How many times the component calling it has rendered (shown to the tests as data-renders). */
function useRenderCount(): number {
  const renders = useRef(0);
  renders.current += 1;
  return renders.current;
}

function App() {
  const [meeting, initMeeting] = useConveneClient();
  const [error, setError] = useState('');
  const started = useRef(false);
  useEffect(() => {
    if (started.current) return;
    started.current = true;
    initMeeting({ authToken: params.get('token') ?? '', baseURI: params.get('server') ?? undefined })
      .then((m) => Object.assign(window, { meeting: m })) // for the tests and the curious
      .catch((err) => setError(`Could not start (${err.code}): ${err.message}`));
  }, [initMeeting]);
  return (
    <ConveneProvider value={meeting} fallback={<p id="error">{error || 'Loading…'}</p>}>
      <Meeting />
    </ConveneProvider>
  );
}

function Meeting() {
  const roomState = useConveneSelector((m) => m.self.roomState);
  const title = useConveneSelector((m) => m.meta.meetingTitle);
  const name = useConveneSelector((m) => m.self.name);
  const screen = ENDED_SCREENS[roomState];
  return (
    <>
      <h1 id="title">{title || 'Convene meeting'}</h1>
      <p className="muted">
        You are <strong id="name">{name}</strong> · room state <RoomStateBadge />
      </p>
      {screen ? <Ended state={roomState} screen={screen} /> : roomState === 'joined' ? <Room /> : <Lobby />}
    </>
  );
}

/** Selects the room state alone: it re-renders when that changes, not when the roster does. */
function RoomStateBadge() {
  const roomState = useConveneSelector((m) => m.self.roomState);
  return <code id="room-state" data-renders={useRenderCount()}>{roomState}</code>;
}

function Lobby() {
  const { meeting } = useConveneMeeting();
  const waiting = useConveneSelector((m) => m.self.roomState === 'waitlisted');
  const [error, setError] = useState('');
  const join = () => meeting.join().catch((err) => setError(`Could not join (${err.code}): ${err.message}`));
  return (
    <section id="lobby" className="card">
      {waiting ? <p>Waiting for a host to let you in…</p> : <button id="join" onClick={join}>Join the meeting</button>}
      <p id="error">{error}</p>
    </section>
  );
}

function Room() {
  const { meeting } = useConveneMeeting();
  // Step 1: show host controls only when the preset allows it.
  const mayEndForAll = useConveneSelector((m) => m.self.permissions.kickParticipant === true);
  const [error, setError] = useState('');
  // Step 2: end the session for everyone.
  const endForAll = async () => {
    try {
      await meeting.participants.kickAll();
    } catch (err) {
      const e = err as { code?: number; message?: string };
      if (e.code === 1201) setError('You are not allowed to end the meeting for everyone.');
      else setError(`Could not end the meeting (${e.code}): ${e.message}`);
    }
  };
  return (
    <section id="room" className="card">
      <h2>
        In the meeting with <ParticipantCount />
      </h2>
      <Roster />
      {mayEndForAll && (
        <div id="host-controls">
          <button id="end-all" className="danger" onClick={endForAll}>End meeting for all</button>
        </div>
      )}
      <button id="leave" onClick={() => meeting.leave()}>Leave</button>
      <p id="error">{error}</p>
    </section>
  );
}

/** Selects a number: it re-renders when the count changes. */
function ParticipantCount() {
  const count = useConveneSelector((m) => m.participants.joined.size);
  return <span id="count" data-renders={useRenderCount()}>{count === 1 ? '1 other' : `${count} others`}</span>;
}

/** Selects the live map of joined participants: it re-renders at each of the meeting's events. */
function Roster() {
  const joined = useConveneSelector((m) => m.participants.joined);
  return (
    <ul id="roster">
      {joined.toArray().map((p) => (
        <li key={p.id}>{`${p.name} (${p.presetName})`}</li>
      ))}
    </ul>
  );
}

// Step 3: the end of the session (and every other way out) is a room state like the others.
function Ended({ state, screen: [title, detail] }: { state: RoomState; screen: [string, string] }) {
  return (
    <section id="ended" className="card" data-state={state}>
      <h2 id="ended-title">{title}</h2>
      <p id="ended-detail" className="muted">{detail}</p>
    </section>
  );
}

createRoot(document.getElementById('app')!).render(<App />);
