// The console as a Node request listener: the page, its files, the JSON API and the live streams.
// Mount it in any HTTP server (node:http, Express, Fastify); it needs nothing of theirs.
import type { IncomingMessage, ServerResponse } from 'node:http';
import {
  CapabilityUnavailableError,
  ConfigError,
  createOperator,
  DeadLetterNotFoundError,
  deadLetterJson,
  type Operator,
  TidingsError,
} from '@tidings/core';
import { buildModel } from '../model';
import { type ConsoleOptions, resolveConsoleOptions } from '../options';
import { createAssets, INDEX_HTML } from './assets';
import { listLetters, selectionOf } from './dead-letters';
import { createLagSampler } from './lag';
import { refuseAction, setSecurityHeaders } from './security';
import { type EventStream, openEventStream } from './sse';
import { startTail, type Tail } from './tail';

/** Most live tails open at once: each is a consumer group on the broker. */
const MAX_TAILS = 16;
/** Largest action body accepted. */
const MAX_BODY_BYTES = 64 * 1024;

/**
 * The console's request listener, with `close()` to end its live streams. Requests outside
 * `basePath` (when one is given) are answered 404.
 *
 * @example
 * ```ts
 * import express from 'express';
 * import { createConsoleHandler } from '@tidings/console';
 *
 * const handler = createConsoleHandler({ adapter, events, subscriptions, producers });
 * app.use('/ops/events', requireAdmin, handler); // Express strips the mount path
 * ```
 */
export interface ConsoleHandler {
  (req: IncomingMessage, res: ServerResponse): void;
  /** Ends every live stream and tail (deleting the tails' groups); the adapter is left open. */
  close(): Promise<void>;
}

/**
 * Makes the console's request listener. Read-only unless `actions` is given; the adapter's
 * options are never sent to a page.
 *
 * @example
 * ```ts
 * import { createServer } from 'node:http';
 * import { createConsoleHandler } from '@tidings/console';
 *
 * const handler = createConsoleHandler({ adapter, events: [OrderPlaced], basePath: '/console' });
 * createServer((req, res) => {
 *   if (req.url?.startsWith('/console')) return handler(req, res);
 *   res.statusCode = 404;
 *   res.end();
 * }).listen(8080, '127.0.0.1');
 * ```
 */
