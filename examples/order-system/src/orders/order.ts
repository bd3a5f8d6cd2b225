import type { OrderLine } from '../contracts';

/**
 * Where an order is. `placed`: accepted, paid and reserved; the rest happens after the answer.
 * `shipped`: the warehouse prepared its shipment (a `ShipmentPrepared` event said so).
 */
export type OrderStatus = 'placed' | 'shipped';

/** An order as the order service stores it. */
export interface Order {
  readonly id: string;
  readonly customerEmail: string;
  readonly lines: readonly OrderLine[];
  readonly totalCents: number;
  readonly status: OrderStatus;
  readonly paymentId: string;
  readonly reservationId: string;
  /** RFC 3339. */
  readonly placedAt: string;
  readonly shipment?: {
    readonly shipmentId: string;
    readonly carrier: string;
    /** RFC 3339. */
    readonly shippedAt: string;
  };
}
