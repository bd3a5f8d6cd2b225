import { readFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { createBus, type FollowedRecord } from '@tidings/core';
import type { Command } from 'commander';
import { EXIT, UsageError } from '../exit';
import { colorsFor, json, line, note } from '../output';
import type { Register } from './register';

const TAIL_EXAMPLES = `
Examples:
  $ tidings tail order.placed
  $ tidings tail order.placed --json | jq .envelope.data
  $ tidings tail order.placed --count 10`;

const PUBLISH_EXAMPLES = `
Examples:
  $ tidings publish order.placed --data order.json
  $ echo '{"orderId":"o-1","total":42}' | tidings publish order.placed --data - --key o-1
  $ tidings publish order.placed --data order.json --dry-run`;

export const registerTail: Register = (program, run) => {
  program
    .command('tail')
    .description("print a topic's events as they are published, decoded, until Ctrl-C")
    .argument('<topic>', 'the topic to follow')
    .option('-n, --count <count>', 'stop after this many events', (text) => {
      const value = Number(text);
      if (!Number.isInteger(value) || value < 1)
        throw new UsageError(`--count: "${text}" is not a positive integer`);
      return value;
    })
    .addHelpText('after', TAIL_EXAMPLES)
    .action((topic: string, options: { count?: number }, command: Command) =>
      run(command, async (context) => {
        const { session, io } = context;
        const c = colorsFor(io.stdout, io.env);
        let seen = 0;
        const done = new AbortController();
        const stop = AbortSignal.any([context.signal, done.signal]);
        const print = ({ record, envelope, decodeError }: FollowedRecord) => {
          if (context.json) {
            json(io, {
              topic: record.topic,
              key: record.key ?? null,
              position: record.position,
              envelope: envelope ?? null,
              decodeError: decodeError?.message ?? null,
              headers: record.headers,
              ...(envelope === undefined ? { body: record.body } : {}),
            });
            return;
          }
          const time = envelope?.time ?? new Date().toISOString();
          const head =
            envelope === undefined
              ? c.red('(unreadable)')
              : c.cyan(`${envelope.type} v${envelope.eventversion}`);
          const key = record.key === undefined ? '' : ` ${c.dim('key=')}${record.key}`;
          const id = envelope === undefined ? '' : ` ${c.dim('id=')}${envelope.id}`;
          line(io, `${c.dim(time)} ${head}${key}${id}`);
          line(
            io,
            envelope === undefined ? `  ${decodeError?.message ?? ''}` : `  ${JSON.stringify(envelope.data)}`,
          );
        };
        // A group of its own, from the latest record: the application's groups are not touched,
        // and the group is deleted at the end where the adapter can.
        const following = await session.operator.follow(
          topic,
          (followed) => {
            if (stop.aborted) return;
            print(followed);
            seen++;
            if (options.count !== undefined && seen >= options.count) done.abort();
          },
          { label: `${hostname()}-${process.pid}` },
        );
        note(io, context.json ? `following "${topic}"` : c.dim(`following "${topic}" (Ctrl-C to stop)`));
        await new Promise<void>((resolve) => {
          if (stop.aborted) resolve();
          else stop.addEventListener('abort', () => resolve(), { once: true });
        });
        const removed = await following.stop();
        if (removed !== true)
          note(io, `note: the tail's group "${following.group}" is left on the broker: ${removed}`);
        // Ctrl-C is how a tail ends: that is success.
        return EXIT.ok;
      }),
    );

  program
    .command('publish')
    .description('publish one event, validated against its contract in the config')
    .argument('<type>', 'the event type, as its contract names it')
    .requiredOption('-d, --data <file>', 'the JSON data of the event (- for standard input)')
    .option('-k, --key <key>', "the event's key (default: the contract's key function)")
    .option('--dry-run', 'validate and encode, publish nothing')
    .addHelpText('after', PUBLISH_EXAMPLES)
    .action((type: string, options: { data: string; key?: string; dryRun?: boolean }, command: Command) =>
      run(command, async (context) => {
        const { session, io } = context;
        const contract = session.contract(type);
        const text = options.data === '-' ? await readStdin(io.stdin) : await readFile(options.data, 'utf8');
        let data: unknown;
        try {
          data = JSON.parse(text);
        } catch (error) {
          throw new UsageError(`--data: not JSON: ${(error as Error).message}`);
        }
        const config = session.config;
        const bus = createBus({
          source: config?.source ?? 'tidings-cli',
          adapter: session.adapter,
          ...(config?.codecs === undefined ? {} : { codecs: config.codecs }),
          ...(config?.topic === undefined ? {} : { topic: config.topic }),
        });
        const entry = {
          contract,
          data,
          ...(options.key === undefined ? {} : { options: { key: options.key } }),
        };
        if (options.dryRun === true) {
          const { events } = await bus.prepare([entry as never]);
          const event = events[0]!;
          if (context.json) json(io, { dryRun: true, ...event });
          else line(io, `valid: ${event.type} to "${event.topic}" (dry run: nothing published)`);
          return EXIT.ok;
        }
        await bus.start();
        try {
          const event = await bus.publish(
            contract,
            data as never,
            options.key === undefined ? {} : { key: options.key },
          );
          if (context.json) json(io, event);
          else line(io, `published ${event.type} ${event.id} to "${event.topic}"`);
        } finally {
          await bus.stop();
        }
        return EXIT.ok;
      }),
    );
};

async function readStdin(stdin: NodeJS.ReadableStream): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of stdin) chunks.push(Buffer.from(chunk as Buffer));
  return Buffer.concat(chunks).toString('utf8');
}
