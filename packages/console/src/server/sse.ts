import type { ServerResponse } from 'node:http';

/** One Server-Sent Events stream to a page. */
export interface EventStream {
  send(event: string, data: unknown): void;
  readonly closed: boolean;
  close(): void;
}

/** Opens an event stream on `res`; `onClose` runs once, when the page leaves or the console closes. */
export function openEventStream(res: ServerResponse, onClose: () => void): EventStream {
  res.writeHead(200, {
    'Content-Type': 'text/event-stream; charset=utf-8',
    'Cache-Control': 'no-store',
    Connection: 'keep-alive',
    // Proxies (nginx) would otherwise buffer the stream.
    'X-Accel-Buffering': 'no',
  });
  res.write(': tidings console\n\n');
  let closed = false;
  // A comment now and then keeps idle proxies and load balancers from cutting the stream.
  const keepAlive = setInterval(() => res.write(': keep-alive\n\n'), 15_000);
  keepAlive.unref();
  const finish = () => {
    if (closed) return;
    closed = true;
    clearInterval(keepAlive);
    onClose();
  };
  res.on('close', finish);
  return {
    send(event, data) {
      if (closed) return;
      res.write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
    },
    get closed() {
      return closed;
    },
    close() {
      finish();
      res.end();
    },
  };
}
