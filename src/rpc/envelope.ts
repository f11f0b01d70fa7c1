// oslo.messaging wire codec (rabbit driver, envelope 2.0): pure functions over strings/objects.
// No sockets, timers or randomness that cannot be injected: ids and clocks are parameters with
// defaults, so tests can build byte-exact messages.
import { randomUUID } from 'node:crypto';

import { isJsonObject, type JsonObject, type JsonValue } from '../util/json.js';

export { isJsonObject, type JsonObject, type JsonValue };

export const ENVELOPE_VERSION = '2.0';
export const VERSION_KEY = 'oslo.version';
export const MESSAGE_KEY = 'oslo.message';
/** Remembered `_unique_id`s per listener for duplicate suppression (oslo DUP_MSG_CHECK_SIZE). */
export const DUPLICATE_CHECK_SIZE = 16;

// ---------------------------------------------------------------------------------------------
// Errors

/** Base of everything this layer raises; `name` mirrors the oslo.messaging class name. */
export class MessagingError extends Error {
  override name = 'MessagingException';
}

/** No final reply within the call timeout (oslo_messaging.MessagingTimeout). */
export class MessagingTimeout extends MessagingError {
  override name = 'MessagingTimeout';
  constructor(message: string, readonly msgId?: string, readonly method?: string, readonly timeoutSec?: number) {
    super(message);
  }
}

/** Envelope with an `oslo.version` not compatible with 2.0. */
export class UnsupportedRpcEnvelopeVersion extends MessagingError {
  override name = 'UnsupportedRpcEnvelopeVersion';
  constructor(readonly version: string) {
    super(`Specified RPC envelope version, ${version}, not supported by this endpoint.`);
  }
}

/** A body that is not an oslo message at all (bad JSON, wrong shape, missing fields). */
export class MalformedMessage extends MessagingError {
  override name = 'MalformedMessage';
}

/** The failure carried by a reply, as the caller sees it (oslo_messaging.RemoteError). */
export class RemoteError extends MessagingError {
  override name = 'RemoteError';
  constructor(
    /** Remote exception class name, e.g. `NoSuchMethod`. */
    readonly excType: string,
    /** Python module of that class, e.g. `oslo_messaging.rpc.dispatcher`. */
    readonly module: string,
    /** str() of the remote exception. */
    readonly value: string,
    /** Formatted remote traceback lines. */
    readonly tb: string[],
  ) {
    super(`Remote error: ${excType} ${value}\n${tb.join('')}.`);
  }
}

/** Server side: no endpoint has the method (the caller gets class `NoSuchMethod`). */
export class NoSuchMethod extends MessagingError {
  override name = 'NoSuchMethod';
  constructor(readonly method: string) {
    super(`Endpoint does not support RPC method ${method}`);
  }
}

/** Server side: no endpoint of the namespace is compatible with the requested version. */
export class UnsupportedVersion extends MessagingError {
  override name = 'UnsupportedVersion';
  constructor(readonly version: string, readonly method?: string) {
    super(`Endpoint does not support RPC version ${version}` + (method ? `. Attempted method: ${method}` : ''));
  }
}

// ---------------------------------------------------------------------------------------------
// Envelope

/** Wraps an inner message in envelope 2.0: `oslo.message` is the JSON *text* of the message. */
export function encodeEnvelope(message: JsonObject): string {
  return JSON.stringify({ [VERSION_KEY]: ENVELOPE_VERSION, [MESSAGE_KEY]: JSON.stringify(message) });
}

/**
 * Decodes an AMQP body. An object with both envelope keys is unwrapped (its version must be
 * compatible with 2.0); any other object is an un-enveloped "1.0" message and returned as is.
 * Throws MalformedMessage for non-JSON or non-object bodies, UnsupportedRpcEnvelopeVersion for
 * other envelope versions.
 */
