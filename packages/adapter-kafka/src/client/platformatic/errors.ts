/**
 * What the seam needs to know of a `@platformatic/kafka` error. Its errors nest: a `MultipleErrors`
 * (a failed retry loop, a response with errors) lists others in `errors`, any may carry a `cause`,
 * and the protocol errors at the leaves carry Kafka's error name as `apiId` and the client's own
 * verdict as `canRetry`. The questions below walk that whole tree, never the outer error alone.
 *
 * @module
 */

import {
  DROPPED_MEMBER_TYPES,
  PERMANENT_TYPES,
  RETRIABLE_COMMIT_TYPES,
  SIZE_TYPES,
} from '../protocol-errors';

/** @internal The fields of a platformatic error this file reads; anything else is ignored. */
interface PlatformaticLike {
  readonly code?: string;
  readonly apiId?: string;
  readonly canRetry?: boolean;
  readonly errors?: readonly unknown[];
  readonly cause?: unknown;
}

/** Nested errors seen at most: a cycle or a very deep tree must not hang a classification. */
const MAX_VISITED = 100;

/**
 * @internal Every error of a platformatic error's tree, the outer one first (depth-first through
 * `errors`, then `cause`).
 * @example
 * for (const e of errorTree(error)) console.log(e.code, e.apiId);
 */
export function* errorTree(error: unknown): Generator<PlatformaticLike> {
  const seen = new Set<unknown>();
  const stack: unknown[] = [error];
  while (stack.length > 0 && seen.size < MAX_VISITED) {
    const current = stack.pop();
    if (current === null || typeof current !== 'object' || seen.has(current)) continue;
    seen.add(current);
    yield current as PlatformaticLike;
    const { errors, cause } = current as PlatformaticLike;
    // Pushed in reverse so that they are visited in order: `errors` first, then `cause`.
    if (cause !== undefined) stack.push(cause);
    if (Array.isArray(errors)) for (let i = errors.length - 1; i >= 0; i--) stack.push(errors[i]);
  }
}

/** @internal The Kafka error names (`apiId`) anywhere in a platformatic error's tree, outermost first. */
export function kafkaErrorNames(error: unknown): string[] {
  const names: string[] = [];
  for (const e of errorTree(error))
    if (typeof e.apiId === 'string' && e.apiId !== 'NONE') names.push(e.apiId);
  return names;
}

/** Kafka error names of a topic the broker does not serve (yet). */
const NOT_SERVED = ['UNKNOWN_TOPIC_OR_PARTITION', 'LEADER_NOT_AVAILABLE'] as const;

/**
 * @internal The Kafka error name when `error` says the broker does not serve a topic (yet):
 * `UNKNOWN_TOPIC_OR_PARTITION` or `LEADER_NOT_AVAILABLE`; undefined for any other failure.
 * @example
 * const reason = topicNotServed(error); // 'UNKNOWN_TOPIC_OR_PARTITION'
 */
export function topicNotServed(error: unknown): string | undefined {
  if (isAuthenticationFailure(error)) return undefined;
  for (const e of errorTree(error)) {
    // The client's metadata request replaces the broker's UNKNOWN_TOPIC_OR_PARTITION with a user
    // error of its own, keeping no code: its message is all there is to tell it by (1.35).
    const message = (e as { message?: unknown }).message;
    if (e.code === 'PLT_KFK_USER' && typeof message === 'string' && message.startsWith('Unknown topic ')) {
      return 'UNKNOWN_TOPIC_OR_PARTITION';
    }
  }
  const names = kafkaErrorNames(error);
  return NOT_SERVED.find((name) => names.includes(name));
}

/** Client codes of failures that no retry cures: a refused login, a request the client cannot make. */
const PERMANENT_CODES = new Set([
  'PLT_KFK_AUTHENTICATION',
  'PLT_KFK_UNSUPPORTED_API',
  'PLT_KFK_UNSUPPORTED_COMPRESSION',
  'PLT_KFK_UNSUPPORTED_FORMAT',
  'PLT_KFK_UNSUPPORTED',
  'PLT_KFK_USER',
]);

/**
 * @internal Whether a login was refused anywhere in the tree. It wins over an outer network error:
 * the client reports a refused SASL exchange as a connection that failed, and retrying the same
 * credentials only gets the same answer.
 * @example
 * if (isAuthenticationFailure(error)) throw new ConnectionError('kafka: credentials refused');
 */
export function isAuthenticationFailure(error: unknown): boolean {
  for (const e of errorTree(error)) {
    if (e.code === 'PLT_KFK_AUTHENTICATION') return true;
    if (e.apiId === 'SASL_AUTHENTICATION_FAILED' || e.apiId === 'ILLEGAL_SASL_STATE') return true;
  }
  return false;
}

/**
 * @internal Whether the broker could not be reached or answered too late (`PLT_KFK_NETWORK`, which
 * the client uses for timeouts too), and no refused login lies behind it.
 * @example
 * if (isConnectionProblem(error)) monitor.lost(error);
 */
