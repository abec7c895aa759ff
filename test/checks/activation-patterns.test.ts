import { describe, expect, it } from 'vitest';
import { checkpointFromModel } from '../../lib/checkpoint.js';
import { matchActivations } from '../../lib/checks/activation-patterns.js';
import { selectLayers } from '../../lib/checks/layers.js';
import { nativeActivation, WeakAdditivity } from '../../lib/checks/weak-additivity.js';
import { native } from '../../lib/native.js';
import { helperModel } from '../../lib/onnx/build.js';
import { AttributeType, newAttribute, newModel, newNode, newValueInfo, shapeDims, type ModelProto, type NodeProto } from '../../lib/onnx/proto.js';
import { floatOutput, GraphSession } from '../../lib/session.js';

type Step = [op: string, inputs: string[], output: string];
const N = 5;
const T = 4;
const D = 6;

function random(n: number, seed: number): Float32Array {
  let s = seed;
  return Float32Array.from({ length: n }, () => {
    s = (s * 1103515245 + 12345) % 2 ** 31;
    return (s / 2 ** 31 - 0.5) * 8;
  });
}

/** x (N×T×D) → the steps (their last output is y) → y·W: a decomposed activation inside a tiny network. */
function network(steps: Step[], constants: Record<string, number>, options: { opset?: number; outputs?: string[] } = {}) {
  const like = newModel({ irVersion: 8n, opsetImport: [{ domain: '', version: BigInt(options.opset ?? 17) }] });
  const nodes: NodeProto[] = steps.map(([op, input, out], i) => newNode({ opType: op, input, output: [out], name: `/act/${op}_${i}` }));
  nodes.push(newNode({ opType: 'MatMul', input: ['y', 'W'], output: ['z'], name: '/head/MatMul' }));
  const initializers = [
    ...Object.entries(constants).map(([name, v]) => ({ name, values: Float32Array.of(v), dims: [] })),
    { name: 'W', values: random(D * 3, 9), dims: [D, 3] },
  ];
  const model = helperModel(like, nodes, ['x'], ['z', ...(options.outputs ?? [])], initializers);
  model.graph!.input = [newValueInfo({ name: 'x', type: { value: { case: 'tensorType', value: { elemType: 1, shape: { dim: shapeDims(['N', T, D]) } } } } })];
  return { model, checkpoint: checkpointFromModel({ file: 'net.onnx', proto: model }) };
}

const EXACT = { sqrt2: Math.SQRT2, one: 1, half: 0.5 };
const TANH = { three: 3, kappa: 0.044715, beta: Math.sqrt(2 / Math.PI), one: 1, half: 0.5 };

const exactForms: [string, Step[], Record<string, number>][] = [
  ['torch 1.13: Div, Erf, Add 1, Mul x, Mul 0.5', [['Div', ['x', 'sqrt2'], 'd'], ['Erf', ['d'], 'e'], ['Add', ['e', 'one'], 'a'], ['Mul', ['x', 'a'], 'm'], ['Mul', ['m', 'half'], 'y']], EXACT],
  ['inputs swapped, Mul by 1/√2', [['Mul', ['rsqrt2', 'x'], 'd'], ['Erf', ['d'], 'e'], ['Add', ['one', 'e'], 'a'], ['Mul', ['a', 'x'], 'm'], ['Mul', ['half', 'm'], 'y']], { rsqrt2: Math.SQRT1_2, one: 1, half: 0.5 }],
  ['0.5 applied to x first', [['Mul', ['x', 'half'], 'h'], ['Div', ['x', 'sqrt2'], 'd'], ['Erf', ['d'], 'e'], ['Add', ['e', 'one'], 'a'], ['Mul', ['h', 'a'], 'y']], EXACT],
  ['0.5 applied to (1 + erf) first', [['Div', ['x', 'sqrt2'], 'd'], ['Erf', ['d'], 'e'], ['Add', ['e', 'one'], 'a'], ['Mul', ['a', 'half'], 'h'], ['Mul', ['x', 'h'], 'y']], EXACT],
];

const tanhInner: Step[] = [['Add', ['x', 'k'], 's'], ['Mul', ['beta', 's'], 'u'], ['Tanh', ['u'], 't'], ['Add', ['one', 't'], 'a'], ['Mul', ['x', 'a'], 'm'], ['Mul', ['half', 'm'], 'y']];
const tanhForms: [string, Step[], Record<string, number>][] = [
  ['torch 1.13: x·x·x, Mul 0.044715, Add, Mul √(2/π), Tanh, Add 1, Mul x, Mul 0.5', [['Mul', ['x', 'x'], 'xx'], ['Mul', ['x', 'xx'], 'c'], ['Mul', ['kappa', 'c'], 'k'], ...tanhInner], TANH],
  ['Pow(x, 3)', [['Pow', ['x', 'three'], 'c'], ['Mul', ['c', 'kappa'], 'k'], ...tanhInner], TANH],
];

