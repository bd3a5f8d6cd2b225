// What `npm start` shows: a few orders placed through the real HTTP API, each answered as soon
// as payment and stock are settled, then followed through email, analytics and fulfilment until
// it reads "shipped".
import type { ActivityRecorder } from './activity';

/** The demo's customers; the last one's address is refused by the email provider for good. */
const CUSTOMERS = ['ada@example.com', 'grace@example.com', 'linus@blocked.example'] as const;
const BASKETS = [
  [{ sku: 'tea-tin', quantity: 2 }],
  [
    { sku: 'teapot-blue', quantity: 1 },
    { sku: 'cup-white', quantity: 4 },
  ],
  [{ sku: 'kettle-steel', quantity: 1 }],
] as const;

/** What the demo did. */
export interface DemoSummary {
  readonly placed: readonly { readonly orderId: string; readonly ms: number }[];
  readonly shipped: readonly { readonly orderId: string; readonly carrier: string }[];
}

/**
 * Places `count` orders through `POST /orders`, waits until each is shipped, and reads them back
 * with `GET /orders/:id`.
 *
 * @example
 * ```ts
 * await runDemo('http://127.0.0.1:3000', 3, recorder, console.log);
 * ```
 */
export async function runDemo(
  baseUrl: string,
  count: number,
  recorder: ActivityRecorder,
  print: (line: string) => void,
): Promise<DemoSummary> {
  print(`placing ${count} demo order(s) through POST ${baseUrl}/orders ...`);
  const placed = await Promise.all(
    Array.from({ length: count }, async (_, i) => {
      const body = { customerEmail: CUSTOMERS[i % CUSTOMERS.length], lines: BASKETS[i % BASKETS.length] };
      const started = performance.now();
      const response = await fetch(`${baseUrl}/orders`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });
      const ms = performance.now() - started;
      const answer = (await response.json()) as { orderId: string };
      if (response.status !== 202)
        throw new Error(`POST /orders answered ${response.status}: ${JSON.stringify(answer)}`);
      print(`http       POST /orders → 202 Accepted in ${ms.toFixed(0)} ms (${body.customerEmail})`);
      return { orderId: answer.orderId, ms };
    }),
  );

  const ids = new Set(placed.map((order) => order.orderId));
  await recorder.waitFor((a) => a.kind === 'order.shipped' && ids.has(a.orderId), ids.size, 60_000);

  const shipped = [];
  print('');
  print(`all ${count} order(s) reached "shipped"; GET /orders/:id now says:`);
  for (const { orderId } of placed) {
    const order = (await (await fetch(`${baseUrl}/orders/${orderId}`)).json()) as {
      status: string;
      customerEmail: string;
      shipment?: { carrier: string; shipmentId: string };
    };
    print(
      `  ${orderId}  ${order.status.padEnd(8)} ${order.shipment?.carrier ?? '-'}  ${order.customerEmail}`,
    );
    shipped.push({ orderId, carrier: order.shipment?.carrier ?? '' });
  }
  return { placed, shipped };
}

/** How to place an order by hand. */
export function curlHint(baseUrl: string): string[] {
  return [
    'place one yourself:',
    `  curl -i -X POST ${baseUrl}/orders -H 'content-type: application/json' \\`,
    `    -d '{"customerEmail":"you@example.com","lines":[{"sku":"tea-tin","quantity":2}]}'`,
    `  curl ${baseUrl}/orders/<orderId>      # "placed", then "shipped" a moment later`,
    `  curl ${baseUrl}/health`,
    'Ctrl-C stops it gracefully (HTTP, then the outbox relay, then the consumers).',
  ];
}
