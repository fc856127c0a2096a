// The linked packages (file: dependencies are symlinks) import react and convene-client: resolve
// those from this app, so that there is one copy of each.
export default {
  resolve: { dedupe: ['react', 'react-dom', 'convene-client'] },
  esbuild: { jsx: 'automatic' },
};
