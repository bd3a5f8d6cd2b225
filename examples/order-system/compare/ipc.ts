// The experiment runs each side in a process of its own, as it would be deployed, so that the load
// generator, the downstream services and the system under test do not share an event loop. This is
// the little request/response protocol between the runner and those processes.
import { type ChildProcess, fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';

interface Request {
  readonly id: number;
  readonly type: string;
  readonly payload: unknown;
}

interface Reply {
  readonly id: number;
  readonly result?: unknown;
  readonly error?: string;
}

/** A child process that answers requests by type. */
export interface Child {
  /** The child's process id, for the meters that read /proc. */
  readonly pid: number;
  request<T>(type: string, payload?: unknown): Promise<T>;
  /** Asks the child to stop gracefully (SIGTERM), and kills it if it has not within `graceMs`. */
  stop(graceMs?: number): Promise<void>;
}

/**
 * Starts `entry` (a TypeScript file next to this one) in a child process with the same
 * TypeScript loader and source conditions as this process.
 */
export function startChild(entry: string): Child {
  const path = fileURLToPath(new URL(entry, import.meta.url));
  const child: ChildProcess = fork(path, [], {
    execArgv: ['--conditions=@tidings/source', '--import', 'tsx'],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  let next = 1;
  const pending = new Map<number, { resolve: (value: unknown) => void; reject: (error: Error) => void }>();
  let exited = false;
  child.on('message', (message: Reply) => {
    const waiter = pending.get(message.id);
    if (waiter === undefined) return;
    pending.delete(message.id);
    if (message.error !== undefined) waiter.reject(new Error(message.error));
    else waiter.resolve(message.result);
  });
  const exit = new Promise<void>((resolve) => {
    child.once('exit', (code, signal) => {
      exited = true;
      for (const waiter of pending.values()) {
        waiter.reject(new Error(`${entry} exited (${signal ?? code}) before answering`));
      }
      pending.clear();
      resolve();
    });
  });
  return {
    pid: child.pid ?? 0,
    request<T>(type: string, payload?: unknown): Promise<T> {
      if (exited) return Promise.reject(new Error(`${entry} has exited`));
      const id = next++;
      return new Promise<T>((resolve, reject) => {
        pending.set(id, { resolve: resolve as (value: unknown) => void, reject });
        child.send({ id, type, payload } satisfies Request);
      });
    },
    async stop(graceMs = 15_000) {
      if (exited) return;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
      await exit;
      clearTimeout(timer);
    },
  };
}

/**
 * In a child: answers the parent's requests with `handlers`, and calls `onStop` on SIGTERM before
 * exiting.
 */
export function serveParent(
  handlers: Readonly<Record<string, (payload: never) => Promise<unknown>>>,
  onStop: () => Promise<void>,
): void {
  process.on('message', (message: Request) => {
    const handler = handlers[message.type];
    const reply = (body: Omit<Reply, 'id'>): void => {
      process.send?.({ id: message.id, ...body } satisfies Reply);
    };
    if (handler === undefined) {
      reply({ error: `no handler for ${message.type}` });
      return;
    }
    handler(message.payload as never).then(
      (result) => reply({ result }),
      (error: unknown) =>
        reply({ error: error instanceof Error ? (error.stack ?? error.message) : String(error) }),
    );
  });
  process.once('SIGTERM', () => {
    onStop().then(
      () => process.exit(0),
      (error: unknown) => {
        console.error(error);
        process.exit(1);
      },
    );
  });
  // The parent went away without a word: do not linger.
  process.once('disconnect', () => process.exit(0));
}
