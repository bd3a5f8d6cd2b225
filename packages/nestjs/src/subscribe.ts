// @Subscribe and @SubscribeBatch: a provider's method declared as the handler of a subscription.
// The declarations of both kinds are kept in one list on the class's prototype and read at
// bootstrap (see discovery.ts), so discovery and the checks across handlers treat them alike.
import {
  type AnyEventContract,
  type BatchHandler,
  type BatchSubscribeOptions,
  ConfigError,
  type EventsOf,
  type Handler,
  type SubscribeOptions,
} from '@tidings/core';
import { DEFAULT_BUS_NAME } from './tokens';

/**
 * The settings of a `@Subscribe` handler: the subscription's (`group` first) and the bus it
 * belongs to.
 *
 * @example
 * ```ts
 * import type { SubscribeHandlerOptions } from '@tidings/nestjs';
 *
 * const options: SubscribeHandlerOptions = { group: 'email', retry: { maxAttempts: 8 }, timeoutMs: 10_000 };
 * ```
 */
export interface SubscribeHandlerOptions extends SubscribeOptions {
  /** The bus, by its `TidingsModule.forRoot({ name })`. Default: the default bus. */
  readonly bus?: string;
}

/**
 * The settings of a `@SubscribeBatch` handler: the batch subscription's (`group` first, `batch`
 * in place of `concurrency`) and the bus it belongs to.
 *
 * @example
 * ```ts
 * import type { SubscribeBatchHandlerOptions } from '@tidings/nestjs';
 *
 * const options: SubscribeBatchHandlerOptions = {
 *   group: 'search-index',
 *   batch: { maxSize: 500, maxWaitMs: 100 },
 *   bus: 'analytics',
 * };
 * ```
 */
export interface SubscribeBatchHandlerOptions
  extends BatchSubscribeOptions,
    Pick<SubscribeHandlerOptions, 'bus'> {}

/** @internal One `@Subscribe` or `@SubscribeBatch` on one method. */
export type HandlerDeclaration = {
  readonly methodName: string | symbol;
  readonly contracts: readonly AnyEventContract[];
  readonly bus: string;
} & (
  | { readonly kind: 'event'; readonly options: SubscribeOptions }
  | { readonly kind: 'batch'; readonly options: BatchSubscribeOptions }
);

// A registered symbol, so that two copies of this package (a CommonJS and an ESM one) agree.
const HANDLERS: unique symbol = Symbol.for('@tidings/nestjs:handlers') as never;

type Declared = { [HANDLERS]?: HandlerDeclaration[] };

const DECORATOR_NAMES = { event: 'Subscribe', batch: 'SubscribeBatch' } as const;

/**
 * Checks what can be checked without the bus, when the class is defined, and returns the
 * decorator that adds the declaration of `kind` to the class's list.
 */
function declare(
  kind: HandlerDeclaration['kind'],
  contracts: AnyEventContract | readonly AnyEventContract[],
  options: SubscribeHandlerOptions | SubscribeBatchHandlerOptions,
): (target: object, methodName: string | symbol, descriptor: PropertyDescriptor) => void {
  const name = DECORATOR_NAMES[kind];
  const list: readonly AnyEventContract[] = Array.isArray(contracts)
    ? contracts
    : [contracts as AnyEventContract];
  if (list.length === 0 || list.some((contract) => typeof contract?.type !== 'string')) {
    throw new ConfigError('contracts', `@${name} needs one contract or a non-empty list of contracts`);
  }
  if (typeof options?.group !== 'string' || options.group.length === 0) {
    throw new ConfigError(
      'group',
      `@${name} needs a non-empty consumer group: @${name}(Contract, { group })`,
    );
  }
  const { bus = DEFAULT_BUS_NAME, ...subscribeOptions } = options;
  // The public signatures pair each kind with its options; the list keeps that pairing.
  const declaration = (methodName: string | symbol) =>
    ({ kind, methodName, contracts: list, bus, options: subscribeOptions }) as HandlerDeclaration;
  return (target, methodName, descriptor) => {
    if (typeof target === 'function') {
      throw new ConfigError(
        name,
        `${target.name}.${String(methodName)} is static; @${name} goes on an instance method of a provider`,
      );
    }
    if (typeof descriptor.value !== 'function') {
      throw new ConfigError(name, `${String(methodName)} is not a method`);
    }
    const holder = target as Declared;
    if (!Object.hasOwn(holder, HANDLERS)) {
      Object.defineProperty(holder, HANDLERS, { value: [], enumerable: false });
    }
    holder[HANDLERS]!.push(declaration(methodName));
  };
}

