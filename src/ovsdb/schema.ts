// The Open_vSwitch tables and columns the agent uses, declared once (as libovsdb's model/ does).
// Row types, the monitor request, the row parsers and the typed writes are all derived from this
// declaration, so a column is named on the wire in exactly one place.
import {
  type Condition,
  type Json,
  type MonitorRequests,
  type Mutation,
  type NamedUuid,
  type Operation,
  type OvsdbDatumInput,
  type Row,
  type Uuid,
  cond,
  integerSet,
  mutation,
  op,
  optionalInteger,
  optionalString,
  requiredBoolean,
  requiredString,
  stringMap,
  stringSet,
  uuidSet,
  uuidsByInteger,
  requiredInteger,
} from './protocol.js';

/** The shapes of column the agent reads, with what it reads and what it writes for each. */
interface ColumnKinds {
  string: { read: string; write: string };
  boolean: { read: boolean; write: boolean };
  /** min 0, max 1: undefined when empty; written null to clear. */
  optionalString: { read: string | undefined; write: string | null };
  optionalInteger: { read: number | undefined; write: number | null };
  stringSet: { read: string[]; write: readonly string[] };
  integerSet: { read: number[]; write: readonly number[] };
  /** References to rows: read as uuid text, written as existing or named uuids. */
  uuidSet: { read: string[]; write: readonly (Uuid | NamedUuid)[] };
  stringMap: { read: Map<string, string>; write: Readonly<Record<string, string>> };
  integer: { read: number; write: number };
  /** A reference to at most one row: its uuid text, undefined when empty; written null to clear. */
  optionalRef: { read: string | undefined; write: Uuid | NamedUuid | null };
  /** Rows referred to by integer keys (QoS.queues): uuid text by key. */
  refsByInteger: { read: Map<number, string>; write: ReadonlyMap<number, Uuid | NamedUuid> };
}
type Kind = keyof ColumnKinds;

interface Column<K extends Kind = Kind> {
  /** The column's name on the wire. */
  readonly name: string;
  readonly kind: K;
}

const column = <K extends Kind>(kind: K) => (name: string): Column<K> => ({ name, kind });
const string = column('string');
const boolean = column('boolean');
const optionalStr = column('optionalString');
const optionalInt = column('optionalInteger');
const strings = column('stringSet');
const integers = column('integerSet');
const refs = column('uuidSet');
const strMap = column('stringMap');
const integer = column('integer');
const optionalRef = column('optionalRef');
const refsByInt = column('refsByInteger');

export const OVS_SCHEMA = {
  Open_vSwitch: {
    bridges: refs('bridges'),
    managerOptions: refs('manager_options'),
    datapathTypes: strings('datapath_types'),
    ifaceTypes: strings('iface_types'),
    otherConfig: strMap('other_config'),
    externalIds: strMap('external_ids'),
  },
  Bridge: {
    name: string('name'),
    /** Hex text, 16 digits; undefined until ovs-vswitchd has created the datapath. */
    datapathId: optionalStr('datapath_id'),
    datapathType: string('datapath_type'),
    protocols: strings('protocols'),
    controller: refs('controller'),
    ports: refs('ports'),
    externalIds: strMap('external_ids'),
    otherConfig: strMap('other_config'),
    failMode: optionalStr('fail_mode'),
    mcastSnoopingEnable: boolean('mcast_snooping_enable'),
  },
  Port: {
    name: string('name'),
    tag: optionalInt('tag'),
    otherConfig: strMap('other_config'),
    externalIds: strMap('external_ids'),
    interfaces: refs('interfaces'),
    vlanMode: optionalStr('vlan_mode'),
    trunks: integers('trunks'),
    /** The QoS row shaping what leaves through this port (linux-htb queues, egress-policer). */
    qos: optionalRef('qos'),
  },
  Interface: {
    name: string('name'),
    /** undefined: not assigned yet; -1: ovs-vswitchd failed to create the interface. */
    ofport: optionalInt('ofport'),
    externalIds: strMap('external_ids'),
    type: string('type'),
    options: strMap('options'),
    /** ovs-vswitchd's reason for a failed interface. */
    error: optionalStr('error'),
    /** Policing of what the interface receives (from the VM), kbit/s and kbit; 0 = none. */
    ingressPolicingRate: integer('ingress_policing_rate'),
    ingressPolicingBurst: integer('ingress_policing_burst'),
  },
  QoS: {
    type: string('type'),
    queues: refsByInt('queues'),
    otherConfig: strMap('other_config'),
    externalIds: strMap('external_ids'),
  },
  Queue: {
    otherConfig: strMap('other_config'),
    externalIds: strMap('external_ids'),
  },
  Controller: {
    target: string('target'),
    isConnected: boolean('is_connected'),
    connectionMode: optionalStr('connection_mode'),
    inactivityProbe: optionalInt('inactivity_probe'),
    // Packet-ins per second (and burst) the switch sends this controller: the log extension's limits.
    controllerRateLimit: optionalInt('controller_rate_limit'),
    controllerBurstLimit: optionalInt('controller_burst_limit'),
  },
  Manager: {
    target: string('target'),
    isConnected: boolean('is_connected'),
  },
} as const satisfies Record<string, Record<string, Column>>;

