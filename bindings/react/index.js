// convene-react: React bindings for convene-client, shaped as @cloudflare/realtimekit-react 2.0.2
// (a provider holding the meeting, a hook that makes it, a selector hook), with RealtimeKit's
// names as aliases. The meeting's state lives in the client; these only subscribe to it.

import { createContext, createElement, useCallback, useContext, useEffect, useMemo, useRef, useState, useSyncExternalStore } from 'react';
import ConveneClient, { Emitter } from 'convene-client';

/** Counts the events of one meeting and tells the subscribed components of each. */
class MeetingUpdates {
  #listeners = new Set();
  version = 0;
  constructor(meeting) {
    // Every event the client routes comes through its `event` stream.
    meeting.on('event', () => {
      this.version += 1;
      for (const listener of [...this.#listeners]) listener();
    });
  }
  subscribe = (listener) => {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  };
}

// One counter per meeting, made on first use and kept as long as the meeting lives: renders that
// React throws away (StrictMode, a suspended tree) add no listener of their own.
const updatesOf = new WeakMap();
function updatesFor(meeting) {
  let updates = updatesOf.get(meeting);
  if (!updates) {
    updates = new MeetingUpdates(meeting);
    updatesOf.set(meeting, updates);
  }
  return updates;
}

/** The meeting of the nearest `ConveneProvider`, and its change notifications. */
export const ConveneContext = createContext({ meeting: undefined, updates: undefined });

/**
 * Makes `value` (the meeting from `useConveneClient()`) available to the components below;
 * renders `fallback` until there is one.
 */
export function ConveneProvider({ value, children, fallback = null }) {
  const context = useMemo(() => ({ meeting: value, updates: value ? updatesFor(value) : undefined }), [value]);
  return createElement(ConveneContext.Provider, { value: context }, value ? children : fallback);
}

function useProvided(hook) {
  const context = useContext(ConveneContext);
  if (!context.meeting) {
    throw new Error(`${hook}() needs a meeting: call it inside a <ConveneProvider value={meeting}> that has one`);
  }
  return context;
}

/** The meeting of the nearest `ConveneProvider`, as `{ meeting }`; throws outside one. */
export function useConveneMeeting() {
  return { meeting: useProvided('useConveneMeeting').meeting };
}

/**
 * Holds a meeting client: returns `[meeting, initMeeting]`. `meeting` is `undefined` until
 * `initMeeting({ authToken, baseURI })` has resolved with it (it rejects with the client's
 * `ClientError`). With `resetOnLeave`, `meeting` goes back to `undefined` once the participant
 * has left the room for good (`roomLeft` with any state but `disconnected`).
 */
export function useConveneClient({ resetOnLeave = false } = {}) {
  const [meeting, setMeeting] = useState(undefined);
  const initMeeting = useCallback(async (options) => {
    const client = await ConveneClient.init(options);
    setMeeting(client);
    return client;
  }, []);
  useEffect(() => {
    if (!meeting || !resetOnLeave) return undefined;
    const left = ({ state }) => {
      if (state !== 'disconnected') setMeeting(undefined);
    };
    meeting.self.on('roomLeft', left);
    return () => meeting.self.off('roomLeft', left);
  }, [meeting, resetOnLeave]);
  return [meeting, initMeeting];
}

/**
 * Reads `selector(meeting)` and re-renders when it changes. The selector runs again at each of the
 * meeting's events; the component re-renders only if the result differs from the last by
 * `isEqual` (default `Object.is`; `shallowEqual` compares arrays and plain objects one level
 * down). A selected emitter (`m => m.participants.joined`, `m => m.self`) is a live object that
 * stays the same while its contents change: the component re-renders at every event, as with
 * RealtimeKit.
 */
export function useConveneSelector(selector, isEqual = Object.is) {
  const { meeting, updates } = useProvided('useConveneSelector');
  const last = useRef(undefined);
  const snapshot = () => {
    const seen = last.current;
    const version = updates.version;
    if (seen && seen.meeting === meeting && seen.selector === selector && seen.version === version) return seen;
    const value = selector(meeting);
    const live = value instanceof Emitter;
    if (seen && seen.meeting === meeting && (live ? seen.value === value && seen.version === version : isEqual(seen.value, value))) {
      seen.selector = selector;
      seen.version = version;
      return seen;
    }
    last.current = { meeting, selector, version, value };
    return last.current;
  };
  return useSyncExternalStore(updates.subscribe, snapshot, snapshot).value;
}

/** Equal if `Object.is`, or arrays (plain objects) whose items (values) are `Object.is` alike. */
export function shallowEqual(a, b) {
  if (Object.is(a, b)) return true;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  const keys = Object.keys(a);
  if (keys.length !== Object.keys(b).length) return false;
  return keys.every((k) => Object.prototype.hasOwnProperty.call(b, k) && Object.is(a[k], b[k]));
}

// RealtimeKit's names, so that an app ports by changing its imports.
export {
  ConveneContext as RealtimeKitContext,
  ConveneProvider as RealtimeKitProvider,
  useConveneClient as useRealtimeKitClient,
  useConveneMeeting as useRealtimeKitMeeting,
  useConveneSelector as useRealtimeKitSelector,
};