export function decodeEnvelope(body: string | Uint8Array): JsonObject {
  const text = typeof body === 'string' ? body : Buffer.from(body).toString('utf8');
  let outer: unknown;
  try {
    outer = JSON.parse(text);
  } catch (err) {
    throw new MalformedMessage(`body is not JSON: ${(err as Error).message}`);
  }
  if (!isJsonObject(outer)) throw new MalformedMessage(`body is JSON ${describe(outer)}, not an object`);
  if (!(VERSION_KEY in outer) || !(MESSAGE_KEY in outer)) return outer;
  const version = outer[VERSION_KEY];
  if (typeof version !== 'string' || !isVersionString(version)) {
    throw new UnsupportedRpcEnvelopeVersion(String(JSON.stringify(version)));
  }
  if (!versionIsCompatible(ENVELOPE_VERSION, version)) throw new UnsupportedRpcEnvelopeVersion(version);
  const inner = outer[MESSAGE_KEY];
  if (typeof inner !== 'string') throw new MalformedMessage(`"${MESSAGE_KEY}" is ${describe(inner)}, not a JSON string`);
  let message: unknown;
  try {
    message = JSON.parse(inner);
  } catch (err) {
    throw new MalformedMessage(`"${MESSAGE_KEY}" is not JSON: ${(err as Error).message}`);
  }
  if (!isJsonObject(message)) throw new MalformedMessage(`"${MESSAGE_KEY}" is JSON ${describe(message)}, not an object`);
  return message;
}

function describe(v: unknown): string {
  return v === null ? 'null' : Array.isArray(v) ? 'array' : typeof v;
}

// ---------------------------------------------------------------------------------------------
// Versions

function isVersionString(v: string): boolean {
  return /^\d+\.\d+(\.\d+)?$/.test(v);
}

/**
 * oslo_messaging._utils.version_is_compatible: `implemented` serves `requested` when the majors
 * are equal and the implemented minor (then revision) is not lower.
 */
export function versionIsCompatible(implemented: string, requested: string): boolean {
  if (!isVersionString(implemented)) throw new Error(`invalid implemented RPC version ${JSON.stringify(implemented)}`);
  if (!isVersionString(requested)) return false;
  const [iMaj, iMin, iRev = 0] = implemented.split('.').map(Number) as [number, number, number?];
  const [rMaj, rMin, rRev = 0] = requested.split('.').map(Number) as [number, number, number?];
  if (iMaj !== rMaj) return false;
  if (rMin > iMin) return false;
  if (rMin === iMin && rRev > iRev) return false;
  return true;
}

// ---------------------------------------------------------------------------------------------
// Context

/** A neutron RequestContext as `to_dict()` produces it (values are plain JSON). */
export type RequestContext = JsonObject;

export const CONTEXT_PREFIX = '_context_';

/** uuid4 hex without dashes, as oslo uses for `_msg_id`, `_unique_id` and queue names. */
export function uuidHex(): string {
  return randomUUID().replace(/-/g, '');
}

/** `str(datetime)` of a naive UTC datetime, always with 6 fractional digits. */
export function formatContextTimestamp(d: Date, micros?: number): string {
  const p = (n: number, w = 2) => String(n).padStart(w, '0');
  const us = micros ?? d.getUTCMilliseconds() * 1000;
  return `${d.getUTCFullYear()}-${p(d.getUTCMonth() + 1)}-${p(d.getUTCDate())} ` +
    `${p(d.getUTCHours())}:${p(d.getUTCMinutes())}:${p(d.getUTCSeconds())}.${p(us, 6)}`;
}

/**
 * The agent's admin context (neutron_lib get_admin_context_without_session().to_dict()), with the
 * exact key set captured on the wire (rpc.md §2.5).
 */
export function adminContext(opts: { requestId?: string; now?: Date } = {}): RequestContext {
  return {
    user: null, user_id: null, user_name: null,
    project: null, project_id: null, project_name: null,
    tenant_id: null, tenant_name: null,
    domain: null, user_domain: null, project_domain: null,
    system_scope: null, is_admin: true, is_admin_project: true,
    read_only: false, show_deleted: false, auth_token: null,
    request_id: opts.requestId ?? `req-${randomUUID()}`, global_request_id: null,
    resource_uuid: null, roles: [], user_identity: '- - - - -',
    timestamp: formatContextTimestamp(opts.now ?? new Date()),
  };
}

/** `{k: v}` → `{"_context_k": v}`. */
export function flattenContext(ctx: RequestContext): JsonObject {
  const out: JsonObject = {};
  for (const [k, v] of Object.entries(ctx)) out[CONTEXT_PREFIX + k] = v;
  return out;
}

// ---------------------------------------------------------------------------------------------
// Requests

