import { createInterface } from 'node:readline/promises';
import { type DeadLetter, type DeadLetterSelection, deadLetterJson } from '@tidings/core';
import type { Command } from 'commander';
import { EXIT, type ExitCode, UsageError } from '../exit';
import { colorsFor, type Io, json, line, note, progress, table } from '../output';
import type { CommandContext } from '../run';
import type { Register } from './register';

/** The options that select dead letters, on every `dlq` command. */
interface SelectionOptions {
  readonly topic: string;
  readonly group: string;
  readonly id?: string[];
  readonly type?: string[];
  readonly reason?: string;
  readonly since?: string;
  readonly until?: string;
}

function selectionOptions(command: Command): Command {
  return command
    .requiredOption('-t, --topic <topic>', 'the topic the records failed on')
    .requiredOption('-g, --group <group>', 'the consumer group they failed in')
    .option('--id <id...>', 'only these dead letters')
    .option('--type <type...>', 'only events of these types')
    .option('--reason <text>', 'only reasons containing this text, or matching /a regular expression/')
    .option('--since <time>', 'only dead letters whose last failure is at or after this time (ISO 8601)')
    .option('--until <time>', 'only dead letters whose last failure is before this time (ISO 8601)');
}

export function selectionOf(options: SelectionOptions): DeadLetterSelection {
  const reason = options.reason;
  const pattern = reason === undefined ? undefined : /^\/(.+)\/([a-z]*)$/.exec(reason);
  return {
    topic: options.topic,
    group: options.group,
    ...(options.id === undefined ? {} : { ids: options.id }),
    ...(options.type === undefined ? {} : { type: options.type }),
    ...(reason === undefined ? {} : { reason: pattern ? regexOf(pattern[1]!, pattern[2]!) : reason }),
    ...(options.since === undefined ? {} : { since: timeOf('--since', options.since) }),
    ...(options.until === undefined ? {} : { until: timeOf('--until', options.until) }),
  };
}

function regexOf(source: string, flags: string): RegExp {
  try {
    return new RegExp(source, flags);
  } catch (error) {
    throw new UsageError(`--reason: ${(error as Error).message}`);
  }
}

/** A time from the command line: ISO 8601, or a duration ago (`15m`, `2h`, `7d`). */
export function timeOf(option: string, text: string): Date {
  const ago = /^(\d+)(s|m|h|d)$/.exec(text);
  if (ago !== null) {
    const unit = { s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 }[ago[2] as 's' | 'm' | 'h' | 'd'];
    return new Date(Date.now() - Number(ago[1]) * unit);
  }
  const time = new Date(text);
  if (Number.isNaN(time.getTime())) {
    throw new UsageError(
      `${option}: "${text}" is not a time (ISO 8601 such as 2026-12-01T10:00:00Z, or 15m, 2h, 7d ago)`,
    );
  }
  return time;
}

function positiveInteger(option: string) {
  return (text: string): number => {
    const value = Number(text);
    if (!Number.isInteger(value) || value < 1)
      throw new UsageError(`${option}: "${text}" is not a positive integer`);
    return value;
  };
}

/** Says how many dead letters a command selected, when it stops there (a dry run, or none). */
function selected(context: CommandContext, total: number, dryRun: boolean, verb: string): ExitCode {
  if (context.json) json(context.io, { dryRun, selected: total });
  else line(context.io, `${total} dead letter(s) selected${dryRun ? ` (dry run: nothing ${verb})` : ''}`);
  return EXIT.ok;
}

async function count(context: CommandContext, selection: DeadLetterSelection): Promise<number> {
  let n = 0;
  for await (const _ of context.session.operator.browse(selection, { pageSize: 500, signal: context.signal }))
    n++;
  return n;
}

const EXAMPLES = `
Examples:
  $ tidings dlq list -t order.placed -g billing
  $ tidings dlq list -t order.placed -g billing --reason /Timeout/ --since 2h --json
  $ tidings dlq show -t order.placed -g billing 1733140800000-0
  $ tidings dlq redrive -t order.placed -g billing --rate 200 --dry-run
  $ tidings dlq redrive -t order.placed -g billing --type order.placed
  $ tidings dlq purge -t order.placed -g billing --until 2026-12-01 --yes`;

