import { describe, expect, it } from 'vitest';
import { type CommitRequest, OffsetCommitter } from './committer';
import { PartitionState } from './partition';

function setup(options: { fail?: () => boolean; canCommit?: () => boolean } = {}) {
  const states = [new PartitionState('orders', 0), new PartitionState('orders', 1)];
  for (const state of states) state.activate(0, new Map());
  const commits: CommitRequest[][] = [];
  const errors: unknown[] = [];
  const committer = new OffsetCommitter({
    committable: () => states,
    canCommit: options.canCommit ?? (() => true),
    commit: async (offsets) => {
      commits.push(offsets);
      if (options.fail?.()) throw new Error('REBALANCE_IN_PROGRESS');
    },
    onError: (error) => errors.push(error),
    intervalMs: 10_000,
  });
  return { states, commits, errors, committer };
}

describe('offset committer', () => {
  it('commits only the partitions whose position changed, at their lowest unsettled offset', async () => {
    const { states, commits, committer } = setup();
    states[0]!.accept(0);
    states[0]!.accept(1);
    states[0]!.settle(1);
    committer.markDirty(states[0]!);
    await committer.flush();
    expect(commits).toEqual([[{ topic: 'orders', partition: 0, offset: '0', metadata: '' }]]);
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
});
