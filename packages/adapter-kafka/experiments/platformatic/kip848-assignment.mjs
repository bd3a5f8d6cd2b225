// Kafka 4.x only: the KIP-848 group protocol (groupProtocol 'consumer'), where the broker assigns.
// Do members that subscribe to different topics of one group get only their own topics' partitions,
// and does a member keep its partitions while another joins (incremental)? Needs
// KAFKA_BROKERS pointing at a Kafka 4 broker.
import { Admin, Consumer } from '@platformatic/kafka';

const B = process.env.KAFKA_BROKERS?.split(',') ?? ['127.0.0.1:9092'];
const id = `pkexp5-${process.pid}-${Date.now()}`;
const TA = `${id}-a`;
const TB = `${id}-b`;
const G = `${id}-g`;
const t0 = Date.now();
const log = (...a) => console.log(`[exp +${Date.now() - t0}ms]`, ...a);
const short = (assignments) =>
  JSON.stringify((assignments ?? []).map((a) => [a.topic.slice(-1), a.partitions]));
const admin = new Admin({ clientId: 'exp', bootstrapBrokers: B });
const consumers = [];
async function member(name, topics) {
  const c = new Consumer({
    clientId: name,
    bootstrapBrokers: B,
    groupId: G,
    groupProtocol: 'consumer',
    autocommit: false,
  });
  c.on('consumer:group:join', (p) => log(name, 'join', short(p?.assignments)));
  c.on('consumer:heartbeat:error', (p) => log(name, 'heartbeat error', p.error?.message));
  consumers.push(c);
  const stream = await c.consume({ topics, mode: 'earliest', autocommit: false, maxWaitTime: 200 });
  stream.on('data', () => {});
  // Closing while topics are deleted fails a fetch; only the assignments matter here.
  stream.on('error', (e) => log(name, 'stream error', e.message));
  return c;
}
const settle = (ms) => new Promise((r) => setTimeout(r, ms));
try {
  await admin.createTopics({ topics: [TA, TB], partitions: 3, replicas: 1 });
  const c1 = await member('c1', [TA, TB]);
  await settle(3000);
  log('c1 alone:', short(c1.assignments));
  const c2 = await member('c2', [TB]);
  for (let i = 0; i < 10; i++) {
    await settle(1000);
    log(`t${i}: c1`, short(c1.assignments), '| c2', short(c2.assignments));
  }
  const g = (await admin.describeGroups({ groups: [G] })).get(G);
  log('describeGroups', g?.state, g?.protocol, g?.members?.size);
} finally {
  for (const c of consumers) await c.close(true).catch((e) => log('close', e.message));
  await admin.deleteGroups({ groups: [G] }).catch((e) => log('deleteGroups', e.message));
  await admin.deleteTopics({ topics: [TA, TB] }).catch((e) => log('delete topics failed', e.message));
  await admin.close();
}
