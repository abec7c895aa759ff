import { describe, expect, it } from 'vitest';
import { fixedReasons, groupsOf, specOf } from '../helpers.js';

const FLOAT = 1;
const INT64 = 7;

describe('rule: element-wise ops of one tensor', () => {
  it('activations, Dropout, Identity and a Cast to float carry the channels through', async () => {
    const spec = await specOf({
      inputShape: [4],
      nodes: [
        { op: 'Gemm', inputs: ['x', 'w1', 'b1'], outputs: ['h'], attrs: { transB: 1 } },
        { op: 'Sigmoid', inputs: ['h'], outputs: ['s'] },
        { op: 'Dropout', inputs: ['s'], outputs: ['d'] },
        { op: 'Identity', inputs: ['d'], outputs: ['i'] },
        { op: 'Cast', inputs: ['i'], outputs: ['c'], attrs: { to: FLOAT } },
        { op: 'Gemm', inputs: ['c', 'w2', 'b2'], outputs: ['y'], attrs: { transB: 1 } },
      ],
      params: { w1: [5, 4], b1: [5], w2: [3, 5], b2: [3] },
    });
    expect(groupsOf(spec)).toEqual([[5, ['w1 axis 0', 'b1 axis 0', 'w2 axis 1']]]);
    expect(spec.groups[0]!.activations.map((v) => v.value)).toEqual(['c']);
  });

  it('a Cast to an integer type turns the channels into a non-float value and fixes them', async () => {
    const spec = await specOf({
      inputShape: [4],
      nodes: [
        { op: 'Gemm', inputs: ['x', 'w1', 'b1'], outputs: ['h'], attrs: { transB: 1 } },
        { op: 'Cast', inputs: ['h'], outputs: ['n'], attrs: { to: INT64 } },
        { op: 'Cast', inputs: ['n'], outputs: ['c'], attrs: { to: FLOAT } },
        { op: 'Gemm', inputs: ['c', 'w2', 'b2'], outputs: ['y'], attrs: { transB: 1 } },
      ],
      params: { w1: [5, 4], b1: [5], w2: [3, 5], b2: [3] },
    });
    expect(spec.groups).toEqual([]);
    expect(fixedReasons(spec).join('\n')).toMatch(/node '\/cast1\/Cast' \(Cast\) turns channels into the non-float value 'n'/);
  });
});
