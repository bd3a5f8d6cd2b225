import type { StandardSchemaV1 } from '@standard-schema/spec';
import { describe, expect, it } from 'vitest';
import { testContext } from '../../test/support/contexts';
import { OrderPlaced } from '../../test/support/contracts';
import type { IncomingRecord, Settlement } from '../adapters/contract';
import type { Handler, MessageContext } from '../context/delivery';
import { type AnyEventContract, defineEvent } from '../contracts/define-event';
import { jsonCodec } from '../envelope/codec';
import { encodeEnvelope } from '../envelope/encode';
import { NonRetryableError } from '../errors';
import { createMemoryIdempotencyStore } from '../idempotency/memory-store';
import { compose, type Middleware } from '../middleware/types';
import { createDecoder, type DecodeStepOptions } from './decode';
import { beyondLastAttempt, decideFailure, type FailurePolicy } from './failure';
import { idempotency } from './idempotency';
import { createPipeline } from './pipeline';
import { type ResolvedRetryOptions, resolveRetryOptions } from './retry';
import { createTimeoutGuard } from './timeout';

// The fused pipeline must decide exactly as the documented frame, written plainly as a stack of
// async steps, does: these tests run both over the same deliveries and compare every outcome.

/** A schema that validates on a later microtask, as an async Standard Schema may. */
const asyncSchema: StandardSchemaV1<{ orderId: string }> = {
  '~standard': {
    version: 1,
    vendor: 'test',
    validate: async (value) =>
      typeof value === 'object' &&
      value !== null &&
      typeof (value as { orderId?: unknown }).orderId === 'string'
        ? { value: value as { orderId: string } }
        : { issues: [{ message: 'orderId must be a string', path: ['orderId'] }] },
  },
};
const AsyncOrder = defineEvent({ type: 'order.async', schema: asyncSchema });

type RecordKind = 'valid' | 'invalid' | 'garbage' | 'unknown' | 'async-valid' | 'async-invalid';

function recordOf(kind: RecordKind, attempt: number): IncomingRecord {
  const type =
    kind === 'unknown' ? 'order.unknown' : kind.startsWith('async') ? 'order.async' : 'order.placed';
  const data =
    kind === 'invalid' || kind === 'async-invalid'
      ? { orderId: 7 }
      : { orderId: 'o-1', total: 3, currency: 'EUR' };
  const record = encodeEnvelope(
    {
      id: `id-${kind}`,
      source: 'test',
      type,
      specversion: '1.0',
      time: '2026-01-01T00:00:00.000Z',
      datacontenttype: 'application/json',
      subject: undefined,
      dataschema: undefined,
      eventversion: kind === 'async-valid' || kind === 'async-invalid' ? 1 : 2,
      partitionkey: 'o-1',
      traceparent: undefined,
      tracestate: undefined,
      correlationid: undefined,
      causationid: undefined,
      extensions: {},
      data,
    },
    'order.placed',
    { prefix: 'ce_', codec: jsonCodec },
  );
  const body = kind === 'garbage' ? new TextEncoder().encode('{not json') : record.body;
  return { ...record, body, attempt, position: 'order.placed@3' };
}

type HandlerKind =
  | 'sync'
  | 'sync-value'
  | 'sync-object'
  | 'sync-throw'
  | 'sync-throw-string'
  | 'sync-throw-permanent'
  | 'sync-settles'
  | 'async'
  | 'async-reject'
  | 'thenable'
  | 'thenable-reject';

function handlerOf(kind: HandlerKind, calls: { count: number }): Handler {
  return (_event, ctx) => {
    calls.count++;
    switch (kind) {
      case 'sync':
        return undefined;
      case 'sync-value':
        return 42;
      case 'sync-object':
        return { done: true };
      case 'sync-throw':
        throw new Error('handler failed');
      case 'sync-throw-string':
        throw 'a string';
      case 'sync-throw-permanent':
        throw new NonRetryableError('no such customer');
      case 'sync-settles':
        (ctx as MessageContext).settlement = { type: 'retry', delayMs: 7, headers: {} };
        return undefined;
      case 'async':
        return Promise.resolve('done');
      case 'async-reject':
        return Promise.reject(new Error('async failure'));
      case 'thenable':
        // biome-ignore lint/suspicious/noThenProperty: a handler may return any thenable; await takes it.
        return { then: (resolve: (value: unknown) => void) => resolve('done') };
      case 'thenable-reject':
        return {
          // biome-ignore lint/suspicious/noThenProperty: as above.
          then: (_: unknown, reject: (error: unknown) => void) => reject(new Error('thenable failure')),
        };
    }
  };
}

