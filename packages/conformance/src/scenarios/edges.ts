import { createHash } from 'node:crypto';
import {
  ClosedError,
  ConfigError,
  type OutgoingRecord,
  type Settlement,
  TidingsError,
  topicProblem,
} from '@tidings/core/adapter';
import { expect } from 'vitest';
import { ACK, bodyText, Collector, ObserverLog } from '../collector';
import { records } from '../fixture';
import type { Scenario } from '../scenario';

/** Largest body the scenario publishes, whatever the adapter allows. */
const MAX_TRIED_BODY = 4 * 1024 * 1024;

export const deadLetterAlwaysLands: Scenario = {
  name: 'dead-letter-always-lands',
  title:
    'lands a dead letter whose full copy is over the limit (a body at the limit, a 60 KB header), reduced, and goes on',
  async run(fx, settings) {
    const adapter = await fx.adapter();
    const topic = fx.topic('lands-source');
    const dlqTopic = fx.topic('lands-target');
    const group = fx.group('lands');
    const main = new Collector();
    const dead = new Collector();
    const observer = new ObserverLog();
    await adapter.subscribe(
      fx.spec({ group: fx.group('lands-reader'), topics: [dlqTopic] }),
      dead.handler('reader'),
    );
    const deadLetter = (record: { attempt: number; topic: string }): Settlement => ({
      type: 'deadLetter',
      topic: dlqTopic,
      reason: 'NonRetryableError: poison',
      headers: {
        'tidings-dlq-reason': 'NonRetryableError: poison',
        'tidings-dlq-error-message': 'x'.repeat(999),
        'tidings-dlq-attempts': String(record.attempt),
        'tidings-dlq-original-topic': record.topic,
        'tidings-dlq-group': group,
      },
    });
    await adapter.subscribe(
      fx.spec({ group, topics: [topic], concurrency: 2 }),
      main.handler('main', (record) => (record.key?.startsWith('poison') ? deadLetter(record) : ACK)),
      observer,
    );

    // A body as large as the adapter takes: the dead letter's headers push it over.
    const atLimit = new Uint8Array(Math.min(fx.capabilities.maxMessageBytes, MAX_TRIED_BODY)).fill(97);
    const bigHeader = 'h'.repeat(60_000);
    await adapter.publish([{ topic, key: 'poison-body', headers: {}, body: atLimit }]);
    await adapter.publish([
      { topic, key: 'poison-header', headers: { 'x-big': bigHeader }, body: Buffer.from('small') },
    ]);
    await adapter.publish(records(topic, 'after', 10, { key: (i) => `after-${i}` }));

    await main.until(
      () => main.distinctBodies().size >= 12,
      settings.deliveryTimeoutMs,
      () => `${main.distinctBodies().size} of 12 records reached the group`,
    );
    await dead.until(
      () => dead.deliveries.length >= 2,
      settings.deliveryTimeoutMs,
      () => `${dead.deliveries.length} of 2 dead letters landed`,
    );
    await observer.until((log) => log.landed.length >= 2, settings.deliveryTimeoutMs);

    const letterOf = (key: string) => dead.deliveries.find((d) => d.record.key === key)!.record;
    const bodyLetter = letterOf('poison-body');
    expect(bodyLetter.headers['tidings-dlq-reason']).toBe('NonRetryableError: poison');
    if (bodyLetter.body.byteLength === 0) {
      // Reduced: the body is gone, and what it was is said.
      expect(bodyLetter.headers['tidings-dlq-reduced']).toContain('body');
      expect(bodyLetter.headers['tidings-dlq-original-body-bytes']).toBe(String(atLimit.byteLength));
      expect(bodyLetter.headers['tidings-dlq-original-body-sha256']).toBe(
        createHash('sha256').update(atLimit).digest('hex'),
      );
    } else {
      expect(bodyLetter.body.byteLength).toBe(atLimit.byteLength);
    }
    const headerLetter = letterOf('poison-header');
    expect(bodyText(headerLetter)).toBe('small');
    expect(headerLetter.headers['tidings-dlq-reason']).toBe('NonRetryableError: poison');
    const big = headerLetter.headers['x-big'];
    if (big !== bigHeader) {
      expect(headerLetter.headers['tidings-dlq-reduced']).toContain('headers');
      const cuts = JSON.parse(headerLetter.headers['tidings-dlq-cut-headers']!) as {
        name: string;
        bytes: number;
      }[];
      expect(cuts).toContainEqual(expect.objectContaining({ name: 'x-big', bytes: 60_000 }));
    }
    // What the observer was told matches what landed.
    for (const { record, landed } of observer.landed) {
      const letter = letterOf(record.key!);
      expect(landed.topic).toBe(dlqTopic);
      expect(landed.reduced.length > 0).toBe(letter.headers['tidings-dlq-reduced'] !== undefined);
    }
    expect(observer.failed).toEqual([]);
    // Each poison record was delivered once: nothing loops.
    expect(main.deliveries.filter((d) => d.record.key === 'poison-body').length).toBe(1);
    expect(main.deliveries.filter((d) => d.record.key === 'poison-header').length).toBe(1);
  },
};

/** Names to try against an adapter's topic rule: those it refuses must fail publish and subscribe. */
const CANDIDATE_TOPICS = ['', 'has space', 'star*', 'hash#', 'gt>', 'ctl\u0001', 'new\nline', 'é'];

export const topicRule: Scenario = {
  name: 'topic-rule',
  title: 'refuses the topic names its declared rule refuses, on publish and on subscribe, before sending',
  async run(fx) {
    const adapter = await fx.adapter();
    const rule = fx.capabilities.topicRule;
    const tooLong = 'a'.repeat(rule.maxBytes + 1);
    const refused = [...CANDIDATE_TOPICS, tooLong].filter((name) => topicProblem(rule, name) !== undefined);
    // The empty name and one over the length limit are refused by every rule.
    expect(refused).toContain('');
    expect(refused).toContain(tooLong);
    for (const topic of refused) {
      const record: OutgoingRecord = { topic, key: undefined, headers: {}, body: Buffer.from('x') };
      const published = await adapter.publish([record]).then(
        () => undefined,
        (error: unknown) => error,
      );
      expect(published, `publish to ${JSON.stringify(topic.slice(0, 20))}`).toBeInstanceOf(TidingsError);
      expect(published).not.toBeInstanceOf(ClosedError);
      const subscribed = await adapter
        .subscribe(fx.spec({ group: fx.group('rule'), topics: [topic] }), async () => ACK)
        .then(
          async (subscription) => {
            await subscription.close();
            return undefined;
          },
          (error: unknown) => error,
        );
      expect(subscribed, `subscribe to ${JSON.stringify(topic.slice(0, 20))}`).toBeInstanceOf(ConfigError);
    }
    // The adapter is still usable after refusing them.
    const topic = fx.topic('rule-ok');
    const collector = new Collector();
    await adapter.subscribe(
      fx.spec({ group: fx.group('rule-ok'), topics: [topic] }),
      collector.handler('only'),
    );
    await adapter.publish(records(topic, 'ok', 1));
    await collector.untilDistinct(1, 20_000);
  },
};
