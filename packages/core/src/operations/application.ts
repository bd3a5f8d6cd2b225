// What an application declares about its events for the tools that show and operate it (the
// tidings CLI, its AsyncAPI document, the web console): one shape, so a config passes through.

import type { TopicNamer } from '../bus/options';
import type { AnyEventContract } from '../contracts/define-event';
import type { Codec } from '../envelope/codec';
import type { DeadLetterTopicNamer } from '../policies/dead-letter';

/**
 * A consumer group the application runs, and the events it consumes.
 *
 * @example
 * ```ts
 * const billing: SubscriptionDeclaration = { group: 'billing', events: [OrderPlaced] };
 * ```
 */
export interface SubscriptionDeclaration {
  readonly group: string;
  readonly events: readonly AnyEventContract[];
}

/**
 * A service that publishes events, and which.
 *
 * @example
 * ```ts
 * const shop: ProducerDeclaration = { name: 'order-api', events: [OrderPlaced] };
 * ```
 */
export interface ProducerDeclaration {
  readonly name: string;
  readonly events: readonly AnyEventContract[];
}

/**
 * An application's events as its operators' tools see them: the contracts, how its bus names
 * topics and dead-letter topics, its codecs, and who publishes and who consumes what. The
 * `tidings` CLI config and the console's options are this plus what each needs of its own.
 *
 * @example
 * ```ts
 * const shop: ApplicationDescription = {
 *   events: [OrderPlaced],
 *   subscriptions: [{ group: 'billing', events: [OrderPlaced] }],
 *   producers: [{ name: 'order-api', events: [OrderPlaced] }],
 * };
 * ```
 */
export interface ApplicationDescription {
  /** The contracts: dead letters and live records are decoded by them. */
  readonly events?: readonly AnyEventContract[];
  /** Codecs, as given to the bus. Default: JSON. */
  readonly codecs?: readonly Codec[];
  /** Topic of a contract, as given to the bus. Default: the contract's `topic`, else its `type`. */
  readonly topic?: TopicNamer;
  /** Dead-letter topic of a topic and group, as given to the bus. Default `<topic>.<group>.dlq`. */
  readonly deadLetterTopic?: DeadLetterTopicNamer;
  /** The consumer groups the application runs. */
  readonly subscriptions?: readonly SubscriptionDeclaration[];
  /** The services that publish, and which events each publishes. */
  readonly producers?: readonly ProducerDeclaration[];
}

/**
 * The topic of a contract as the application's bus names it.
 *
 * @example
 * ```ts
 * const topic = topicOfContract({ topic: (c) => `shop.${c.type}` }, OrderPlaced); // 'shop.order.placed'
 * ```
 */
export function topicOfContract(
  application: Pick<ApplicationDescription, 'topic'>,
  contract: AnyEventContract,
): string {
  return application.topic?.(contract) ?? contract.topic ?? contract.type;
}
