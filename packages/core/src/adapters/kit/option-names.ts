import { ConfigError } from '../../errors';

/**
 * The option names an options type has, each set to `true`: typed as `OptionNames<TOptions>`, the
 * compiler makes the list complete and exact, so it cannot drift from the type.
 *
 * @example
 * ```ts
 * const NAMES: OptionNames<MyAdapterOptions> = { url: true, timeoutMs: true };
 * ```
 */
export type OptionNames<TOptions> = { readonly [TName in keyof Required<TOptions>]: true };

/**
 * Fails fast on an option name the options type does not have, a typo most often (`prefech` for
 * `prefetch`), which would otherwise be ignored without a word: a `ConfigError` naming the field
 * by its dotted path, with the nearest known name when one is close. Only our own option objects
 * are checked; a broker client's own configuration passed through stays open.
 *
 * @param options what the user gave (`undefined` is accepted: nothing to check)
 * @param names every known name, from {@link OptionNames}
 * @param path the dotted path of `options` itself, for nested objects (e.g. `consumer`)
 * @example
 * ```ts
 * const NAMES: OptionNames<MyAdapterOptions> = { url: true, prefetch: true };
 * checkOptionNames(options, NAMES); // { prefech: 10 } → ConfigError: prefech: unknown option; did you mean "prefetch"?
 * ```
 */
export function checkOptionNames(
  options: object | undefined,
  names: Readonly<Record<string, true>>,
  path?: string,
): void {
  if (options === undefined || options === null || typeof options !== 'object') return;
  for (const name of Object.keys(options)) {
    if (Object.hasOwn(names, name)) continue;
    const field = path === undefined ? name : `${path}.${name}`;
    const near = nearest(name, Object.keys(names));
    throw new ConfigError(
      field,
      `unknown option${near === undefined ? '.' : `; did you mean "${near}"?`} Known options: ${Object.keys(names).join(', ')}`,
    );
  }
}

/**
 * The known name that `name` is the start of (`sessionTimeout` for `sessionTimeoutMs`), or else
 * the one within a small edit distance (a third of its length, at least 2), if any.
 */
function nearest(name: string, known: readonly string[]): string | undefined {
  const lower = name.toLowerCase();
  const extended = known.find((candidate) => lower.length >= 3 && candidate.toLowerCase().startsWith(lower));
  if (extended !== undefined) return extended;
  let best: string | undefined;
  let bestDistance = Math.max(2, Math.floor(name.length / 3)) + 1;
  for (const candidate of known) {
    const distance = editDistance(lower, candidate.toLowerCase());
    if (distance < bestDistance) {
      best = candidate;
      bestDistance = distance;
    }
  }
  return best;
}

/** Levenshtein distance, with one row of memory; option names are short. */
function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      current[j] = Math.min(
        previous[j]! + 1,
        current[j - 1]! + 1,
        previous[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1),
      );
    }
    previous = current;
  }
  return previous[b.length]!;
}
