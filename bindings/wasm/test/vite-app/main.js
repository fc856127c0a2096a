// RealtimeKit's documented init, nothing else: the package finds its .wasm as Vite bundled it.
import ConveneClient from 'convene-client';

const query = new URLSearchParams(location.search);
window.started = ConveneClient.init({ authToken: query.get('token'), baseURI: query.get('server') }).then(
  (meeting) => ({ roomState: meeting.self.roomState, name: meeting.self.name }),
  (e) => ({ error: `${e.code}: ${e.message}` }),
);
