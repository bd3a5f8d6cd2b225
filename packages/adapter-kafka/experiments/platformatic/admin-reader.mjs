// Experiments: admin, topics with configs, murmur2, commit with metadata, commit as no member,
// group-less fetch, deleteRecords, describe/delete groups, listOffsets by timestamp.
import {
  Admin,
  Consumer,
  compatibilityPartitioner,
  murmur2,
  offsetCommitV8,
  offsetCommitV9,
  Producer,
} from '@platformatic/kafka';
import kafkajs from 'kafkajs';

// KAFKA_BROKERS=host:port,... for another broker than the shared one.
const B = process.env.KAFKA_BROKERS?.split(',') ?? ['127.0.0.1:9092'];
const id = `pkexp-${process.pid}-${Date.now()}`;
const T = `${id}-t`,
  G = `${id}-g`;
const log = (...a) => console.log('[exp]', ...a);
const admin = new Admin({ clientId: 'exp', bootstrapBrokers: B });
try {
  const created = await admin.createTopics({
    topics: [T],
    partitions: 6,
    replicas: 1,
    configs: [
      { name: 'retention.ms', value: '3600000' },
      { name: 'max.message.bytes', value: '2000000' },
    ],
  });
  log(
    'createTopics ->',
    JSON.stringify(created, (_k, v) => (typeof v === 'bigint' ? String(v) : v)),
  );
  const cfg = await admin.describeConfigs({
    resources: [
      { resourceType: 2, resourceName: T, configurationKeys: ['max.message.bytes', 'retention.ms'] },
    ],
  });
  log('describeConfigs ->', JSON.stringify(cfg.map((r) => r.configs?.map((c) => [c.name, c.value]))));
  // existing topic error
  try {
    await admin.createTopics({ topics: [T], partitions: 6 });
    log('create again: no error');
  } catch (e) {
    log(
      'create again error:',
      e.constructor.name,
      e.code,
      e.message.slice(0, 80),
      JSON.stringify(e.errors?.map((x) => [x.apiId, x.canRetry])),
    );
  }
  // murmur2: compare with kafkajs DefaultPartitioner on 6 partitions
  const kjsPart = kafkajs.Partitioners.DefaultPartitioner();
  const partitionMetadata = Array.from({ length: 6 }, (_, i) => ({ partitionId: i, leader: 0 }));
  let diffDefault = 0,
    diffCompat = 0;
  const N = 2000;
  for (let i = 0; i < N; i++) {
    const key = Buffer.from(`key-${i}`);
    const k = kjsPart({ topic: T, partitionMetadata, message: { key } });
    const d = (murmur2(key) >>> 0) % 6; // what Producer does with defaultPartitioner
    const c = compatibilityPartitioner(undefined, key) % 6;
    if (d !== k) diffDefault++;
    if (c !== k) diffCompat++;
  }
  log(
    `murmur2 vs kafkajs DefaultPartitioner over ${N} keys, 6 partitions: default differs ${diffDefault}, compatibilityPartitioner differs ${diffCompat}`,
  );
  // produce with compatibility partitioner and verify partition on broker matches kafkajs
  const producer = new Producer({
    clientId: 'exp',
    bootstrapBrokers: B,
    partitioner: compatibilityPartitioner,
    acks: -1,
  });
  const msgs = Array.from({ length: 30 }, (_, i) => ({
    topic: T,
    key: Buffer.from(`k${i}`),
    value: Buffer.from(`v${i}`),
    headers: new Map([[Buffer.from('h'), Buffer.from('x')]]),
  }));
  const res = await producer.send({ messages: msgs });
  log(
    'send result offsets sample',
    JSON.stringify(res.offsets?.slice(0, 3), (_k, v) => (typeof v === 'bigint' ? String(v) : v)),
  );
  await producer.send({ messages: [{ topic: T, partition: 0, value: Buffer.alloc(0), key: undefined }] });
  // list offsets (admin)
  const lo = await admin.listOffsets({
    topics: [{ name: T, partitions: [0, 1, 2, 3, 4, 5].map((p) => ({ partitionIndex: p, timestamp: -1n })) }],
  });
  log(
    'admin.listOffsets latest ->',
    JSON.stringify(lo, (_k, v) => (typeof v === 'bigint' ? String(v) : v)).slice(0, 300),
  );
  const lo2 = await admin.listOffsets({
    topics: [
      {
        name: T,
        partitions: [
          { partitionIndex: 0, timestamp: -2n },
          { partitionIndex: 0, timestamp: BigInt(Date.now() - 60000) },
        ].slice(0, 1),
      },
    ],
  });
  log(
    'admin.listOffsets earliest p0 ->',
    JSON.stringify(lo2, (_k, v) => (typeof v === 'bigint' ? String(v) : v)),
  );
  // group-less fetch via a Consumer that never joins
  const reader = new Consumer({ clientId: 'exp-reader', bootstrapBrokers: B, groupId: `${id}-unused` });
  const md = await reader.metadata({ topics: [T] });
  const leader = md.topics.get(T).partitions[0].leader;
  const fr = await reader.fetch({
    node: leader,
    maxWaitTime: 0,
    isolationLevel: 1,
    topics: [
      {
        topicId: md.topics.get(T).id,
        partitions: [
          {
            partition: 0,
            fetchOffset: 0n,
            partitionMaxBytes: 1 << 20,
            currentLeaderEpoch: -1,
            lastFetchedEpoch: -1,
            logStartOffset: -1n,
          },
        ],
      },
    ],
  });
  const p0 = fr.responses[0].partitions[0];
  log(
    'group-less fetch p0: errorCode',
    p0.errorCode,
    'hw',
    String(p0.highWatermark),
    'batches',
    p0.records?.length,
    'first record',
    p0.records?.[0] &&
      JSON.stringify({
        firstOffset: String(p0.records[0].firstOffset),
        n: p0.records[0].records.length,
        rec0: {
          offsetDelta: p0.records[0].records[0].offsetDelta,
          key: p0.records[0].records[0].key?.toString(),
          headers: p0.records[0].records[0].headers?.map((h) => h.map(String)),
        },
      }),
  );
  const groupsNow = await admin.listGroups();
  log('reader joined a group?', groupsNow.has(`${id}-unused`));
  // commit with metadata as no member (raw OffsetCommit on the coordinator), then read back
  const coord = await reader.findGroupCoordinator().catch((e) => e);
  log(
    'findGroupCoordinator (reader consumer, groupId) ->',
    typeof coord === 'number' ? coord : coord.message,
  );
  const [fc] = await admin.findCoordinator({ keyType: 0, keys: [G] });
  const conns = await admin.connectToBrokers([fc.nodeId]);
  const conn = conns.get(fc.nodeId);
  const apis = await admin.listApis();
  const oc = apis.find((a) => a.apiKey === 8);
  log('broker OffsetCommit versions', oc.minVersion, '-', oc.maxVersion);
  const api = oc.maxVersion >= 9 ? offsetCommitV9.api : offsetCommitV8.api;
  const r = await api.async(conn, G, -1, '', null, [
    {
      name: T,
      partitions: [
        {
          partitionIndex: 0,
          committedOffset: 5n,
          committedLeaderEpoch: -1,
          committedMetadata: '{"tidings":1,"pending":[7,9]}',
        },
        { partitionIndex: 1, committedOffset: 2n, committedLeaderEpoch: -1, committedMetadata: null },
      ],
    },
  ]);
  log('raw OffsetCommit as no member ->', JSON.stringify(r));
  const back = await admin.listConsumerGroupOffsets({ groups: [G] });
  log(
    'listConsumerGroupOffsets ->',
    JSON.stringify(back, (_k, v) => (typeof v === 'bigint' ? String(v) : v)),
  );
  // alterConsumerGroupOffsets (no metadata) works as no member too
  await admin.alterConsumerGroupOffsets({
    groupId: G,
    topics: [{ name: T, partitionOffsets: [{ partition: 2, offset: 3n }] }],
  });
  const back2 = await admin.listConsumerGroupOffsets({
    groups: [{ groupId: G, topics: [{ name: T, partitionIndexes: [0, 2] }] }],
  });
  log(
    'after alterConsumerGroupOffsets ->',
    JSON.stringify(back2, (_k, v) => (typeof v === 'bigint' ? String(v) : v)),
  );
  const dg = await admin.describeGroups({ groups: [G] });
  log(
    'describeGroups (empty group) ->',
    JSON.stringify(
      [...dg.values()].map((g) => ({
        id: g.id,
        state: g.state,
        protocol: g.protocol,
        members: g.members.size,
      })),
    ),
  );
  // deleteRecords
  const dr = await admin.deleteRecords({ topics: [{ name: T, partitions: [{ partition: 0, offset: 2n }] }] });
  log(
    'deleteRecords ->',
    JSON.stringify(dr, (_k, v) => (typeof v === 'bigint' ? String(v) : v)),
  );
  await admin.deleteGroups({ groups: [G] });
  log('deleteGroups ok; still listed?', (await admin.listGroups()).has(G));
  try {
    await admin.deleteGroups({ groups: [`${id}-never`] });
    log('delete unknown group: no error');
  } catch (e) {
    log(
      'delete unknown group error:',
      e.constructor.name,
      e.code,
      JSON.stringify(e.errors?.map((x) => [x.apiId, x.canRetry])),
    );
  }
  await reader.close();
  await producer.close();
} finally {
  await admin.deleteTopics({ topics: [T] }).catch((e) => log('delete topic failed', e.message));
  await admin.close();
}
