// Types of the convene-react npm package: React bindings for convene-client.

import type { Context, ReactNode } from 'react';
import type ConveneClient from 'convene-client';
import type { InitOptions } from 'convene-client';

export type { default as ConveneClient } from 'convene-client';
export type {
  Actor,
  ClientError,
  InitOptions,
  LeaveRoomState,
  Participant,
  ParticipantMap,
  RecordingState,
  RoomLeftPayload,
  RoomState,
  SocketState,
  WaitlistStatus,
} from 'convene-client';

/** Change notifications of one meeting (one per meeting, shared by its providers). */
export interface MeetingUpdates {
  /** Grows by one at each of the meeting's events. */
  readonly version: number;
  /** Calls `listener` after each event; returns the unsubscribe function. */
  subscribe(listener: () => void): () => void;
}

/** The meeting of the nearest `ConveneProvider`, and its change notifications. */
export declare const ConveneContext: Context<{
  meeting: ConveneClient | undefined;
  updates: MeetingUpdates | undefined;
}>;

/**
 * Makes `value` (the meeting from `useConveneClient()`) available to the components below;
 * renders `fallback` until there is one.
 */
export declare function ConveneProvider(props: {
  value: ConveneClient | undefined;
  children?: ReactNode;
  fallback?: ReactNode;
}): ReactNode;

/** The meeting of the nearest `ConveneProvider`, as `{ meeting }`; throws outside one. */
export declare function useConveneMeeting(): { meeting: ConveneClient };

/** Options of `useConveneClient`. */
export interface ConveneClientParams {
  /** Forget the meeting once the participant has left the room for good. */
  resetOnLeave?: boolean;
}

/**
 * Holds a meeting client: returns `[meeting, initMeeting]`. `meeting` is `undefined` until
 * `initMeeting({ authToken, baseURI })` has resolved with it (it rejects with the client's
 * `ClientError`). With `resetOnLeave`, `meeting` goes back to `undefined` once the participant
 * has left the room for good (`roomLeft` with any state but `disconnected`).
 */
export declare function useConveneClient(
  params?: ConveneClientParams,
): [ConveneClient | undefined, (options: InitOptions) => Promise<ConveneClient>];

/**
 * Reads `selector(meeting)` and re-renders when it changes. The selector runs again at each of the
 * meeting's events; the component re-renders only if the result differs from the last by
 * `isEqual` (default `Object.is`; `shallowEqual` compares arrays and plain objects one level
 * down). A selected emitter (`m => m.participants.joined`, `m => m.self`) is a live object that
 * stays the same while its contents change: the component re-renders at every event, as with
 * RealtimeKit.
 */
export declare function useConveneSelector<T>(
  selector: (meeting: ConveneClient) => T,
  isEqual?: (previous: T, next: T) => boolean,
): T;

/** Equal if `Object.is`, or arrays (plain objects) whose items (values) are `Object.is` alike. */
export declare function shallowEqual(a: unknown, b: unknown): boolean;

/** RealtimeKit's name for `ConveneContext`. */
export declare const RealtimeKitContext: typeof ConveneContext;
/** RealtimeKit's name for `ConveneProvider`. */
export declare const RealtimeKitProvider: typeof ConveneProvider;
/** RealtimeKit's name for `useConveneClient`. */
export declare const useRealtimeKitClient: typeof useConveneClient;
/** RealtimeKit's name for `useConveneMeeting`. */
export declare const useRealtimeKitMeeting: typeof useConveneMeeting;
/** RealtimeKit's name for `useConveneSelector`. */
export declare const useRealtimeKitSelector: typeof useConveneSelector;
