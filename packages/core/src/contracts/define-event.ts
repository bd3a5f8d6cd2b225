import type { StandardSchemaV1 } from '@standard-schema/spec';
import type { Ajv } from 'ajv';
import { ConfigError, DecodeError } from '../errors';
import {
  type ContractSchema,
  compileSchema,
  type JsonSchemaData,
  type JsonSchemaInput,
  type Validator,
} from './schema';

/**
 * Upgrades data written with one version of a contract to the next version's shape. The data is
 * untyped because the old shape is no longer described by the contract's schema.
 */
// biome-ignore lint/suspicious/noExplicitAny: the old shape has no type; upcasters narrow it themselves.
export type Upcaster = (data: any) => unknown;

/** Fields shared by both kinds of contract definition. */
interface EventDefinitionBase<TType extends string, TData> {
  /**
   * Event type, the CloudEvents `type`: a stable name for the fact, e.g. `order.placed`. Use a
   * reverse-DNS prefix (`com.acme.order.placed`) if events leave your organisation.
   */
  readonly type: TType;
  /** Version of the data's shape, a positive integer; raise it with each breaking change. Default 1. */
  readonly version?: number;
  /** Topic the event is published to. Default: the bus's topic naming (the event type). */
  readonly topic?: string;
  /**
   * Partition key taken from the data. Events of one key keep their order on brokers that order by
   * key, and land on one partition/shard.
   */
  readonly key?: (data: TData) => string | undefined;
  /** CloudEvents `subject` taken from the data: what the event is about, such as an order id. */
  readonly subject?: (data: TData) => string | undefined;
  /** URI of the schema, written as CloudEvents `dataschema`. */
  readonly dataschema?: string;
  /** One-line description for docs and catalogues. */
  readonly description?: string;
  /**
   * Upcasters keyed by the version they upgrade *from*: `{ 1: (v1) => v2, 2: (v2) => v3 }`. An event
   * of an older version passes through each in turn before validation, so handlers only ever see
   * the current shape.
   */
  readonly upcasters?: Readonly<Record<number, Upcaster>>;
}

/** A contract definition whose schema is a Standard Schema (zod 4, valibot, arktype...). */
export interface StandardEventDefinition<TType extends string, TSchema extends StandardSchemaV1>
  extends EventDefinitionBase<TType, StandardSchemaV1.InferOutput<TSchema>> {
  readonly schema: TSchema;
}

/** A contract definition whose schema is a JSON Schema object, compiled once by Ajv. */
export interface JsonEventDefinition<TType extends string, TSchema extends JsonSchemaInput>
  extends Omit<EventDefinitionBase<TType, never>, 'key' | 'subject'> {
  readonly key?: NoInfer<(data: JsonSchemaData<TSchema>) => string | undefined>;
  readonly subject?: NoInfer<(data: JsonSchemaData<TSchema>) => string | undefined>;
  readonly schema: TSchema;
  /** Ajv instance to compile with (for custom formats or keywords). Default: a shared instance. */
  readonly ajv?: Ajv;
}

/**
 * A typed event contract: the type name, version and schema of one kind of event. Made by
 * {@link defineEvent}; passed to `bus.publish` and `bus.subscribe`.
 *
 * `TInput` is what a publisher passes; `TOutput` is what a handler receives (they differ only when
 * the schema transforms, as zod's `.default()` or `.transform()` do).
 */
export interface EventContract<TType extends string = string, TInput = unknown, TOutput = TInput> {
  readonly type: TType;
  readonly version: number;
  readonly topic: string | undefined;
  readonly schema: ContractSchema;
  readonly key: ((data: TOutput) => string | undefined) | undefined;
  readonly subject: ((data: TOutput) => string | undefined) | undefined;
  readonly dataschema: string | undefined;
  readonly description: string | undefined;
  /** Validates data against the schema; synchronous when the schema library is. */
  readonly validate: Validator;
  /**
   * Upgrades data written with `fromVersion` to the current version. Throws a `DecodeError` when the
   * version is newer than the contract or an upcaster is missing or fails.
   */
  upcast(data: unknown, fromVersion: number): unknown;
  /** Type carrier only; never set at run time. */
  readonly '~types'?: { readonly input: TInput; readonly output: TOutput };
}

/** Any contract, whatever its types. */
// biome-ignore lint/suspicious/noExplicitAny: a contract of any data type must be assignable here.
export type AnyEventContract = EventContract<string, any, any>;

