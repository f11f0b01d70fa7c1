// OVSDB wire protocol (RFC 7047): JSON-RPC 1.0 framing over a byte stream, message encoders,
// datum conversion and operation/condition/mutation builders. Pure code: no sockets, no timers.

// ---------------------------------------------------------------------------------------------
// JSON values
// ---------------------------------------------------------------------------------------------

export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
export type JsonObject = { [key: string]: Json };

// ---------------------------------------------------------------------------------------------
// Stream splitter
// ---------------------------------------------------------------------------------------------

/** Raised (returned, never thrown) when the byte stream cannot be split into JSON-RPC messages. */
export class OvsdbFramingError extends Error {
  constructor(message: string, readonly offset: number) {
    super(message);
    this.name = 'OvsdbFramingError';
  }
}

export interface DecodeResult {
  /** Complete top-level JSON objects, in stream order. */
  messages: JsonObject[];
  /** Set once the stream is unusable; the decoder stays failed until reset(). */
  error?: OvsdbFramingError;
}

export interface StreamDecoderOptions {
  /** Largest accepted message, in bytes (default 64 MiB). */
  maxMessageBytes?: number;
  /** Deepest accepted nesting of objects/arrays (default 1000). */
  maxDepth?: number;
}

const LBRACE = 0x7b, RBRACE = 0x7d, LBRACKET = 0x5b, RBRACKET = 0x5d, QUOTE = 0x22, BACKSLASH = 0x5c;

function isJsonWhitespace(b: number): boolean {
  return b === 0x20 || b === 0x0a || b === 0x0d || b === 0x09;
}

/**
 * Splits the concatenated JSON objects OVSDB sends (no delimiter between them) into messages.
 * Works on bytes: every structural JSON character is ASCII and never occurs inside a UTF-8
 * multi-byte sequence, so a character split across chunks needs no special handling; each
 * complete message is decoded as UTF-8 in one piece.
 */
export class JsonStreamDecoder {
  private readonly maxBytes: number;
  private readonly maxDepth: number;
  private parts: Uint8Array[] = [];
  private partsBytes = 0;
  // Closers expected for the open brackets of the current message (RBRACE/RBRACKET bytes).
  private stack = new Uint8Array(64);
  private depth = 0;
  private inString = false;
  private escape = false;
  private consumed = 0; // bytes seen since the stream (re)started, for error offsets
  private failed: OvsdbFramingError | undefined;
  private readonly utf8 = new TextDecoder('utf-8', { fatal: true });

  constructor(opts: StreamDecoderOptions = {}) {
    this.maxBytes = opts.maxMessageBytes ?? 64 * 1024 * 1024;
    this.maxDepth = opts.maxDepth ?? 1000;
  }

  /** True while part of a message is buffered. */
  get pending(): boolean {
    return this.depth > 0 || this.partsBytes > 0;
  }

  reset(): void {
    this.parts = [];
    this.partsBytes = 0;
    this.depth = 0;
    this.inString = false;
    this.escape = false;
    this.consumed = 0;
    this.failed = undefined;
  }