export const registerDlq: Register = (program, run) => {
  const dlq = program
    .command('dlq')
    .description('list, show, redrive and purge the dead letters of a consumer group')
    .addHelpText('after', EXAMPLES);

  selectionOptions(dlq.command('list').description('list dead letters without consuming them'))
    .option('-n, --limit <count>', 'at most this many (default 50)', positiveInteger('--limit'))
    .option('--after <cursor>', 'read on after this cursor (printed when more follow)')
    .addHelpText('after', EXAMPLES)
    .action((options: SelectionOptions & { limit?: number; after?: string }, command: Command) =>
      run(command, async (context) => {
        const page = await context.session.operator.page(selectionOf(options), {
          limit: options.limit ?? 50,
          cursor: options.after,
          signal: context.signal,
        });
        if (context.json) {
          json(context.io, { letters: page.letters.map(deadLetterJson), cursor: page.cursor ?? null });
          return EXIT.ok;
        }
        if (page.letters.length === 0) {
          line(context.io, 'no dead letters');
          return EXIT.ok;
        }
        table(
          context.io,
          ['ID', 'TYPE', 'KEY', 'ATTEMPTS', 'LAST FAILURE', 'REASON'],
          page.letters.map((letter) => [
            letter.id,
            letter.envelope?.type ?? '(unreadable)',
            letter.key ?? '',
            String(letter.failure.attempts ?? ''),
            letter.failure.lastFailureAt?.toISOString() ?? '',
            letter.failure.reason ?? '',
          ]),
        );
        if (page.cursor !== undefined) {
          note(context.io, `more follow: --after ${page.cursor}`);
        }
        return EXIT.ok;
      }),
    );

  dlq
    .command('show')
    .description('show one dead letter: failure, envelope, data and headers')
    .argument('<id>', 'the dead letter id, as `dlq list` prints it')
    .requiredOption('-t, --topic <topic>', 'the topic the record failed on')
    .requiredOption('-g, --group <group>', 'the consumer group it failed in')
    .addHelpText('after', EXAMPLES)
    .action((id: string, options: { topic: string; group: string }, command: Command) =>
      run(command, async (context) => {
        const letter = await context.session.operator.deadLetter(options, id);
        if (context.json) json(context.io, deadLetterJson(letter));
        else showLetter(context.io, letter);
        return EXIT.ok;
      }),
    );

  selectionOptions(
    dlq
      .command('redrive')
      .description('deliver dead letters again to the group they failed in, and to no other'),
  )
    .option(
      '--rate <perSecond>',
      'most dead letters redriven per second (default 500)',
      positiveInteger('--rate'),
    )
    .option('--dry-run', 'count what would be redriven, change nothing')
    .addHelpText('after', EXAMPLES)
    .action((options: SelectionOptions & { rate?: number; dryRun?: boolean }, command: Command) =>
      run(command, async (context) => {
        const selection = selectionOf(options);
        const total = await count(context, selection);
        if (context.signal.aborted) return EXIT.interrupted;
        if (options.dryRun === true || total === 0)
          return selected(context, total, options.dryRun === true, 'redriven');
        const bar = context.json ? undefined : progress(context.io, 'redrive', total);
        const report = await context.session.operator.redrive(selection, {
          ...(options.rate === undefined ? {} : { ratePerSecond: options.rate }),
          signal: context.signal,
          onProgress: (p) => bar?.update(p.redriven + p.missing + p.refused),
        });
        bar?.stop();
        if (context.json) {
          json(context.io, { selected: total, ...report });
        } else {
          const c = colorsFor(context.io.stdout, context.io.env);
          line(
            context.io,
            `${c.green(`${report.redriven} redriven`)}, ${report.missing} missing, ${report.refused.length === 0 ? '0 refused' : c.red(`${report.refused.length} refused`)}${report.aborted ? c.yellow(' (stopped: run it again to go on)') : ''}`,
          );
          for (const refused of report.refused) line(context.io, `  ${refused.id}: ${refused.reason}`);
        }
        if (report.aborted) return EXIT.interrupted;
        return report.refused.length > 0 ? EXIT.partial : EXIT.ok;
      }),
    );

  selectionOptions(dlq.command('purge').description('delete dead letters for good'))
    .option('--dry-run', 'count what would be deleted, change nothing')
    .option('-y, --yes', 'do not ask for confirmation (needed when not on a terminal)')
    .addHelpText('after', EXAMPLES)
    .action((options: SelectionOptions & { dryRun?: boolean; yes?: boolean }, command: Command) =>
      run(command, async (context) => {
        const selection = selectionOf(options);
        const total = await count(context, selection);
        if (context.signal.aborted) return EXIT.interrupted;
        if (options.dryRun === true || total === 0)
          return selected(context, total, options.dryRun === true, 'deleted');
        if (options.yes !== true) {
          const what = `${total} dead letter(s) of group "${options.group}" on "${options.topic}"`;
          if (context.io.stdin.isTTY !== true || context.json) {
            throw new UsageError(
              `purge would delete ${what}: confirm with --yes (not on a terminal, nobody can be asked)`,
            );
          }
          if (!(await confirm(context.io, `Delete ${what}? [y/N] `))) {
            line(context.io, 'nothing deleted');
            return EXIT.ok;
          }
        }
        const bar = context.json ? undefined : progress(context.io, 'purge', total);
        const deleted = await context.session.operator.purge(selection, {
          pageSize: 500,
          signal: context.signal,
          onProgress: (n) => bar?.update(n),
        });
        bar?.stop();
        if (context.json) json(context.io, { selected: total, deleted, aborted: context.signal.aborted });
        else line(context.io, `${deleted} deleted${context.signal.aborted ? ' (stopped)' : ''}`);
        return context.signal.aborted ? EXIT.interrupted : EXIT.ok;
      }),
    );
};

