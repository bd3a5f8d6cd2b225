import type { Command } from 'commander';
import { EXIT } from '../exit';
import { colorsFor, json, line } from '../output';
import type { Register } from './register';

const EXAMPLES = `
Examples:
  $ tidings config
  $ tidings config --config ./ops/tidings.config.mjs --json`;

export const registerConfig: Register = (program, run) => {
  program
    .command('config')
    .description('show what the CLI works with: config file, broker, contracts, groups (never a credential)')
    .addHelpText('after', EXAMPLES)
    .action((_options: unknown, command: Command) =>
      run(command, async ({ session, io, json: asJson }) => {
        const { adapter, operator, config } = session;
        // Nothing of the adapter's own options is shown: they may hold credentials. The broker URL
        // is shown redacted.
        const shown = {
          configFile: session.configPath ?? null,
          broker: session.broker ?? null,
          adapter: adapter.name,
          operations: operator.supports,
          events: (config?.events ?? []).map((event) => ({
            type: event.type,
            version: event.version,
            topic: session.topicOf(event),
          })),
          subscriptions: (config?.subscriptions ?? []).map((s) => ({
            group: s.group,
            events: s.events.map((event) => event.type),
          })),
        };
        if (asJson) {
          json(io, shown);
          return EXIT.ok;
        }
        const c = colorsFor(io.stdout, io.env);
        const field = (name: string, value: string) => line(io, `${c.dim(name.padEnd(14))}${value}`);
        field('config file', shown.configFile ?? '(none)');
        if (shown.broker !== null) field('broker', shown.broker);
        field('adapter', shown.adapter);
        for (const [operation, support] of Object.entries(shown.operations)) {
          field(operation, support === true ? c.green('yes') : `${c.yellow('no')}: ${support}`);
        }
        for (const event of shown.events)
          field('event', `${event.type} v${event.version} on "${event.topic}"`);
        for (const s of shown.subscriptions) field('group', `${s.group} consumes ${s.events.join(', ')}`);
        return EXIT.ok;
      }),
    );
};