  push(chunk: Uint8Array): DecodeResult {
    const messages: JsonObject[] = [];
    if (this.failed) return { messages, error: this.failed };
    let start = this.depth > 0 ? 0 : -1; // start of the current message inside `chunk`
    for (let i = 0; i < chunk.length; i++) {
      const b = chunk[i];
      if (this.depth === 0) {
        if (isJsonWhitespace(b)) continue;
        if (b !== LBRACE) {
          return { messages, error: this.fail(`unexpected byte 0x${b.toString(16).padStart(2, '0')} between JSON-RPC messages`, i) };
        }
        this.stack[0] = RBRACE;
        this.depth = 1;
        start = i;
        continue;
      }
      if (this.inString) {
        if (this.escape) this.escape = false;
        else if (b === BACKSLASH) this.escape = true;
        else if (b === QUOTE) this.inString = false;
        else if (b < 0x20) return { messages, error: this.fail('control character inside a JSON string', i) };
        continue;
      }
      if (b === QUOTE) this.inString = true;
      else if (b === LBRACE || b === LBRACKET) {
        if (this.depth >= this.maxDepth) return { messages, error: this.fail(`nesting deeper than ${this.maxDepth}`, i) };
        if (this.depth === this.stack.length) {
          const bigger = new Uint8Array(this.stack.length * 2);
          bigger.set(this.stack);
          this.stack = bigger;
        }
        this.stack[this.depth++] = b === LBRACE ? RBRACE : RBRACKET;
      } else if (b === RBRACE || b === RBRACKET) {
        if (this.stack[this.depth - 1] !== b) {
          return { messages, error: this.fail(`mismatched '${String.fromCharCode(b)}'`, i) };
        }
        this.depth--;
        if (this.depth === 0) {
          const piece = chunk.subarray(start, i + 1);
          if (this.partsBytes + piece.length > this.maxBytes) {
            return { messages, error: this.fail(`message larger than ${this.maxBytes} bytes`, i) };
          }
          const bytes = this.takeMessage(piece);
          start = -1;
          const parsed = this.parse(bytes, i);
          if (parsed instanceof OvsdbFramingError) return { messages, error: parsed };
          messages.push(parsed);
        }
      }
    }
    if (this.depth > 0 && start >= 0) {
      const rest = chunk.subarray(start);
      if (this.partsBytes + rest.length > this.maxBytes) {
        return { messages, error: this.fail(`message larger than ${this.maxBytes} bytes`, chunk.length) };
      }
      // Copy: the caller may reuse its buffer.
      this.parts.push(Uint8Array.prototype.slice.call(rest));
      this.partsBytes += rest.length;
    }
    this.consumed += chunk.length;
    return { messages };
  }

  private takeMessage(lastPiece: Uint8Array): Uint8Array {
    if (this.parts.length === 0) return lastPiece;
    const out = new Uint8Array(this.partsBytes + lastPiece.length);
    let o = 0;
    for (const p of this.parts) {
      out.set(p, o);
      o += p.length;
    }
    out.set(lastPiece, o);
    this.parts = [];
    this.partsBytes = 0;
    return out;
  }

  private parse(bytes: Uint8Array, at: number): JsonObject | OvsdbFramingError {
    let text: string;
    try {
      text = this.utf8.decode(bytes);
    } catch {
      return this.fail('message is not valid UTF-8', at);
    }
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch (err) {
      return this.fail(`message is not valid JSON (${(err as Error).message})`, at);
    }
    if (value === null || typeof value !== 'object' || Array.isArray(value)) {
      return this.fail('message is not a JSON object', at);
    }
    return value as JsonObject;
  }

  private fail(msg: string, indexInChunk: number): OvsdbFramingError {
    this.depth = 0;
    this.inString = false;
    this.escape = false;
    this.failed = new OvsdbFramingError(`OVSDB stream: ${msg} at byte ${this.consumed + indexInChunk}`, this.consumed + indexInChunk);
    this.parts = [];
    this.partsBytes = 0;
    return this.failed;
  }
}

// ---------------------------------------------------------------------------------------------
// JSON-RPC 1.0 messages
// ---------------------------------------------------------------------------------------------

export type RpcId = string | number;

export type RpcMessage =
  | { kind: 'request'; method: string; params: Json[]; id: RpcId }
  | { kind: 'notification'; method: string; params: Json[] }
  | { kind: 'response'; id: RpcId; result: Json; error: Json };

/** Classifies a decoded JSON object; returns an Error (not thrown) for malformed messages. */
export function parseRpcMessage(msg: JsonObject): RpcMessage | Error {
  if (typeof msg.method === 'string') {
    const params = msg.params;
    if (!Array.isArray(params)) return new Error(`JSON-RPC "${msg.method}" message has non-array params`);
    const id = msg.id;
    if (id === null || id === undefined) return { kind: 'notification', method: msg.method, params };
    if (typeof id !== 'string' && typeof id !== 'number') return new Error(`JSON-RPC "${msg.method}" request has invalid id`);
    return { kind: 'request', method: msg.method, params, id };
  }
  if ('result' in msg || 'error' in msg) {
    const id = msg.id;
    if (typeof id !== 'string' && typeof id !== 'number') return new Error('JSON-RPC response without a usable id');
    return { kind: 'response', id, result: msg.result ?? null, error: msg.error ?? null };
  }
  return new Error('JSON object is neither a JSON-RPC request, notification nor response');
}

