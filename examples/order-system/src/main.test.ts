// `npm start` prints the console's address beside the API's: check that both answer, and that the
// process stops cleanly on Ctrl-C.
import { spawn } from 'node:child_process';
import { createRequire } from 'node:module';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';

const MAIN = fileURLToPath(new URL('./main.ts', import.meta.url));
const TSX = pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href;

describe('npm start', () => {
  it('serves the web console beside the API and prints its address', async () => {
    const child = spawn(process.execPath, ['--import', TSX, '--conditions=@tidings/source', MAIN], {
      env: { ...process.env, PORT: '0', CONSOLE_PORT: '0', DEMO_ORDERS: '0', BROKER: 'memory' },
    });
    let out = '';
    const exited = new Promise<number | null>((resolve) => child.on('close', resolve));
    try {
      const consoleUrl = await new Promise<string>((resolve, reject) => {
        child.stdout.on('data', (chunk: Buffer) => {
          out += chunk.toString();
          const match = /console: (http:\/\/\S+\/)/.exec(out);
          if (match !== null) resolve(match[1]!);
        });
        child.stderr.on('data', (chunk: Buffer) => {
          out += chunk.toString();
        });
        void exited.then(() => reject(new Error(`npm start ended before printing the console:\n${out}`)));
      });
      expect(out).toMatch(/Tidings order system on http:\/\/127\.0\.0\.1:\d+/);
      const catalog = (await (await fetch(`${consoleUrl}api/catalog`)).json()) as {
        events: { type: string }[];
      };
      expect(catalog.events.map((event) => event.type)).toEqual([
        'shop.order.placed',
        'shop.shipment.prepared',
      ]);
      const meta = (await (await fetch(`${consoleUrl}api/meta`)).json()) as { actions: boolean };
      expect(meta.actions).toBe(false);
    } finally {
      child.kill('SIGINT');
    }
    expect(await exited).toBe(0);
  });
});
