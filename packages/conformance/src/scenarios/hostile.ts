import { createBus, defineEvent } from '@tidings/core';
import type { IncomingRecord } from '@tidings/core/adapter';
import fc from 'fast-check';
import { expect } from 'vitest';
import { Collector, eventually, quietPeriod } from '../collector';
import type { HostileSettings, RawRecord, Scenario } from '../scenario';

/**
 * The hostile-input scenario: records no Tidings producer would write (arbitrary bodies, header
 * names such as `__proto__` or `constructor`, malformed or missing CloudEvents attributes, unknown
 * types, bytes that are not UTF-8, JSON that tries to pollute prototypes) injected straight into
 * the broker with its raw client, interleaved with valid events. Every valid event must be handled
 * once, every poison record must reach the dead-letter topic with a reason, the consumer must stay
 * alive, its position must move past the poison (a new member of the group gets nothing again),
 * and `Object.prototype` must stay clean.
 */

const Ping = defineEvent({
  type: 'conformance.ping',
  schema: {
    type: 'object',
    properties: { n: { type: 'integer' } },
    required: ['n'],
    additionalProperties: false,
  } as const,
});

/** What makes a poison record poison: one defect is forced on top of the arbitrary headers. */
type Defect = 'no-specversion' | 'bad-specversion' | 'unknown-type' | 'not-json' | 'schema' | 'no-id';

const DEFECTS: readonly Defect[] = [
  'no-specversion',
  'bad-specversion',
  'unknown-type',
  'not-json',
  'schema',
  'no-id',
];

/** Header names an attacker picks first: prototype members and the envelope's own. */
const NASTY_NAMES = [
  '__proto__',
  'constructor',
  'prototype',
  'toString',
  'hasOwnProperty',
  'valueOf',
  'tidings-attempt',
  'tidings-first-failure-at',
  'tidings-dlq-reason',
  'content-type',
];

/** Bodies that try prototype pollution through JSON. */
const POLLUTING_BODIES = [
  '{"__proto__":{"polluted":"yes"},"n":1}',
  '{"constructor":{"prototype":{"polluted":"yes"}},"n":1}',
  '{"n":{"__proto__":{"polluted":"yes"}}}',
];

interface Sample {
  readonly poison: boolean;
  readonly defect: Defect;
  readonly headers: Record<string, string>;
  readonly body: Uint8Array;
}

function arbitraries(settings: HostileSettings): fc.Arbitrary<Sample> {
  const { prefix } = settings;
  const attributeNames = [
    'id',
    'source',
    'type',
    'specversion',
    'time',
    'subject',
    'eventversion',
    'partitionkey',
  ].map((name) => prefix + name);
  const name = fc
    .oneof(
      fc.constantFrom(...NASTY_NAMES, ...attributeNames, settings.contentTypeHeader),
      fc.string({ minLength: 1, maxLength: 24 }),
      fc.string({ unit: 'grapheme', minLength: 1, maxLength: 12 }),
    )
    .filter(settings.headerName);
  const value = fc
    .oneof(
      fc.string({ maxLength: 40 }),
      fc.string({ unit: 'grapheme', maxLength: 20 }),
      fc.constantFrom(
        '1.0',
        '0.3',
        '',
        '-1',
        '1e309',
        'application/json',
        'application/cloudevents+json',
        'conformance.ping',
      ),
    )
    .filter(settings.headerValue);
  const body = fc.oneof(
    fc.uint8Array({ maxLength: 200 }),
    fc.json({ maxDepth: 3 }).map((text) => Buffer.from(text)),
    fc.constantFrom(...POLLUTING_BODIES).map((text) => Buffer.from(text)),
    fc.constantFrom(Buffer.from([0xff, 0xfe, 0x00, 0xc3, 0x28]), Buffer.alloc(0)),
  );
  return fc.record({
    poison: fc.boolean(),
    defect: fc.constantFrom(...DEFECTS),
    headers: fc.dictionary(name, value, { maxKeys: 6 }),
    body,
  });
}