interface Setup {
  readonly retry: ResolvedRetryOptions;
  readonly timeoutMs: number | false;
  readonly idempotent: boolean;
  readonly middleware: boolean;
  readonly outer: boolean;
  readonly unknownTypes: 'deadLetter' | 'ack';
}

const decodeOptions = (unknownTypes: 'deadLetter' | 'ack'): DecodeStepOptions => ({
  contracts: new Map<string, AnyEventContract>([
    [OrderPlaced.type, OrderPlaced],
    [AsyncOrder.type, AsyncOrder],
  ]),
  prefix: 'ce_',
  contentTypeHeader: undefined,
  codecs: new Map([['application/json', jsonCodec]]),
  defaultCodec: jsonCodec,
  maxMessageBytes: 1_000_000,
  unknownTypes,
  validate: true,
});

/** Each run gets middleware (and an idempotency store) of its own, so runs cannot see each other. */
function layersOf(setup: Setup, seen: string[]) {
  const inner: Middleware[] = [];
  if (setup.idempotent) inner.push(idempotency({ store: createMemoryIdempotencyStore() }));
  if (setup.middleware) {
    inner.push(async (_ctx, next) => {
      seen.push('middleware in');
      await next();
      seen.push('middleware out');
    });
  }
  const outer: Middleware[] = [];
  if (setup.outer) {
    outer.push(async (ctx, next) => {
      await next();
      seen.push(`outer saw ${ctx.settlement?.type ?? 'ack'}`);
    });
  }
  return { inner, outer };
}

/**
 * The documented frame written plainly, as a stack of async steps (bus middleware → the failure
 * decision → decode → timeout → idempotency → subscription middleware → handler): the model the
 * fused pipeline must match, decision for decision.
 */
async function model(setup: Setup, handler: Handler, ctx: MessageContext, seen: string[]) {
  const { inner, outer } = layersOf(setup, seen);
  const policy: FailurePolicy = {
    retry: setup.retry,
    deadLetterTopic: (topic, group) => `${topic}.${group}.dlq`,
  };
  const decode = createDecoder(decodeOptions(setup.unknownTypes));
  const guard = setup.timeoutMs === false ? undefined : createTimeoutGuard(setup.timeoutMs);
  const frame = async (c: MessageContext): Promise<void> => {
    const beyond = beyondLastAttempt(c, policy);
    if (beyond !== undefined) {
      c.error = beyond.error;
      c.settlement = beyond.settlement;
      return;
    }
    try {
      if (!(await decode(c))) return;
      const started = Date.now();
      const work = compose(inner, async (cc) => {
        await handler(cc.event!, cc);
      })(c);
      await (guard === undefined ? work : guard(c, started, work));
    } catch (thrown) {
      const verdict = decideFailure(c, thrown, policy);
      c.error = verdict.error;
      c.settlement = verdict.settlement;
    }
  };
  await compose(outer, frame)(ctx);
}

async function fused(setup: Setup, handler: Handler, ctx: MessageContext, seen: string[]) {
  const { inner, outer } = layersOf(setup, seen);
  const pipeline = createPipeline({
    outer,
    retry: setup.retry,
    deadLetterTopic: (topic, group) => `${topic}.${group}.dlq`,
    decode: createDecoder(decodeOptions(setup.unknownTypes)),
    timeoutMs: setup.timeoutMs,
    inner,
    handler,
  });
  const result = pipeline(ctx);
  await result;
  return result === undefined ? 'sync' : 'async';
}

