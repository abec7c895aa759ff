import { describe, expect, it } from 'vitest';
import { checkpointFromModel } from '../../lib/checkpoint.js';
import { selectLayers } from '../../lib/checks/layers.js';
import { nativeActivation, WeakAdditivity } from '../../lib/checks/weak-additivity.js';
import { helperModel } from '../../lib/onnx/build.js';
import { AttributeType, newModel, newNode, newValueInfo, shapeDims } from '../../lib/onnx/proto.js';
import { floatOutput, GraphSession } from '../../lib/session.js';

const opset20 = newModel({ irVersion: 9n, opsetImport: [{ domain: '', version: 20n }] });

function random(n: number, seed: number): Float32Array {
  let s = seed;
  return Float32Array.from({ length: n }, () => {
    s = (s * 1103515245 + 12345) % 2 ** 31;
    return (s / 2 ** 31 - 0.5) * 6;
  });
}

const activations: [string, Record<string, number | string>][] = [
  ['Relu', {}],
  ['LeakyRelu', { alpha: 0.2 }],
  ['Sigmoid', {}],
  ['Tanh', {}],
  ['Elu', { alpha: 0.7 }],
  ['Selu', {}],
  ['Celu', { alpha: 1.3 }],
  ['Softplus', {}],
  ['Softsign', {}],
  ['HardSigmoid', { alpha: 0.3, beta: 0.4 }],
  ['HardSwish', {}],
  ['Gelu', {}],
  ['Gelu', { approximate: 'tanh' }],
  ['Mish', {}],
  ['ThresholdedRelu', { alpha: 0.5 }],
];

describe('weak additivity: native kernel against onnxruntime', () => {
  it.each(activations)('%s %o: the native pass equals σ run by onnxruntime', async (op, attrs) => {
    const attribute = Object.entries(attrs).map(([name, v]) =>
      typeof v === 'number' ? { name, f: v, type: AttributeType.FLOAT } : { name, s: Buffer.from(v), type: AttributeType.STRING },
    );
    const node = newNode({ opType: op, input: ['x'], output: ['y'], name: `/act/${op}`, attribute });
    const model = helperModel(opset20, [node], ['x'], ['y']);
    model.graph!.input = [newValueInfo({ name: 'x', type: { value: { case: 'tensorType', value: { elemType: 1, shape: { dim: shapeDims(['N', 50]) } } } } })];
    const checkpoint = checkpointFromModel({ file: `${op}.onnx`, proto: model });
    const [layer] = selectLayers(checkpoint, [op]);
    expect(nativeActivation(node)).not.toBeNull();
    const n = 40;
    const hA = { data: random(n * 50, 1), dims: [n, 50] };
    const hB = { data: random(n * 50, 2), dims: [n, 50] };
    const sigma = await GraphSession.create(model, op);
    const fa = floatOutput(await sigma.run({ x: hA }), 'y', op).data;
    const fb = floatOutput(await sigma.run({ x: hB }), 'y', op).data;
    const alphas = [0.1, 0.5, 0.8];
    const viaKernel = await WeakAdditivity.create(checkpoint, layer!, alphas);
    const viaGraph = await WeakAdditivity.create(checkpoint, layer!, alphas, { viaGraph: true });
    await viaKernel.add(hA, hB, fa, fb, n);
    await viaGraph.add(hA, hB, fa, fb, n);
    const k = viaKernel.points();
    const g = viaGraph.points();
    k.forEach((p, i) => {
      expect(Math.abs(p.distance - g[i]!.distance)).toBeLessThan(1e-6);
      expect(p.skipped).toBe(g[i]!.skipped);
    });
    expect(Math.max(...g.map((p) => p.distance))).toBeGreaterThan(0);
    await Promise.all([sigma.release(), viaGraph.release()]);
  });
});