/** A poison record: arbitrary headers and body, a valid-looking envelope, then its defect. */
function poisonRecord(sample: Sample, settings: HostileSettings, key: string, n: number): RawRecord {
  const { prefix } = settings;
  // Prototype-free, so that a header named `__proto__` is kept as a header.
  const headers: Record<string, string> = Object.create(null) as Record<string, string>;
  for (const name of Object.keys(sample.headers)) headers[name] = sample.headers[name]!;
  const envelope: Record<string, string> = {
    [`${prefix}specversion`]: '1.0',
    [`${prefix}id`]: `poison-${n}`,
    [`${prefix}source`]: 'conformance-fuzz',
    [`${prefix}type`]: Ping.type,
  };
  for (const [name, value] of Object.entries(envelope)) headers[name] = value;
  let body: Uint8Array = Buffer.from(JSON.stringify({ n }));
  switch (sample.defect) {
    case 'no-specversion':
      delete headers[`${prefix}specversion`];
      body = sample.body;
      break;
    case 'bad-specversion':
      headers[`${prefix}specversion`] = '0.3';
      body = sample.body;
      break;
    case 'unknown-type':
      headers[`${prefix}type`] = `conformance.unknown.${n}`;
      body = sample.body;
      break;
    case 'no-id':
      delete headers[`${prefix}id`];
      body = sample.body;
      break;
    case 'not-json':
      body = Buffer.concat([Buffer.from('{not json '), sample.body]);
      break;
    case 'schema':
      body = Buffer.from(JSON.stringify({ n: `not a number ${n}`, extra: sample.headers }));
      break;
  }
  // Binary mode: a content-type the arbitrary headers chose could switch the record to structured
  // mode, whose body then decides; every defect above must hold, so it says JSON.
  headers[settings.contentTypeHeader] = 'application/json';
  if (settings.contentTypeHeader !== 'content-type') delete headers['content-type'];
  return { key, headers, body };
}

