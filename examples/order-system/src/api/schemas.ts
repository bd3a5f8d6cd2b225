import { z } from 'zod';

/** The body of `POST /orders`. Prices are not taken from the client: the order service sets them. */
export const PlaceOrderBody = z.object({
  customerEmail: z.email(),
  lines: z
    .array(z.object({ sku: z.string().min(1).max(64), quantity: z.number().int().min(1).max(100) }))
    .min(1)
    .max(50),
});
export type PlaceOrderBody = z.infer<typeof PlaceOrderBody>;

/** The path of `GET /orders/:id`. */
export const OrderParams = z.object({ id: z.string().min(1).max(64) });
