/**
 * Schema drift: prisma/schema.prisma and the hand-written migration SQL must describe the same
 * database.
 *
 * The generated Prisma client is built from schema.prisma, but the tables come from the SQL in
 * prisma/migrations. If the two disagree (a column made optional in one place only, an index
 * forgotten, a different ON DELETE), the client still compiles and the mistake shows up in
 * production as a failed insert, a slow query or a row that should have been deleted with its
 * workspace. This test turns the schema into the shape Prisma would give the database and
 * compares it with what information_schema reports for the migrated test database. The result
 * is a list of readable differences, so a failure says exactly what drifted.
 */
import fs from 'node:fs';
import path from 'node:path';
import mariadb from 'mariadb';
import { get_dmmf } from '@prisma/prisma-schema-wasm';
import { connectionOptions } from '../../api/db/migrate';
import { testDatabaseUrl } from '../support/database';

const SCHEMA_PATH = path.resolve(__dirname, '..', '..', 'prisma', 'schema.prisma');

/* ------------------------------------------------------------------------------------------ */
/* The parts of Prisma's DMMF this comparison reads.                                           */

type DmmfDefault = string | number | boolean | { name: string; args: unknown[] } | unknown[];

interface DmmfField {
  name: string;
  dbName?: string | null;
  kind: 'scalar' | 'enum' | 'object' | 'unsupported';
  type: string;
  isList: boolean;
  isRequired: boolean;
  isUpdatedAt: boolean;
  nativeType?: [string, string[]] | null;
  default?: DmmfDefault;
  relationFromFields?: string[];
  relationToFields?: string[];
  relationOnDelete?: string;
  relationOnUpdate?: string;
}

interface DmmfModel {
  name: string;
  dbName: string | null;
  fields: DmmfField[];
}

interface DmmfEnum {
  name: string;
  values: Array<{ name: string; dbName: string | null }>;
}

interface DmmfIndex {
  model: string;
  type: 'id' | 'unique' | 'normal' | 'fulltext';
  dbName?: string;
  fields: Array<{ name: string; sortOrder?: 'asc' | 'desc'; length?: number }>;
}

interface Dmmf {
  datamodel: { models: DmmfModel[]; enums: DmmfEnum[]; indexes: DmmfIndex[] };
}

/* ------------------------------------------------------------------------------------------ */
/* One shape for both sides: what schema.prisma asks for and what the database has.             */

interface ColumnShape {
  /** normalised column type: `char(36)`, `int`, `json`, `enum('a','b')` ... */
  type: string;
  nullable: boolean;
  /** the default as MariaDB reports it (`current_timestamp(3)`, `'user'`, `0`), or null */
  default: string | null;
  /** `auto_increment`, `on update current_timestamp(3)` ... or '' */
  extra: string;
}

type IndexKind = 'primary' | 'unique' | 'normal' | 'fulltext';

interface IndexShape {
  name: string;
  kind: IndexKind;
  /** column names, with `(length)` and ` DESC` where the index says so */
  columns: string[];
}

interface ForeignKeyShape {
  name: string;
  columns: string[];
  referencedTable: string;
  referencedColumns: string[];
  onDelete: string;
  onUpdate: string;
}

interface TableShape {
  columns: Map<string, ColumnShape>;
  indexes: IndexShape[];
  foreignKeys: ForeignKeyShape[];
}

type DatabaseShape = Map<string, TableShape>;

/* ------------------------------------------------------------------------------------------ */
/* schema.prisma -> expected shape, following Prisma's MySQL conventions.                       */

function readDmmf(schemaSource: string): Dmmf {
  return JSON.parse(get_dmmf(JSON.stringify({ prismaSchema: [['schema.prisma', schemaSource]] }))) as Dmmf;
}