export function createConsoleHandler(options: ConsoleOptions): ConsoleHandler {
  const resolved = resolveConsoleOptions(options);
  const model = buildModel(resolved);
  const operator: Operator = createOperator({
    adapter: resolved.adapter,
    events: model.catalog.length === 0 ? [] : collectEvents(resolved),
    ...(resolved.codecs === undefined ? {} : { codecs: resolved.codecs }),
    ...(resolved.deadLetterTopic === undefined ? {} : { deadLetterTopic: resolved.deadLetterTopic }),
  });
  const assets = createAssets();
  const lag = createLagSampler(operator, model.topics, resolved.lagIntervalMs, resolved.lagHistory);
  const streams = new Set<EventStream>();
  const tails = new Set<Tail>();
  // Tails whose page left: close() waits for them, so the owner may close the adapter after it.
  const stopping = new Set<Promise<void>>();
  const stopTail = (tail: Tail) => {
    tails.delete(tail);
    const stopped: Promise<void> = tail.stop().finally(() => stopping.delete(stopped));
    stopping.add(stopped);
  };
  let closed = false;

  const meta = {
    actions: resolved.actions !== false,
    supports: operator.supports,
    pairs: model.groupTopics,
    topics: model.topics,
  };

  const api = async (req: IncomingMessage, res: ServerResponse, path: string, query: URLSearchParams) => {
    const params = Object.fromEntries(query);
    if (path === '/api/dead-letters/redrive' || path === '/api/dead-letters/purge') {
      const refusal = refuseAction(req, resolved.actions);
      if (refusal !== undefined) {
        return sendJson(res, refusal.status, { error: { code: refusal.code, message: refusal.message } });
      }
      const body = await readJson(req);
      const selection = selectionOf(model.groupTopics, body);
      if (selection.ids === undefined)
        throw new ConfigError('ids', 'an action names the dead letters it applies to');
      if (path.endsWith('/redrive')) {
        const report = await operator.redrive(selection);
        return sendJson(res, 200, report);
      }
      return sendJson(res, 200, { deleted: await operator.purge(selection) });
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      return sendJson(res, 405, { error: { code: 'method', message: `${req.method} is not allowed here` } });
    }
    switch (path) {
      case '/api/meta':
        return sendJson(res, 200, meta);
      case '/api/catalog':
        return sendJson(res, 200, { events: model.catalog });
      case '/api/flow':
        return sendJson(res, 200, model.flow);
      case '/api/dead-letters':
        return sendJson(res, 200, await listLetters(operator, model.groupTopics, params));
      case '/api/dead-letters/one': {
        const selection = selectionOf(model.groupTopics, params);
        if (params.id === undefined) throw new ConfigError('id', 'the dead letter id is needed');
        return sendJson(res, 200, deadLetterJson(await operator.deadLetter(selection, params.id)));
      }
      case '/api/lag': {
        let unwatch = () => {};
        const stream = openEventStream(res, () => {
          unwatch();
          streams.delete(stream);
        });
        streams.add(stream);
        if (operator.supports.groups !== true) {
          stream.send('unsupported', { reason: operator.supports.groups });
          return;
        }
        stream.send('history', lag.history());
        unwatch = lag.watch(
          (sample) => stream.send('sample', sample),
          (error) => stream.send('problem', { message: error.message }),
        );
        return;
      }
      case '/api/tail': {
        const topic = params.topic ?? '';
        if (!model.topics.includes(topic))
          throw new ConfigError('topic', `"${topic}" is not a topic of the application`);
        if (tails.size >= MAX_TAILS) {
          return sendJson(res, 429, {
            error: { code: 'busy', message: `at most ${MAX_TAILS} tails at once` },
          });
        }
        let tail: Tail | undefined;
        let left = false;
        const stream = openEventStream(res, () => {
          left = true;
          streams.delete(stream);
          if (tail !== undefined) stopTail(tail);
        });
        streams.add(stream);
        try {
          tail = await startTail(operator, topic, stream);
        } catch (error) {
          stream.send('problem', { message: (error as Error).message });
          stream.close();
          return;
        }
        if (left) stopTail(tail);
        else tails.add(tail);
        return;
      }
      default:
        return sendJson(res, 404, { error: { code: 'not-found', message: `no ${path}` } });
    }
  };

  const handler = ((req: IncomingMessage, res: ServerResponse) => {
    setSecurityHeaders(res);
    const url = new URL(req.url ?? '/', 'http://console.invalid');
    let path = url.pathname;
    if (resolved.basePath !== '') {
      if (path !== resolved.basePath && !path.startsWith(`${resolved.basePath}/`)) {
        return void sendJson(res, 404, { error: { code: 'not-found', message: 'outside the console' } });
      }
      path = path.slice(resolved.basePath.length);
    }
    const host = req.headers.host?.toLowerCase() ?? '';
    if (resolved.allowedHosts !== undefined && !resolved.allowedHosts.includes(host)) {
      // A page of another site whose name was made to resolve to this machine (DNS rebinding)
      // reaches the console with its own name as Host: it gets nothing.
      return void sendJson(res, 421, { error: { code: 'host', message: 'unexpected Host header' } });
    }
    if (closed)
      return void sendJson(res, 503, { error: { code: 'closed', message: 'the console is closing' } });
    if (path === '') {
      // The page's links are relative: it must be served at a path that ends in a slash.
      const seen = (req as IncomingMessage & { originalUrl?: string }).originalUrl ?? req.url ?? '/';
      const [pathname, search] = seen.split('?', 2);
      res.statusCode = 308;
      res.setHeader('Location', `${pathname}/${search === undefined ? '' : `?${search}`}`);
      return void res.end();
    }
    if (path === '/' || path === '/index.html') {
      // Mounted by Express at `/console`, a request for `/console` arrives as `/`: send it to
      // `/console/` so the page's relative links resolve under the mount.
      const original = (req as IncomingMessage & { originalUrl?: string }).originalUrl?.split('?')[0];
      if (path === '/' && original !== undefined && !original.endsWith('/')) {
        res.statusCode = 308;
        res.setHeader('Location', `${original}/`);
        return void res.end();
      }
      res.setHeader('Content-Type', 'text/html; charset=utf-8');
      res.setHeader('Cache-Control', 'no-store');
      return void res.end(INDEX_HTML);
    }
    if (path.startsWith('/assets/')) {
      assets.get(path.slice('/assets/'.length)).then(
        (file) => {
          if (file === undefined) return sendJson(res, 404, { error: { code: 'not-found', message: path } });
          res.setHeader('Content-Type', file.type);
          res.setHeader('Cache-Control', 'no-cache');
          res.end(file.body);
        },
        (error: unknown) =>
          sendJson(res, 500, { error: { code: 'assets', message: (error as Error).message } }),
      );
      return;
    }
    if (path.startsWith('/api/')) {
      res.setHeader('Cache-Control', 'no-store');
      api(req, res, path, url.searchParams).catch((error: unknown) => {
        if (res.headersSent) return void res.end();
        const [status, code] = statusOf(error);
        sendJson(res, status, { error: { code, message: (error as Error).message ?? String(error) } });
      });
      return;
    }
    sendJson(res, 404, { error: { code: 'not-found', message: `no ${path}` } });
  }) as ConsoleHandler;

  handler.close = async () => {
    closed = true;
    lag.close();
    for (const stream of [...streams]) stream.close();
    for (const tail of [...tails]) stopTail(tail);
    await Promise.all([...stopping]);
  };
  return handler;
}