export interface RequestMessageOptions {
  /** Requested API version "X.Y"; omitted from the message when undefined. */
  version?: string;
  /** Endpoint namespace; omitted when null/undefined (every neutron agent RPC but trunk). */
  namespace?: string | null;
  context: RequestContext;
  uniqueId?: string;
}

export interface CallMessageOptions extends RequestMessageOptions {
  msgId?: string;
  replyQueue: string;
}

function baseRequest(method: string, args: JsonObject, opts: RequestMessageOptions): JsonObject {
  const msg: JsonObject = { method, args };
  if (opts.version !== undefined) msg.version = opts.version;
  if (opts.namespace !== undefined && opts.namespace !== null) msg.namespace = opts.namespace;
  return msg;
}

/** Inner message of a call: request + `_msg_id`, `_reply_q`, `_timeout: null`, `_unique_id`, context. */
export function buildCallMessage(method: string, args: JsonObject, opts: CallMessageOptions): JsonObject {
  return {
    ...baseRequest(method, args, opts),
    _msg_id: opts.msgId ?? uuidHex(),
    _reply_q: opts.replyQueue,
    _timeout: null,
    _unique_id: opts.uniqueId ?? uuidHex(),
    ...flattenContext(opts.context),
  };
}

/** Inner message of a cast (topic or fanout): no `_msg_id`/`_reply_q`/`_timeout`. */
export function buildCastMessage(method: string, args: JsonObject, opts: RequestMessageOptions): JsonObject {
  return { ...baseRequest(method, args, opts), _unique_id: opts.uniqueId ?? uuidHex(), ...flattenContext(opts.context) };
}

/** A request as a server sees it after stripping transport keys. */
export interface IncomingRequest {
  method: string;
  args: JsonObject;
  /** Requested version; oslo's dispatcher assumes "1.0" when absent. */
  version: string;
  namespace: string | null;
  context: RequestContext;
  /** Present on calls. */
  msgId: string | null;
  replyQueue: string | null;
  /** Call-monitor timeout requested by the caller (neutron: always null). */
  timeout: number | null;
  uniqueId: string | null;
}

/** Validates and splits a decoded inner request; throws MalformedMessage naming the bad field. */
export function parseRequest(message: JsonObject): IncomingRequest {
  const method = message.method;
  if (typeof method !== 'string' || method === '') throw new MalformedMessage(`request without a method name (method=${JSON.stringify(method ?? null)})`);
  const args = message.args ?? {};
  if (!isJsonObject(args)) throw new MalformedMessage(`request ${method}: args is ${describe(args)}, not an object`);
  const version = message.version ?? '1.0';
  if (typeof version !== 'string') throw new MalformedMessage(`request ${method}: version is ${describe(version)}, not a string`);
  const namespace = message.namespace ?? null;
  if (namespace !== null && typeof namespace !== 'string') throw new MalformedMessage(`request ${method}: namespace is ${describe(namespace)}`);
  const msgId = message._msg_id ?? null;
  if (msgId !== null && typeof msgId !== 'string') throw new MalformedMessage(`request ${method}: _msg_id is ${describe(msgId)}`);
  const replyQueue = message._reply_q ?? null;
  if (replyQueue !== null && typeof replyQueue !== 'string') throw new MalformedMessage(`request ${method}: _reply_q is ${describe(replyQueue)}`);
  if (msgId !== null && replyQueue === null) throw new MalformedMessage(`call ${method} (msg_id ${msgId}) without _reply_q`);
  const timeout = message._timeout ?? null;
  if (timeout !== null && typeof timeout !== 'number') throw new MalformedMessage(`request ${method}: _timeout is ${describe(timeout)}`);
  const uniqueId = message._unique_id ?? null;
  if (uniqueId !== null && typeof uniqueId !== 'string') throw new MalformedMessage(`request ${method}: _unique_id is ${describe(uniqueId)}`);
  const context: RequestContext = {};
  for (const [k, v] of Object.entries(message)) {
    if (k.startsWith(CONTEXT_PREFIX)) context[k.slice(CONTEXT_PREFIX.length)] = v;
  }
  return { method, args, version, namespace, context, msgId, replyQueue, timeout, uniqueId };
}

// ---------------------------------------------------------------------------------------------
// Replies

/** The data of a failure, as serialize_remote_exception() writes it. */
export interface FailureInfo {
  class: string;
  module: string;
  message: string;
  tb: string[];
  args?: JsonValue[];
  kwargs?: JsonObject;
}

