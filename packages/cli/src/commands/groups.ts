import type { Command } from 'commander';
import { EXIT, UsageError } from '../exit';
import { colorsFor, json, line, table } from '../output';
import { timeOf } from './dlq';
import type { Register } from './register';

const GROUPS_EXAMPLES = `
Examples:
  $ tidings groups                      # the topics of the config's contracts
  $ tidings groups -t order.placed -t order.shipped
  $ tidings groups --broker redis://127.0.0.1:6379 -t order.placed --json`;

const REPLAY_EXAMPLES = `
Examples:
  $ tidings replay -t order.placed -g search-index --from-time 2026-12-01T00:00:00Z
  $ tidings replay -t order.placed -g search-index --from-time 24h --dry-run
  $ tidings replay -t order.placed -g search-index --from-position 1733140800000-0`;

export const registerGroups: Register = (program, run) => {
  program
    .command('groups')
    .description('the consumer groups of topics: lag, pending, members, state')
    .option('-t, --topic <topic...>', "topics to look at (default: the topics of the config's contracts)")
    .addHelpText('after', GROUPS_EXAMPLES)
    .action((options: { topic?: string[] }, command: Command) =>
      run(command, async (context) => {
        const topics = options.topic ?? context.session.configTopics();
        if (topics.length === 0) {
          throw new UsageError('no topics: name them with --topic, or give a config file with contracts');
        }
        const groups = await context.session.operator.groups(topics);
        if (context.json) {
          json(context.io, { groups });
          return EXIT.ok;
        }
        if (groups.length === 0) {
          line(context.io, `no consumer groups on ${topics.join(', ')}`);
          return EXIT.ok;
        }
        const c = colorsFor(context.io.stdout, context.io.env);
        const figure = (n: number | undefined) => (n === undefined ? '-' : String(n));
        table(
          context.io,
          ['TOPIC', 'GROUP', 'LAG', 'PENDING', 'MEMBERS', 'STATE'],
          groups.map((g) => [
            g.topic,
            g.group,
            figure(g.lag),
            figure(g.pending),
            figure(g.members),
            g.state === 'active' ? c.green(g.state) : g.state === 'idle' ? c.yellow(g.state) : g.state,
          ]),
        );
        return EXIT.ok;
      }),
    );

  program
    .command('replay')
    .description("deliver a topic's retained history again to one consumer group, and to no other")
    .requiredOption('-t, --topic <topic>', 'the topic to replay')
    .requiredOption('-g, --group <group>', 'the only group that receives the records again')
    .option(
      '--from-time <time>',
      'from the first record stored at or after this time (ISO 8601, or 15m, 2h, 7d ago)',
    )
    .option('--from-position <position>', "from this broker position, inclusive (the adapter's notation)")
    .option('--dry-run', 'check the group and say what would happen, change nothing')
    .addHelpText('after', REPLAY_EXAMPLES)
    .action(
      (
        options: { topic: string; group: string; fromTime?: string; fromPosition?: string; dryRun?: boolean },
        command: Command,
      ) =>
        run(command, async (context) => {
          if ((options.fromTime === undefined) === (options.fromPosition === undefined)) {
            throw new UsageError('give exactly one of --from-time and --from-position');
          }
          const from =
            options.fromTime === undefined
              ? { position: options.fromPosition! }
              : { time: timeOf('--from-time', options.fromTime) };
          const { operator } = context.session;
          const where =
            'time' in from ? `at or after ${from.time.toISOString()}` : `from position ${from.position}`;
          if (options.dryRun === true) {
            const known =
              operator.supports.groups === true
                ? (await operator.groups([options.topic])).find((g) => g.group === options.group)
                : undefined;
            if (operator.supports.groups === true && known === undefined) {
              throw new UsageError(`group "${options.group}" does not consume "${options.topic}"`);
            }
            const replayable = operator.supports.replay;
            if (context.json)
              json(context.io, {
                dryRun: true,
                topic: options.topic,
                group: options.group,
                from,
                replay: replayable,
                current: known ?? null,
              });
            else
              line(
                context.io,
                replayable === true
                  ? `would deliver every retained record of "${options.topic}" ${where} again to group "${options.group}" only (dry run: nothing moved)`
                  : `cannot replay: ${replayable}`,
              );
            return replayable === true ? EXIT.ok : EXIT.unsupported;
          }
          await operator.replay(options.topic, options.group, from);
          if (context.json)
            json(context.io, { topic: options.topic, group: options.group, from, replayed: true });
          else
            line(
              context.io,
              `group "${options.group}" receives every retained record of "${options.topic}" ${where} again`,
            );
          return EXIT.ok;
        }),
    );
};