type Schema = typeof OVS_SCHEMA;
export type TableName = keyof Schema;
type FieldsOf<T extends TableName> = keyof Schema[T] & string;
type KindOf<T extends TableName, F extends FieldsOf<T>> = Schema[T][F] extends Column<infer K> ? K : never;

/** A row as the replica holds it: its uuid and every declared column, typed. */
export type RowOf<T extends TableName> = { uuid: string } & { -readonly [F in FieldsOf<T>]: ColumnKinds[KindOf<T, F>]['read'] };
/** Columns to write, by field name: any subset, each with the value its kind takes. */
export type WriteOf<T extends TableName> = { [F in FieldsOf<T>]?: ColumnKinds[KindOf<T, F>]['write'] };
type FieldsOfKind<T extends TableName, K extends Kind> = { [F in FieldsOf<T>]: KindOf<T, F> extends K ? F : never }[FieldsOf<T>];

export const TABLE_NAMES = Object.keys(OVS_SCHEMA) as TableName[];

export function isTableName(t: string): t is TableName {
  return Object.prototype.hasOwnProperty.call(OVS_SCHEMA, t);
}

function columnsOf(table: TableName): Array<[string, Column]> {
  return Object.entries(OVS_SCHEMA[table] as Record<string, Column>);
}

/** The wire name of a declared column. */
export function columnName<T extends TableName>(table: T, field: FieldsOf<T>): string {
  return (OVS_SCHEMA[table] as Record<string, Column>)[field]!.name;
}

/** Every declared column of every table: what the replica monitors. */
export const MONITOR_REQUESTS: MonitorRequests = Object.fromEntries(
  TABLE_NAMES.map((t) => [t, columnsOf(t).map(([, c]) => c.name)]),
);

// A column missing from a row means "unchanged" for a modify and "default" for an initial or
// inserted row (ovsdb-server omits default-valued columns in some paths): read with these defaults.
const EMPTY_SET: Json = ['set', []];
const EMPTY_MAP: Json = ['map', []];
const READERS: { [K in Kind]: { read: (j: Json) => ColumnKinds[K]['read']; missing: Json } } = {
  string: { read: requiredString, missing: '' },
  boolean: { read: requiredBoolean, missing: false },
  optionalString: { read: optionalString, missing: EMPTY_SET },
  optionalInteger: { read: optionalInteger, missing: EMPTY_SET },
  stringSet: { read: stringSet, missing: EMPTY_SET },
  integerSet: { read: integerSet, missing: EMPTY_SET },
  uuidSet: { read: uuidSet, missing: EMPTY_SET },
  stringMap: { read: stringMap, missing: EMPTY_MAP },
  integer: { read: requiredInteger, missing: 0 },
  optionalRef: { read: (j) => uuidSet(j)[0], missing: EMPTY_SET },
  refsByInteger: { read: uuidsByInteger, missing: EMPTY_MAP },
};