function collectEvents(options: ReturnType<typeof resolveConsoleOptions>) {
  const all = [
    ...options.events,
    ...options.subscriptions.flatMap((s) => s.events),
    ...options.producers.flatMap((p) => p.events),
  ];
  return [...new Map(all.map((contract) => [contract.type, contract])).values()];
}

function statusOf(error: unknown): [number, string] {
  if (error instanceof ConfigError) return [400, `config:${error.field}`];
  if (error instanceof DeadLetterNotFoundError) return [404, 'dead-letter-not-found'];
  if (error instanceof CapabilityUnavailableError) return [501, 'unsupported'];
  if (error instanceof SyntaxError) return [400, 'json'];
  if (error instanceof TidingsError) return [502, error.code];
  return [500, 'internal'];
}

function sendJson(res: ServerResponse, status: number, value: unknown): void {
  const body = JSON.stringify(value);
  res.statusCode = status;
  res.setHeader('Content-Type', 'application/json; charset=utf-8');
  res.end(body);
}

async function readJson(req: IncomingMessage & { body?: unknown }): Promise<Record<string, unknown>> {
  let value: unknown;
  if (req.body !== undefined) {
    // A host that parsed the body already (express.json(), Fastify) leaves it on `req.body`.
    value =
      typeof req.body === 'string' || Buffer.isBuffer(req.body) ? JSON.parse(String(req.body)) : req.body;
  } else {
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const chunk of req) {
      size += (chunk as Buffer).byteLength;
      if (size > MAX_BODY_BYTES) throw new ConfigError('body', `larger than ${MAX_BODY_BYTES} bytes`);
      chunks.push(chunk as Buffer);
    }
    value = JSON.parse(Buffer.concat(chunks).toString('utf8'));
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new ConfigError('body', 'must be a JSON object');
  }
  return value as Record<string, unknown>;
}