/** Column types Prisma uses on MySQL when a field has no @db attribute. */
const DEFAULT_COLUMN_TYPES: Record<string, string> = {
  String: 'varchar(191)',
  Boolean: 'tinyint(1)',
  Int: 'int',
  BigInt: 'bigint',
  Float: 'double',
  Decimal: 'decimal(65,30)',
  DateTime: 'datetime(3)',
  Json: 'json',
  Bytes: 'longblob',
};

const UNSIGNED_NATIVE_TYPES: Record<string, string> = {
  UnsignedInt: 'int unsigned',
  UnsignedBigInt: 'bigint unsigned',
  UnsignedSmallInt: 'smallint unsigned',
  UnsignedMediumInt: 'mediumint unsigned',
  UnsignedTinyInt: 'tinyint unsigned',
};

const quoteLiteral = (value: string) => `'${value.replace(/'/g, "''")}'`;

function expectedColumnType(field: DmmfField, enums: Map<string, DmmfEnum>): string {
  if (field.kind === 'enum') {
    const values = enums.get(field.type)?.values ?? [];
    return `enum(${values.map((v) => quoteLiteral(v.dbName ?? v.name)).join(',')})`;
  }
  if (!field.nativeType) return DEFAULT_COLUMN_TYPES[field.type] ?? `<no MySQL type for ${field.type}>`;
  const [name, args] = field.nativeType;
  if (UNSIGNED_NATIVE_TYPES[name]) return UNSIGNED_NATIVE_TYPES[name];
  // DATETIME(0), TIMESTAMP(0) and TIME(0) are reported without the precision.
  if (['DateTime', 'Timestamp', 'Time'].includes(name) && (args.length === 0 || args[0] === '0')) return name.toLowerCase();
  return args.length > 0 ? `${name.toLowerCase()}(${args.join(',')})` : name.toLowerCase();
}

function datetimePrecision(field: DmmfField): number {
  if (!field.nativeType) return 3;
  const [, args] = field.nativeType;
  return args.length > 0 ? Number(args[0]) : 0;
}

/** The default (and extra) the database gets for a field, or a note when MySQL cannot hold it. */
function expectedColumnDefault(field: DmmfField): { default: string | null; extra: string } {
  const value = field.default;
  if (value === undefined) return { default: null, extra: '' };
  // The DMMF gives a BigInt default as a string; the database holds it as a number.
  if (typeof value === 'string') return { default: field.type === 'BigInt' && /^-?\d+$/.test(value) ? value : quoteLiteral(value), extra: '' };
  if (typeof value === 'number') return { default: String(value), extra: '' };
  if (typeof value === 'boolean') return { default: value ? '1' : '0', extra: '' };
  if (Array.isArray(value)) return { default: `<list default ${JSON.stringify(value)}>`, extra: '' };
  switch (value.name) {
    case 'now': {
      const precision = datetimePrecision(field);
      return { default: `current_timestamp(${precision === 0 ? '' : precision})`, extra: '' };
    }
    case 'autoincrement':
      return { default: null, extra: 'auto_increment' };
    case 'dbgenerated':
      return { default: normaliseExpression(String(value.args[0] ?? '')), extra: '' };
    default:
      // uuid(), cuid(), nanoid(), ulid(): the Prisma client fills these in, the column has no default.
      return { default: null, extra: '' };
  }
}

/**
 * Prisma's default constraint name: `<table>_<columns>_<suffix>`, cut so the whole name fits
 * MySQL's 64-character identifier limit.
 */
function prismaConstraintName(table: string, columns: string[], suffix: 'key' | 'idx' | 'fkey'): string {
  const base = `${table}_${columns.join('_')}`;
  const room = 64 - suffix.length - 1;
  return `${base.length > room ? base.slice(0, room) : base}_${suffix}`;
}

const REFERENTIAL_ACTIONS: Record<string, string> = {
  Cascade: 'CASCADE',
  Restrict: 'RESTRICT',
  NoAction: 'NO ACTION',
  SetNull: 'SET NULL',
  SetDefault: 'SET DEFAULT',
};

