// @Subscribe: a provider's method declared as the handler of a subscription. The declaration is
// kept on the class's prototype and read at bootstrap (see discovery.ts).
import {
  type AnyEventContract,
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

/** @internal One `@Subscribe` on one method. */
export interface HandlerDeclaration {
  readonly methodName: string | symbol;
  readonly contracts: readonly AnyEventContract[];
  readonly bus: string;
  readonly options: SubscribeOptions;
}

// A registered symbol, so that two copies of this package (a CommonJS and an ESM one) agree.
const HANDLERS: unique symbol = Symbol.for('@tidings/nestjs:handlers') as never;

type Declared = { [HANDLERS]?: HandlerDeclaration[] };

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
  const list: readonly AnyEventContract[] = Array.isArray(contracts)
    ? contracts
    : [contracts as AnyEventContract];
  // What can be checked without the bus is checked here, when the class is defined.
  if (list.length === 0 || list.some((contract) => typeof contract?.type !== 'string')) {
    throw new ConfigError('contracts', '@Subscribe needs one contract or a non-empty list of contracts');
  }
  if (typeof options?.group !== 'string' || options.group.length === 0) {
    throw new ConfigError(
      'group',
      '@Subscribe needs a non-empty consumer group: @Subscribe(Contract, { group })',
    );
  }
  const { bus = DEFAULT_BUS_NAME, ...subscribeOptions } = options;
  return (target, methodName, descriptor) => {
    if (typeof target === 'function') {
      throw new ConfigError(
        'Subscribe',
        `${target.name}.${String(methodName)} is static; @Subscribe goes on an instance method of a provider`,
      );
    }
    if (typeof descriptor.value !== 'function') {
      throw new ConfigError('Subscribe', `${String(methodName)} is not a method`);
    }
    const holder = target as Declared;
    if (!Object.hasOwn(holder, HANDLERS)) {
      Object.defineProperty(holder, HANDLERS, { value: [], enumerable: false });
    }
    holder[HANDLERS]!.push({ methodName, contracts: list, bus, options: subscribeOptions });
  };
}

/**
 * @internal The `@Subscribe` declarations of a class, its own and its ancestors': a subclass that
 * declares the same method, bus and group again replaces the ancestor's declaration.
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