export function encodeRequest(method: string, params: Json[], id: RpcId): string {
  return JSON.stringify({ method, params, id });
}

export function encodeNotification(method: string, params: Json[]): string {
  return JSON.stringify({ method, params, id: null });
}

export function encodeResponse(id: RpcId, result: Json, error: Json = null): string {
  return JSON.stringify({ result, error, id });
}

// ---------------------------------------------------------------------------------------------
// Datum <-> JS
// ---------------------------------------------------------------------------------------------

/** A row reference (`["uuid", "..."]`). */
export class Uuid {
  constructor(readonly value: string) {}
  toString(): string {
    return this.value;
  }
}

/** A reference to a row inserted earlier in the same transaction (`["named-uuid", "..."]`). */
export class NamedUuid {
  constructor(readonly name: string) {}
  toString(): string {
    return this.name;
  }
}

export type OvsdbAtom = string | number | boolean | Uuid | NamedUuid;
/**
 * A datum as JS: an atom (a one-element set arrives as its bare atom, as OVSDB sends it),
 * an array for `["set", …]`, a Map for `["map", …]`.
 */
export type OvsdbDatum = OvsdbAtom | OvsdbAtom[] | Map<OvsdbAtom, OvsdbAtom>;
/** What encodeDatum accepts: a datum, or a plain string record for a string→string map. */
export type OvsdbDatumInput = OvsdbDatum | Readonly<Record<string, string>> | ReadonlyMap<string, string>;

export class OvsdbDatumError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'OvsdbDatumError';
  }
}

function describe(j: unknown): string {
  const s = JSON.stringify(j);
  return s === undefined ? String(j) : s.length > 80 ? `${s.slice(0, 77)}...` : s;
}

export function decodeAtom(j: Json): OvsdbAtom {
  if (typeof j === 'string' || typeof j === 'number' || typeof j === 'boolean') return j;
  if (Array.isArray(j) && j.length === 2 && typeof j[1] === 'string') {
    if (j[0] === 'uuid') return new Uuid(j[1]);
    if (j[0] === 'named-uuid') return new NamedUuid(j[1]);
  }
  throw new OvsdbDatumError(`not an OVSDB atom: ${describe(j)}`);
}

export function encodeAtom(a: OvsdbAtom): Json {
  if (a instanceof Uuid) return ['uuid', a.value];
  if (a instanceof NamedUuid) return ['named-uuid', a.name];
  return a;
}

export function decodeDatum(j: Json): OvsdbDatum {
  if (Array.isArray(j) && j.length === 2 && Array.isArray(j[1])) {
    if (j[0] === 'set') return j[1].map(decodeAtom);
    if (j[0] === 'map') {
      const m = new Map<OvsdbAtom, OvsdbAtom>();
      for (const pair of j[1]) {
        if (!Array.isArray(pair) || pair.length !== 2) throw new OvsdbDatumError(`bad map pair: ${describe(pair)}`);
        m.set(decodeAtom(pair[0]), decodeAtom(pair[1]));
      }
      return m;
    }
  }
  return decodeAtom(j);
}

function isAtom(v: unknown): v is OvsdbAtom {
  return typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean' || v instanceof Uuid || v instanceof NamedUuid;
}

export function encodeDatum(v: OvsdbDatumInput): Json {
  if (isAtom(v)) return encodeAtom(v);
  if (Array.isArray(v)) return ['set', v.map(encodeAtom)];
  if (v instanceof Map) return ['map', [...v].map(([k, val]) => [encodeAtom(k), encodeAtom(val)])];
  if (typeof v === 'object' && v !== null) {
    return ['map', Object.entries(v as Record<string, string>).map(([k, val]) => [k, val])];
  }
  throw new OvsdbDatumError(`cannot encode ${describe(v)} as an OVSDB datum`);
}

/** The empty set: how an optional column (min 0, max 1) is cleared. */
export const EMPTY_SET: Json = ['set', []];