export interface ReplyOptions {
  msgId: string;
  result?: JsonValue;
  failure?: FailureInfo | null;
  ending?: boolean;
  uniqueId?: string;
}

/** Inner reply message; `failure` is a JSON *string* (or null). */
export function buildReplyMessage(opts: ReplyOptions): JsonObject {
  let failure: JsonValue = null;
  if (opts.failure) {
    failure = JSON.stringify({
      class: opts.failure.class, module: opts.failure.module, message: opts.failure.message,
      tb: opts.failure.tb, args: opts.failure.args ?? [opts.failure.message], kwargs: opts.failure.kwargs ?? {},
    });
  }
  return {
    result: opts.failure ? null : (opts.result ?? null),
    failure,
    ending: opts.ending ?? true,
    _msg_id: opts.msgId,
    _unique_id: opts.uniqueId ?? uuidHex(),
  };
}

/** Failure data of a server-side error (our own errors map to oslo class/module names). */
export function failureFromError(err: unknown): FailureInfo {
  if (err instanceof NoSuchMethod || err instanceof UnsupportedVersion) {
    return { class: err.name, module: 'oslo_messaging.rpc.dispatcher', message: err.message, tb: tracebackOf(err), args: [err.message] };
  }
  if (err instanceof Error) {
    const cls = err.name && err.name !== 'Error' ? err.name : (err.constructor?.name || 'Error');
    return { class: cls, module: 'ovs_agent', message: err.message, tb: tracebackOf(err), args: [err.message] };
  }
  return { class: 'Exception', module: 'builtins', message: String(err), tb: [], args: [String(err)] };
}

function tracebackOf(err: Error): string[] {
  return (err.stack ?? `${err.name}: ${err.message}`).split('\n').map((l) => l + '\n');
}

export interface ParsedReply {
  msgId: string;
  result: JsonValue;
  /** Decoded failure, already turned into the error the caller should see. */
  failure: RemoteError | null;
  ending: boolean;
  uniqueId: string | null;
}

/** Parses a failure JSON string into a RemoteError (class, module, message, tb). */
export function parseFailure(failure: string): RemoteError {
  let data: unknown;
  try {
    data = JSON.parse(failure);
  } catch (err) {
    throw new MalformedMessage(`reply failure is not JSON: ${(err as Error).message}`);
  }
  if (!isJsonObject(data)) throw new MalformedMessage(`reply failure is JSON ${describe(data)}, not an object`);
  const tb = Array.isArray(data.tb) ? data.tb.map((l) => String(l)) : [];
  return new RemoteError(
    typeof data.class === 'string' ? data.class : 'Exception',
    typeof data.module === 'string' ? data.module : '',
    typeof data.message === 'string' ? data.message : '',
    tb,
  );
}

/** Validates a decoded reply. Throws MalformedMessage when it has no usable `_msg_id`. */
export function parseReply(message: JsonObject): ParsedReply {
  const msgId = message._msg_id;
  if (typeof msgId !== 'string' || msgId === '') throw new MalformedMessage(`reply without _msg_id (keys: ${Object.keys(message).join(', ')})`);
  const f = message.failure ?? null;
  let failure: RemoteError | null = null;
  if (typeof f === 'string') failure = parseFailure(f);
  else if (isJsonObject(f)) failure = parseFailure(JSON.stringify(f)); // tolerate an object
  else if (f !== null) throw new MalformedMessage(`reply ${msgId}: failure is ${describe(f)}`);
  const uniqueId = typeof message._unique_id === 'string' ? message._unique_id : null;
  return { msgId, result: message.result ?? null, failure, ending: message.ending === true, uniqueId };
}

// ---------------------------------------------------------------------------------------------
// Duplicate suppression

/** Remembers the last `size` `_unique_id`s; `seen()` is true for a repeat. */
export class UniqueIdCache {
  private readonly ids: string[] = [];
  constructor(private readonly size = DUPLICATE_CHECK_SIZE) {}
  /** Records `id` and reports whether it was already among the remembered ones. */
  seen(id: string | null): boolean {
    if (id === null) return false;
    if (this.ids.includes(id)) return true;
    this.ids.push(id);
    if (this.ids.length > this.size) this.ids.shift();
    return false;
  }
}
