import type { AnyEventContract, BrokerAdapter, Operator } from '@tidings/core';
import { ConfigError, createOperator, topicOfContract } from '@tidings/core';
import { redactUrl } from '@tidings/core/adapter';
import { adapterFromUrl, BROKER_SCHEMES } from './broker-url';
import { CONFIG_FILES, findConfig, loadConfig, type TidingsConfig } from './config';
import type { Io } from './output';

/** The options every command takes. */
export interface GlobalOptions {
  readonly config?: string;
  readonly broker?: string;
  readonly json?: boolean;
}

/**
 * What one command works with: the config (when there is one), the adapter it made, and the
 * operator over that adapter. Closed at the end of the command.
 */
export class Session {
  private constructor(
    readonly adapter: BrokerAdapter,
    readonly operator: Operator,
    readonly config: TidingsConfig | undefined,
    readonly configPath: string | undefined,
    /** The broker URL given, redacted: the only form in which the CLI ever shows it. */
    readonly broker: string | undefined,
  ) {}

  /**
   * A broker URL (`--broker` or `TIDINGS_BROKER`) wins over the config file's adapter; the config's
   * contracts and names still apply when there is one.
   */
  static async open(io: Io, options: GlobalOptions): Promise<Session> {
    const path = findConfig(io.cwd, options.config);
    const loaded = path === undefined ? undefined : await loadConfig(path);
    const url = options.broker ?? nonEmpty(io.env.TIDINGS_BROKER);
    if (url === undefined && loaded === undefined) {
      throw new ConfigError(
        'config',
        `no ${CONFIG_FILES[0]} (or .mts, .js, .mjs, .cjs) in ${io.cwd} and no --broker URL (${BROKER_SCHEMES.join(', ')})`,
      );
    }
    const adapter = url !== undefined ? await adapterFromUrl(url) : await loaded!.config.adapter();
    const config = loaded?.config;
    const operator = createOperator({
      adapter,
      ...(config?.events === undefined ? {} : { events: config.events }),
      ...(config?.codecs === undefined ? {} : { codecs: config.codecs }),
      ...(config?.deadLetterTopic === undefined ? {} : { deadLetterTopic: config.deadLetterTopic }),
    });
    return new Session(
      adapter,
      operator,
      config,
      loaded?.path,
      url === undefined ? undefined : redactUrl(url),
    );
  }

  /** The contract of `type` from the config; a `ConfigError` naming `type` when there is none. */
  contract(type: string): AnyEventContract {
    const events = this.config?.events ?? [];
    const contract = events.find((event) => event.type === type);
    if (contract === undefined) {
      const known = events.map((event) => event.type).join(', ');
      throw new ConfigError(
        'type',
        events.length === 0
          ? `event type "${type}" is not in the config: publishing needs a config file with its contract`
          : `event type "${type}" is not in the config (it has ${known})`,
      );
    }
    return contract;
  }

  /** The topics of the config's contracts, each once, in order. */
  configTopics(): string[] {
    const config = this.config;
    if (config === undefined) return [];
    const events = [...(config.events ?? []), ...(config.subscriptions ?? []).flatMap((s) => s.events)];
    return [...new Set(events.map((event) => topicOfContract(config, event)))];
  }

  /** The topic of a contract as the application's bus names it. */
  topicOf(contract: AnyEventContract): string {
    return topicOfContract(this.config ?? {}, contract);
  }

  async close(): Promise<void> {
    await this.adapter.close({ signal: AbortSignal.timeout(10_000) });
  }
}

function nonEmpty(value: string | undefined): string | undefined {
  return value === undefined || value.trim() === '' ? undefined : value;
}
