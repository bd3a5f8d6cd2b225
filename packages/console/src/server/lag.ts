// The lag of every group, read at an interval while at least one page watches it, with a short
// history per group so a page that opens late still draws a chart.
import { FOLLOW_GROUP_PREFIX, type GroupDescription, type Operator } from '@tidings/core';

/** One reading of every group's lag. */
export interface LagSample {
  /** Unix time of the reading, in seconds (uPlot's unit). */
  readonly time: number;
  readonly groups: readonly GroupDescription[];
}

/** The readings kept so far, per `topic` + `group`: `[time, lag][]`. */
export interface LagHistory {
  readonly series: readonly {
    readonly topic: string;
    readonly group: string;
    readonly points: readonly (readonly [number, number | null])[];
  }[];
}

/** Reads lag for the pages that watch it. */
export interface LagSampler {
  history(): LagHistory;
  /** Starts reading when the first watcher comes; stops when the last leaves. */
  watch(onSample: (sample: LagSample) => void, onError: (error: Error) => void): () => void;
  close(): void;
}

export function createLagSampler(
  operator: Operator,
  topics: readonly string[],
  intervalMs: number,
  keep: number,
): LagSampler {
  const series = new Map<string, { topic: string; group: string; points: [number, number | null][] }>();
  const watchers = new Set<{ onSample: (s: LagSample) => void; onError: (e: Error) => void }>();
  let timer: NodeJS.Timeout | undefined;
  let reading = false;

  const read = async () => {
    // A slow broker must not pile up readings.
    if (reading || topics.length === 0) return;
    reading = true;
    try {
      // Tails (the console's, `tidings tail`) are not the application's groups: not shown.
      const groups = (await operator.groups(topics)).filter((g) => !g.group.startsWith(FOLLOW_GROUP_PREFIX));
      const time = Date.now() / 1000;
      for (const group of groups) {
        const id = `${group.topic}\n${group.group}`;
        let entry = series.get(id);
        if (entry === undefined) {
          entry = { topic: group.topic, group: group.group, points: [] };
          series.set(id, entry);
        }
        entry.points.push([time, group.lag ?? null]);
        if (entry.points.length > keep) entry.points.splice(0, entry.points.length - keep);
      }
      for (const watcher of watchers) watcher.onSample({ time, groups });
    } catch (error) {
      for (const watcher of watchers) watcher.onError(error as Error);
    } finally {
      reading = false;
    }
  };

  return {
    history: () => ({ series: [...series.values()] }),
    watch(onSample, onError) {
      const watcher = { onSample, onError };
      watchers.add(watcher);
      if (timer === undefined) {
        timer = setInterval(() => void read(), intervalMs);
        timer.unref();
      }
      void read();
      return () => {
        watchers.delete(watcher);
        if (watchers.size === 0 && timer !== undefined) {
          clearInterval(timer);
          timer = undefined;
        }
      };
    },
    close() {
      watchers.clear();
      if (timer !== undefined) clearInterval(timer);
      timer = undefined;
    },
  };
}
