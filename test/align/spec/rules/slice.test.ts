import { describe, expect, it } from 'vitest';
import { fixedReasons, groupsOf, specOf, type TinyGraph } from '../helpers.js';

/** A hidden layer of 6 whose units [1:4) (every `step`-th from 1, with step 2: 1 and 3) feed the next layer. */
const sliced = (step: number, next: number): TinyGraph => ({
  inputShape: [4],
  nodes: [
    { op: 'Gemm', inputs: ['x', 'w1', 'b1'], outputs: ['h'], attrs: { transB: 1 } },
    { op: 'Relu', inputs: ['h'], outputs: ['r'] },
    { op: 'Slice', inputs: ['r', 'starts', 'ends', 'axes', 'steps'], outputs: ['s'], name: '/part/Slice' },
    { op: 'Gemm', inputs: ['s', 'w2', 'b2'], outputs: ['y'], attrs: { transB: 1 } },
  ],
  params: { w1: [6, 4], b1: [6], w2: [3, next], b2: [3] },
  ints: { starts: [1], ends: [4], axes: [1], steps: [step] },
});

describe('rule: Slice', () => {
  it('a contiguous part of the units permutes on its own (the rest too)', async () => {
    const spec = await specOf(sliced(1, 3));
    expect(groupsOf(spec)).toEqual([
      [3, ['w1 axis 0 [1:4)', 'b1 axis 0 [1:4)', 'w2 axis 1']],
      [2, ['w1 axis 0 [4:6)', 'b1 axis 0 [4:6)']],
    ]);
  });

  it('a strided part fixes the units, with the reason', async () => {
    const spec = await specOf(sliced(2, 2));
    expect(spec.groups).toEqual([]);
    expect(fixedReasons(spec)).toContain("node '/part/Slice' (Slice) takes a strided or misaligned part of the channels");
  });
});
