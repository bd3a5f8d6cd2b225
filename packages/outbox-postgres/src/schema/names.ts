import { ConfigError } from '@tidings/core/adapter';

/**
 * Where a table lives. Both names are plain identifiers: letters, digits and `_`.
 *
 * @example
 * ```ts
 * const location: TableLocation = { schema: 'orders', table: 'order_events' };
 * ```
 */
export interface TableLocation {
  /** Schema of the table. Default `public`. */
  readonly schema?: string;
  /** Name of the table. */
  readonly table?: string;
}

/** A table's names, checked and quoted for SQL. */
export interface TableNames {
  readonly schema: string;
  readonly table: string;
  /** `"schema"."table"`, ready for SQL text. */
  readonly qualified: string;
  /** A quoted name for an index or other object of this table: `"<table>_<suffix>"`. */
  objectName(suffix: string): string;
}

const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_]*$/;
// PostgreSQL truncates identifiers past 63 bytes; index names add a suffix to the table's name.
const MAX_SCHEMA = 63;
const MAX_TABLE = 48;

function checkIdentifier(field: string, value: unknown, max: number): string {
  if (typeof value !== 'string' || !IDENTIFIER.test(value) || value.length > max) {
    throw new ConfigError(
      field,
      `must be a plain identifier (a letter or _, then letters, digits or _; at most ${max} characters), got ${JSON.stringify(value)}`,
    );
  }
  return value;
}

/** Checks and quotes a schema and table name; a bad one is a `ConfigError` naming the field. */
export function tableNames(location: TableLocation, defaultTable: string): TableNames {
  const schema = checkIdentifier('schema', location.schema ?? 'public', MAX_SCHEMA);
  const table = checkIdentifier('table', location.table ?? defaultTable, MAX_TABLE);
  return {
    schema,
    table,
    qualified: `"${schema}"."${table}"`,
    objectName: (suffix) => `"${table}_${suffix}"`,
  };
}