// Typed readers for the column shapes the agent uses. They take wire JSON and throw
// OvsdbDatumError naming what they expected.

/** Elements of a set column, whatever OVSDB sent (bare atom for one element). */
export function setAtoms(j: Json): OvsdbAtom[] {
  const d = decodeDatum(j);
  if (d instanceof Map) throw new OvsdbDatumError(`expected a set, got a map: ${describe(j)}`);
  return Array.isArray(d) ? d : [d];
}

export function stringSet(j: Json): string[] {
  return setAtoms(j).map((a) => {
    if (typeof a !== 'string') throw new OvsdbDatumError(`expected a set of strings: ${describe(j)}`);
    return a;
  });
}

export function integerSet(j: Json): number[] {
  return setAtoms(j).map((a) => {
    if (typeof a !== 'number') throw new OvsdbDatumError(`expected a set of integers: ${describe(j)}`);
    return a;
  });
}

function isUuidAtom(j: Json): j is ['uuid', string] {
  return Array.isArray(j) && j.length === 2 && j[0] === 'uuid' && typeof j[1] === 'string';
}

export function uuidSet(j: Json): string[] {
  // Fast path: Bridge.ports arrives whole on every change, with thousands of elements.
  if (Array.isArray(j) && j[0] === 'set' && Array.isArray(j[1])) {
    const elems = j[1];
    const out = new Array<string>(elems.length);
    for (let i = 0; i < elems.length; i++) {
      const e = elems[i];
      if (!isUuidAtom(e)) throw new OvsdbDatumError(`expected a set of uuids: ${describe(j)}`);
      out[i] = e[1];
    }
    return out;
  }
  return setAtoms(j).map((a) => {
    if (!(a instanceof Uuid)) throw new OvsdbDatumError(`expected a set of uuids: ${describe(j)}`);
    return a.value;
  });
}

export function stringMap(j: Json): Map<string, string> {
  const d = decodeDatum(j);
  if (!(d instanceof Map)) throw new OvsdbDatumError(`expected a map: ${describe(j)}`);
  const m = new Map<string, string>();
  for (const [k, v] of d) {
    if (typeof k !== 'string' || typeof v !== 'string') throw new OvsdbDatumError(`expected a string→string map: ${describe(j)}`);
    m.set(k, v);
  }
  return m;
}

/** An optional column (min 0, max 1): undefined when empty. */
export function optionalString(j: Json): string | undefined {
  const s = stringSet(j);
  return s[0];
}

export function optionalInteger(j: Json): number | undefined {
  const s = integerSet(j);
  return s[0];
}

export function requiredString(j: Json): string {
  if (typeof j !== 'string') throw new OvsdbDatumError(`expected a string: ${describe(j)}`);
  return j;
}

export function requiredInteger(j: Json): number {
  if (typeof j !== 'number' || !Number.isInteger(j)) throw new OvsdbDatumError(`expected an integer: ${describe(j)}`);
  return j;
}

/** An integer→uuid map column (QoS.queues) as uuid text by key. */
export function uuidsByInteger(j: Json): Map<number, string> {
  const d = decodeDatum(j);
  if (!(d instanceof Map)) throw new OvsdbDatumError(`expected a map: ${describe(j)}`);
  const m = new Map<number, string>();
  for (const [k, v] of d) {
    if (typeof k !== 'number' || !(v instanceof Uuid)) throw new OvsdbDatumError(`expected an integer→uuid map: ${describe(j)}`);
    m.set(k, v.value);
  }
  return m;
}

export function requiredBoolean(j: Json): boolean {
  if (typeof j !== 'boolean') throw new OvsdbDatumError(`expected a boolean: ${describe(j)}`);
  return j;
}

// ---------------------------------------------------------------------------------------------
// Conditions, mutations, operations
// ---------------------------------------------------------------------------------------------

export type ConditionFunction = '<' | '<=' | '==' | '!=' | '>=' | '>' | 'includes' | 'excludes';
export type Condition = [string, ConditionFunction, Json];

