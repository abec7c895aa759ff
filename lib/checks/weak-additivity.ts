/**
 * Weak additivity of an activation (SCIENCE.md §3): with pre-activations h_A, h_B of A and B,
 * d(σ((1−α)h_A + αh_B), (1−α)σ(h_A) + ασ(h_B)) per sample, mean. The common activations are
 * mixed, applied and compared in one native pass (float64); any other element-wise op is run
 * by onnxruntime on a one-node graph copied from the model, so its semantics are exact.
 */
import type { Checkpoint } from '../checkpoint.js';
import { interpolateArenas } from '../interpolate.js';
import { native, type NativeActivation } from '../native.js';
import { helperModel, renode } from '../onnx/build.js';
import type { AttributeProto, NodeProto } from '../onnx/proto.js';
import type { WeakAdditivityPoint } from '../report/types.js';
import { floatOutput, GraphSession, type FloatTensor } from '../session.js';
import { CosineAccumulator } from './cosine.js';
import type { LayerSpec } from './layers.js';

function attribute(node: NodeProto, name: string): AttributeProto | undefined {
  return (node.attribute ?? []).find((a) => a.name === name);
}

function floatAttribute(node: NodeProto, name: string, fallback: number): number {
  const a = attribute(node, name);
  return a?.f ?? fallback;
}

/** The addon's name of an activation node's function, with its ONNX attributes (defaults applied) as alpha/beta. */
function kernelActivation(node: NodeProto): { name: string; alpha: number; beta: number } {
  const f = (name: string, fallback: number) => floatAttribute(node, name, fallback);
  switch (node.opType) {
    case 'LeakyRelu': return { name: 'LeakyRelu', alpha: f('alpha', 0.01), beta: 0 };
    case 'Elu': return { name: 'Elu', alpha: f('alpha', 1), beta: 0 };
    case 'Selu': return { name: 'Selu', alpha: f('alpha', 1.67326319217681884765625), beta: f('gamma', 1.05070102214813232421875) };
    case 'Celu': return { name: 'Celu', alpha: f('alpha', 1), beta: 0 };
    case 'HardSigmoid': return { name: 'HardSigmoid', alpha: f('alpha', 0.2), beta: f('beta', 0.5) };
    case 'ThresholdedRelu': return { name: 'ThresholdedRelu', alpha: f('alpha', 1), beta: 0 };
    case 'Gelu': {
      const approximate = attribute(node, 'approximate')?.s;
      const tanh = approximate ? Buffer.from(approximate).toString() === 'tanh' : false;
      return { name: tanh ? 'GeluTanh' : 'Gelu', alpha: 0, beta: 0 };
    }
    default: return { name: node.opType ?? '', alpha: 0, beta: 0 };
  }
}

/** The native kernel's description of an activation node, or null when only onnxruntime can run it. */
export function nativeActivation(node: NodeProto): NativeActivation | null {
  const { name, alpha, beta } = kernelActivation(node);
  const ids = native().activations;
  return Object.hasOwn(ids, name) ? { id: ids[name]!, alpha, beta } : null;
}

export class WeakAdditivity {
  private readonly accumulator: CosineAccumulator;
  private mixes: Float32Array[] = [];

  private constructor(
    readonly layer: LayerSpec,
    readonly alphas: readonly number[],
    private readonly kernel: NativeActivation | null,
    private readonly session: GraphSession | null,
  ) {
    this.accumulator = new CosineAccumulator(alphas);
  }

  /** `viaGraph` forces the onnxruntime path (used to cross-check the native one). */
  static async create(checkpoint: Checkpoint, layer: LayerSpec, alphas: readonly number[], options: { viaGraph?: boolean } = {}): Promise<WeakAdditivity> {
    const node = checkpoint.model.graph!.node![layer.nodeIndex]!;
    const kernel = options.viaGraph ? null : nativeActivation(node);
    if (kernel) return new WeakAdditivity(layer, alphas, kernel, null);
    const model = helperModel(checkpoint.model, [renode(node, ['h'], ['y'], 'sigma')], ['h'], ['y']);
    return new WeakAdditivity(layer, alphas, null, await GraphSession.create(model, `${checkpoint.file} (${layer.node})`));
  }

  /** One batch: pre-activations h_A, h_B and activations f_A = σ(h_A), f_B = σ(h_B). */
  async add(hA: FloatTensor, hB: FloatTensor, fa: Float32Array, fb: Float32Array, n: number): Promise<void> {
    if (this.kernel) {
      this.accumulator.addWeakAdditivity(hA.data, hB.data, fa, fb, n, this.kernel);
      return;
    }
    if (this.mixes.length !== this.alphas.length || this.mixes[0]!.length !== hA.data.length) {
      this.mixes = this.alphas.map(() => new Float32Array(hA.data.length));
    }
    interpolateArenas(hA.data, hB.data, this.alphas, this.mixes);
    const sigmaOfMix: Float32Array[] = [];
    for (const mix of this.mixes) {
      const out = await this.session!.run({ h: { data: mix, dims: hA.dims } });
      sigmaOfMix.push(floatOutput(out, 'y', this.layer.node).data);
    }
    this.accumulator.add(sigmaOfMix, fa, fb, n);
  }

  points(): WeakAdditivityPoint[] {
    return this.alphas.map((alpha, k) => {
      const s = this.accumulator.summary(k);
      return { alpha, distance: s.distance, skipped: s.skipped };
    });
  }

  async release(): Promise<void> {
    await this.session?.release();
  }
}
