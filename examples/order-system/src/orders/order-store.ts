import type {
  AnyEventContract,
  EventInput,
  Handler,
  MessageContext,
  PublishOptions,
  ReceivedEvent,
} from '@tidings/core';
import type { Order } from './order';

/**
 * The order service's database, as the service code sees it. Two implementations live in
 * `infrastructure/`: one in memory (no database needed) and one on PostgreSQL. The service code
 * never knows which one it has.
 */
export interface OrderStore {
  /**
   * Runs `work` in one transaction: the orders it writes and the events it publishes through
   * `tx.publish` commit together or not at all. The events reach the broker after the commit,
   * through the outbox relay, so an event exists if and only if its order does.
   */
  transaction<T>(work: (tx: OrderTransaction) => Promise<T>): Promise<T>;
  /** Reads one order; undefined when there is none with this id. */
  find(orderId: string): Promise<Order | undefined>;
  /**
   * Wraps an event handler so that its writes through `tx` and the mark "this event was handled by
   * this group" commit in one transaction: a redelivered event is skipped, and a failed attempt
   * leaves neither its writes nor the mark behind. Effects in the database happen exactly once.
   */
  handleOnce<TEvent extends ReceivedEvent>(
    work: (event: TEvent, tx: OrderTransaction, ctx: MessageContext<TEvent>) => Promise<void>,
  ): Handler<TEvent>;
}

/** What a transaction can do. */
export interface OrderTransaction {
  insert(order: Order): Promise<void>;
  /** Sets the status to `shipped` with the shipment; false when there is no such order. */
  markShipped(orderId: string, shipment: NonNullable<Order['shipment']>): Promise<boolean>;
  /**
   * Writes an event to the outbox in this transaction; a relay publishes it once the transaction
   * commits. Resolves with the event's id.
   */
  publish<TContract extends AnyEventContract>(
    contract: TContract,
    data: EventInput<TContract>,
    options?: PublishOptions,
  ): Promise<{ readonly eventId: string }>;
}
