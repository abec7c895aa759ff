/**
 * Weak additivity of an activation (SCIENCE.md §3): with pre-activations h_A, h_B of A and B,
 * d(σ((1−α)h_A + αh_B), (1−α)σ(h_A) + ασ(h_B)) per sample, mean. σ is run by onnxruntime on
 * a one-node graph copied from the model, so every activation op and attribute is exact.
 */
import type { Checkpoint } from '../checkpoint.js';
import { interpolateArenas } from '../interpolate.js';
import { helperModel, renode } from '../onnx/build.js';
import type { WeakAdditivityPoint } from '../report/types.js';
import { floatOutput, GraphSession, type FloatTensor } from '../session.js';
import { CosineAccumulator } from './cosine.js';
import type { LayerSpec } from './layers.js';

export class WeakAdditivity {
  private readonly accumulator: CosineAccumulator;
  private mixes: Float32Array[] = [];

  private constructor(
    readonly layer: LayerSpec,
    readonly alphas: readonly number[],
    private readonly session: GraphSession,
  ) {
    this.accumulator = new CosineAccumulator(alphas);
  }

  static async create(checkpoint: Checkpoint, layer: LayerSpec, alphas: readonly number[]): Promise<WeakAdditivity> {
    const node = checkpoint.model.graph!.node![layer.nodeIndex]!;
    const model = helperModel(checkpoint.model, [renode(node, ['h'], ['y'], 'sigma')], ['h'], ['y']);
    return new WeakAdditivity(layer, alphas, await GraphSession.create(model, `${checkpoint.file} (${layer.node})`));
  }

  /** One batch: pre-activations h_A, h_B and activations f_A = σ(h_A), f_B = σ(h_B). */
  async add(hA: FloatTensor, hB: FloatTensor, fa: Float32Array, fb: Float32Array, n: number): Promise<void> {
    if (this.mixes.length !== this.alphas.length || this.mixes[0]!.length !== hA.data.length) {
      this.mixes = this.alphas.map(() => new Float32Array(hA.data.length));
    }
    interpolateArenas(hA.data, hB.data, this.alphas, this.mixes);
    const sigmaOfMix: Float32Array[] = [];
    for (const mix of this.mixes) {
      const out = await this.session.run({ h: { data: mix, dims: hA.dims } });
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
    await this.session.release();
  }
}