// Per table, the columns with their reader, resolved once: rows arrive by the thousand.
const PARSE_PLANS = Object.fromEntries(
  TABLE_NAMES.map((t) => [t, columnsOf(t).map(([field, c]) => ({ field, wire: c.name, reader: READERS[c.kind] }))]),
) as Record<TableName, Array<{ field: string; wire: string; reader: { read: (j: Json) => unknown; missing: Json } }>>;

/** A wire row of `table` as its typed row; throws OvsdbDatumError naming the bad column's shape. */
export function parseRow<T extends TableName>(table: T, uuid: string, raw: Row): RowOf<T> {
  const row: Record<string, unknown> = { uuid };
  for (const { field, wire, reader } of PARSE_PLANS[table]) {
    const v = raw[wire];
    row[field] = reader.read(v === undefined ? reader.missing : v);
  }
  return row as RowOf<T>;
}

/** Field names → wire column names; null (clear an optional column) becomes the empty set. */
export function wireRow<T extends TableName>(table: T, values: WriteOf<T>): Record<string, OvsdbDatumInput> {
  const out: Record<string, OvsdbDatumInput> = {};
  for (const [field, v] of Object.entries(values) as Array<[FieldsOf<T>, unknown]>) {
    if (v === undefined) continue;
    out[columnName(table, field)] = v === null ? [] : (v as OvsdbDatumInput);
  }
  return out;
}

/** Typed operations on one table: field names in, wire names out. */
export function tableOps<T extends TableName>(table: T) {
  const col = (f: FieldsOf<T>): string => columnName(table, f);
  return {
    insert: (values: WriteOf<T>, uuidName?: string): Operation => op.insert(table, wireRow(table, values), uuidName),
    update: (where: Condition[], values: WriteOf<T>): Operation => op.update(table, where, wireRow(table, values)),
    mutate: (where: Condition[], mutations: Mutation[]): Operation => op.mutate(table, where, mutations),
    /** Rows of a root table go (rows of other tables go when nothing refers to them). */
    deleteRows: (where: Condition[]): Operation => op.delete(table, where),
    /** Fails the transaction unless the rows' `fields` compare to `rows` as `until` says. */
    wait: (where: Condition[], fields: FieldsOf<T>[], until: '==' | '!=', rows: Row[]): Operation =>
      op.wait(table, where, fields.map(col), until, rows),
    eq: <F extends FieldsOf<T>>(f: F, v: ColumnKinds[KindOf<T, F>]['write']): Condition =>
      cond.eq(col(f), v === null ? [] : (v as OvsdbDatumInput)),
    /** Keys merged into a map column, others left alone. */
    mergeMap: (f: FieldsOfKind<T, 'stringMap'>, kv: Readonly<Record<string, string>>): Mutation[] => mutation.mergeMap(col(f), kv),
    /** Elements added to / removed from a set column. */
    insertInto: (f: FieldsOfKind<T, 'stringSet' | 'integerSet' | 'uuidSet'>, v: readonly (string | number | Uuid | NamedUuid)[]): Mutation =>
      mutation.insert(col(f), [...v]),
    deleteFrom: (f: FieldsOfKind<T, 'stringSet' | 'integerSet' | 'uuidSet'>, v: readonly (string | number | Uuid | NamedUuid)[]): Mutation =>
      mutation.delete(col(f), [...v]),
  };
}

export const OPEN_VSWITCH = tableOps('Open_vSwitch');
export const BRIDGE = tableOps('Bridge');
export const PORT = tableOps('Port');
export const INTERFACE = tableOps('Interface');
export const CONTROLLER = tableOps('Controller');
export const QOS = tableOps('QoS');
export const QUEUE = tableOps('Queue');
export const MANAGER = tableOps('Manager');