export const hostileInput: Scenario = {
  name: 'hostile-input',
  title:
    'handles every valid event once and dead-letters every poison record injected with the raw client, and moves past them',
  unsupported: (_capabilities, settings) =>
    settings.hostile === undefined
      ? 'no injectRaw option: the suite cannot write records with the broker’s raw client'
      : undefined,
  async run(fx, settings) {
    const hostile = settings.hostile!;
    const prototypeKeys = Object.getOwnPropertyNames(Object.prototype).sort();
    const samples = fc.sample(arbitraries(hostile), { numRuns: hostile.records, seed: hostile.seed });
    const topic = fx.topic('hostile');
    const group = fx.group('hostile');
    const dlqTopic = `${topic}.${group}.dlq`;

    // Reads the dead-letter topic with the adapter alone: poison cannot be decoded into events.
    const dead = new Collector();
    const reader = await fx.adapter();
    await reader.subscribe(
      fx.spec({ group: fx.group('hostile-dlq'), topics: [dlqTopic] }),
      dead.handler('dlq'),
    );

    const handled: string[] = [];
    const runBus = async () => {
      const bus = createBus({
        source: 'conformance-fuzz',
        adapter: await fx.adapter(),
        subscriptionDefaults: {
          retry: { maxAttempts: 3, initialDelayMs: 20, maxDelayMs: 50 },
          ordering: 'none',
        },
      });
      bus.subscribe(
        Ping,
        { group, topic, startFrom: fx.spec({ group, topics: [topic] }).startFrom },
        (event) => {
          handled.push(event.id);
        },
      );
      await bus.start();
      return bus;
    };
    const bus = await runBus();

    const valid: string[] = [];
    const poisonKeys = new Set<string>();
    const injected = new Map<string, RawRecord>();
    try {
      let n = 0;
      for (const sample of samples) {
        n++;
        if (sample.poison) {
          const key = `poison-${n}`;
          poisonKeys.add(key);
          const record = poisonRecord(sample, hostile, key, n);
          injected.set(key, record);
          await hostile.inject(topic, [record]);
        } else {
          const published = await bus.publish(Ping, { n }, { topic, key: `valid-${n}` });
          valid.push(published.id);
        }
      }
      const keyOf = (record: IncomingRecord) => record.key ?? record.headers['tidings-dlq-original-key'];
      const deadKeys = () => new Set(dead.deliveries.map((d) => keyOf(d.record)));
      await eventually(
        () =>
          [...poisonKeys].every((key) => deadKeys().has(key)) && valid.every((id) => handled.includes(id)),
        settings.deliveryTimeoutMs * 2,
        () =>
          `${[...poisonKeys].filter((key) => deadKeys().has(key)).length} of ${poisonKeys.size} poison records dead-lettered, ` +
          `${valid.filter((id) => handled.includes(id)).length} of ${valid.length} valid events handled (seed ${hostile.seed})`,
      );
      for (const delivery of dead.deliveries) {
        // Headers read from the broker are looked up by any name safely: a name the record did not
        // carry reads as undefined, never as an Object.prototype member.
        const { headers } = delivery.record;
        for (const name of ['constructor', 'toString', 'hasOwnProperty', 'valueOf']) {
          if (!Object.hasOwn(headers, name)) {
            expect(headers[name], `dead letter headers read "${name}" from a prototype`).toBeUndefined();
          }
        }
        const key = keyOf(delivery.record);
        const original = key === undefined ? undefined : injected.get(key);
        const reason = delivery.record.headers['tidings-dlq-reason'];
        // A poison record that forged its attempt past the last one is dead-lettered without being
        // decoded, as any record its consumers kept dying on.
        const forgedAttempt = original !== undefined && Object.hasOwn(original.headers, 'tidings-attempt');
        expect(reason, `dead letter ${key} has no reason (seed ${hostile.seed})`).toMatch(
          forgedAttempt
            ? /^(DecodeError|UnknownEventTypeError|ValidationError|MessageTooLargeError|NonRetryableError): /
            : /^(DecodeError|UnknownEventTypeError|ValidationError|MessageTooLargeError): /,
        );
        // The dead letter keeps the headers the poison record came with (the core writes its own
        // retry and dead-letter headers over those of its names).
        if (original !== undefined && headers['tidings-dlq-reduced'] === undefined) {
          for (const name of Object.keys(original.headers)) {
            if (name.startsWith('tidings-')) continue;
            expect(
              Object.getOwnPropertyDescriptor(headers, name)?.value,
              `dead letter ${key} lost or changed its header ${JSON.stringify(name)} (seed ${hostile.seed})`,
            ).toBe(original.headers[name]);
          }
        }
      }
      expect(new Set(handled).size, `a valid event was handled twice (seed ${hostile.seed})`).toBe(
        handled.length,
      );
      expect(handled.length).toBe(valid.length);
      const health = bus.health();
      expect(health.subscriptions.every((s) => s.state === 'running')).toBe(true);
    } finally {
      await bus.stop();
    }

    // The group's position moved past the poison: a new member gets a new event and nothing again.
    const before = { handled: handled.length, dead: dead.deliveries.length };
    const next = await runBus();
    try {
      const sentinel = await next.publish(Ping, { n: -1 }, { topic, key: 'sentinel' });
      await eventually(
        () => handled.includes(sentinel.id),
        settings.deliveryTimeoutMs,
        () => 'the group did not handle a new event after a restart',
      );
      await quietPeriod(500);
      expect(handled.length, 'records were redelivered to the group after a restart').toBe(
        before.handled + 1,
      );
      expect(dead.deliveries.length, 'poison was dead-lettered again after a restart').toBe(before.dead);
    } finally {
      await next.stop();
    }
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect(Object.getOwnPropertyNames(Object.prototype).sort()).toEqual(prototypeKeys);
    return undefined;
  },
};