export function isConnectionProblem(error: unknown): boolean {
  if (isAuthenticationFailure(error)) return false;
  for (const e of errorTree(error))
    if (e.code === 'PLT_KFK_NETWORK' || e.code === 'PLT_KFK_TIMEOUT') return true;
  return false;
}

/**
 * @internal Whether trying the same request again cannot succeed: a refused login, an authorisation
 * or record refusal anywhere in the tree, or a request the client will not make. A connection
 * problem alone is never permanent; a protocol error the client marks `canRetry: false` is, unless
 * another leaf of the same tree may be retried.
 * @example
 * const permanent = isPermanent(error);
 */
export function isPermanent(error: unknown): boolean {
  if (isAuthenticationFailure(error)) return true;
  const leaves: PlatformaticLike[] = [];
  for (const e of errorTree(error)) {
    if (PERMANENT_CODES.has(e.code ?? '') || PERMANENT_TYPES.has(e.apiId ?? '')) return true;
    if (typeof e.apiId === 'string') leaves.push(e);
  }
  if (isConnectionProblem(error)) return false;
  return leaves.length > 0 && leaves.every((leaf) => leaf.canRetry === false);
}

/**
 * @internal Per group, the Kafka error name of a `DeleteGroups` refusal. The client throws one
 * response error per coordinator, each listing its refusals by their index in that response
 * (`/results/<index>`); the response it keeps says which group each index is.
 * @example
 * const refused = groupRefusals(error); // Map { 'orders' => 'NON_EMPTY_GROUP' }
 */
export function groupRefusals(error: unknown): Map<string, string> {
  const refused = new Map<string, string>();
  for (const e of errorTree(error)) {
    const results = (e as { response?: { results?: unknown } }).response?.results;
    if (!Array.isArray(results) || !Array.isArray(e.errors)) continue;
    for (const inner of e.errors as { path?: unknown; apiId?: unknown }[]) {
      const index = typeof inner.path === 'string' ? /^\/results\/(\d+)$/.exec(inner.path)?.[1] : undefined;
      const group =
        index === undefined ? undefined : (results[Number(index)] as { groupId?: unknown })?.groupId;
      if (typeof group === 'string' && typeof inner.apiId === 'string') refused.set(group, inner.apiId);
    }
  }
  return refused;
}

/**
 * @internal Whether committing again may succeed where this commit failed: the coordinator could not
 * be reached, or was moving, loading or rebalancing; never for a member the coordinator dropped or a
 * refusal no retry changes.
 * @example
 * if (!isRetriableCommitFailure(error)) stop();
 */
export function isRetriableCommitFailure(error: unknown): boolean {
  const names = kafkaErrorNames(error);
  if (names.some((name) => DROPPED_MEMBER_TYPES.has(name) || PERMANENT_TYPES.has(name))) return false;
  if (isAuthenticationFailure(error)) return false;
  if (isConnectionProblem(error) || names.some((name) => RETRIABLE_COMMIT_TYPES.has(name))) return true;
  const leaves = [...errorTree(error)].filter((e) => typeof e.apiId === 'string' && e.apiId !== 'NONE');
  return leaves.length > 0 && leaves.every((leaf) => leaf.canRetry === true);
}

/**
 * @internal Whether the broker refused a record (or batch) for its size.
 * @example
 * if (isSizeRefusal(error)) sendTheMinimalCopy();
 */
export function isSizeRefusal(error: unknown): boolean {
  return kafkaErrorNames(error).some((name) => SIZE_TYPES.has(name));
}

/**
 * @internal One line about a platformatic error: the message of its first protocol error with the
 * Kafka error name, else of its deepest cause (a refused socket, a timeout).
 * @example
 * describeError(error); // 'Authentication failed: Invalid username or password (SASL_AUTHENTICATION_FAILED)'
 */
export function describeError(error: unknown): string {
  const tree = [...errorTree(error)] as (PlatformaticLike & {
    message?: unknown;
    serverErrorMessage?: unknown;
  })[];
  const protocol = tree.find((e) => typeof e.apiId === 'string' && e.apiId !== 'NONE');
  // Depth first, the last error visited is the deepest of the tree: the refused socket, the timeout.
  const chosen = protocol ?? tree.at(-1);
  // The broker's own words, when it gave some ("Invalid username or password"), say the most.
  const said = protocol?.serverErrorMessage;
  const message =
    typeof said === 'string' && said.length > 0
      ? said
      : typeof chosen?.message === 'string'
        ? chosen.message
        : String(error);
  const name = protocol?.apiId;
  const line = name !== undefined && !message.includes(name) ? `${message} (${name})` : message;
  return isAuthenticationFailure(error) && !/authentication failed/i.test(line)
    ? `SASL authentication failed: ${line}`
    : line;
}