// Failure times are taken from the clock; they are checked elsewhere.
function comparable(settlement: Settlement | undefined): unknown {
  if (settlement === undefined || settlement.type === 'ack') return settlement;
  const headers = { ...settlement.headers };
  for (const name of Object.keys(headers)) if (name.endsWith('failure-at')) headers[name] = '<time>';
  return { ...settlement, headers };
}

function outcome(ctx: MessageContext, calls: { count: number }, seen: string[]) {
  return {
    settlement: comparable(ctx.settlement),
    error:
      ctx.error === undefined
        ? undefined
        : { name: ctx.error.name, message: ctx.error.message, cause: ctx.error.cause },
    duplicate: ctx.duplicate,
    event: ctx.event === undefined ? undefined : { id: ctx.event.id, data: ctx.event.data },
    handlerCalls: calls.count,
    seen,
  };
}

async function compare(setup: Setup, handlerKind: HandlerKind, recordKind: RecordKind, attempt: number) {
  const runs = [];
  for (const run of [model, fused]) {
    const calls = { count: 0 };
    const seen: string[] = [];
    const ctx = testContext(recordOf(recordKind, attempt), setup.retry.maxAttempts);
    const path = await run(setup, handlerOf(handlerKind, calls), ctx, seen);
    runs.push({ outcome: outcome(ctx, calls, seen), path });
  }
  const label = JSON.stringify({
    ...setup,
    retry: setup.retry.maxAttempts,
    handlerKind,
    recordKind,
    attempt,
  });
  expect(runs[1]!.outcome, label).toEqual(runs[0]!.outcome);
  return runs[1]!.path as 'sync' | 'async';
}

const retries = {
  three: resolveRetryOptions({ maxAttempts: 3, initialDelayMs: 10, jitter: 0 }),
  none: resolveRetryOptions(false),
  predicateThrows: resolveRetryOptions({
    maxAttempts: 3,
    jitter: 0,
    retryable: () => {
      throw new Error('predicate bug');
    },
  }),
  everything: resolveRetryOptions({ maxAttempts: 3, initialDelayMs: 5, jitter: 0, retryable: () => true }),
};

const HANDLERS: readonly HandlerKind[] = [
  'sync',
  'sync-value',
  'sync-object',
  'sync-throw',
  'sync-throw-string',
  'sync-throw-permanent',
  'sync-settles',
  'async',
  'async-reject',
  'thenable',
  'thenable-reject',
];
const RECORDS: readonly RecordKind[] = [
  'valid',
  'invalid',
  'garbage',
  'unknown',
  'async-valid',
  'async-invalid',
];