function expectedShape(dmmf: Dmmf): DatabaseShape {
  const enums = new Map(dmmf.datamodel.enums.map((e) => [e.name, e]));
  const models = new Map(dmmf.datamodel.models.map((m) => [m.name, m]));
  const tableName = (model: DmmfModel) => model.dbName ?? model.name;
  const columnName = (model: DmmfModel, fieldName: string) => {
    const field = model.fields.find((f) => f.name === fieldName);
    return field?.dbName ?? fieldName;
  };

  const shape: DatabaseShape = new Map();
  for (const model of dmmf.datamodel.models) {
    const table = tableName(model);
    const columns = new Map<string, ColumnShape>();
    for (const field of model.fields) {
      if (field.kind !== 'scalar' && field.kind !== 'enum') continue;
      const defaults = expectedColumnDefault(field);
      columns.set(field.dbName ?? field.name, {
        type: field.isList ? `<scalar list ${field.type}[] is not supported on MySQL>` : expectedColumnType(field, enums),
        nullable: !field.isRequired,
        default: defaults.default,
        extra: defaults.extra,
      });
    }

    const indexes: IndexShape[] = dmmf.datamodel.indexes
      .filter((index) => index.model === model.name)
      .map((index) => {
        const kind: IndexKind = index.type === 'id' ? 'primary' : index.type;
        const names = index.fields.map((f) => columnName(model, f.name));
        const columnsWithOptions = index.fields.map(
          (f, i) => `${names[i]}${f.length ? `(${f.length})` : ''}${f.sortOrder === 'desc' ? ' DESC' : ''}`,
        );
        const name =
          kind === 'primary' ? 'PRIMARY' : (index.dbName ?? prismaConstraintName(table, names, kind === 'unique' ? 'key' : 'idx'));
        return { name, kind, columns: columnsWithOptions };
      });

    const foreignKeys: ForeignKeyShape[] = model.fields
      .filter((field) => field.kind === 'object' && (field.relationFromFields?.length ?? 0) > 0)
      .map((field) => {
        const target = models.get(field.type)!;
        const fromColumns = field.relationFromFields!.map((f) => columnName(model, f));
        const anyRequired = field.relationFromFields!.some((f) => model.fields.find((x) => x.name === f)?.isRequired);
        // Prisma's defaults: Restrict for a required relation, SetNull for an optional one; Cascade on update.
        const onDelete = field.relationOnDelete ?? (anyRequired ? 'Restrict' : 'SetNull');
        const onUpdate = field.relationOnUpdate ?? 'Cascade';
        return {
          // A `map:` on @relation is not in the DMMF, so foreign keys are held to Prisma's default name.
          name: prismaConstraintName(table, fromColumns, 'fkey'),
          columns: fromColumns,
          referencedTable: tableName(target),
          referencedColumns: field.relationToFields!.map((f) => columnName(target, f)),
          onDelete: REFERENTIAL_ACTIONS[onDelete] ?? onDelete,
          onUpdate: REFERENTIAL_ACTIONS[onUpdate] ?? onUpdate,
        };
      });

    shape.set(table, { columns, indexes, foreignKeys });
  }
  return shape;
}

/* ------------------------------------------------------------------------------------------ */
/* information_schema -> actual shape.                                                         */

function normaliseExpression(expression: string): string {
  let e = expression.trim().toLowerCase().replace(/\s+/g, ' ');
  while (/^\(.*\)$/.test(e) && balanced(e.slice(1, -1))) e = e.slice(1, -1).trim();
  return e;
}

function balanced(e: string): boolean {
  let depth = 0;
  for (const ch of e) {
    if (ch === '(') depth += 1;
    if (ch === ')' && --depth < 0) return false;
  }
  return depth === 0;
}

