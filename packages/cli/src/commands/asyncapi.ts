import { writeFile } from 'node:fs/promises';
import type { Command } from 'commander';
import { stringify } from 'yaml';
import { createAsyncApiDocument } from '../asyncapi';
import { EXIT, UsageError } from '../exit';
import { json, line, note } from '../output';
import type { Register } from './register';

const EXAMPLES = `
Examples:
  $ tidings asyncapi > asyncapi.json
  $ tidings asyncapi --format yaml --out asyncapi.yaml --title "Shop events" --api-version 2.1.0
  $ tidings asyncapi --server kafka-1.internal:9092`;

interface AsyncApiFlags {
  readonly out?: string;
  readonly format?: string;
  readonly title?: string;
  readonly apiVersion?: string;
  readonly server?: string;
}

export const registerAsyncApi: Register = (program, run) => {
  program
    .command('asyncapi')
    .description("write the AsyncAPI 3.0 document of the config's contracts, producers and groups")
    .option('-o, --out <file>', 'write it to this file (default: standard output)')
    .option('-f, --format <format>', 'json or yaml (default: json, or yaml for a .yaml/.yml --out)')
    .option('--title <title>', 'info.title (default: Tidings events)')
    .option('--api-version <version>', 'info.version, the version of your event API (default: 1.0.0)')
    .option('--server <host>', "the broker's address, documented as a server")
    .addHelpText('after', EXAMPLES)
    .action((flags: AsyncApiFlags, command: Command) =>
      run(command, async ({ session, io, json: asJson }) => {
        if (session.config === undefined) {
          throw new UsageError(
            'the AsyncAPI document is written from a config file (its contracts), not a broker URL',
          );
        }
        const format =
          flags.format ?? (flags.out !== undefined && /\.ya?ml$/i.test(flags.out) ? 'yaml' : 'json');
        if (format !== 'json' && format !== 'yaml')
          throw new UsageError(`--format: "${format}" is not json or yaml`);
        const { document, warnings } = createAsyncApiDocument(session.config, session.adapter, {
          ...(flags.title === undefined ? {} : { title: flags.title }),
          ...(flags.apiVersion === undefined ? {} : { version: flags.apiVersion }),
          ...(flags.server === undefined ? {} : { server: { host: flags.server } }),
        });
        for (const warning of warnings) note(io, `warning: ${warning}`);
        const text = format === 'yaml' ? stringify(document) : `${JSON.stringify(document, null, 2)}\n`;
        if (flags.out === undefined) {
          io.stdout.write(text);
        } else {
          await writeFile(flags.out, text);
          if (asJson) json(io, { written: flags.out, format, warnings });
          else line(io, `wrote ${flags.out}`);
        }
        return EXIT.ok;
      }),
    );
};
