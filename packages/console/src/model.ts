// What the catalog and the flow pages show, computed once from the options: the contracts, the
// topics they go to, who publishes them and which groups consume them.
import type { AnyEventContract } from '@tidings/core';
import { contractJsonSchema, topicOfContract } from '@tidings/core';
import { exampleOf } from './example';
import type { ResolvedConsoleOptions } from './options';

/** One contract as the catalog shows it. */
export interface CatalogEntry {
  readonly type: string;
  readonly version: number;
  readonly description: string | undefined;
  readonly topic: string;
  readonly schemaSource: 'json-schema' | 'standard' | 'opaque';
  readonly schema: Readonly<Record<string, unknown>> | undefined;
  readonly opaqueReason: string | undefined;
  readonly example: unknown;
  readonly producers: readonly string[];
  readonly consumers: readonly string[];
}

/** The flow: producers → topics → groups, with the edges between them. */
export interface Flow {
  readonly producers: readonly string[];
  readonly topics: readonly string[];
  readonly groups: readonly string[];
  readonly publishes: readonly { readonly producer: string; readonly topic: string }[];
  readonly consumes: readonly { readonly topic: string; readonly group: string }[];
}

/** A topic and a consumer group on it: where dead letters and lag are found. */
export interface GroupTopic {
  readonly topic: string;
  readonly group: string;
}

/** The catalog, the flow and the (topic, group) pairs of an application. */
export interface ConsoleModel {
  readonly catalog: readonly CatalogEntry[];
  readonly flow: Flow;
  readonly groupTopics: readonly GroupTopic[];
  readonly topics: readonly string[];
}

/** Builds the model; each contract's schema is converted once, here. */
export function buildModel(options: ResolvedConsoleOptions): ConsoleModel {
  const topicOf = (contract: AnyEventContract) => topicOfContract(options, contract);
  const contracts = new Map<string, AnyEventContract>();
  const all = [
    ...options.events,
    ...options.subscriptions.flatMap((s) => s.events),
    ...options.producers.flatMap((p) => p.events),
  ];
  for (const contract of all) if (!contracts.has(contract.type)) contracts.set(contract.type, contract);

  const catalog = [...contracts.values()].map((contract): CatalogEntry => {
    const described = contractJsonSchema(contract);
    return {
      type: contract.type,
      version: contract.version,
      description: contract.description,
      topic: topicOf(contract),
      schemaSource: described.source,
      schema: described.schema,
      opaqueReason: described.reason,
      example: exampleOf(described.schema),
      producers: unique(
        options.producers.filter((p) => p.events.some((e) => e.type === contract.type)).map((p) => p.name),
      ),
      consumers: unique(
        options.subscriptions
          .filter((s) => s.events.some((e) => e.type === contract.type))
          .map((s) => s.group),
      ),
    };
  });

  const publishes = uniquePairs(
    options.producers.flatMap((p) => p.events.map((e) => ({ producer: p.name, topic: topicOf(e) }))),
    (e) => `${e.producer}\n${e.topic}`,
  );
  const consumes = uniquePairs(
    options.subscriptions.flatMap((s) => s.events.map((e) => ({ topic: topicOf(e), group: s.group }))),
    (e) => `${e.topic}\n${e.group}`,
  );
  const topics = unique([
    ...catalog.map((entry) => entry.topic),
    ...publishes.map((e) => e.topic),
    ...consumes.map((e) => e.topic),
  ]);
  return {
    catalog,
    flow: {
      producers: unique(options.producers.map((p) => p.name)),
      topics,
      groups: unique(options.subscriptions.map((s) => s.group)),
      publishes,
      consumes,
    },
    groupTopics: consumes,
    topics,
  };
}

function unique(values: readonly string[]): string[] {
  return [...new Set(values)];
}

function uniquePairs<T>(values: readonly T[], key: (value: T) => string): T[] {
  const seen = new Map<string, T>();
  for (const value of values) if (!seen.has(key(value))) seen.set(key(value), value);
  return [...seen.values()];
}
