// Transactions, fencing, read_committed fetch of aborted records, socket cutting, errors, diagnostics.

import { Admin, Consumer, compatibilityPartitioner, Producer } from '@platformatic/kafka';

// KAFKA_BROKERS=host:port,... for another broker than the shared one.
const B = process.env.KAFKA_BROKERS?.split(',') ?? ['127.0.0.1:9092'];
const id = `pkexp2-${process.pid}-${Date.now()}`;
const T = `${id}-t`;
const log = (...a) => console.log('[exp]', ...a);
const J = (x) => JSON.stringify(x, (_k, v) => (typeof v === 'bigint' ? String(v) : v));
const admin = new Admin({ clientId: 'exp', bootstrapBrokers: B });
const _chans = ['plt:kafka:connections:connects', 'plt:kafka:instances'];
try {
  await admin.createTopics({ topics: [T], partitions: 1, replicas: 1 });
  const txid = `${id}-tx`;
  const p1 = new Producer({
    clientId: 'exp-tx1',
    bootstrapBrokers: B,
    transactionalId: txid,
    idempotent: true,
    acks: -1,
    partitioner: compatibilityPartitioner,
  });
  const tx = await p1.beginTransaction();
  await tx.send({ messages: [{ topic: T, value: Buffer.from('committed-1') }] });
  await tx.commit();
  log('tx1 committed; producerId', String(p1.producerId), 'epoch', p1.producerEpoch);
  const tx2 = await p1.beginTransaction();
  await tx2.send({ messages: [{ topic: T, value: Buffer.from('aborted-1') }] });
  await tx2.abort();
  log('tx2 aborted');
  // fencing: a second producer with the same transactional id
  let zombie = p1;
  try {
    await p1.beginTransaction().then((t) => t.abort());
    log('begin after abort: ok');
  } catch (e) {
    log('begin after abort FAILS:', e.constructor.name, J(e.errors?.map((x) => x.apiId)));
    zombie = new Producer({
      clientId: 'exp-tx1b',
      bootstrapBrokers: B,
      transactionalId: txid,
      idempotent: true,
      acks: -1,
    });
  }
  const tx3 = await zombie.beginTransaction();
  log('zombie began; epoch', zombie.producerEpoch);
  await tx3.send({ messages: [{ topic: T, value: Buffer.from('zombie') }] });
  let p2 = new Producer({
    clientId: 'exp-tx2',
    bootstrapBrokers: B,
    transactionalId: txid,
    idempotent: true,
    acks: -1,
  });
  let tx4;
  try {
    tx4 = await p2.beginTransaction();
    log('new producer, same txid, default options: begin ok');
  } catch (e) {
    log('new producer, same txid, default options: begin FAILS', J(e.errors?.map((x) => x.apiId)));
    await p2.close();
    p2 = new Producer({
      clientId: 'exp-tx2b',
      bootstrapBrokers: B,
      transactionalId: txid,
      idempotent: true,
      acks: -1,
      producerId: -1n,
      producerEpoch: -1,
    });
    try {
      tx4 = await p2.beginTransaction();
      log('with producerId -1n / producerEpoch -1: begin ok');
    } catch (e2) {
      log('with -1/-1 FAILS too', e2.message, J(e2.errors?.map((x) => x.apiId)));
      throw e2;
    }
  }
  log('p2 began; epoch', p2.producerEpoch);
  try {
    await tx3.commit();
    log('zombie commit: NO ERROR (bad)');
  } catch (e) {
    log(
      'zombie commit error:',
      e.constructor.name,
      e.code,
      J(e.errors?.map((x) => [x.apiId, x.canRetry]) ?? e.apiId),
    );
  }
  await tx4.send({ messages: [{ topic: T, value: Buffer.from('committed-2') }] });
  await tx4.commit();
  // read committed through group-less fetch
  const reader = new Consumer({ clientId: 'exp-reader', bootstrapBrokers: B, groupId: `${id}-unused` });
  const md = await reader.metadata({ topics: [T] });
  const fr = await reader.fetch({
    node: md.topics.get(T).partitions[0].leader,
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
  const part = fr.responses[0].partitions[0];
  log(
    'fetch read_committed: lastStable',
    String(part.lastStableOffset),
    'aborted txs',
    J(part.abortedTransactions),
    'batches',
    part.records
      .map(
        (b) =>
          `${b.firstOffset}:${b.attributes & 32 ? 'ctl' : b.records.map((r) => r.value?.toString()).join(',')}`,
      )
      .join(' | '),
  );
  // socket cutting: destroy every socket of the reader and see it recover
  const sockets = [];
  reader.connections.on?.('connect', () => {});
  const before = reader.connections;
  log(
    'connection pool has get/forEach?',
    typeof before.get,
    Object.getOwnPropertyNames(Object.getPrototypeOf(before)).join(','),
  );
  reader.on('client:broker:disconnect', (p) =>
    log('event client:broker:disconnect', p.broker && J(p.broker)),
  );
  reader.on('client:broker:connect', (p) => log('event client:broker:connect', p.broker && J(p.broker)));
  const conns = await reader.connectToBrokers(null);
  for (const c of conns.values()) {
    sockets.push(c.socket);
    c.socket.destroy(new Error('cut by test'));
  }
  await new Promise((r) => setTimeout(r, 200));
  try {
    const again = await reader.fetch({
      node: md.topics.get(T).partitions[0].leader,
      maxWaitTime: 0,
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
    log('fetch after cutting sockets ok, batches', again.responses[0].partitions[0].records.length);
  } catch (e) {
    log('fetch after cut failed', e.constructor.name, e.code, e.message);
  }
  // error shape of a refused connection
  const bad = new Admin({
    clientId: 'exp-bad',
    bootstrapBrokers: ['127.0.0.1:1'],
    retries: 1,
    retryDelay: 10,
    connectTimeout: 500,
  });
  try {
    await bad.listTopics();
  } catch (e) {
    log(
      'refused connection error:',
      e.constructor.name,
      e.code,
      'canRetry',
      e.canRetry,
      'inner',
      J(e.errors?.map((x) => [x.constructor.name, x.code, x.canRetry])),
    );
  }
  await bad.close();
  await p1.close().catch((e) => log('p1 close', e.message));
  await zombie.close().catch(() => {});
  await p2.close();
  await reader.close();
} finally {
  await admin.deleteTopics({ topics: [T] }).catch((e) => log('delete topic failed', e.message));
  await admin.close();
}