export const cond = {
  eq: (column: string, v: OvsdbDatumInput): Condition => [column, '==', encodeDatum(v)],
  ne: (column: string, v: OvsdbDatumInput): Condition => [column, '!=', encodeDatum(v)],
  lt: (column: string, v: number): Condition => [column, '<', v],
  le: (column: string, v: number): Condition => [column, '<=', v],
  gt: (column: string, v: number): Condition => [column, '>', v],
  ge: (column: string, v: number): Condition => [column, '>=', v],
  includes: (column: string, v: OvsdbDatumInput): Condition => [column, 'includes', encodeDatum(v)],
  excludes: (column: string, v: OvsdbDatumInput): Condition => [column, 'excludes', encodeDatum(v)],
  uuid: (uuid: string): Condition => ['_uuid', '==', ['uuid', uuid]],
};

export type Mutator = '+=' | '-=' | '*=' | '/=' | '%=' | 'insert' | 'delete';
export type Mutation = [string, Mutator, Json];

export const mutation = {
  /** Set/map insert; for a map, keys already present keep their old value (RFC 7047 5.1). */
  insert: (column: string, v: OvsdbDatumInput): Mutation => [column, 'insert', encodeDatum(v)],
  /** Delete set elements, map pairs (given a map) or map keys (given a set of keys). */
  delete: (column: string, v: OvsdbDatumInput): Mutation => [column, 'delete', encodeDatum(v)],
  add: (column: string, n: number): Mutation => [column, '+=', n],
  sub: (column: string, n: number): Mutation => [column, '-=', n],
  /**
   * Merge string keys into a map column, overwriting existing keys: delete the keys, then insert
   * the pairs. Both mutations run inside one operation, so the merge is atomic and leaves other
   * keys alone.
   */
  mergeMap: (column: string, kv: Readonly<Record<string, string>>): Mutation[] => {
    const keys = Object.keys(kv);
    if (keys.length === 0) return [];
    return [[column, 'delete', ['set', keys]], [column, 'insert', encodeDatum(kv)]];
  },
};

export type Row = Record<string, Json>;

export type Operation =
  | { op: 'insert'; table: string; row: Row; 'uuid-name'?: string }
  | { op: 'select'; table: string; where: Condition[]; columns?: string[] }
  | { op: 'update'; table: string; where: Condition[]; row: Row }
  | { op: 'mutate'; table: string; where: Condition[]; mutations: Mutation[] }
  | { op: 'delete'; table: string; where: Condition[] }
  | { op: 'wait'; table: string; where: Condition[]; columns: string[]; until: '==' | '!='; rows: Row[]; timeout?: number }
  | { op: 'commit'; durable: boolean }
  | { op: 'abort' }
  | { op: 'comment'; comment: string }
  | { op: 'assert'; lock: string };

/** Encodes a JS row (column → datum input) to wire JSON. */
export function encodeRow(row: Readonly<Record<string, OvsdbDatumInput>>): Row {
  const out: Row = {};
  for (const [k, v] of Object.entries(row)) out[k] = encodeDatum(v);
  return out;
}

export const op = {
  insert: (table: string, row: Readonly<Record<string, OvsdbDatumInput>>, uuidName?: string): Operation =>
    uuidName === undefined ? { op: 'insert', table, row: encodeRow(row) } : { op: 'insert', table, row: encodeRow(row), 'uuid-name': uuidName },
  select: (table: string, where: Condition[], columns?: string[]): Operation =>
    columns ? { op: 'select', table, where, columns } : { op: 'select', table, where },
  /** Values may be wire JSON already (e.g. EMPTY_SET); atoms and arrays are encoded. */
  update: (table: string, where: Condition[], row: Readonly<Record<string, OvsdbDatumInput>>): Operation => ({ op: 'update', table, where, row: encodeRow(row) }),
  updateRaw: (table: string, where: Condition[], row: Row): Operation => ({ op: 'update', table, where, row }),
  mutate: (table: string, where: Condition[], mutations: Mutation[]): Operation => ({ op: 'mutate', table, where, mutations }),
  delete: (table: string, where: Condition[]): Operation => ({ op: 'delete', table, where }),
  /** Fails the transaction at once (timeout 0) unless the selected rows' columns compare as `until` says. */
  wait: (table: string, where: Condition[], columns: string[], until: '==' | '!=', rows: Row[], timeout = 0): Operation =>
    ({ op: 'wait', table, where, columns, until, rows, timeout }),
  comment: (comment: string): Operation => ({ op: 'comment', comment }),
  commit: (durable = false): Operation => ({ op: 'commit', durable }),
  abort: (): Operation => ({ op: 'abort' }),
};

