// The package in Node (the `node` condition of its exports): the same API, but `init` reads the
// WebAssembly from the package's own file when it is not given `wasm` (Node's `fetch`, which the
// browser entry point loads it with, cannot read a `file:` URL). So the documented
// `ConveneClient.init({ authToken, baseURI })` works in Node as it is.
import { readFile } from 'node:fs/promises';
import ConveneClient from './index.js';

let bytes;

/** {@link ConveneClient}, whose `init` loads the package's `.wasm` file by default. */
export default class NodeConveneClient extends ConveneClient {
  static init(args = {}) {
    const wasm = args.wasm ?? (bytes ??= readFile(new URL('./convene_wasm_bg.wasm', import.meta.url)));
    return super.init({ ...args, wasm });
  }
}

export * from './index.js';
