// The wasm side of the wasm-versus-native comparison, in Node: prints one JSON line with the
// best time per leave-and-join pair. Usage: node node.mjs PATH_TO_GLUE.js PEERS PAIRS ROUNDS
import { createRequire } from 'node:module';
import { resolve } from 'node:path';
import { performance } from 'node:perf_hooks';

const require = createRequire(import.meta.url);
const [glue, peers, pairs, rounds] = [process.argv[2], ...process.argv.slice(3, 6).map(Number)];
const { RosterChurn } = require(resolve(glue));

const churn = new RosterChurn(peers);
churn.run(Math.floor(pairs / 10)); // warm-up (and the JIT's tiers)
let best = Infinity;
for (let r = 0; r < rounds; r++) {
  const t = performance.now();
  const events = churn.run(pairs);
  const ns = ((performance.now() - t) * 1e6) / pairs;
  if (events !== 2 * pairs) throw new Error(`expected ${2 * pairs} events, got ${events}`);
  best = Math.min(best, ns);
}
if (churn.roster_len() !== peers) throw new Error(`roster ${churn.roster_len()}, expected ${peers}`);
console.log(JSON.stringify({ side: 'wasm', peers, pairs, rounds, best_ns_per_pair: Math.round(best) }));
