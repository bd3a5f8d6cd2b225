import type { StandardJSONSchemaV1, StandardSchemaV1 } from '@standard-schema/spec';
import type { AnyEventContract } from './define-event';
import { isStandardSchema } from './schema';

/**
 * The JSON Schema of a contract's data, and where it came from:
 * - `json-schema`: the contract was written in JSON Schema; this is it, as written;
 * - `standard`: the schema library converted its schema (Standard JSON Schema, which zod 4
 *   implements), for the data a handler receives;
 * - `opaque`: the library gives no JSON Schema; `schema` is undefined and tools show the data as
 *   any JSON value.
 *
 * @example
 * ```ts
 * const described: ContractJsonSchema = { source: 'json-schema', schema: { type: 'object' } };
 * ```
 */
export interface ContractJsonSchema {
  readonly source: 'json-schema' | 'standard' | 'opaque';
  readonly schema: Readonly<Record<string, unknown>> | undefined;
  /** Why there is no schema, when there is none. */
  readonly reason?: string;
}

/**
 * Options of {@link contractJsonSchema}.
 *
 * @example
 * ```ts
 * const options: ContractJsonSchemaOptions = { target: 'draft-07' };
 * ```
 */
export interface ContractJsonSchemaOptions {
  /**
   * The JSON Schema draft a schema library writes (a JSON Schema contract is given as written).
   * Default `draft-2020-12`; AsyncAPI 3 documents take `draft-07`.
   */
  readonly target?: 'draft-2020-12' | 'draft-07';
}

/**
 * The JSON Schema (draft 2020-12 unless asked otherwise) of a contract's data, for documents and tools that describe the
 * events (AsyncAPI, the console's catalog). Never throws: a library that cannot convert its schema
 * gives `opaque` with the reason.
 *
 * @example
 * ```ts
 * import { contractJsonSchema, defineEvent } from '@tidings/core';
 * import { z } from 'zod';
 *
 * const OrderPlaced = defineEvent({ type: 'order.placed', schema: z.object({ orderId: z.string() }) });
 * console.log(contractJsonSchema(OrderPlaced).schema); // { type: 'object', properties: { orderId: ... } }
 * ```
 */
export function contractJsonSchema(
  contract: AnyEventContract,
  options: ContractJsonSchemaOptions = {},
): ContractJsonSchema {
  const schema = contract.schema as unknown;
  if (!isStandardSchema(schema)) {
    return { source: 'json-schema', schema: schema as Record<string, unknown> };
  }
  const props = schema['~standard'] as StandardSchemaV1.Props & Partial<StandardJSONSchemaV1.Props>;
  const converter = props.jsonSchema;
  const vendor = props.vendor;
  if (converter === undefined || typeof converter.output !== 'function') {
    return {
      source: 'opaque',
      schema: undefined,
      reason: `the ${vendor} schema of "${contract.type}" does not implement Standard JSON Schema`,
    };
  }
  try {
    return { source: 'standard', schema: converter.output({ target: options.target ?? 'draft-2020-12' }) };
  } catch (error) {
    return {
      source: 'opaque',
      schema: undefined,
      reason: `the ${vendor} schema of "${contract.type}" cannot be written as JSON Schema: ${(error as Error).message}`,
    };
  }
}
