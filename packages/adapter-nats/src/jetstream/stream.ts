import { ConfigError } from '@tidings/core/adapter';
import {
  DiscardPolicy,
  type JetStreamManager,
  RetentionPolicy,
  StorageType,
  type StreamConfig,
  type StreamInfo,
} from 'nats';
import { apiErrorCode, connectionFailure, isNotFound, JS_ERR } from '../errors';
import type { ResolvedNatsOptions } from '../options';

const PARTITIONS_NOTE = /\(partitions: (\d+)\)/;

/** The stream description the adapter writes: operators read it, later adapters read the partition count. */
export function streamDescription(prefix: string, partitions: number): string {
  return `Tidings events under ${prefix}.> (partitions: ${partitions})`;
}

/** The partition count written in a stream's description, if any. */
export function partitionsOf(info: StreamInfo): number | undefined {
  const match = PARTITIONS_NOTE.exec(info.config.description ?? '');
  return match === null ? undefined : Number(match[1]);
}

function streamConfig(options: ResolvedNatsOptions): Partial<StreamConfig> & { name: string } {
  const { stream, prefix, partitions } = options;
  return {
    name: stream.name,
    description: streamDescription(prefix, partitions),
    subjects: [`${prefix}.>`],
    storage: stream.storage === 'file' ? StorageType.File : StorageType.Memory,
    retention: stream.retention === 'limits' ? RetentionPolicy.Limits : RetentionPolicy.Interest,
    discard: stream.discard === 'old' ? DiscardPolicy.Old : DiscardPolicy.New,
    max_age: stream.maxAgeMs * 1_000_000,
    max_bytes: stream.maxBytes,
    max_msgs: stream.maxMessages,
    duplicate_window: stream.duplicateWindowMs * 1_000_000,
    num_replicas: stream.replicas,
  };
}

/** What the adapter reads from its stream. */
export interface StreamFacts {
  /** Partitions per topic. */
  readonly partitions: number;
  /** The stream's `max_msg_size` (headers and body), or undefined when it has none. */
  readonly maxMsgSize: number | undefined;
}

/**
 * Finds the adapter's stream, or creates it when allowed, and checks that it captures the
 * prefix. Returns the partition count to use: the one recorded in the stream's description when
 * there is one (an explicit, different `partitions` option is then a `ConfigError`), else the
 * option; and the stream's message size limit. An existing stream's other settings are left as
 * they are: they belong to whoever created it.
 */
export async function ensureStream(
  jsm: JetStreamManager,
  options: ResolvedNatsOptions,
): Promise<StreamFacts> {
  const { stream, prefix } = options;
  let info: StreamInfo;
  try {
    info = await jsm.streams.info(stream.name);
  } catch (error) {
    if (!isNotFound(error)) {
      throw connectionFailure(error, `cannot read JetStream stream "${stream.name}"`, options.redactor);
    }
    if (!stream.create) {
      throw new ConfigError(
        'stream.create',
        `JetStream stream "${stream.name}" does not exist and stream.create is false; create it with subjects ["${prefix}.>"]`,
      );
    }
    info = await createStream(jsm, options);
  }
  const subjects = info.config.subjects ?? [];
  if (!subjects.includes(`${prefix}.>`) && !subjects.includes('>')) {
    throw new ConfigError(
      'stream.name',
      `JetStream stream "${stream.name}" captures ${JSON.stringify(subjects)}, not "${prefix}.>"; give the adapter another stream name or prefix`,
    );
  }
  const maxMsgSize =
    typeof info.config.max_msg_size === 'number' && info.config.max_msg_size > 0
      ? info.config.max_msg_size
      : undefined;
  const recorded = partitionsOf(info);
  if (recorded === undefined) return { partitions: options.partitions, maxMsgSize };
  if (options.partitionsGiven && recorded !== options.partitions) {
    throw new ConfigError(
      'partitions',
      `JetStream stream "${stream.name}" was created with ${recorded} partitions per topic, not ${options.partitions}; every adapter on a stream must use the same count (change it in the stream's description, see the docs)`,
    );
  }
  return { partitions: recorded, maxMsgSize };
}

async function createStream(jsm: JetStreamManager, options: ResolvedNatsOptions): Promise<StreamInfo> {
  try {
    return await jsm.streams.add(streamConfig(options));
  } catch (error) {
    // Another adapter created it meanwhile.
    const code = apiErrorCode(error);
    if (code === JS_ERR.streamNameInUse) return jsm.streams.info(options.stream.name);
    if (code === undefined) {
      throw connectionFailure(
        error,
        `cannot create JetStream stream "${options.stream.name}"`,
        options.redactor,
      );
    }
    throw new ConfigError(
      'stream',
      `cannot create JetStream stream "${options.stream.name}" for "${options.prefix}.>": ${(error as Error).message}`,
      { cause: error },
    );
  }
}