function normaliseColumnType(columnType: string): string {
  const t = columnType.toLowerCase();
  // Integer display widths (int(11), bigint(20)) mean nothing to Prisma; tinyint(1) is Boolean and stays.
  if (t === 'tinyint(1)') return t;
  return t.replace(/^(tinyint|smallint|mediumint|int|bigint)\(\d+\)/, '$1');
}

interface ColumnRow {
  TABLE_NAME: string;
  COLUMN_NAME: string;
  COLUMN_TYPE: string;
  IS_NULLABLE: 'YES' | 'NO';
  COLUMN_DEFAULT: string | null;
  EXTRA: string;
}

interface IndexRow {
  TABLE_NAME: string;
  INDEX_NAME: string;
  NON_UNIQUE: number | bigint;
  COLUMN_NAME: string;
  SUB_PART: number | bigint | null;
  COLLATION: string | null;
  INDEX_TYPE: string;
}

interface ForeignKeyRow {
  TABLE_NAME: string;
  CONSTRAINT_NAME: string;
  COLUMN_NAME: string;
  REFERENCED_TABLE_NAME: string;
  REFERENCED_COLUMN_NAME: string;
  UPDATE_RULE: string;
  DELETE_RULE: string;
}

async function actualShape(connection: mariadb.Connection): Promise<DatabaseShape> {
  const [server] = await connection.query<Array<{ version: string }>>('SELECT VERSION() AS version');
  const isMariadb = /mariadb/i.test(server?.version ?? '');
  const tables = await connection.query<Array<{ TABLE_NAME: string }>>(
    "SELECT TABLE_NAME FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() AND TABLE_TYPE = 'BASE TABLE' AND TABLE_NAME <> '_prisma_migrations'",
  );
  const columns = await connection.query<ColumnRow[]>(
    'SELECT TABLE_NAME, COLUMN_NAME, COLUMN_TYPE, IS_NULLABLE, COLUMN_DEFAULT, EXTRA FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = DATABASE() ORDER BY TABLE_NAME, ORDINAL_POSITION',
  );
  // MariaDB stores JSON as LONGTEXT with a json_valid() check named after the column.
  const checks = isMariadb
    ? await connection.query<Array<{ TABLE_NAME: string; CHECK_CLAUSE: string }>>(
        'SELECT TABLE_NAME, CHECK_CLAUSE FROM information_schema.CHECK_CONSTRAINTS WHERE CONSTRAINT_SCHEMA = DATABASE()',
      )
    : [];
  const indexRows = await connection.query<IndexRow[]>(
    'SELECT TABLE_NAME, INDEX_NAME, NON_UNIQUE, COLUMN_NAME, SUB_PART, COLLATION, INDEX_TYPE FROM information_schema.STATISTICS WHERE TABLE_SCHEMA = DATABASE() ORDER BY TABLE_NAME, INDEX_NAME, SEQ_IN_INDEX',
  );
  const foreignKeyRows = await connection.query<ForeignKeyRow[]>(
    `SELECT k.TABLE_NAME, k.CONSTRAINT_NAME, k.COLUMN_NAME, k.REFERENCED_TABLE_NAME, k.REFERENCED_COLUMN_NAME, r.UPDATE_RULE, r.DELETE_RULE
       FROM information_schema.KEY_COLUMN_USAGE k
       JOIN information_schema.REFERENTIAL_CONSTRAINTS r
         ON r.CONSTRAINT_SCHEMA = k.CONSTRAINT_SCHEMA AND r.TABLE_NAME = k.TABLE_NAME AND r.CONSTRAINT_NAME = k.CONSTRAINT_NAME
      WHERE k.TABLE_SCHEMA = DATABASE()
      ORDER BY k.TABLE_NAME, k.CONSTRAINT_NAME, k.ORDINAL_POSITION`,
  );

  const jsonColumns = new Set<string>();
  for (const check of checks) {
    const m = /^json_valid\(`([^`]+)`\)$/i.exec(check.CHECK_CLAUSE.trim());
    if (m) jsonColumns.add(`${check.TABLE_NAME}.${m[1]}`);
  }

  const shape: DatabaseShape = new Map();
  for (const { TABLE_NAME } of tables) shape.set(TABLE_NAME, { columns: new Map(), indexes: [], foreignKeys: [] });

  for (const row of columns) {
    const table = shape.get(row.TABLE_NAME);
    if (!table) continue;
    let type = normaliseColumnType(row.COLUMN_TYPE);
    if (type === 'longtext' && jsonColumns.has(`${row.TABLE_NAME}.${row.COLUMN_NAME}`)) type = 'json';
    const extra = row.EXTRA.replace(/DEFAULT_GENERATED/i, '').trim().toLowerCase();
    let columnDefault = row.COLUMN_DEFAULT;
    // MariaDB reports "no default" on a nullable column as the text NULL.
    if (columnDefault === 'NULL') columnDefault = null;
    // MySQL reports literal defaults unquoted and marks expressions DEFAULT_GENERATED; MariaDB quotes literals.
    if (columnDefault !== null && !isMariadb && !/DEFAULT_GENERATED/i.test(row.EXTRA) && /char|text|enum|set/.test(type)) {
      columnDefault = quoteLiteral(columnDefault);
    }
    if (columnDefault !== null && !columnDefault.startsWith("'")) columnDefault = normaliseExpression(columnDefault);
    table.columns.set(row.COLUMN_NAME, { type, nullable: row.IS_NULLABLE === 'YES', default: columnDefault, extra });
  }

  const indexes = new Map<string, IndexShape & { table: string }>();
  for (const row of indexRows) {
    if (!shape.has(row.TABLE_NAME)) continue;
    const key = `${row.TABLE_NAME}.${row.INDEX_NAME}`;
    let index = indexes.get(key);
    if (!index) {
      const kind: IndexKind =
        row.INDEX_NAME === 'PRIMARY' ? 'primary' : row.INDEX_TYPE === 'FULLTEXT' ? 'fulltext' : Number(row.NON_UNIQUE) === 0 ? 'unique' : 'normal';
      index = { table: row.TABLE_NAME, name: row.INDEX_NAME, kind, columns: [] };
      indexes.set(key, index);
    }
    index.columns.push(`${row.COLUMN_NAME}${row.SUB_PART !== null ? `(${Number(row.SUB_PART)})` : ''}${row.COLLATION === 'D' ? ' DESC' : ''}`);
  }
  for (const { table, ...index } of indexes.values()) shape.get(table)!.indexes.push(index);

  const foreignKeys = new Map<string, ForeignKeyShape & { table: string }>();
  for (const row of foreignKeyRows) {
    if (!shape.has(row.TABLE_NAME)) continue;
    const key = `${row.TABLE_NAME}.${row.CONSTRAINT_NAME}`;
    let fk = foreignKeys.get(key);
    if (!fk) {
      fk = {
        table: row.TABLE_NAME,
        name: row.CONSTRAINT_NAME,
        columns: [],
        referencedTable: row.REFERENCED_TABLE_NAME,
        referencedColumns: [],
        onDelete: row.DELETE_RULE,
        onUpdate: row.UPDATE_RULE,
      };
      foreignKeys.set(key, fk);
    }
    fk.columns.push(row.COLUMN_NAME);
    fk.referencedColumns.push(row.REFERENCED_COLUMN_NAME);
  }
  for (const { table, ...fk } of foreignKeys.values()) shape.get(table)!.foreignKeys.push(fk);

  return shape;
}

/* ------------------------------------------------------------------------------------------ */
/* The comparison.                                                                             */

const show = (value: string | null) => (value === null ? 'none' : value);
const indexKey = (index: IndexShape) => `${index.kind} (${index.columns.join(', ')})`;
const foreignKeyKey = (fk: ForeignKeyShape) => `(${fk.columns.join(', ')}) -> ${fk.referencedTable}(${fk.referencedColumns.join(', ')})`;

/** Every way `actual` differs from `expected`, one readable line each; empty when they agree. */
function compareShapes(expected: DatabaseShape, actual: DatabaseShape): string[] {
  const differences: string[] = [];
  for (const table of expected.keys()) {
    if (!actual.has(table)) differences.push(`table ${table}: model in schema.prisma, no table in the database`);
  }
  for (const table of actual.keys()) {
    if (!expected.has(table)) differences.push(`table ${table}: in the database, no model in schema.prisma`);
  }

  for (const [table, want] of expected) {
    const have = actual.get(table);
    if (!have) continue;

    for (const [column, w] of want.columns) {
      const h = have.columns.get(column);
      if (!h) {
        differences.push(`${table}.${column}: field in schema.prisma, no column in the database`);
        continue;
      }
      if (w.type !== h.type) differences.push(`${table}.${column}: type is ${h.type} in the database, schema.prisma says ${w.type}`);
      if (w.nullable !== h.nullable) {
        differences.push(`${table}.${column}: ${h.nullable ? 'NULL' : 'NOT NULL'} in the database, schema.prisma says ${w.nullable ? 'optional' : 'required'}`);
      }
      if (w.default !== h.default) {
        differences.push(`${table}.${column}: default is ${show(h.default)} in the database, schema.prisma says ${show(w.default)}`);
      }
      if (w.extra !== h.extra) {
        differences.push(`${table}.${column}: extra is "${h.extra}" in the database, schema.prisma says "${w.extra}"`);
      }
    }
    for (const column of have.columns.keys()) {
      if (!want.columns.has(column)) differences.push(`${table}.${column}: column in the database, no field in schema.prisma`);
    }

    const haveIndexes = new Map(have.indexes.map((i) => [indexKey(i), i]));
    const wantIndexes = new Map(want.indexes.map((i) => [indexKey(i), i]));
    for (const [key, w] of wantIndexes) {
      const h = haveIndexes.get(key);
      if (!h) differences.push(`${table}: ${key} index ${w.name} is in schema.prisma, not in the database`);
      else if (h.name !== w.name) differences.push(`${table}: ${key} index is named ${h.name} in the database, Prisma names it ${w.name}`);
    }
    for (const [key, h] of haveIndexes) {
      if (wantIndexes.has(key)) continue;
      // InnoDB creates an index for a foreign key that has none, named after the constraint;
      // Prisma does the same in its own diff and does not list it in the schema.
      const implicit = have.foreignKeys.some((fk) => fk.name === h.name && fk.columns.join(',') === h.columns.join(','));
      if (!implicit) differences.push(`${table}: ${key} index ${h.name} is in the database, not in schema.prisma`);
    }

    const haveForeignKeys = new Map(have.foreignKeys.map((fk) => [foreignKeyKey(fk), fk]));
    const wantForeignKeys = new Map(want.foreignKeys.map((fk) => [foreignKeyKey(fk), fk]));
    for (const [key, w] of wantForeignKeys) {
      const h = haveForeignKeys.get(key);
      if (!h) {
        differences.push(`${table}: foreign key ${key} is in schema.prisma, not in the database`);
        continue;
      }
      if (h.onDelete !== w.onDelete) differences.push(`${table}: foreign key ${key} is ON DELETE ${h.onDelete} in the database, schema.prisma says ${w.onDelete}`);
      if (h.onUpdate !== w.onUpdate) differences.push(`${table}: foreign key ${key} is ON UPDATE ${h.onUpdate} in the database, schema.prisma says ${w.onUpdate}`);
      if (h.name !== w.name) differences.push(`${table}: foreign key ${key} is named ${h.name} in the database, Prisma names it ${w.name}`);
    }
    for (const [key, h] of haveForeignKeys) {
      if (!wantForeignKeys.has(key)) differences.push(`${table}: foreign key ${h.name} ${key} is in the database, not in schema.prisma`);
    }
  }
  return differences;
}

/* ------------------------------------------------------------------------------------------ */

describe('schema drift between schema.prisma and the migrations', () => {
  const schemaSource = fs.readFileSync(SCHEMA_PATH, 'utf8');
  let database: DatabaseShape;

  beforeAll(async () => {
    const connection = await mariadb.createConnection(connectionOptions(testDatabaseUrl()));
    try {
      database = await actualShape(connection);
    } finally {
      await connection.end();
    }
  });

  it('finds no difference between the schema and the migrated database', () => {
    expect(compareShapes(expectedShape(readDmmf(schemaSource)), database)).toEqual([]);
  });

  it('compares something real: every model, column, index and foreign key of the schema is looked at', () => {
    // Guards against a comparison that passes because it reads nothing (wrong database, empty DMMF).
    const expected = expectedShape(readDmmf(schemaSource));
    expect([...expected.keys()].sort()).toEqual(['AuditChainHead', 'AuditEvent', 'Conversation', 'Credential', 'Document', 'ErasureJob', 'Image', 'Invitation', 'Job', 'KnowledgeSource', 'LoginAttempt', 'Membership', 'Message', 'MessageFeedback', 'PasswordResetToken', 'QueueJob', 'QueueSchedule', 'RateLimiterFlexible', 'RetentionPolicy', 'SecurityEvent', 'Session', 'Upload', 'UsageBudget', 'UsageDaily', 'User', 'Workspace', 'WorkspaceAssistantSettings', 'WorkspaceDataKey', 'WorkspaceRoutingPolicy']);
    expect(database.get('Message')?.columns.get('citations')).toEqual({ type: 'json', nullable: true, default: null, extra: '' });
    expect(database.get('Membership')?.columns.get('role')).toEqual({
      type: "enum('admin','manager','user','viewer')",
      nullable: false,
      default: "'user'",
      extra: '',
    });
    expect(database.get('Job')?.columns.get('updatedAt')).toEqual({ type: 'datetime(3)', nullable: false, default: null, extra: '' });
    expect(database.get('Conversation')?.foreignKeys).toContainEqual({
      name: 'Conversation_userId_fkey',
      columns: ['userId'],
      referencedTable: 'User',
      referencedColumns: ['id'],
      onDelete: 'SET NULL',
      onUpdate: 'CASCADE',
    });
    const indexCount = [...expected.values()].reduce((n, t) => n + t.indexes.length, 0);
    const foreignKeyCount = [...expected.values()].reduce((n, t) => n + t.foreignKeys.length, 0);
    expect(indexCount).toBe(80);
    expect(foreignKeyCount).toBe(31);
  });

  /** A copy of the schema with one edit; fails loudly if the edit did not apply. */
  function edited(find: string | RegExp, replace: string, source = schemaSource): string {
    const changed = source.replace(find, replace);
    if (changed === source) throw new Error(`schema edit did not apply: ${String(find)}`);
    return changed;
  }

  const drifts: Array<[string, () => string, string]> = [
    ['a field made optional', () => edited(/(text\s+)String(\s+@db\.Text)/, '$1String?$2'), 'Message.text: NOT NULL in the database, schema.prisma says optional'],
    [
      'a column added',
      () => edited(/(model Conversation \{\n)/, '$1  pinned Boolean @default(false)\n'),
      'Conversation.pinned: field in schema.prisma, no column in the database',
    ],
    ['a column removed', () => edited(/\n\s+ip\s+String\?\s+@db\.VarChar\(45\)/, ''), 'AuditEvent.ip: column in the database, no field in schema.prisma'],
    [
      'an index removed',
      () => edited(/\n\s+@@index\(\[conversationId\]\)/, ''),
      'Message: normal (conversationId) index Message_conversationId_idx is in the database, not in schema.prisma',
    ],
    [
      'an index column order changed',
      () => edited('@@index([status, runAfter])', '@@index([runAfter, status])'),
      'Job: normal (runAfter, status) index Job_runAfter_status_idx is in schema.prisma, not in the database',
    ],
    [
      'a unique index made plain',
      () => edited('@@unique([workspaceId, userId])', '@@index([workspaceId, userId])'),
      'Membership: normal (workspaceId, userId) index Membership_workspaceId_userId_idx is in schema.prisma, not in the database',
    ],
    [
      'an index renamed',
      () => edited(/(model Conversation \{[\s\S]*?@@index\(\[userId\])\)/, '$1, map: "conversation_user")'),
      'Conversation: normal (userId) index is named Conversation_userId_idx in the database, Prisma names it conversation_user',
    ],
    ['a length changed', () => edited(/(name\s+String\s+@db\.VarChar\()200(\)\n\s+tenantId)/, '$1100$2'), 'Workspace.name: type is varchar(200) in the database, schema.prisma says varchar(100)'],
    ['a native type changed', () => edited(/(lastError\s+String\?\s+@db\.)Text/, '$1MediumText'), 'Job.lastError: type is text in the database, schema.prisma says mediumtext'],
    [
      'enum values reordered',
      () => edited('  queued\n  running\n', '  running\n  queued\n'),
      "Job.status: type is enum('queued','running','succeeded','failed') in the database, schema.prisma says enum('running','queued','succeeded','failed')",
    ],
    ['a default changed', () => edited(/(attempts\s+Int\s+@default\()0\)/, '$11)'), 'Job.attempts: default is 0 in the database, schema.prisma says 1'],
    ['a default added', () => edited(/(status\s+String\s+@db\.VarChar\(16\))\n(\s+error)/, '$1 @default("new")\n$2'), "Document.status: default is none in the database, schema.prisma says 'new'"],
    [
      '@updatedAt replaced by a database default',
      () => edited(/(model Job \{[\s\S]*?updatedAt\s+DateTime\s+)@updatedAt/, '$1@default(now())'),
      'Job.updatedAt: default is none in the database, schema.prisma says current_timestamp(3)',
    ],
    [
      'an ON DELETE changed',
      () => edited('@relation(fields: [userId], references: [id], onDelete: SetNull)', '@relation(fields: [userId], references: [id], onDelete: Cascade)'),
      'Conversation: foreign key (userId) -> User(id) is ON DELETE SET NULL in the database, schema.prisma says CASCADE',
    ],
    [
      'an ON UPDATE changed',
      () => edited(/(model Job \{[\s\S]*?onDelete: Cascade)\)/, '$1, onUpdate: Restrict)'),
      'Job: foreign key (workspaceId) -> Workspace(id) is ON UPDATE CASCADE in the database, schema.prisma says RESTRICT',
    ],
    [
      'a relation added',
      () =>
        edited(
          '  resetTokens   PasswordResetToken[]\n\n  @@unique([workspaceId, entraObjectId])',
          '  resetTokens   PasswordResetToken[]\n  authored      Message[]      @relation("MessageAuthor")\n\n  @@unique([workspaceId, entraObjectId])',
          edited(/(model Message \{[\s\S]*?)(\n\s+@@index\(\[workspaceId, conversationId, createdAt\]\))/, '$1\n  author       User?        @relation("MessageAuthor", fields: [authorUserId], references: [id])$2'),
        ),
      'Message: foreign key (authorUserId) -> User(id) is in schema.prisma, not in the database',
    ],
    ['a model added', () => `${schemaSource}\nmodel Setting {\n  id String @id @db.Char(36)\n}\n`, 'table Setting: model in schema.prisma, no table in the database'],
  ];

  it.each(drifts)('reports drift when the schema has %s', (_what, schema, difference) => {
    const differences = compareShapes(expectedShape(readDmmf(schema())), database);
    expect(differences).toContain(difference);
  });
});
