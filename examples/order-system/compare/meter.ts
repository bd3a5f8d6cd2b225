// What a process costs, read from Linux's /proc by the runner: its CPU time (user + system, as
// `process.cpuUsage()` would say inside it), its resident memory, and its TCP connections, sorted
// by whom they reach. Reading /proc from outside measures every process the same way, the
// shared broker and database included, and costs the measured processes nothing.
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';

// Clock ticks per second, the unit of the CPU times in /proc/<pid>/stat.
const TICKS = (() => {
  try {
    return Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
  } catch {
    return 100;
  }
})();

function statFields(pid: number): string[] | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name is in parentheses and may hold spaces: the fields start after the last one.
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  } catch {
    return undefined;
  }
}

/** CPU seconds a process has used (user + system); its waited-for children's too with `children`. */
export function cpuSeconds(pid: number, children = false): number {
  const fields = statFields(pid);
  if (fields === undefined) return 0;
  // After the name: state is field 3 of stat(5), so utime (14) is index 11, stime 12, cutime 13, cstime 14.
  const own = Number(fields[11]) + Number(fields[12]);
  const waited = children ? Number(fields[13]) + Number(fields[14]) : 0;
  return (own + waited) / TICKS;
}

/** Resident memory of a process, in MiB. */
export function rssMiB(pid: number): number {
  try {
    const match = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return match === null ? 0 : Number(match[1]) / 1024;
  } catch {
    return 0;
  }
}

function processesNamed(name: string): { pid: number; ppid: number }[] {
  const found: { pid: number; ppid: number }[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const pid = Number(entry);
    try {
      if (readFileSync(`/proc/${pid}/comm`, 'utf8').trim() !== name) continue;
    } catch {
      continue;
    }
    const fields = statFields(pid);
    if (fields !== undefined) found.push({ pid, ppid: Number(fields[1]) });
  }
  return found;
}

/**
 * CPU seconds used so far by the shared services on this machine, where their processes are
 * visible: RabbitMQ (its Erlang VM) and PostgreSQL (every backend, plus what the postmaster's
 * exited children used, so that connections that came and went between two readings count).
 * They serve other work too; on a quiet machine the difference of two readings is this run's.
 */
export function sharedServiceCpu(): { readonly rabbitmq?: number; readonly postgres?: number } {
  const beam = processesNamed('beam.smp');
  const postgres = processesNamed('postgres');
  const pids = new Set(postgres.map((p) => p.pid));
  const postmaster = postgres.filter((p) => !pids.has(p.ppid));
  return {
    ...(beam.length === 0 ? {} : { rabbitmq: beam.reduce((sum, p) => sum + cpuSeconds(p.pid), 0) }),
    ...(postgres.length === 0
      ? {}
      : {
          postgres:
            postgres.reduce((sum, p) => sum + cpuSeconds(p.pid), 0) +
            // The postmaster's waited-for children: backends that exited.
            postmaster.reduce((sum, p) => sum + cpuSeconds(p.pid, true) - cpuSeconds(p.pid), 0),
        }),
  };
}

/** Whom a process's TCP connections reach. */
export interface SocketCount {
  /** Accepted by the process: its clients (the load generator, or the order service). */
  readonly inbound: number;
  /** To the downstream services. */
  readonly downstream: number;
  readonly broker: number;
  readonly database: number;
  /** Any other TCP connection; listening sockets and the runner's IPC pipe are not counted. */
  readonly other: number;
}

export const NO_SOCKETS: SocketCount = { inbound: 0, downstream: 0, broker: 0, database: 0, other: 0 };

/** Where the peers are: the ports of the downstream services, the broker and the database. */
export interface Peers {
  readonly downstreamPorts: readonly number[];
  readonly brokerPorts: readonly number[];
  readonly databasePorts: readonly number[];
}

function socketInodes(pid: number): number[] {
  const inodes: number[] = [];
  let fds: string[];
  try {
    fds = readdirSync(`/proc/${pid}/fd`);
  } catch {
    return inodes;
  }
  for (const fd of fds) {
    try {
      const match = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/${pid}/fd/${fd}`));
      if (match !== null) inodes.push(Number(match[1]));
    } catch {
      // Closed while we looked.
    }
  }
  return inodes;
}

interface TcpEntry {
  readonly localPort: number;
  readonly remotePort: number;
  readonly listening: boolean;
}

function tcpTable(): Map<number, TcpEntry> {
  const table = new Map<number, TcpEntry>();
  for (const file of ['/proc/net/tcp', '/proc/net/tcp6']) {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch {
      continue;
    }
    for (const line of text.split('\n').slice(1)) {
      const cols = line.trim().split(/\s+/);
      if (cols.length < 10) continue;
      const port = (address: string): number => Number.parseInt(address.split(':')[1] ?? '0', 16);
      table.set(Number(cols[9]), {
        localPort: port(cols[1]!),
        remotePort: port(cols[2]!),
        listening: cols[3] === '0A',
      });
    }
  }
  return table;
}

/** The TCP connections of a process now, by peer. */
export function socketsOf(pid: number, peers: Peers): SocketCount {
  const inodes = socketInodes(pid);
  const table = tcpTable();
  const listening = new Set<number>();
  const entries: TcpEntry[] = [];
  for (const inode of inodes) {
    const entry = table.get(inode);
    if (entry === undefined) continue;
    if (entry.listening) listening.add(entry.localPort);
    else entries.push(entry);
  }
  const count = { inbound: 0, downstream: 0, broker: 0, database: 0, other: 0 };
  for (const entry of entries) {
    if (listening.has(entry.localPort)) count.inbound++;
    else if (peers.downstreamPorts.includes(entry.remotePort)) count.downstream++;
    else if (peers.brokerPorts.includes(entry.remotePort)) count.broker++;
    else if (peers.databasePorts.includes(entry.remotePort)) count.database++;
    else count.other++;
  }
  return count;
}

/** Sum of socket counts. */
export function totalSockets(count: SocketCount): number {
  return count.inbound + count.downstream + count.broker + count.database + count.other;
}

/** The most TCP connections a group of processes held at once, and their resident memory then. */
export interface Peak {
  readonly sockets: SocketCount;
  readonly rssMiB: number;
}

/**
 * Samples the processes' TCP connections every `intervalMs` until stopped; keeps the sample with
 * the most connections in total (the processes' sum), and the largest resident memory seen.
 */
export function samplePeak(pids: readonly number[], peers: Peers, intervalMs = 200): { stop(): Peak } {
  let best: SocketCount = NO_SOCKETS;
  let rss = 0;
  const sample = (): void => {
    const counts = pids.map((pid) => socketsOf(pid, peers));
    const sum: SocketCount = {
      inbound: counts.reduce((s, c) => s + c.inbound, 0),
      downstream: counts.reduce((s, c) => s + c.downstream, 0),
      broker: counts.reduce((s, c) => s + c.broker, 0),
      database: counts.reduce((s, c) => s + c.database, 0),
      other: counts.reduce((s, c) => s + c.other, 0),
    };
    if (totalSockets(sum) > totalSockets(best)) best = sum;
    rss = Math.max(
      rss,
      pids.reduce((s, pid) => s + rssMiB(pid), 0),
    );
  };
  sample();
  const timer = setInterval(sample, intervalMs);
  return {
    stop() {
      clearInterval(timer);
      sample();
      return { sockets: best, rssMiB: rss };
    },
  };
}
