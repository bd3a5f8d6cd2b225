// Injection tokens: the bus (a class, so that a constructor parameter typed `TidingsBus` is
// enough where decorator metadata is emitted), and the strings that name the other buses, their
// outboxes and relays.
import { Inject } from '@nestjs/common';
import type { Bus } from '@tidings/core';

/** The name of the bus that `TidingsModule.forRoot` makes when it is given no `name`. */
export const DEFAULT_BUS_NAME = 'default';

/**
 * The bus, as an injectable: `@tidings/core`'s {@link Bus}. The class is the token of the default
 * bus; a named bus has the token {@link getBusToken}(name) and is injected with {@link InjectBus}.
 *
 * @example
 * ```ts
 * import { Injectable } from '@nestjs/common';
 * import { defineEvent } from '@tidings/core';
 * import { TidingsBus } from '@tidings/nestjs';
 * import { z } from 'zod';
 *
 * const OrderPlaced = defineEvent({ type: 'order.placed', schema: z.object({ orderId: z.string() }) });
 *
 * @Injectable()
 * export class OrdersService {
 *   constructor(private readonly bus: TidingsBus) {}
 *
 *   async place(orderId: string): Promise<void> {
 *     await this.bus.publish(OrderPlaced, { orderId });
 *   }
 * }
 * ```
 */
// The class is only a token, never instantiated; the interface merged into it gives it the Bus's members.
export interface TidingsBus extends Bus {}
// biome-ignore lint/suspicious/noUnsafeDeclarationMerging: never instantiated; the provider is a core Bus.
export abstract class TidingsBus {}

/**
 * The injection token of a bus: the {@link TidingsBus} class for the default bus, a string for a
 * named one (for `moduleRef.get`, `overrideProvider` and factory `inject` lists).
 *
 * @example
 * ```ts
 * import { getBusToken } from '@tidings/nestjs';
 * import { createTestBus } from '@tidings/core/testing';
 *
 * const overrides = [{ token: getBusToken('audit'), value: createTestBus() }];
 * ```
 */
export function getBusToken(name: string = DEFAULT_BUS_NAME): string | typeof TidingsBus {
  return name === DEFAULT_BUS_NAME ? TidingsBus : `TidingsBus:${name}`;
}

/**
 * The injection token of a bus's outbox store (the `outbox.store` of its module options), or
 * `null` when the bus has none.
 *
 * @example
 * ```ts
 * import { getOutboxToken } from '@tidings/nestjs';
 *
 * const token = getOutboxToken(); // 'TidingsOutbox:default'
 * ```
 */
export function getOutboxToken(name: string = DEFAULT_BUS_NAME): string {
  return `TidingsOutbox:${name}`;
}

/**
 * The injection token of a bus's outbox relay, or `null` when the bus has no outbox or its module
 * options say `relay: false`.
 *
 * @example
 * ```ts
 * import { getRelayToken } from '@tidings/nestjs';
 *
 * const token = getRelayToken('audit'); // 'TidingsOutboxRelay:audit'
 * ```
 */
export function getRelayToken(name: string = DEFAULT_BUS_NAME): string {
  return `TidingsOutboxRelay:${name}`;
}

/** @internal The options a module was given, resolved (after `forRootAsync`'s factory). */
export function getOptionsToken(name: string): string {
  return `TidingsModuleOptions:${name}`;
}

/** @internal The provider that runs one bus's lifecycle. */
export function getHostToken(name: string): string {
  return `TidingsBusHost:${name}`;
}

/**
 * Injects a bus: the default one, or the one `TidingsModule.forRoot({ name })` made.
 *
 * @example
 * ```ts
 * import { Injectable } from '@nestjs/common';
 * import { InjectBus, type TidingsBus } from '@tidings/nestjs';
 *
 * @Injectable()
 * export class AuditTrail {
 *   constructor(@InjectBus('audit') private readonly audit: TidingsBus) {}
 * }
 * ```
 */
export function InjectBus(name: string = DEFAULT_BUS_NAME): PropertyDecorator & ParameterDecorator {
  return Inject(getBusToken(name));
}

/**
 * Injects the outbox store of a bus (whatever its `outbox.store` factory made, e.g. a
 * `PostgresOutbox`), to write events in the application's own transactions.
 *
 * @example
 * ```ts
 * import { Injectable } from '@nestjs/common';
 * import { InjectOutbox } from '@tidings/nestjs';
 * import type { PostgresOutbox } from '@tidings/outbox-postgres';
 *
 * @Injectable()
 * export class OrdersRepository {
 *   constructor(@InjectOutbox() private readonly outbox: PostgresOutbox) {}
 * }
 * ```
 */
export function InjectOutbox(name: string = DEFAULT_BUS_NAME): PropertyDecorator & ParameterDecorator {
  return Inject(getOutboxToken(name));
}

/**
 * Injects the outbox relay of a bus, e.g. to report its `stats()`.
 *
 * @example
 * ```ts
 * import { Injectable } from '@nestjs/common';
 * import type { OutboxRelay } from '@tidings/core';
 * import { InjectRelay } from '@tidings/nestjs';
 *
 * @Injectable()
 * export class OutboxMetrics {
 *   constructor(@InjectRelay() private readonly relay: OutboxRelay) {}
 *
 *   async lag(): Promise<number> {
 *     return (await this.relay.stats()).lagMs;
 *   }
 * }
 * ```
 */
export function InjectRelay(name: string = DEFAULT_BUS_NAME): PropertyDecorator & ParameterDecorator {
  return Inject(getRelayToken(name));
}
