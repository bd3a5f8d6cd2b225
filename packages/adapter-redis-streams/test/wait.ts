/**
 * Resolves once `condition` holds, checking it every few milliseconds: for states the adapter has
 * no event for (a connection state, a stream length after a background trim). Rejects after `timeoutMs` with `what` in the message.
 */
export async function waitUntil(
  condition: () => boolean | Promise<boolean>,
  timeoutMs: number,
  what: string,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting until ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}
