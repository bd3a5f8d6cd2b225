// An example payload from a JSON Schema: the subset zod and hand-written contracts use (objects,
// arrays, scalars with their formats and bounds, enums, consts, unions and local $refs). The
// example is meant to be read by a person; it satisfies the schema's common constraints but is no
// validator-grade generator (patterns other than a format's are not honoured).

type Schema = Readonly<Record<string, unknown>>;

/** How deep the generator follows nested and recursive schemas before it answers `null`. */
const MAX_DEPTH = 8;

const FORMATS: Record<string, string> = {
  email: 'someone@example.com',
  'date-time': '2026-01-01T12:00:00.000Z',
  date: '2026-01-01',
  time: '12:00:00',
  uuid: '01890a5d-ac96-774b-bcce-b302099a8057',
  uri: 'https://example.com/',
  url: 'https://example.com/',
  hostname: 'example.com',
  ipv4: '192.0.2.1',
  ipv6: '2001:db8::1',
  duration: 'PT1M',
};

/**
 * A value that fits `schema`, built from its `examples`, `default`, `const`, `enum`, types,
 * formats and bounds; `null` for what it cannot describe.
 *
 * @example
 * ```ts
 * exampleOf({ type: 'object', properties: { id: { type: 'string', format: 'uuid' } }, required: ['id'] });
 * // { id: '01890a5d-ac96-774b-bcce-b302099a8057' }
 * ```
 */
export function exampleOf(schema: Schema | undefined): unknown {
  if (schema === undefined) return null;
  return generate(schema, schema, 0, '');
}

function generate(schema: Schema, root: Schema, depth: number, name: string): unknown {
  if (depth > MAX_DEPTH) return null;
  if (Array.isArray(schema.examples) && schema.examples.length > 0) return schema.examples[0];
  if ('default' in schema) return schema.default;
  if ('const' in schema) return schema.const;
  if (Array.isArray(schema.enum) && schema.enum.length > 0) return schema.enum[0];
  if (typeof schema.$ref === 'string') {
    const target = resolveRef(root, schema.$ref);
    return target === undefined ? null : generate(target, root, depth + 1, name);
  }
  for (const key of ['oneOf', 'anyOf'] as const) {
    const options = schema[key];
    if (Array.isArray(options) && options.length > 0) {
      // The first option that is not `null`: an optional field reads better with a value.
      const chosen = (options as Schema[]).find((option) => option.type !== 'null') ?? options[0];
      return generate(chosen as Schema, root, depth + 1, name);
    }
  }
  if (Array.isArray(schema.allOf) && schema.allOf.length > 0) {
    const merged = Object.assign({}, ...(schema.allOf as Schema[])) as Schema;
    return generate(merged, root, depth + 1, name);
  }
  const type = Array.isArray(schema.type)
    ? ((schema.type as string[]).find((t) => t !== 'null') ?? 'null')
    : schema.type;
  switch (type ?? (schema.properties !== undefined ? 'object' : undefined)) {
    case 'object':
      return objectOf(schema, root, depth);
    case 'array':
      return arrayOf(schema, root, depth, name);
    case 'string':
      return stringOf(schema, name);
    case 'integer':
      return numberOf(schema, true);
    case 'number':
      return numberOf(schema, false);
    case 'boolean':
      return true;
    default:
      return null;
  }
}

function objectOf(schema: Schema, root: Schema, depth: number): Record<string, unknown> {
  const properties = (schema.properties ?? {}) as Record<string, Schema>;
  const result: Record<string, unknown> = {};
  for (const [key, property] of Object.entries(properties)) {
    result[key] = generate(property, root, depth + 1, key);
  }
  return result;
}

function arrayOf(schema: Schema, root: Schema, depth: number, name: string): unknown[] {
  if (Array.isArray(schema.prefixItems)) {
    return (schema.prefixItems as Schema[]).map((item) => generate(item, root, depth + 1, name));
  }
  const items = schema.items as Schema | undefined;
  const count = Math.max(1, numeric(schema.minItems) ?? 1);
  if (items === undefined) return [];
  return Array.from({ length: Math.min(count, 3) }, () => generate(items, root, depth + 1, name));
}

function stringOf(schema: Schema, name: string): string {
  const format = typeof schema.format === 'string' ? FORMATS[schema.format] : undefined;
  if (format !== undefined) return format;
  let text = name === '' ? 'text' : `${name}-1`;
  const min = numeric(schema.minLength) ?? 0;
  const max = numeric(schema.maxLength);
  while (text.length < min) text += 'x';
  if (max !== undefined) text = text.slice(0, max);
  return text;
}

function numberOf(schema: Schema, integer: boolean): number {
  const minimum = numeric(schema.minimum);
  const exclusive = numeric(schema.exclusiveMinimum);
  const maximum = numeric(schema.maximum);
  const step = integer ? 1 : 0.5;
  let value = minimum ?? (exclusive !== undefined ? exclusive + step : 1);
  if (minimum === undefined && exclusive === undefined) value = integer ? 1 : 1.5;
  if (maximum !== undefined && value > maximum) value = maximum;
  const multiple = numeric(schema.multipleOf);
  if (multiple !== undefined && multiple > 0) value = Math.ceil(value / multiple) * multiple;
  return integer ? Math.ceil(value) : value;
}

function numeric(value: unknown): number | undefined {
  return typeof value === 'number' && Number.isFinite(value) ? value : undefined;
}

/** A `#/...` pointer into the root schema; other references are not followed. */
function resolveRef(root: Schema, ref: string): Schema | undefined {
  if (!ref.startsWith('#')) return undefined;
  let at: unknown = root;
  for (const part of ref.slice(1).split('/').filter(Boolean)) {
    const key = decodeURIComponent(part).replace(/~1/g, '/').replace(/~0/g, '~');
    if (at === null || typeof at !== 'object') return undefined;
    at = (at as Record<string, unknown>)[key];
  }
  return at !== null && typeof at === 'object' ? (at as Schema) : undefined;
}