async function sigmaOfGraph(model: ModelProto, h: Float32Array): Promise<Float32Array> {
  const probe = helperModel(model, model.graph!.node!.filter((n) => n.opType !== 'MatMul'), ['x'], ['y'], []);
  probe.graph!.initializer = model.graph!.initializer!.filter((t) => t.name !== 'W');
  const session = await GraphSession.create(probe, 'decomposed activation');
  try {
    return floatOutput(await session.run({ x: { data: h, dims: [h.length / (T * D), T, D] } }), 'y', 'y').data;
  } finally {
    await session.release();
  }
}

describe('decomposed GELU: recognized by graph pattern, weak additivity by the native kernel equals the exported graph', () => {
  it.each([...exactForms.map((f) => [...f, 'none'] as const), ...tanhForms.map((f) => [...f, 'tanh'] as const)])('%s', async (_, steps, constants, approximate) => {
    const { model, checkpoint } = network(steps, constants);
    const layers = selectLayers(checkpoint);
    expect(layers.map((l) => [l.op, l.kind, l.name])).toEqual([['Gelu', 'activation', 'y'], ['MatMul', 'logits', 'z']]);
    const [gelu] = layers;
    expect(gelu!.activationInput).toBe('x');
    expect(gelu!.tokens).toBe(true);
    expect(gelu!.activationPattern!.kernel).toBe(approximate === 'tanh' ? 'GeluTanh' : 'Gelu');
    expect(gelu!.activationPattern!.nodes).toEqual(steps.map((_, i) => i));
    expect(selectLayers(checkpoint, ['gelu']).map((l) => l.name)).toEqual(['y']);

    // The native kernel against onnxruntime running the exported nodes, per token.
    const hA = { data: random(N * T * D, 1), dims: [N, T, D] };
    const hB = { data: random(N * T * D, 2), dims: [N, T, D] };
    const [fa, fb] = [await sigmaOfGraph(model, hA.data), await sigmaOfGraph(model, hB.data)];
    const alphas = [0.2, 0.5, 0.9];
    const viaKernel = await WeakAdditivity.create(checkpoint, gelu!, alphas);
    const viaGraph = await WeakAdditivity.create(checkpoint, gelu!, alphas, { viaGraph: true });
    await viaKernel.add(hA, hB, fa, fb, N * T);
    await viaGraph.add(hA, hB, fa, fb, N * T);
    const g = viaGraph.points();
    viaKernel.points().forEach((p, k) => {
      expect(Math.abs(p.distance - g[k]!.distance)).toBeLessThan(1e-6);
      expect(p.distance).toBeGreaterThan(0);
    });
    await viaGraph.release();
  });

  const exact = exactForms[0]![1];
  it.each([
    ['0.6 for 0.5', exact, { ...EXACT, half: 0.6 }],
    ['2 for √2', exact, { ...EXACT, sqrt2: 2 }],
    ['0.05 for 0.044715', tanhForms[0]![1], { ...TANH, kappa: 0.05 }],
    ['Pow(x, 2) for x³', tanhForms[1]![1], { ...TANH, three: 2 }],
  ])('a wrong constant (%s) is not a GELU', (_, steps, constants) => {
    const { checkpoint } = network(steps, constants);
    expect(matchActivations(checkpoint.model.graph!).size).toBe(0);
    expect(selectLayers(checkpoint).some((l) => l.op === 'Gelu')).toBe(false);
  });

  it('is not a GELU when another node or a graph output reads one of its inner values', () => {
    const { checkpoint } = network(exactForms[0]![1], EXACT, { outputs: ['e'] });
    expect(matchActivations(checkpoint.model.graph!).size).toBe(0);
  });

  it('keeps the Add inside the tanh form out of the residual Adds', () => {
    const { checkpoint } = network(tanhForms[0]![1], TANH);
    expect(selectLayers(checkpoint).filter((l) => l.kind === 'add')).toEqual([]);
  });

  it.each(['none', 'tanh'])('the opset-20 Gelu op (approximate %s) is a default layer checked by weak additivity', (approximate) => {
    const { checkpoint } = network([['Gelu', ['x'], 'y']], {}, { opset: 20 });
    const node = checkpoint.model.graph!.node!.find((n) => n.opType === 'Gelu')!;
    node.attribute = [newAttribute({ name: 'approximate', s: Buffer.from(approximate), type: AttributeType.STRING })];
    const [gelu] = selectLayers(checkpoint);
    expect([gelu!.op, gelu!.kind, gelu!.activationInput]).toEqual(['Gelu', 'activation', 'x']);
    expect(nativeActivation(node)!.id).toBe(native().activations[approximate === 'tanh' ? 'GeluTanh' : 'Gelu']);
  });
});
