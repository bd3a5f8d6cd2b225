// The dead-letter API: list, one letter, redrive and purge, for the (topic, group) pairs the
// application declares only, so the console never reads or writes anything else on the broker.
import type { DeadLetterSelection, Operator } from '@tidings/core';
import { ConfigError, deadLetterJson } from '@tidings/core';
import type { GroupTopic } from '../model';

/** Most ids one action names; a larger purge is several actions. */
const MAX_IDS = 1_000;

/** The selection a query or body names, checked against the declared pairs. */
export function selectionOf(
  pairs: readonly GroupTopic[],
  input: Record<string, unknown>,
): DeadLetterSelection {
  const topic = input.topic;
  const group = input.group;
  if (typeof topic !== 'string' || typeof group !== 'string') {
    throw new ConfigError('topic', 'a topic and a group are needed');
  }
  if (!pairs.some((pair) => pair.topic === topic && pair.group === group)) {
    throw new ConfigError('group', `"${group}" on "${topic}" is not a subscription of the application`);
  }
  const text = (name: string) => {
    const value = input[name];
    return typeof value === 'string' && value.trim() !== '' ? value.trim() : undefined;
  };
  const date = (name: string) => {
    const value = text(name);
    if (value === undefined) return undefined;
    const parsed = new Date(value);
    if (Number.isNaN(parsed.getTime())) throw new ConfigError(name, `"${value}" is not a date`);
    return parsed;
  };
  const ids = input.ids;
  if (ids !== undefined) {
    if (
      !Array.isArray(ids) ||
      ids.length === 0 ||
      ids.length > MAX_IDS ||
      ids.some((id) => typeof id !== 'string')
    ) {
      throw new ConfigError('ids', `must be a list of 1 to ${MAX_IDS} dead-letter ids`);
    }
  }
  const type = text('type');
  const reason = text('reason');
  const since = date('since');
  const until = date('until');
  return {
    topic,
    group,
    ...(ids === undefined ? {} : { ids: ids as string[] }),
    ...(type === undefined ? {} : { type }),
    ...(reason === undefined ? {} : { reason }),
    ...(since === undefined ? {} : { since }),
    ...(until === undefined ? {} : { until }),
  };
}

/**
 * One page of dead letters; with no topic and group, the first page of each declared pair (the
 * overview the page opens on).
 */
export async function listLetters(
  operator: Operator,
  pairs: readonly GroupTopic[],
  query: Record<string, unknown>,
): Promise<{ letters: Record<string, unknown>[]; cursor: string | null }> {
  const limit = Math.min(Math.max(Number(query.limit ?? 50) || 50, 1), 200);
  if (query.topic === undefined && query.group === undefined) {
    const letters: Record<string, unknown>[] = [];
    for (const pair of pairs) {
      const selection = selectionOf(pairs, { ...query, ...pair });
      const page = await operator.page(selection, { limit });
      letters.push(...page.letters.map(deadLetterJson));
    }
    return { letters, cursor: null };
  }
  const selection = selectionOf(pairs, query);
  const cursor = typeof query.cursor === 'string' && query.cursor !== '' ? query.cursor : undefined;
  const page = await operator.page(selection, { cursor, limit });
  return { letters: page.letters.map(deadLetterJson), cursor: page.cursor ?? null };
}
