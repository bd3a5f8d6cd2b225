import { describe, expect, it, vi } from 'vitest';
import { type CommitRequest, OffsetCommitter } from './committer';
import { PartitionState } from './partition';

function setup(options: { fail?: () => unknown; canCommit?: () => boolean } = {}) {
  const states = [new PartitionState('orders', 0), new PartitionState('orders', 1)];
  for (const state of states) state.activate(0, new Map());
  const commits: CommitRequest[][] = [];
  const errors: unknown[] = [];
  const retries: number[] = [];
  const committer = new OffsetCommitter({
    committable: () => states,
    canCommit: options.canCommit ?? (() => true),
    commit: async (offsets) => {
      commits.push(offsets);
      const failure = options.fail?.();
      if (failure === true) throw new Error('REBALANCE_IN_PROGRESS');
      if (failure) throw failure;
    },
    onError: (error) => errors.push(error),
    onRetry: (_error, delayMs) => retries.push(delayMs),
    intervalMs: 10_000,
  });
  return { states, commits, errors, retries, committer };
}

describe('offset committer', () => {
  it('commits only the partitions whose position changed, at their lowest unsettled offset', async () => {
    const { states, commits, committer } = setup();
    states[0]!.accept(0);
    states[0]!.accept(1);
    states[0]!.settle(1);
    committer.markDirty(states[0]!);
    await committer.flush();
    expect(commits).toEqual([[{ topic: 'orders', partition: 0, offset: 0, metadata: '' }]]);
    await committer.flush();
    expect(commits).toHaveLength(1);
    committer.stop();
  });

  it('joins a flush asked for during a commit to the next request', async () => {
    const { states, commits, committer } = setup();
    committer.markDirty(states[0]!);
    const first = committer.flush();
    committer.markDirty(states[1]!);
    const second = committer.flush();
    await Promise.all([first, second]);
    expect(commits.map((c) => c.map((o) => o.partition))).toEqual([[0], [1]]);
    committer.stop();
  });

  it('keeps a failed commit dirty, and commits nothing while kafkajs cannot', async () => {
    let failing = true;
    let able = true;
    const { states, commits, errors, committer } = setup({ fail: () => failing, canCommit: () => able });
    committer.markDirty(states[0]!);
    await committer.flush();
    expect(errors).toHaveLength(1);
    expect(states[0]!.dirty).toBe(true);
    able = false;
    await committer.flush();
    expect(commits).toHaveLength(1);
    able = true;
    failing = false;
    await committer.flush();
    expect(commits).toHaveLength(2);
    expect(states[0]!.dirty).toBe(false);
    committer.stop();
  });

  describe('the last commit of a close', () => {
    /** Errors shaped as kafkajs raises them. */
    const timeout = () =>
      Object.assign(new Error('Request offsetCommit timed out'), {
        name: 'KafkaJSRequestTimeoutError',
        retriable: true,
      });
    const protocol = (type: string, retriable: boolean) =>
      Object.assign(new Error(type), { name: 'KafkaJSProtocolError', type, retriable });

    it('tries again after a failure a retry cures, backing off, and tells no one until it is done', async () => {
      const failures = [
        timeout(),
        protocol('NOT_COORDINATOR_FOR_GROUP', true),
        protocol('REBALANCE_IN_PROGRESS', false),
      ];
      const { states, commits, errors, retries, committer } = setup({ fail: () => failures.shift() });
      committer.markDirty(states[0]!);
      committer.markDirty(states[1]!);
      const outcome = await committer.flushUntilCommitted({ deadlineMs: 10_000 });
      expect(outcome).toEqual({ committed: true });
      expect(commits).toHaveLength(4);
      expect(commits[3]!.map((c) => c.partition)).toEqual([0, 1]);
      expect(retries).toEqual([100, 200, 400]);
      expect(errors).toEqual([]);
      committer.stop();
    });

    it('tries again after a retriable failure kafkajs wrapped as not retriable', async () => {
      // A coordinator lookup that met a leader election: kafkajs bails out with the cause inside.
      const wrapped = () =>
        Object.assign(new Error('There is no leader for this topic-partition'), {
          name: 'KafkaJSNonRetriableError',
          retriable: false,
          cause: protocol('LEADER_NOT_AVAILABLE', true),
        });
      const failures = [wrapped()];
      const { states, commits, retries, committer } = setup({ fail: () => failures.shift() });
      committer.markDirty(states[0]!);
      expect(await committer.flushUntilCommitted({ deadlineMs: 10_000 })).toEqual({ committed: true });
      expect(commits).toHaveLength(2);
      expect(retries).toEqual([100]);
      committer.stop();
    });

    it('stops at once when the coordinator no longer knows the member', async () => {
      const { states, commits, retries, committer } = setup({
        fail: () => protocol('UNKNOWN_MEMBER_ID', false),
      });
      committer.markDirty(states[0]!);
      const outcome = await committer.flushUntilCommitted({ deadlineMs: 10_000 });
      expect(outcome).toMatchObject({
        committed: false,
        reason: 'refused',
        partitions: 1,
        error: { type: 'UNKNOWN_MEMBER_ID' },
      });
      expect(commits).toHaveLength(1);
      expect(retries).toEqual([]);
      committer.stop();
    });

    it('stops when its signal aborts, and after its deadline without one', async () => {
      const aborting = new AbortController();
      const first = setup({ fail: () => timeout() });
      first.committer.markDirty(first.states[0]!);
      const aborted = first.committer.flushUntilCommitted({ signal: aborting.signal, deadlineMs: 60_000 });
      await vi.waitFor(() => expect(first.retries.length).toBeGreaterThanOrEqual(2), { timeout: 10_000 });
      aborting.abort();
      expect(await aborted).toMatchObject({ committed: false, reason: 'aborted', partitions: 1 });
      first.committer.stop();

      const second = setup({ fail: () => timeout() });
      second.committer.markDirty(second.states[1]!);
      const outcome = await second.committer.flushUntilCommitted({ deadlineMs: 250 });
      expect(outcome).toMatchObject({ committed: false, reason: 'deadline', partitions: 1 });
      // Its pauses never reach past the deadline (the last is what was left of it).
      expect(second.retries.length).toBeGreaterThan(0);
      expect(second.retries.reduce((a, b) => a + b, 0)).toBeLessThanOrEqual(250);
      second.committer.stop();
    });

    it('waits while kafkajs cannot commit (a consumer restarting), then commits', async () => {
      let able = false;
      const { states, commits, retries, committer } = setup({ canCommit: () => able });
      committer.markDirty(states[0]!);
      const outcome = committer.flushUntilCommitted({ deadlineMs: 60_000 });
      await vi.waitFor(() => expect(retries.length).toBeGreaterThanOrEqual(2), { timeout: 10_000 });
      expect(commits).toEqual([]);
      able = true;
      expect(await outcome).toEqual({ committed: true });
      expect(commits).toHaveLength(1);
      committer.stop();
    });

    it('gives up at the deadline while kafkajs cannot commit, with no error to show', async () => {
      const { states, committer } = setup({ canCommit: () => false });
      committer.markDirty(states[0]!);
      const outcome = await committer.flushUntilCommitted({ deadlineMs: 150 });
      expect(outcome).toMatchObject({
        committed: false,
        reason: 'deadline',
        partitions: 1,
        error: undefined,
      });
      committer.stop();
    });
  });
});
