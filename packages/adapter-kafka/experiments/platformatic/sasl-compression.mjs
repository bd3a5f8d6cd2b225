// SASL PLAIN / SCRAM-SHA-256 / SCRAM-SHA-512 with @platformatic/kafka against a private broker;
// wrong password error shape; zstd on this Node; reconnect after the broker stops and starts? (no: stop only)
import { Admin, Producer } from '@platformatic/kafka';
import { PrivateKafka } from '../../test/private-broker.ts';

const log = (...a) => console.log('[exp]', ...a);
const password = `pw-${Date.now()}`;
const node = await PrivateKafka.start({ saslUsers: { app: password }, scramUsers: { app: password } });
try {
  for (const mechanism of ['PLAIN', 'SCRAM-SHA-256', 'SCRAM-SHA-512']) {
    const admin = new Admin({
      clientId: 'exp-sasl',
      bootstrapBrokers: node.brokers,
      sasl: { mechanism, username: 'app', password },
    });
    try {
      const topics = await admin.listTopics();
      log(mechanism, 'ok, topics', topics.length);
    } catch (e) {
      log(mechanism, 'FAILED', e.message);
    }
    await admin.close();
  }
  // credential provider (function)
  const fnAdmin = new Admin({
    clientId: 'exp-sasl',
    bootstrapBrokers: node.brokers,
    sasl: { mechanism: 'SCRAM-SHA-512', username: 'app', password: async () => password },
  });
  try {
    await fnAdmin.listTopics();
    log('SCRAM-SHA-512 with a password function: ok');
  } catch (e) {
    log('password function FAILED', e.message);
  }
  await fnAdmin.close();
  const bad = new Admin({
    clientId: 'exp-sasl',
    bootstrapBrokers: node.brokers,
    retries: 0,
    sasl: { mechanism: 'SCRAM-SHA-512', username: 'app', password: 'wrong' },
  });
  try {
    await bad.listTopics();
    log('wrong password: NO ERROR');
  } catch (e) {
    const walk = (x, d = 0) =>
      `${x?.constructor?.name}(${x?.code}${x?.apiId ? ` ${x.apiId}` : ''}, canRetry=${x?.canRetry}, msg=${String(x?.message).slice(0, 90)})` +
      (x?.cause ? ` cause: ${walk(x.cause, d + 1)}` : '') +
      (x?.errors ? ` [${x.errors.map((y) => walk(y, d + 1)).join(', ')}]` : '');
    log('wrong password error:', walk(e), 'message mentions password?', String(e.message).includes('wrong'));
  }
  await bad.close();
  // zstd on this Node
  const topic = `pkexp4-${Date.now()}`;
  const admin = new Admin({
    clientId: 'exp',
    bootstrapBrokers: node.brokers,
    sasl: { mechanism: 'PLAIN', username: 'app', password },
  });
  await admin.createTopics({ topics: [topic], partitions: 1, replicas: 1 });
  const producer = new Producer({
    clientId: 'exp',
    bootstrapBrokers: node.brokers,
    sasl: { mechanism: 'PLAIN', username: 'app', password },
  });
  for (const compression of ['gzip', 'snappy', 'lz4', 'zstd']) {
    try {
      await producer.send({ messages: [{ topic, value: Buffer.from('x'.repeat(100)) }], compression });
      log(`compression ${compression} on Node ${process.version}: ok`);
    } catch (e) {
      log(
        `compression ${compression} on Node ${process.version}: FAILED`,
        e.message.slice(0, 120),
        '|',
        e.errors?.map((x) => x.message).join('; '),
      );
    }
  }
  // broker gone: what a send reports
  await node.stop?.();
  const t0 = Date.now();
  try {
    await producer.send({ messages: [{ topic, value: Buffer.from('y') }] });
    log('send with broker down: NO ERROR');
  } catch (e) {
    log(
      `send with broker down failed after ${Date.now() - t0} ms:`,
      e.constructor.name,
      e.code,
      JSON.stringify(e.errors?.map((x) => [x.constructor.name, x.code, x.canRetry])),
    );
  }
  await producer.close().catch(() => {});
  await admin.close().catch(() => {});
} finally {
  await node.dispose();
}
