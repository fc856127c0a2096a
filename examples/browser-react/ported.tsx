// An app written for @cloudflare/realtimekit-react, ported by changing its import: RealtimeKit's
// names, from convene-react. Type-checked with tsc --strict (scripts/test.sh); app.tsx is the
// page that runs.
import { useEffect } from 'react';
import {
  RealtimeKitProvider,
  useRealtimeKitClient,
  useRealtimeKitMeeting,
  useRealtimeKitSelector,
} from 'convene-react';

export function PortedApp({ authToken }: { authToken: string }) {
  const [meeting, initMeeting] = useRealtimeKitClient({ resetOnLeave: true });
  useEffect(() => {
    initMeeting({ authToken, baseURI: 'http://127.0.0.1:8790' });
  }, [authToken, initMeeting]);
  return (
    <RealtimeKitProvider value={meeting} fallback={<i>Loading...</i>}>
      <MyMeetingUI />
    </RealtimeKitProvider>
  );
}

function MyMeetingUI() {
  const { meeting } = useRealtimeKitMeeting();
  const roomJoined = useRealtimeKitSelector((m) => m.self.roomJoined);
  const joinedParticipants = useRealtimeKitSelector((m) => m.participants.joined);
  const canKick = useRealtimeKitSelector((m) => m.self.permissions.kickParticipant);
  useEffect(() => {
    const onLeft = ({ state }: { state: string }) => {
      if (state === 'ended') console.log('the session was ended for everyone');
    };
    meeting.self.on('roomLeft', onLeft);
    return () => {
      meeting.self.off('roomLeft', onLeft);
    };
  }, [meeting]);
  if (!roomJoined) return <button onClick={() => meeting.join()}>Join</button>;
  return (
    <div>
      {joinedParticipants.toArray().map((p) => (
        <p key={p.id}>{p.name}</p>
      ))}
      {canKick && <button onClick={() => meeting.participants.kickAll()}>End meeting for all</button>}
    </div>
  );
}
