import { quote, utf8Bytes } from '../../internal/text';
import type { TopicRule } from '../contract';

/** A rule's pattern, compiled once, and the names it has accepted (checked on every publish). */
interface CompiledRule {
  /** The rule's `pattern` and `maxBytes` it was compiled from, to notice a rule changed since. */
  readonly source: string;
  readonly maxBytes: number;
  readonly pattern: RegExp;
  readonly accepted: Set<string>;
}

// By rule object: the bus and adapters pass the same capabilities object on every publish. Keying
// by a `${maxBytes}/${pattern}` string instead built and hashed a new string per call, 3-4 % of
// the in-memory pipeline in profiles.
const compiled = new WeakMap<TopicRule, CompiledRule>();
/** Accepted names remembered per rule; beyond this, names are checked again each time. */
const MAX_REMEMBERED = 10_000;

/**
 * What is wrong with `topic` under `rule`, in a sentence, or `undefined` when the adapter accepts
 * it. The bus checks every topic it publishes to or subscribes to with it, and adapters check the
 * records and specs they are given directly, so that a bad name fails the same way everywhere.
 *
 * @example
 * ```ts
 * const problem = topicProblem(capabilities.topicRule, record.topic);
 * if (problem !== undefined) throw new PublishError(problem, { topic: record.topic });
 * ```
 */
export function topicProblem(rule: TopicRule, topic: unknown): string | undefined {
  let entry = compiled.get(rule);
  if (entry === undefined || entry.source !== rule.pattern || entry.maxBytes !== rule.maxBytes) {
    entry = {
      source: rule.pattern,
      maxBytes: rule.maxBytes,
      pattern: new RegExp(rule.pattern, 'u'),
      accepted: new Set(),
    };
    compiled.set(rule, entry);
  }
  if (typeof topic === 'string' && entry.accepted.has(topic)) return undefined;
  const problem = check(rule, entry.pattern, topic);
  if (problem === undefined && entry.accepted.size < MAX_REMEMBERED) entry.accepted.add(topic as string);
  return problem;
}

function check(rule: TopicRule, pattern: RegExp, topic: unknown): string | undefined {
  if (typeof topic !== 'string') return `a topic must be a string, got ${typeof topic}`;
  if (topic.length === 0) return 'a topic must not be empty';
  const bytes = utf8Bytes(topic);
  if (bytes > rule.maxBytes) {
    return `topic ${quote(topic, 60)} is ${bytes} bytes long; the limit is ${rule.maxBytes}`;
  }
  if (!pattern.test(topic)) return `topic ${quote(topic, 60)} is not a valid name here: ${rule.description}`;
  return undefined;
}

/**
 * The rule of an adapter that takes any name (an in-process broker): not empty, at most 1,024
 * bytes, no control characters.
 */
export const ANY_TOPIC: TopicRule = Object.freeze({
  pattern: '^[^\\p{Cc}]+$',
  maxBytes: 1_024,
  description: 'any characters but control characters',
});
