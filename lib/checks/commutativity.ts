/**
 * Commutativity of a linear layer (SCIENCE.md §4): with weights W_A, W_B and the layer's
 * inputs H_A, H_B over the data, bias excluded, X = W_A·H_A + W_B·H_B and Y = W_A·H_B + W_B·H_A;
 * dist_com = ‖X − Y‖²_F / (‖X‖_F‖Y‖_F), with baselines dist_W and dist_H of the same form.
 * The products use the layer's own op (Gemm, MatMul, Conv with its attributes) in onnxruntime.
 */
import type { Checkpoint } from '../checkpoint.js';
import { native } from '../native.js';
import { helperModel, renode } from '../onnx/build.js';
import type { CommutativityReport } from '../results.js';
import { floatOutput, GraphSession, type FloatTensor } from '../session.js';
import type { LinearLayerSpec } from './layers.js';

/** ‖x − y‖² / (‖x‖‖y‖) from the three sums of squares. */
export function relativeSquaredDistance(sums: Float64Array): number {
  const denominator = Math.sqrt(sums[1]!) * Math.sqrt(sums[2]!);
  return denominator > 0 ? sums[0]! / denominator : 0;
}

export class Commutativity {
  private readonly xd = new Float64Array(3);
  private readonly h = new Float64Array(3);
  private readonly w = new Float64Array(3);

  private constructor(
    readonly layer: LinearLayerSpec,
    private readonly weightName: string,
    private readonly session: GraphSession,
  ) {}

  static async create(a: Checkpoint, b: Checkpoint, layer: LinearLayerSpec): Promise<Commutativity> {
    const node = a.model.graph!.node![layer.nodeIndex]!;
    const weight = a.parameters[layer.weight]!;
    const weightSlot = weight.inputIndex;
    const wa = a.arena.subarray(weight.offset, weight.offset + weight.length);
    const wb = b.arena.subarray(weight.offset, weight.offset + weight.length);
    // Only the data and weight inputs: the bias is excluded by definition.
    const product = (h: string, w: string, out: string) => renode(node, weightSlot === 0 ? [w, h] : [h, w], [out], out);
    // X = W_A·H_A + W_B·H_B, and X − Y = (W_A − W_B)(H_A − H_B) as one product (no cancellation).
    const dw = Float32Array.from(wa, (v, i) => v - wb[i]!);
    const model = helperModel(
      a.model,
      [
        product('HA', 'WA', 'p1'),
        product('HB', 'WB', 'p2'),
        renode({ opType: 'Add' }, ['p1', 'p2'], ['X'], 'X'),
        renode({ opType: 'Sub' }, ['HA', 'HB'], ['dH'], 'dH'),
        product('dH', 'dW', 'D'),
      ],
      ['HA', 'HB'],
      ['X', 'D'],
      [
        { name: 'WA', values: wa, dims: weight.shape },
        { name: 'WB', values: wb, dims: weight.shape },
        { name: 'dW', values: dw, dims: weight.shape },
      ],
    );
    const c = new Commutativity(layer, weight.tensor, await GraphSession.create(model, `${a.file} (${layer.node})`));
    native().sumSquares(wa, wb, c.w);
    return c;
  }

  /** One batch of the layer's inputs in A and in B. */
  async add(hA: FloatTensor, hB: FloatTensor): Promise<void> {
    const out = await this.session.run({ HA: hA, HB: hB });
    // sumSquares(X, D) adds [‖X − D‖², ‖X‖², ‖D‖²] = [‖Y‖², ‖X‖², ‖X − Y‖²].
    native().sumSquares(floatOutput(out, 'X', this.layer.node).data, floatOutput(out, 'D', this.layer.node).data, this.xd);
    native().sumSquares(hA.data, hB.data, this.h);
  }

  report(): CommutativityReport {
    return {
      node: this.layer.node,
      weight: this.weightName,
      op: this.layer.op,
      module: this.layer.module,
      distCom: relativeSquaredDistance(Float64Array.of(this.xd[2]!, this.xd[1]!, this.xd[0]!)),
      distW: relativeSquaredDistance(this.w),
      distH: relativeSquaredDistance(this.h),
    };
  }

  async release(): Promise<void> {
    await this.session.release();
  }
}
