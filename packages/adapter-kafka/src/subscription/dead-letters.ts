import {
  ConfigError,
  type DeadLetterSettlement,
  fitDeadLetter,
  type IncomingRecord,
  type LandedDeadLetter,
  type SettlementObserver,
  settlementHeaders,
  sleep,
} from '@tidings/core/adapter';
import { HEADER_OVERHEAD_BYTES, recordRoom } from '../codec';
import { isPermanent, isSizeRefusal } from '../errors';
import type { Publisher } from '../publisher';
import { type TopicManager, topicNameProblem } from '../topics';
import type { Delivery } from './fetch';
import { settles } from './partition';

/**
 * Dead letters, and the retries of a dead letter the broker did not take.
 *
 * @module
 */

/** Backoff of a dead-letter write that failed on a connection problem: from 0.5 s, doubling, to 30 s. */
const TRANSIENT_RETRY_MS = { first: 500, max: 30_000 } as const;
/**
 * Backoff of a dead-letter write the broker refused for good (not authorised, a missing topic it may
 * not create, even the minimal copy too large): from 30 s, doubling, to 5 min. Never a tight loop,
 * and still tried again, so that an operator's fix (an ACL, the topic) takes effect without a restart.
 */
const PERMANENT_RETRY_MS = { first: 30_000, max: 300_000 } as const;
/** Keys longer than this are left out of a minimal dead letter; the core's headers carry them, cut. */
const MINIMAL_KEY_BYTES = 1_024;

/** @internal What the dead-letter writer needs from its subscription. */
export interface DeadLetterDeps {
  readonly topics: TopicManager;
  readonly publisher: Publisher;
  readonly observer: SettlementObserver | undefined;
  /** Aborted when `close` begins. */
  readonly stopping: AbortSignal;
  /** Aborted when `close` gives up on in-flight records. */
  readonly abandoned: AbortSignal;
  /** Logs a failure and keeps it as the subscription's last error; returns that (redacted) error. */
  readonly report: (error: unknown, what: string) => Error;
}

/** @internal Writes a subscription's dead letters. */
export class DeadLetters {
  constructor(private readonly deps: DeadLetterDeps) {}

  /**
   * Writes the dead letter, so that the record can be acknowledged; true once the broker has it.
   *
   * A dead letter always lands when the broker can take any: the full copy when it fits the dead-letter
   * topic's `max.message.bytes`, else the reduced copy {@link fitDeadLetter} makes for that limit, and
   * when the broker still refuses it for its size, the minimal copy, once. A failure is reported to the
   * observer once and tried again with backoff, slowly for an error the broker calls permanent; the
   * record stays unsettled meanwhile (its offset is not committed past). It gives up when the partition
   * goes to another member or the subscription closes: the record is then the group's again.
   */
  async write(delivery: Delivery, settlement: DeadLetterSettlement): Promise<boolean> {
    const { record, state } = delivery;
    const { observer, stopping, abandoned } = this.deps;
    const giveUp = AbortSignal.any([state.gone.signal, abandoned, stopping]);
    const what = `dead-lettering ${record.position} to "${settlement.topic}"`;
    let minimal = false;
    let told = false;
    for (let failures = 0; ; failures++) {
      let delayMs: number;
      try {
        const reduced = await this.attempt(record, settlement, minimal);
        observer?.deadLettered(record, { topic: settlement.topic, reason: settlement.reason, reduced });
        return true;
      } catch (error) {
        // The minimal copy was refused too, or the refusal came before any copy fitted: from now on
        // only the minimal copy is tried.
        if (isSizeRefusal(error)) minimal = true;
        const permanent = isPermanent(error);
        const backoff = permanent ? PERMANENT_RETRY_MS : TRANSIENT_RETRY_MS;
        delayMs = Math.min(backoff.first * 2 ** failures, backoff.max);
        const reported = this.deps.report(
          error,
          `${what} failed${permanent ? ' (the broker says for good)' : ''}; trying again in ${delayMs} ms`,
        );
        if (!told) {
          told = true;
          observer?.settlementFailed(record, settlement, reported);
        }
      }
      if (!(await sleep(delayMs, giveUp)) || !settles(state, abandoned)) return false;
    }
  }

  /**
   * One attempt at a dead letter: the copy that fits the topic's limit (or the minimal one), then, if
   * the broker refuses that for its size, the minimal copy. Resolves with what was cut.
   */
  private async attempt(
    record: IncomingRecord,
    settlement: DeadLetterSettlement,
    minimal: boolean,
  ): Promise<LandedDeadLetter['reduced']> {
    const { topic } = settlement;
    const { topics, publisher } = this.deps;
    // The core names dead-letter topics and the bus checks them; a caller of the adapter may not.
    const problem = topicNameProblem(topic);
    if (problem !== undefined) throw new ConfigError('deadLetter.topic', problem);
    await topics.ensure([topic]);
    const maxBatchBytes = await topics.maxMessageBytes(topic);
    const headers = settlementHeaders(record.headers, settlement.headers);
    const write = async (asMinimal: boolean): Promise<LandedDeadLetter['reduced']> => {
      const keyBytes = record.key === undefined ? 0 : Buffer.byteLength(record.key);
      // A key too large for the dead letter is left out: the core's headers carry it (cut if need be).
      const keepKey = keyBytes <= (asMinimal ? MINIMAL_KEY_BYTES : maxBatchBytes / 4);
      const letter = fitDeadLetter(headers, record.body, {
        // Kafka counts the key against the record batch's limit.
        maxBytes: recordRoom(maxBatchBytes),
        keyBytes: keepKey ? keyBytes : 0,
        headerOverheadBytes: HEADER_OVERHEAD_BYTES,
        minimal: asMinimal,
      });
      await publisher.publish([
        { topic, key: keepKey ? record.key : undefined, headers: letter.headers, body: letter.body },
      ]);
      return letter.reduced;
    };
    if (minimal) return write(true);
    try {
      return await write(false);
    } catch (error) {
      if (!isSizeRefusal(error)) throw error;
      // The topic's limit may have changed since it was read; the next dead letter reads it again.
      topics.forgetLimit(topic);
      this.deps.report(
        error,
        `the broker refused the dead letter of ${record.position} for its size; writing the minimal copy`,
      );
      return write(true);
    }
  }
}
