// What stands between a request and an action (redrive, purge): actions must be on, the request
// must come from the console's own page (CSRF) and carry the token, compared in constant time.
import { createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';

/** Why an action request is refused: the HTTP status and what the page shows. */
export interface Refusal {
  readonly status: number;
  readonly code: string;
  readonly message: string;
}

/**
 * The headers every response carries. The page loads only its own files and talks only to its own
 * origin; it may not be framed (clickjacking of the action buttons).
 */
export function setSecurityHeaders(res: ServerResponse): void {
  res.setHeader(
    'Content-Security-Policy',
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; " +
      "object-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
  );
  res.setHeader('X-Content-Type-Options', 'nosniff');
  res.setHeader('Referrer-Policy', 'no-referrer');
  res.setHeader('X-Frame-Options', 'DENY');
  res.setHeader('Cross-Origin-Opener-Policy', 'same-origin');
  res.setHeader('Cross-Origin-Resource-Policy', 'same-origin');
}

/** Whether two tokens are equal, in a time that depends on neither (both are hashed first). */
export function tokensEqual(given: string, expected: string): boolean {
  const a = createHash('sha256').update(given).digest();
  const b = createHash('sha256').update(expected).digest();
  return timingSafeEqual(a, b);
}

/**
 * Checks an action request; `undefined` when it may go on. A cross-site form or script cannot
 * pass: browsers send `Sec-Fetch-Site` and `Origin` on such requests, a JSON content type needs a
 * preflight the console never answers, and the token is never in a cookie the browser would add.
 */
export function refuseAction(
  req: IncomingMessage,
  actions: { readonly token: string } | false,
): Refusal | undefined {
  if (req.method !== 'POST') return { status: 405, code: 'method', message: 'actions are POST requests' };
  if (actions === false) {
    return {
      status: 403,
      code: 'actions-disabled',
      message: 'the console is read-only: start it with actions enabled (and a token) to redrive or purge',
    };
  }
  const site = header(req, 'sec-fetch-site');
  if (site !== undefined && site !== 'same-origin' && site !== 'none') {
    return { status: 403, code: 'cross-site', message: 'actions are accepted from the console page only' };
  }
  const origin = header(req, 'origin');
  const host = header(req, 'host');
  if (origin !== undefined && (host === undefined || hostOf(origin) !== host.toLowerCase())) {
    return { status: 403, code: 'cross-origin', message: 'actions are accepted from the console page only' };
  }
  const type = header(req, 'content-type') ?? '';
  if (!/^application\/json\s*(;|$)/i.test(type)) {
    return { status: 415, code: 'content-type', message: 'actions take a JSON body (application/json)' };
  }
  const match = /^Bearer\s+(\S+)\s*$/i.exec(header(req, 'authorization') ?? '');
  if (match === null || !tokensEqual(match[1]!, actions.token)) {
    return { status: 403, code: 'token', message: 'this action needs the console token' };
  }
  return undefined;
}

function header(req: IncomingMessage, name: string): string | undefined {
  const value = req.headers[name];
  return Array.isArray(value) ? value[0] : value;
}

function hostOf(origin: string): string | undefined {
  try {
    return new URL(origin).host.toLowerCase();
  } catch {
    return undefined;
  }
}
