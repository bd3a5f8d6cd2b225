// The simulated services stand in for real ones (a payment provider, a warehouse system...) with
// the one property that matters here: each call takes time. A team replaces them with real clients
// behind the same interfaces.

/** How long a simulated call takes: `latencyMs`, give or take up to `jitterMs`. */
export interface SimulatedLatency {
  readonly latencyMs: number;
  /** Spread around `latencyMs`, uniformly drawn. Default 0: every call takes exactly `latencyMs`. */
  readonly jitterMs?: number;
}

/**
 * Waits for the simulated duration of one call; rejects with the signal's reason if it is aborted
 * first, as a real client would when its caller gives up.
 *
 * @example
 * ```ts
 * await simulateCall({ latencyMs: 300, jitterMs: 50 }, AbortSignal.timeout(1_000));
 * ```
 */
export function simulateCall(latency: SimulatedLatency, signal?: AbortSignal): Promise<void> {
  const jitter = latency.jitterMs ?? 0;
  const ms = Math.max(0, latency.latencyMs + (jitter === 0 ? 0 : (Math.random() * 2 - 1) * jitter));
  return new Promise((resolve, reject) => {
    if (signal?.aborted) {
      reject(signal.reason);
      return;
    }
    const onAbort = (): void => {
      clearTimeout(timer);
      reject(signal?.reason);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
