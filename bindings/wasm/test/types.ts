// Compiled with tsc --strict (no emit): the declarations cover RealtimeKit's documented usage.
import ConveneClient, { ClientError, type RoomLeftPayload, type RoomState } from '../pkg/index.js';

async function endForAll(authToken: string): Promise<RoomState> {
  const meeting: ConveneClient = await ConveneClient.init({ authToken, baseURI: 'http://127.0.0.1:8790' });
  await meeting.join();
  if (meeting.self.permissions.kickParticipant === true) {
    try {
      await meeting.participants.kickAll();
    } catch (err) {
      if (err instanceof ClientError && err.code === 1201) {
        console.log('not allowed', err.codeString);
      }
    }
  }
  meeting.self.on('roomLeft', ({ state }: RoomLeftPayload) => {
    if (state === 'ended') console.log('ended');
  });
  meeting.participants.joined.on('participantJoined', (p) => console.log(p.name, p.customParticipantId));
  meeting.meta.on('socketConnectionUpdate', ({ state, reconnectionAttempt }) => console.log(state, reconnectionAttempt));
  meeting.recording.on('recordingUpdate', (s) => console.log(s));
  await meeting.participants.updatePermissions(['peer'], { kickParticipant: true, media: { audio: { canProduce: 'ALLOWED' } } });
  for (const [id, participant] of meeting.participants.joined) await participant.kick().then(() => id);
  const size: number = meeting.participants.joined.size;
  // Pinning: the participant objects are emitters; the pinned map has the map events.
  meeting.participants.pinned.on('participantJoined', (p) => console.log(`${p.name} got pinned`, p.isPinned));
  const first = meeting.participants.joined.toArray()[0];
  first?.on('unpinned', (p) => console.log(p.id)).on('kicked', () => console.log('kicked'));
  if (meeting.self.permissions.pinParticipant) await first?.pin();
  meeting.self.on('pinned', (self) => console.log(self.isPinned));
  await meeting.self.unpin();
  const pinnedNow: boolean = meeting.self.isPinned;
  // @ts-expect-error isPinned is read-only
  meeting.self.isPinned = true;
  console.log(pinnedNow);
  const when: Date | undefined = meeting.meta.meetingStartedTimestamp;
  console.log(size, when, meeting.self.waitlistStatus, meeting.recording.recordingState);
  return meeting.self.roomState;
}
export { endForAll };

// The generated declarations: payloads narrow on their state, codes and patches are typed.
import type { EndReason, ErrorCode, ErrorCodes, PresetUpdates, RoomLeftPayload as Left } from '../pkg/index.js';

function describeLeave(payload: Left): string {
  switch (payload.state) {
    case 'ended': {
      const reason: EndReason = payload.reason;
      return `${payload.sessionId} ${reason} ${payload.endedBy.kind === 'peer' ? payload.endedBy.peerId : payload.endedBy.kind}`;
    }
    case 'kicked':
      return `kicked by ${payload.kickedBy.kind}`;
    case 'failed':
      return `gave up after ${payload.attempts}`;
    default:
      return payload.state;
  }
}
const denied: ErrorCodes['PermissionDenied'] = 1201;
const notJoined: ErrorCode = 1205;
const patch: PresetUpdates = { kickParticipant: true, chat: { public: { canSend: false } }, waitingRoomType: 'SKIP_ON_ACCEPT' };
// @ts-expect-error a key PresetUpdates does not have
const misspelt: PresetUpdates = { kickParticipants: true };
// @ts-expect-error a code that is not one of ErrorCodes
const unknownCode: ErrorCode = 1999;
export { describeLeave, denied, notJoined, patch, misspelt, unknownCode };