describe('the fused delivery pipeline', () => {
  it.each(HANDLERS)('decides as the documented frame does, for a %s handler', async (handlerKind) => {
    for (const retryOptions of Object.values(retries)) {
      for (const timeoutMs of [1_000, false] as const) {
        for (const idempotent of [false, true]) {
          for (const middleware of [false, true]) {
            for (const outer of [false, true]) {
              for (const unknownTypes of ['deadLetter', 'ack'] as const) {
                const setup = { retry: retryOptions, timeoutMs, idempotent, middleware, outer, unknownTypes };
                for (const recordKind of RECORDS) {
                  for (const attempt of [1, 3, 4]) await compare(setup, handlerKind, recordKind, attempt);
                }
              }
            }
          }
        }
      }
    }
  });

  it('finishes synchronously when the schema, the handler and every policy are synchronous', async () => {
    const setup: Setup = {
      retry: retries.three,
      timeoutMs: 1_000,
      idempotent: false,
      middleware: false,
      outer: false,
      unknownTypes: 'deadLetter',
    };
    // Success, failure and bad input alike: the settlement is known when the call returns.
    expect(await compare(setup, 'sync', 'valid', 1)).toBe('sync');
    expect(await compare(setup, 'sync-throw', 'valid', 1)).toBe('sync');
    expect(await compare(setup, 'sync-throw', 'valid', 3)).toBe('sync');
    expect(await compare(setup, 'sync', 'invalid', 1)).toBe('sync');
    expect(await compare(setup, 'sync', 'garbage', 1)).toBe('sync');
    expect(await compare(setup, 'sync', 'valid', 4)).toBe('sync');
    expect(await compare({ ...setup, timeoutMs: false }, 'sync', 'valid', 1)).toBe('sync');
    // Anything asynchronous on the way takes the promise path.
    expect(await compare(setup, 'async', 'valid', 1)).toBe('async');
    expect(await compare(setup, 'thenable', 'valid', 1)).toBe('async');
    expect(await compare(setup, 'sync', 'async-valid', 1)).toBe('async');
    expect(await compare({ ...setup, idempotent: true }, 'sync', 'valid', 1)).toBe('async');
    expect(await compare({ ...setup, middleware: true }, 'sync', 'valid', 1)).toBe('async');
    expect(await compare({ ...setup, outer: true }, 'sync', 'valid', 1)).toBe('async');
  });

  it('times out an asynchronous handler, retrying it and aborting its signal', async () => {
    const setup = {
      retry: retries.three,
      timeoutMs: 20,
      idempotent: false,
      middleware: false,
      outer: false,
      unknownTypes: 'deadLetter',
    } as const;
    const never: Handler = () => new Promise(() => undefined);
    for (const run of [model, fused]) {
      const ctx = testContext(recordOf('valid', 1), 3);
      await run(setup, never, ctx, []);
      expect(ctx.settlement).toMatchObject({ type: 'retry', delayMs: 10 });
      expect(ctx.error?.name).toBe('TimeoutError');
      expect(ctx.signal.aborted).toBe(true);
    }
  });

  it('never times out a synchronous handler, however long it runs', async () => {
    const setup = {
      retry: retries.three,
      timeoutMs: 5,
      idempotent: false,
      middleware: false,
      outer: false,
      unknownTypes: 'deadLetter',
    } as const;
    const busy: Handler = () => {
      const until = Date.now() + 20;
      while (Date.now() < until) {
        // a handler that hogs the thread
      }
    };
    for (const run of [model, fused]) {
      const ctx = testContext(recordOf('valid', 1), 3);
      await run(setup, busy, ctx, []);
      expect(ctx.settlement).toBeUndefined();
      expect(ctx.signal.aborted).toBe(false);
    }
  });

  it("counts a handler's time limit from the handler's start, not from bus middleware's", async () => {
    // The fused frame may start the clock at ctx.receivedAt only when nothing runs before it.
    const slowOuter: Middleware = async (_ctx, next) => {
      await new Promise((resolve) => setTimeout(resolve, 300));
      await next();
    };
    const pipeline = createPipeline({
      outer: [slowOuter],
      retry: retries.three,
      deadLetterTopic: (topic, group) => `${topic}.${group}.dlq`,
      decode: createDecoder(decodeOptions('deadLetter')),
      timeoutMs: 200,
      inner: [],
      handler: () => new Promise((resolve) => setTimeout(resolve, 10)),
    });
    const ctx = testContext(recordOf('valid', 1), 3);
    await pipeline(ctx);
    expect(ctx.error).toBeUndefined();
    expect(ctx.settlement).toBeUndefined();
  });

  it('lets a failing dead-letter topic namer escape, for the subscription to settle', async () => {
    // Without outer middleware the frame runs synchronously and throws; with one, it rejects.
    const namerFails = (outer: Parameters<typeof createPipeline>[0]['outer']) =>
      createPipeline({
        outer,
        retry: retries.none,
        deadLetterTopic: () => {
          throw new Error('namer bug');
        },
        decode: createDecoder(decodeOptions('deadLetter')),
        timeoutMs: false,
        inner: [],
        handler: () => {
          throw new Error('handler failed');
        },
      });
    expect(() => namerFails([])(testContext(recordOf('valid', 1), 1))).toThrow('namer bug');
    const wrapped = namerFails([async (_ctx, next) => next()]);
    await expect(wrapped(testContext(recordOf('valid', 1), 1))).rejects.toThrow('namer bug');
  });
});
