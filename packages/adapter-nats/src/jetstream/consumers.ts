import { ConfigError, type SubscribeSpec } from '@tidings/core/adapter';
import {
  AckPolicy,
  type ConsumerConfig,
  type ConsumerInfo,
  DeliverPolicy,
  type JetStreamManager,
  ReplayPolicy,
} from 'nats';
import { apiErrorCode, connectionFailure, isNotFound, JS_ERR } from '../errors';
import { consumerName, partitionSubject, topicFilter } from '../subjects';

/** One durable consumer a subscription needs. */
export interface ConsumerPlan {
  readonly name: string;
  readonly topic: string;
  /** The partition it reads, for ordered subscriptions; undefined reads every partition. */
  readonly partition: number | undefined;
  readonly filter: string;
  readonly maxAckPending: number;
}

/** What shapes a subscription's consumers. */
export interface ConsumerSettings {
  readonly stream: string;
  readonly prefix: string;
  readonly partitions: number;
  readonly ackWaitMs: number;
  readonly extraDeliveries: number;
  readonly maxAckPending: number;
}

/**
 * The consumers of a subscription. Unordered: one per topic, over all its partitions, with
 * `max_ack_pending` at least the prefetch. Ordered by key: one per topic and partition with
 * `max_ack_pending` 1, so that the server hands out a partition's records one at a time, in
 * stream order, across every member of the group, and holds the partition while a record waits
 * for its redelivery.
 */
export function planConsumers(spec: SubscribeSpec, settings: ConsumerSettings): ConsumerPlan[] {
  const plans: ConsumerPlan[] = [];
  for (const topic of spec.topics) {
    if (spec.ordering === 'key') {
      for (let partition = 0; partition < settings.partitions; partition++) {
        plans.push({
          name: consumerName(spec.group, topic, partition),
          topic,
          partition,
          filter: partitionSubject(settings.prefix, topic, partition),
          maxAckPending: 1,
        });
      }
    } else {
      plans.push({
        name: consumerName(spec.group, topic),
        topic,
        partition: undefined,
        filter: topicFilter(settings.prefix, topic),
        maxAckPending: Math.max(settings.maxAckPending, spec.prefetch),
      });
    }
  }
  return plans;
}

/** The consumer's `max_deliver`: above the core's attempts, with room for deliveries that never settled. */
export function maxDeliverOf(maxAttempts: number, extraDeliveries: number): number {
  return Number.isFinite(extraDeliveries) ? maxAttempts + extraDeliveries : -1;
}

/** A `max_deliver` as a number that compares: -1 (and 0, unset) is no limit. */
function deliveryLimit(maxDeliver: number | undefined): number {
  return maxDeliver === undefined || maxDeliver <= 0 ? Number.POSITIVE_INFINITY : maxDeliver;
}

/**
 * Refuses a subscription whose group already reads the topic with the other ordering: its
 * consumers would each get every record, and the group would handle every record twice.
 */
export async function checkOrderingConflict(
  jsm: JetStreamManager,
  spec: SubscribeSpec,
  topic: string,
  stream: string,
): Promise<void> {
  const other =
    spec.ordering === 'key' ? consumerName(spec.group, topic) : consumerName(spec.group, topic, 0);
  try {
    await jsm.consumers.info(stream, other);
  } catch (error) {
    if (isNotFound(error)) return;
    throw connectionFailure(error, `cannot read consumer "${other}" of stream "${stream}"`);
  }
  const was = spec.ordering === 'key' ? 'none' : 'key';
  throw new ConfigError(
    'ordering',
    `consumer group "${spec.group}" already reads topic "${topic}" with ordering '${was}' (consumer "${other}"); all members of a group must use one ordering; to change it, stop the group and delete its consumers`,
  );
}

/**
 * Makes sure the durable consumers of a subscription exist. A group new to a topic starts where
 * `spec.startFrom` says; existing consumers keep their position (the group resumes) and get their
 * acknowledgement settings brought up to date. A group that already reads a topic starts a
 * partition it has no consumer for yet (the partition count grew) from the partition's first
 * record, so that nothing published there before this member came up is skipped.
 *
 * Resolves with each consumer's delivery limit (`max_deliver`; `Infinity` for none), in the order
 * of `plans`: the subscription must know which delivery of a record is the last.
 */
