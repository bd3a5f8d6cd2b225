import { randomBytes } from 'node:crypto';
import { ConfigError } from '@tidings/core';
import type { Command } from 'commander';
import { EXIT, UsageError } from '../exit';
import { colorsFor, json, line, note } from '../output';
import type { Register } from './register';

const CONSOLE_EXAMPLES = `
Examples:
  $ tidings console
  $ tidings console --port 4180
  $ tidings console --actions                         # a token is made and printed once, on stderr
  $ TIDINGS_CONSOLE_TOKEN=... tidings console --actions --host 0.0.0.0`;

/** The console's module, loaded only by this command: @tidings/console is an optional peer. */
type ConsoleModule = typeof import('@tidings/console');

export const registerConsole: Register = (program, run) => {
  program
    .command('console')
    .description('serve the web console (catalog, flow, lag, dead letters, tail) until Ctrl-C')
    .option('-p, --port <port>', 'the TCP port', parsePort, 4180)
    .option('--host <host>', 'the address to listen on (another than 127.0.0.1 exposes it)', '127.0.0.1')
    .option('--actions', 'allow redrive and purge, with a token (TIDINGS_CONSOLE_TOKEN, or one made now)')
    .addHelpText('after', CONSOLE_EXAMPLES)
    .action((options: { port: number; host: string; actions?: boolean }, command: Command) =>
      run(command, async (context) => {
        const { session, io } = context;
        let module: ConsoleModule;
        try {
          module = await import('@tidings/console');
        } catch (error) {
          throw new ConfigError(
            'console',
            'the console needs @tidings/console: npm install @tidings/console',
            {
              cause: error,
            },
          );
        }
        let token: string | undefined;
        if (options.actions === true) {
          const given = io.env.TIDINGS_CONSOLE_TOKEN;
          token = given !== undefined && given !== '' ? given : randomBytes(24).toString('base64url');
          // Printed once, on stderr, and only when made here: a token from the environment is
          // the operator's already, and stdout may be captured by logs.
          if (given === undefined || given === '') note(io, `action token (shown once): ${token}`);
        }
        const config = session.config;
        const running = await module.startConsole({
          adapter: session.adapter,
          ...(config?.events === undefined ? {} : { events: config.events }),
          ...(config?.subscriptions === undefined ? {} : { subscriptions: config.subscriptions }),
          ...(config?.producers === undefined ? {} : { producers: config.producers }),
          ...(config?.topic === undefined ? {} : { topic: config.topic }),
          ...(config?.deadLetterTopic === undefined ? {} : { deadLetterTopic: config.deadLetterTopic }),
          ...(config?.codecs === undefined ? {} : { codecs: config.codecs }),
          actions: token === undefined ? false : { token },
          port: options.port,
          host: options.host,
        });
        try {
          if (context.json) json(io, { url: running.url, actions: token !== undefined });
          else {
            const c = colorsFor(io.stdout, io.env);
            line(
              io,
              `Tidings console at ${c.cyan(running.url)} (${token === undefined ? 'read-only' : 'actions enabled'})`,
            );
            note(io, c.dim('Ctrl-C to stop'));
          }
          await new Promise<void>((resolve) => {
            if (context.signal.aborted) resolve();
            else context.signal.addEventListener('abort', () => resolve(), { once: true });
          });
        } finally {
          await running.close();
        }
        // Ctrl-C is how the console ends: that is success.
        return EXIT.ok;
      }),
    );
};

function parsePort(text: string): number {
  const value = Number(text);
  if (!Number.isInteger(value) || value < 0 || value > 65_535) {
    throw new UsageError(`--port: "${text}" is not a TCP port (0 to 65535)`);
  }
  return value;
}
