import { createRequire } from 'node:module';
import type { StandardSchemaV1 } from '@standard-schema/spec';
import type { Ajv, ErrorObject, ValidateFunction } from 'ajv';
import type { FromSchema, JSONSchema } from 'json-schema-to-ts';
import { ConfigError, type ValidationIssue } from '../errors';

/** A JSON Schema (draft-07 or 2019-09 keywords, as Ajv compiles them) given as a plain object. */
export type JsonSchemaObject = Exclude<JSONSchema, boolean>;

/**
 * The data type of a JSON Schema given `as const` (or inferred as a constant by `defineEvent`),
 * or `unknown` for a schema json-schema-to-ts cannot read.
 */
export type JsonSchemaData<TSchema> = TSchema extends JsonSchemaObject ? FromSchema<TSchema> : unknown;

/**
 * What `defineEvent` takes as a JSON Schema before inferring its data type: any object. Checking
 * the schema against the full JSON Schema type as a constraint made TypeScript give up
 * ("excessively deep") on schemas with `enum` under plain `strict`; the schema's own type is read
 * once, by {@link JsonSchemaData}, and Ajv checks the schema at run time.
 */
export type JsonSchemaInput = { readonly [keyword: string]: unknown };

/** Any schema a contract accepts: a Standard Schema (zod 4, valibot, arktype...) or JSON Schema. */
export type ContractSchema = StandardSchemaV1 | JsonSchemaObject;

/** The outcome of a validation: the (possibly transformed) value, or the issues found. */
export type ValidationOutcome =
  | { readonly value: unknown; readonly issues?: undefined }
  | { readonly issues: readonly ValidationIssue[] };

/** A compiled validator; synchronous whenever the schema library allows it. */
export type Validator = (value: unknown) => ValidationOutcome | Promise<ValidationOutcome>;

/** Whether a schema implements the Standard Schema interface. */
export function isStandardSchema(schema: unknown): schema is StandardSchemaV1 {
  return (
    (typeof schema === 'object' || typeof schema === 'function') &&
    schema !== null &&
    '~standard' in schema &&
    typeof (schema as StandardSchemaV1)['~standard']?.validate === 'function'
  );
}

let sharedAjv: Ajv | undefined;

// Ajv compiles each JSON Schema to a function once; one instance is shared so that schemas can
// reference each other by $id, unless the contract brings its own instance.
function defaultAjv(): Ajv {
  if (sharedAjv === undefined) {
    // Loaded on the first JSON Schema contract, not with the package: Ajv is half the time
    // `require('@tidings/core')` took, for users who never write a JSON Schema.
    const load = createRequire(import.meta.url);
    const { Ajv: AjvClass } = load('ajv') as typeof import('ajv');
    sharedAjv = new AjvClass({ allErrors: true, strict: true, allowUnionTypes: true });
    // ajv-formats ships CommonJS with a default export; take the function whichever way it loads.
    const plugin = load('ajv-formats') as { default?: (ajv: Ajv) => Ajv } & ((ajv: Ajv) => Ajv);
    (plugin.default ?? plugin)(sharedAjv);
  }
  return sharedAjv;
}

/**
 * Compiles a schema into a validator. JSON Schemas are compiled by Ajv here, once; an invalid
 * schema is a `ConfigError` that names the event type.
 */
export function compileSchema(eventType: string, schema: ContractSchema, ajv?: Ajv): Validator {
  if (isStandardSchema(schema)) return standardValidator(schema);
  if (typeof schema !== 'object' || schema === null || Array.isArray(schema)) {
    throw new ConfigError(
      'schema',
      `event "${eventType}": expected a Standard Schema (zod 4...) or a JSON Schema object`,
    );
  }
  let compiled: ValidateFunction;
  try {
    compiled = (ajv ?? defaultAjv()).compile(schema as Record<string, unknown>);
  } catch (error) {
    throw new ConfigError(
      'schema',
      `event "${eventType}": invalid JSON Schema: ${(error as Error).message}`,
      {
        cause: error,
      },
    );
  }
  return (value) => {
    if (compiled(value)) return { value };
    return { issues: (compiled.errors ?? []).map(ajvIssue) };
  };
}

function standardValidator(schema: StandardSchemaV1): Validator {
  const validate = schema['~standard'].validate;
  // A success result already has the outcome's shape; only failures are converted.
  const toOutcome = (result: StandardSchemaV1.Result<unknown>): ValidationOutcome =>
    result.issues === undefined ? result : { issues: result.issues.map(standardIssue) };
  return (value) => {
    const result = validate(value);
    return result instanceof Promise ? result.then(toOutcome) : toOutcome(result);
  };
}

function standardIssue(issue: StandardSchemaV1.Issue): ValidationIssue {
  const path = (issue.path ?? []).map((segment) => {
    const key = typeof segment === 'object' ? segment.key : segment;
    return typeof key === 'number' ? key : String(key);
  });
  return { path, message: issue.message };
}

function ajvIssue(error: ErrorObject): ValidationIssue {
  const path: (string | number)[] = error.instancePath
    .split('/')
    .slice(1)
    .map((segment) => {
      const unescaped = segment.replace(/~1/g, '/').replace(/~0/g, '~');
      return /^\d+$/.test(unescaped) ? Number(unescaped) : unescaped;
    });
  const missing = (error.params as { missingProperty?: string }).missingProperty;
  if (missing !== undefined) path.push(missing);
  return { path, message: error.message ?? error.keyword };
}
