// Group membership without the stream: joinGroup + own fetch + commit; subscription-aware assigner;
// rebalance signalling; heartbeats while a handler is busy; commit with metadata under a generation;
// commits of a revoked partition after the rebalance.
import { Admin, Consumer, offsetCommitV9 } from '@platformatic/kafka';

// KAFKA_BROKERS=host:port,... for another broker than the shared one.
const B = process.env.KAFKA_BROKERS?.split(',') ?? ['127.0.0.1:9092'];
const id = `pkexp3-${process.pid}-${Date.now()}`;
const TA = `${id}-a`,
  TB = `${id}-b`,
  G = `${id}-g`;
const t0 = Date.now();
const log = (...a) => console.log(`[exp +${Date.now() - t0}ms]`, ...a);
const J = (x) => JSON.stringify(x, (_k, v) => (typeof v === 'bigint' ? String(v) : v));
const admin = new Admin({ clientId: 'exp', bootstrapBrokers: B });
const assigner = (current, members, _topics, metadata) => {
  // round robin of each topic over the members that subscribed to it
  const ids = [...members.keys()].sort();
  const out = new Map(ids.map((m) => [m, new Map()]));
  let turn = 0;
  const all = new Set([...members.values()].flatMap((m) => m.topics ?? []));
  for (const topic of [...all].sort()) {
    const eligible = ids.filter((m) => members.get(m).topics.includes(topic));
    const n = metadata.topics.get(topic)?.partitionsCount ?? 0;
    for (let p = 0; p < n; p++) {
      const m = eligible[turn++ % eligible.length];
      const a = out.get(m).get(topic) ?? { topic, partitions: [] };
      a.partitions.push(p);
      out.get(m).set(topic, a);
    }
  }
  log(
    'assigner ran on',
    current.slice(-6),
    'members',
    J([...members].map(([k, v]) => [k.slice(-6), v.topics, v.metadata?.toString()])),
  );
  return [...out].map(([memberId, assignments]) => ({ memberId, assignments }));
};
function member(name, topics) {
  const c = new Consumer({
    clientId: name,
    bootstrapBrokers: B,
    groupId: G,
    sessionTimeout: 10000,
    heartbeatInterval: 500,
    rebalanceTimeout: 15000,
    autocommit: false,
  });
  for (const ev of [
    'consumer:group:join',
    'consumer:group:leave',
    'consumer:group:rejoin',
    'consumer:group:rebalance',
    'consumer:heartbeat:error',
  ])
    c.on(ev, (p) =>
      log(name, ev, ev.endsWith('join') ? J(p?.assignments) : ev.endsWith('error') ? p.error?.message : ''),
    );
  c.topics.trackAll(...topics);
  return c;
}
async function commitWithMetadata(c, topic, partition, offset, metadata) {
  const coordinator = await c.findGroupCoordinator();
  const conn = (await c.connectToBrokers([coordinator])).get(coordinator);
  const r = await offsetCommitV9.api.async(conn, c.groupId, c.generationId, c.memberId, null, [
    {
      name: topic,
      partitions: [
        {
          partitionIndex: partition,
          committedOffset: offset,
          committedLeaderEpoch: -1,
          committedMetadata: metadata,
        },
      ],
    },
  ]);
  return r.topics[0].partitions[0].errorCode;
}
try {
  await admin.createTopics({ topics: [TA, TB], partitions: 3, replicas: 1 });
  const c1 = member('c1', [TA, TB]);
  const proto = (topics) => [
    { name: 'TidingsSubscriptionAware', version: 0, metadata: Buffer.from(JSON.stringify({ v: 1, topics })) },
  ];
  await c1.joinGroup({ partitionAssigner: assigner, protocols: proto([TA, TB]) });
  log('c1 joined: generation', c1.generationId, 'assignments', J(c1.assignments));
  log(
    'c1 commit with metadata (own generation) errorCode',
    await commitWithMetadata(c1, TA, 0, 10n, 'meta-c1'),
  );
  // a busy "handler" in c1 for 4 s while c2 joins: does c1 heartbeat and rebalance without us?
  const c2 = member('c2', [TB]);
  const busy = new Promise((r) => setTimeout(r, 4000));
  const joined2 = c2.joinGroup({ partitionAssigner: assigner, protocols: proto([TB]) });
  await Promise.all([busy, joined2]);
  log(
    'after c2 joined: c1 gen',
    c1.generationId,
    J(c1.assignments),
    '| c2 gen',
    c2.generationId,
    J(c2.assignments),
  );
  // c1 lost some TB partitions: commit one of them now with c1's (current) generation
  const lostTB = [0, 1, 2].find((p) => !c1.assignments.find((a) => a.topic === TB)?.partitions.includes(p));
  if (lostTB !== undefined) {
    log(
      `c1 commits revoked ${TB.slice(-2)}/${lostTB} with current generation: errorCode`,
      await commitWithMetadata(c1, TB, lostTB, 99n, 'stale'),
    );
    const stale = await offsetCommitV9.api
      .async(
        (await c1.connectToBrokers([await c1.findGroupCoordinator()])).get(await c1.findGroupCoordinator()),
        G,
        c1.generationId - 1,
        c1.memberId,
        null,
        [
          {
            name: TB,
            partitions: [
              {
                partitionIndex: lostTB,
                committedOffset: 98n,
                committedLeaderEpoch: -1,
                committedMetadata: null,
              },
            ],
          },
        ],
      )
      .catch((e) => e);
    log(
      'commit with previous generation ->',
      stale instanceof Error ? J(stale.errors?.map((x) => x.apiId)) : 'accepted',
    );
  }
  // the library's own commit
  await c2.commit({
    offsets: [{ topic: TB, partition: c2.assignments[0].partitions[0], offset: 5n, leaderEpoch: -1 }],
  });
  const offs = await admin.listConsumerGroupOffsets({ groups: [G] });
  log(
    'committed',
    J(
      offs[0].topics.map((t) => [
        t.name.slice(-1),
        t.partitions.map((p) => [p.partitionIndex, p.committedOffset, p.metadata]),
      ]),
    ),
  );
  const dg = await admin.describeGroups({ groups: [G] });
  const g = dg.get(G);
  log(
    'describeGroups',
    g.state,
    g.protocol,
    J(
      [...g.members.values()].map((m) => ({
        client: m.clientId,
        topics: m.metadata?.topics,
        userData: m.metadata?.metadata?.toString?.(),
        assignment: m.assignments && [...m.assignments.values()],
      })),
    ),
  );
  await c2.close();
  await new Promise((r) => setTimeout(r, 2500));
  log('after c2 closed: c1 gen', c1.generationId, J(c1.assignments));
  await c1.close();
  log('c1 closed');
} finally {
  await admin.deleteGroups({ groups: [G] }).catch((e) => log('deleteGroups', e.message));
  await admin.deleteTopics({ topics: [TA, TB] }).catch((e) => log('delete topics failed', e.message));
  await admin.close();
}