/**
 * Declares a method of a provider (or controller) as the handler of a subscription: the module
 * subscribes it when the application boots, with `this` being the provider, and drains it when the
 * application shuts down. The handler receives the event and the message context, typed by the
 * contracts: annotate them with `EventOf<typeof Contract>` (or `EventsOf<[A, B]>` for several)
 * and `MessageContext`, and the decorator refuses a method whose parameters do not fit.
 *
 * @example
 * ```ts
 * import { Injectable } from '@nestjs/common';
 * import { defineEvent, type EventOf, type MessageContext } from '@tidings/core';
 * import { Subscribe } from '@tidings/nestjs';
 * import { z } from 'zod';
 *
 * const OrderPlaced = defineEvent({ type: 'order.placed', schema: z.object({ orderId: z.string() }) });
 *
 * @Injectable()
 * export class ConfirmationEmails {
 *   private readonly sent = new Set<string>();
 *
 *   @Subscribe(OrderPlaced, { group: 'email', retry: { maxAttempts: 8 } })
 *   async onOrderPlaced(event: EventOf<typeof OrderPlaced>, ctx: MessageContext): Promise<void> {
 *     if (ctx.signal.aborted) return;
 *     this.sent.add(event.data.orderId);
 *   }
 * }
 * ```
 */
export function Subscribe<const TContracts extends AnyEventContract | readonly AnyEventContract[]>(
  contracts: TContracts,
  options: SubscribeHandlerOptions,
): <TMethod extends Handler<EventsOf<TContracts>>>(
  target: object,
  methodName: string | symbol,
  descriptor: TypedPropertyDescriptor<TMethod>,
) => void {
  return declare('event', contracts, options);
}

/**
 * Declares a method of a provider (or controller) as the handler of a batch subscription
 * (`bus.subscribeBatch`): it receives a non-empty array of events, in broker order, and the batch
 * context, to fail single events with `batch.fail(event, error)`; the others are acknowledged when
 * it returns, and throwing fails all it did not fail itself. Like `@Subscribe`, it is subscribed
 * when the application boots, with `this` being the provider, drained when it shuts down, and
 * refuses a method whose parameters do not fit the contracts: annotate them with
 * `readonly EventOf<typeof Contract>[]` and `BatchContext<EventOf<typeof Contract>>`.
 *
 * @example
 * ```ts
 * import { Injectable } from '@nestjs/common';
 * import { type BatchContext, defineEvent, type EventOf } from '@tidings/core';
 * import { SubscribeBatch } from '@tidings/nestjs';
 * import { z } from 'zod';
 *
 * const OrderPlaced = defineEvent({ type: 'order.placed', schema: z.object({ orderId: z.string() }) });
 * type Placed = EventOf<typeof OrderPlaced>;
 *
 * @Injectable()
 * export class SearchIndexer {
 *   private readonly indexed = new Set<string>();
 *
 *   @SubscribeBatch(OrderPlaced, { group: 'search-index', batch: { maxSize: 500, maxWaitMs: 100 } })
 *   async onOrdersPlaced(events: readonly Placed[], batch: BatchContext<Placed>): Promise<void> {
 *     for (const event of events) {
 *       if (event.data.orderId === '') batch.fail(event, new Error('an order without an id'));
 *       else this.indexed.add(event.data.orderId);
 *     }
 *   }
 * }
 * ```
 */
export function SubscribeBatch<const TContracts extends AnyEventContract | readonly AnyEventContract[]>(
  contracts: TContracts,
  options: SubscribeBatchHandlerOptions,
): <TMethod extends BatchHandler<EventsOf<TContracts>>>(
  target: object,
  methodName: string | symbol,
  descriptor: TypedPropertyDescriptor<TMethod>,
) => void {
  return declare('batch', contracts, options);
}

/**
 * @internal The `@Subscribe` and `@SubscribeBatch` declarations of a class, its own and its
 * ancestors': a subclass that declares the same method, bus and group again (of either kind)
 * replaces the ancestor's declaration.
 */
export function declaredHandlers(prototype: object | null): HandlerDeclaration[] {
  const found: HandlerDeclaration[] = [];
  const seen = new Set<string>();
  for (let proto = prototype; proto !== null && proto !== Object.prototype; ) {
    if (Object.hasOwn(proto, HANDLERS)) {
      for (const declaration of (proto as Declared)[HANDLERS]!) {
        const id = `${String(declaration.methodName)}\u0000${declaration.bus}\u0000${declaration.options.group}`;
        if (seen.has(id)) continue;
        seen.add(id);
        found.push(declaration);
      }
    }
    proto = Object.getPrototypeOf(proto) as object | null;
  }
  return found;
}