/** The data a publisher passes for a contract. */
export type EventInput<TContract extends AnyEventContract> = NonNullable<TContract['~types']>['input'];

/** The data a handler receives for a contract. */
export type EventData<TContract extends AnyEventContract> = NonNullable<TContract['~types']>['output'];

/**
 * Declares an event contract. The schema is a zod 4 schema (or any Standard Schema) or a JSON
 * Schema object; the TypeScript type of the event's data is inferred from either.
 *
 * @example
 * ```ts
 * import { z } from 'zod';
 *
 * export const OrderPlaced = defineEvent({
 *   type: 'order.placed',
 *   version: 2,
 *   schema: z.object({ orderId: z.string(), total: z.number().nonnegative(), currency: z.string().length(3) }),
 *   key: (data) => data.orderId,
 *   upcasters: { 1: (v1: { orderId: string; total: number }) => ({ ...v1, currency: 'EUR' }) },
 * });
 *
 * export const OrderShipped = defineEvent({
 *   type: 'order.shipped',
 *   schema: {
 *     type: 'object',
 *     properties: { orderId: { type: 'string' }, carrier: { type: 'string' } },
 *     required: ['orderId', 'carrier'],
 *     additionalProperties: false,
 *   },
 * });
 * ```
 */
export function defineEvent<const TType extends string, TSchema extends StandardSchemaV1>(
  definition: StandardEventDefinition<TType, TSchema>,
): EventContract<TType, StandardSchemaV1.InferInput<TSchema>, StandardSchemaV1.InferOutput<TSchema>>;
export function defineEvent<const TType extends string, const TSchema extends JsonSchemaInput>(
  definition: JsonEventDefinition<TType, TSchema>,
): EventContract<TType, JsonSchemaData<TSchema>, JsonSchemaData<TSchema>>;
export function defineEvent(
  definition:
    | StandardEventDefinition<string, StandardSchemaV1>
    | JsonEventDefinition<string, JsonSchemaInput>,
): AnyEventContract {
  const { type } = definition;
  if (typeof type !== 'string' || type.length === 0) {
    throw new ConfigError('type', 'an event type must be a non-empty string');
  }
  const version = definition.version ?? 1;
  if (!Number.isInteger(version) || version < 1) {
    throw new ConfigError(
      'version',
      `event "${type}": version must be a positive integer, got ${String(version)}`,
    );
  }
  if (
    definition.topic !== undefined &&
    (typeof definition.topic !== 'string' || definition.topic.length === 0)
  ) {
    throw new ConfigError('topic', `event "${type}": topic must be a non-empty string`);
  }
  const upcasters = new Map<number, Upcaster>();
  for (const [from, upcaster] of Object.entries(definition.upcasters ?? {})) {
    const fromVersion = Number(from);
    if (!Number.isInteger(fromVersion) || fromVersion < 1 || fromVersion >= version) {
      throw new ConfigError(
        `upcasters.${from}`,
        `event "${type}": upcasters are keyed by the version they upgrade from, an integer from 1 to ${version - 1}`,
      );
    }
    if (typeof upcaster !== 'function') {
      throw new ConfigError(`upcasters.${from}`, `event "${type}": an upcaster must be a function`);
    }
    upcasters.set(fromVersion, upcaster);
  }
  const validate = compileSchema(type, definition.schema, 'ajv' in definition ? definition.ajv : undefined);

  return Object.freeze({
    type,
    version,
    topic: definition.topic,
    schema: definition.schema,
    key: definition.key,
    subject: definition.subject,
    dataschema: definition.dataschema,
    description: definition.description,
    validate,
    upcast(data: unknown, fromVersion: number): unknown {
      if (fromVersion === version) return data;
      if (fromVersion > version) {
        throw new DecodeError(
          `event "${type}" has version ${fromVersion}, newer than this consumer's contract (version ${version}); deploy the new contract to consumers before producers`,
        );
      }
      let current = data;
      for (let v = fromVersion; v < version; v++) {
        const upcaster = upcasters.get(v);
        if (upcaster === undefined) {
          throw new DecodeError(`event "${type}": no upcaster from version ${v} to ${v + 1}`);
        }
        try {
          current = upcaster(current);
        } catch (error) {
          throw new DecodeError(
            `event "${type}": upcaster from version ${v} failed: ${(error as Error).message}`,
            {
              cause: error,
            },
          );
        }
      }
      return current;
    },
  });
}
