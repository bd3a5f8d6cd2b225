// The PostgreSQL outbox in a Nest application: the pool is the application's own provider, the
// module makes the outbox with its bus (forRootAsync injects the pool), a service writes the order
// and its event in one transaction, the relay the module runs publishes it, a handler gets it.
import 'reflect-metadata';
import { Inject, Injectable, Module, type OnModuleInit } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { type EventOf, silentLogger } from '@tidings/core';
import { createPostgresOutbox, type PostgresOutbox } from '@tidings/outbox-postgres';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { InjectOutbox, Subscribe, TidingsModule, type TidingsModuleOptions } from '../src/index';
import { OrderPlaced } from './support/events';
import { Recorder } from './support/recorder';

const POSTGRES_URL = process.env.TIDINGS_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const schema = `tidings_t_nest_${Date.now().toString(36)}${Math.random().toString(36).slice(2, 6)}`;
const PG_POOL = Symbol('PG_POOL');
let pool: pg.Pool;

beforeAll(async () => {
  pool = new pg.Pool({ connectionString: POSTGRES_URL, max: 4 });
  try {
    await pool.query(`CREATE SCHEMA "${schema}"`);
  } catch (error) {
    throw new Error(
      `PostgreSQL is not reachable at ${POSTGRES_URL} (${(error as Error).message}). Start it with \`bash tools/services.sh\`, or set TIDINGS_POSTGRES_URL.`,
    );
  }
  await pool.query(`CREATE TABLE "${schema}".orders (id text PRIMARY KEY, total_cents integer NOT NULL)`);
});

afterAll(async () => {
  await pool?.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
  await pool?.end();
});

@Injectable()
class Orders implements OnModuleInit {
  constructor(
    @Inject(PG_POOL) private readonly pool: pg.Pool,
    @InjectOutbox() private readonly outbox: PostgresOutbox,
  ) {}

  async onModuleInit(): Promise<void> {
    await this.outbox.migrate();
  }

  async place(orderId: string, totalCents: number): Promise<void> {
    const client = await this.pool.connect();
    try {
      await client.query('BEGIN');
      await client.query(`INSERT INTO "${schema}".orders (id, total_cents) VALUES ($1, $2)`, [
        orderId,
        totalCents,
      ]);
      await this.outbox.write(client, OrderPlaced, { orderId, totalCents });
      await client.query('COMMIT');
    } catch (error) {
      await client.query('ROLLBACK');
      throw error;
    } finally {
      client.release();
    }
  }
}

const shipped = new Recorder();

@Injectable()
class Shipping {
  @Subscribe(OrderPlaced, { group: 'shipping' })
  onOrderPlaced(event: EventOf<typeof OrderPlaced>): void {
    shipped.add(event.data.orderId);
  }
}

@Module({ providers: [{ provide: PG_POOL, useFactory: () => pool }], exports: [PG_POOL] })
class DatabaseModule {}

@Module({
  imports: [
    DatabaseModule,
    TidingsModule.forRootAsync({
      imports: [DatabaseModule],
      inject: [PG_POOL],
      useFactory: (database: pg.Pool): TidingsModuleOptions => ({
        source: 'orders',
        logger: silentLogger,
        outbox: {
          store: (bus) => createPostgresOutbox({ pool: database, bus, schema }),
          relay: { pollIntervalMs: 200 },
        },
      }),
    }),
  ],
  providers: [Orders, Shipping],
})
class AppModule {}

describe('the PostgreSQL outbox in a Nest application', () => {
  it('publishes what a transaction wrote, through the relay the module runs', async () => {
    const app = await NestFactory.createApplicationContext(AppModule, { logger: false });
    try {
      await app.get(Orders).place('o-1', 1250);
      expect(await shipped.until(1)).toEqual(['o-1']);
      const { rows } = await pool.query(`SELECT count(*)::int AS n FROM "${schema}".orders`);
      expect(rows[0]).toEqual({ n: 1 });
    } finally {
      await app.close();
    }
  });
});