// ---------------------------------------------------------------------------------------------
// Results
// ---------------------------------------------------------------------------------------------

export interface OperationResult {
  count?: number;
  uuid?: string;
  rows?: Row[];
}

export interface OperationError {
  error: string;
  details?: string;
}

/** One result per operation; null for operations not attempted after a failure. */
export type TransactResult = Array<OperationResult | OperationError | null>;

export function isOperationError(r: unknown): r is OperationError {
  return typeof r === 'object' && r !== null && typeof (r as { error?: unknown }).error === 'string';
}

/** The UUID text from an insert result (`{"uuid": ["uuid", "…"]}`). */
export function parseOperationResult(j: Json): OperationResult | OperationError | null {
  if (j === null) return null;
  if (typeof j !== 'object' || Array.isArray(j)) throw new OvsdbDatumError(`bad operation result: ${describe(j)}`);
  if (typeof j.error === 'string') {
    return typeof j.details === 'string' ? { error: j.error, details: j.details } : { error: j.error };
  }
  const r: OperationResult = {};
  if (typeof j.count === 'number') r.count = j.count;
  if (j.uuid !== undefined) {
    const a = decodeAtom(j.uuid);
    if (!(a instanceof Uuid)) throw new OvsdbDatumError(`bad insert uuid: ${describe(j.uuid)}`);
    r.uuid = a.value;
  }
  if (Array.isArray(j.rows)) r.rows = j.rows.filter((x): x is Row => typeof x === 'object' && x !== null && !Array.isArray(x));
  return r;
}

// ---------------------------------------------------------------------------------------------
// Monitor (RFC 7047 4.1.5 / 4.1.6)
// ---------------------------------------------------------------------------------------------

/** table → columns to monitor. */
export type MonitorRequests = Record<string, readonly string[]>;

export interface RowUpdate {
  old?: Row;
  new?: Row;
}
/** table → uuid → row update, in the order received. */
export type TableUpdates = Array<{ table: string; rows: Array<{ uuid: string; update: RowUpdate }> }>;

export function encodeMonitorRequests(reqs: MonitorRequests): JsonObject {
  const out: JsonObject = {};
  for (const [table, columns] of Object.entries(reqs)) {
    out[table] = { columns: [...columns], select: { initial: true, insert: true, delete: true, modify: true } };
  }
  return out;
}

/** Parses `<table-updates>`; keeps the server's table and row order. */
export function parseTableUpdates(j: Json): TableUpdates {
  if (j === null || typeof j !== 'object' || Array.isArray(j)) throw new OvsdbDatumError(`bad table-updates: ${describe(j)}`);
  const out: TableUpdates = [];
  for (const [table, rowsJ] of Object.entries(j)) {
    if (rowsJ === null || typeof rowsJ !== 'object' || Array.isArray(rowsJ)) throw new OvsdbDatumError(`bad table-update for ${table}`);
    const rows: Array<{ uuid: string; update: RowUpdate }> = [];
    for (const [uuid, u] of Object.entries(rowsJ)) {
      if (u === null || typeof u !== 'object' || Array.isArray(u)) throw new OvsdbDatumError(`bad row-update for ${table} ${uuid}`);
      const update: RowUpdate = {};
      if (u.old !== undefined) {
        if (u.old === null || typeof u.old !== 'object' || Array.isArray(u.old)) throw new OvsdbDatumError(`bad old row for ${table} ${uuid}`);
        update.old = u.old;
      }
      if (u.new !== undefined) {
        if (u.new === null || typeof u.new !== 'object' || Array.isArray(u.new)) throw new OvsdbDatumError(`bad new row for ${table} ${uuid}`);
        update.new = u.new;
      }
      rows.push({ uuid, update });
    }
    out.push({ table, rows });
  }
  return out;
}