export async function ensureConsumers(
  jsm: JetStreamManager,
  plans: readonly ConsumerPlan[],
  spec: SubscribeSpec,
  settings: ConsumerSettings,
): Promise<number[]> {
  const infos = await Promise.all(plans.map((plan) => readConsumer(jsm, settings.stream, plan.name)));
  const readTopics = new Set(plans.filter((_, i) => infos[i] !== undefined).map((plan) => plan.topic));
  return Promise.all(
    plans.map((plan, i) =>
      ensureConsumer(
        jsm,
        plan,
        infos[i],
        readTopics.has(plan.topic) ? 'earliest' : spec.startFrom,
        spec,
        settings,
      ),
    ),
  );
}

async function readConsumer(
  jsm: JetStreamManager,
  stream: string,
  name: string,
): Promise<ConsumerInfo | undefined> {
  try {
    return await jsm.consumers.info(stream, name);
  } catch (error) {
    if (isNotFound(error)) return undefined;
    throw connectionFailure(error, `cannot read consumer "${name}" of stream "${stream}"`);
  }
}

async function ensureConsumer(
  jsm: JetStreamManager,
  plan: ConsumerPlan,
  existing: ConsumerInfo | undefined,
  startFrom: SubscribeSpec['startFrom'],
  spec: SubscribeSpec,
  settings: ConsumerSettings,
): Promise<number> {
  const { stream } = settings;
  const wanted = {
    ack_wait: settings.ackWaitMs * 1_000_000,
    max_deliver: maxDeliverOf(spec.maxAttempts, settings.extraDeliveries),
    max_ack_pending: plan.maxAckPending,
  };
  let info = existing;
  if (info === undefined) {
    const config: Partial<ConsumerConfig> = {
      durable_name: plan.name,
      description: `Tidings group "${spec.group}" on topic "${plan.topic}"${plan.partition === undefined ? '' : `, partition ${plan.partition}`}`,
      ack_policy: AckPolicy.Explicit,
      deliver_policy: startFrom === 'earliest' ? DeliverPolicy.All : DeliverPolicy.New,
      replay_policy: ReplayPolicy.Instant,
      filter_subject: plan.filter,
      ...wanted,
    };
    try {
      const created = await jsm.consumers.add(stream, config);
      return deliveryLimit(created.config.max_deliver);
    } catch (error) {
      const code = apiErrorCode(error);
      if (code !== JS_ERR.consumerExists && code !== JS_ERR.consumerNameExists) {
        throw connectionFailure(error, `cannot create consumer "${plan.name}" on stream "${stream}"`);
      }
      // Another member of the group created it meanwhile.
      info = await jsm.consumers.info(stream, plan.name);
    }
  }
  return reconcile(jsm, stream, plan, info, wanted);
}

/** Brings an existing consumer's settings up to date; resolves with its delivery limit. */
async function reconcile(
  jsm: JetStreamManager,
  stream: string,
  plan: ConsumerPlan,
  info: ConsumerInfo,
  wanted: { ack_wait: number; max_deliver: number; max_ack_pending: number },
): Promise<number> {
  const config = info.config;
  if (
    config.filter_subject !== plan.filter ||
    config.ack_policy !== AckPolicy.Explicit ||
    config.deliver_subject
  ) {
    throw new ConfigError(
      'group',
      `consumer "${plan.name}" of stream "${stream}" exists but is not the pull consumer Tidings expects (filter "${config.filter_subject ?? ''}", ack policy "${config.ack_policy}"); delete it or use another group name`,
    );
  }
  const update: Partial<typeof wanted> = {};
  if (config.ack_wait !== wanted.ack_wait) update.ack_wait = wanted.ack_wait;
  // The delivery limit only grows: members of a group with different `maxAttempts` must not pull
  // it below one another's, or a member's core would never see a record past its own last attempt.
  const limit = Math.max(deliveryLimit(config.max_deliver), deliveryLimit(wanted.max_deliver));
  if (limit !== deliveryLimit(config.max_deliver)) update.max_deliver = wanted.max_deliver;
  // Ordered consumers must stay at 1; others only grow, so that a member with a smaller prefetch
  // does not throttle the others.
  const ackPending = config.max_ack_pending ?? 0;
  if (
    plan.maxAckPending === 1 ? ackPending !== 1 : ackPending !== -1 && ackPending < wanted.max_ack_pending
  ) {
    update.max_ack_pending = wanted.max_ack_pending;
  }
  if (Object.keys(update).length === 0) return limit;
  try {
    await jsm.consumers.update(stream, plan.name, update);
  } catch (error) {
    throw connectionFailure(error, `cannot update consumer "${plan.name}" of stream "${stream}"`);
  }
  return limit;
}