async function confirm(io: Io, question: string): Promise<boolean> {
  const prompt = createInterface({ input: io.stdin, output: io.stderr });
  try {
    return /^y(es)?$/i.test((await prompt.question(question)).trim());
  } finally {
    prompt.close();
  }
}

function showLetter(io: Io, letter: DeadLetter): void {
  const c = colorsFor(io.stdout, io.env);
  const field = (name: string, value: string | number | undefined) => {
    if (value !== undefined && value !== '') line(io, `${c.dim(name.padEnd(16))}${value}`);
  };
  const { failure, envelope } = letter;
  line(io, c.bold(`dead letter ${letter.id}`));
  field('topic', letter.topic);
  field('group', letter.group);
  field('stored in', letter.deadLetterTopic);
  field('key', letter.key);
  line(io);
  line(io, c.bold('failure'));
  field('reason', failure.reason === undefined ? undefined : c.red(failure.reason));
  field('error', failure.errorName);
  field('attempts', failure.attempts);
  field('first failure', failure.firstFailureAt?.toISOString());
  field('last failure', failure.lastFailureAt?.toISOString());
  field('original at', failure.originalPosition);
  field('reduced', failure.reduced.join(', '));
  line(io);
  if (envelope === undefined) {
    line(io, c.bold('record (not a readable event)'));
    field('why', letter.decodeError?.message);
    field('body', `${letter.body.byteLength} bytes`);
  } else {
    line(io, c.bold(`event ${envelope.type} v${envelope.eventversion}`));
    field('id', envelope.id);
    field('source', envelope.source);
    field('time', envelope.time);
    field('subject', envelope.subject);
    field('correlation id', envelope.correlationid);
    line(io, JSON.stringify(envelope.data, null, 2));
  }
  line(io);
  line(io, c.bold('headers'));
  for (const [name, value] of Object.entries(letter.headers).sort(([a], [b]) => (a < b ? -1 : 1))) {
    line(io, `${c.dim(name)}: ${value}`);
  }
}
