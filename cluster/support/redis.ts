import { Cluster, type Redis } from 'ioredis';

/** A plain ioredis `Cluster` for the tests' own checks and clean-up; close it with `quit()`. */
export function clusterAdmin(addresses: readonly string[]): Cluster {
  return new Cluster([...addresses], { lazyConnect: true, redisOptions: { maxRetriesPerRequest: 3 } });
}

/** Runs `call` on every primary of the cluster. */
export async function onPrimaries<T>(admin: Cluster, call: (node: Redis) => Promise<T>): Promise<T[]> {
  if (admin.status === 'wait') await admin.connect();
  return Promise.all(admin.nodes('master').map(call));
}

/** Deletes every key matching a glob pattern on every primary. */
export async function deleteClusterKeys(admin: Cluster, pattern: string): Promise<number> {
  const counts = await onPrimaries(admin, async (node) => {
    let deleted = 0;
    let cursor = '0';
    do {
      const [next, found] = await node.scan(cursor, 'MATCH', pattern, 'COUNT', 1000);
      cursor = next;
      // One DEL per key: keys of different slots cannot share one.
      for (const key of found) deleted += await node.del(key);
    } while (cursor !== '0');
    return deleted;
  });
  return counts.reduce((a, b) => a + b, 0);
}

/** Kills, on every node, the connections whose name starts with `prefix:`, as a network cut would. */
export async function killClusterConnections(admin: Cluster, prefix: string): Promise<number> {
  if (admin.status === 'wait') await admin.connect();
  const counts = await Promise.all(
    admin.nodes('all').map(async (node) => {
      const list = String(await node.client('LIST'));
      const ids = list
        .split('\n')
        .map((line) => ({ id: /\bid=(\d+)/.exec(line)?.[1], name: /\bname=(\S*)/.exec(line)?.[1] }))
        .filter((client) => client.id !== undefined && client.name?.startsWith(`${prefix}:`))
        .map((client) => client.id!);
      for (const id of ids) await node.client('KILL', 'ID', id);
      return ids.length;
    }),
  );
  return counts.reduce((a, b) => a + b, 0);
}

/** The port of the primary that owns the slot of `key` now, from `CLUSTER SLOTS`. */
export async function primaryPortOf(admin: Cluster, key: string): Promise<number | undefined> {
  const slot = Number(await admin.cluster('KEYSLOT', key));
  const ranges = await admin.cluster('SLOTS');
  return ranges.find(([from, to]) => slot >= from && slot <= to)?.[2]?.[1];
}
