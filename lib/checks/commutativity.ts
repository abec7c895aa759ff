/**
 * Commutativity of a linear layer (SCIENCE.md §4): with weights W_A, W_B and the layer's
 * inputs H_A, H_B over the data, bias excluded, X = W_A·H_A + W_B·H_B and Y = W_A·H_B + W_B·H_A;
 * dist_com = ‖X − Y‖²_F / (‖X‖_F‖Y‖_F), with baselines dist_W and dist_H of the same form.
 * The products use the layer's own op (Gemm, MatMul, Conv with its attributes) in onnxruntime;
 * X comes from A's and B's outputs of the layer, less their biases, where the biases are parameters.
 * Printed and shown as a table and bars per linear layer.
 */
import type { Checkpoint } from '../checkpoint.js';
import { releaseFilePages } from '../file-backed.js';
import { native } from '../native.js';
import { helperModel, renode } from '../onnx/build.js';
import { encodeModel } from '../onnx/model.js';
import { floatAttr } from '../onnx/attributes.js';
import type { ModelProto, NodeProto } from '../onnx/proto.js';
import { COLORS, exact, groupedBars, type BarRow, type Chart } from '../present/charts.js';
import { both, esc, figure, numCell, opCell, table } from '../present/html.js';
import { layerLabels, type ReportSections } from '../present/sections.js';
import { fixed, formatTable } from '../present/text.js';
import type { CommutativityReport, PairAnalysis } from '../results.js';
import { bakesWeights, floatOutput, GraphSession, keepsEveryArray, TRANSFORMED_WEIGHT_OPS, type FloatTensor } from '../session.js';
import { OutputBuffers } from '../runner.js';
import { Sums } from '../sums.js';
import type { CheckDefinition, PairBatch, PairCheck, PairSetup } from './check.js';
import { linearLayers, parameterAt, type LinearLayerSpec } from './layers.js';

/** A rows×cols matrix transposed. */
function transpose2d(w: Float32Array, [rows, cols]: readonly number[]): Float32Array {
  const out = new Float32Array(w.length);
  for (let r = 0; r < rows!; r++) for (let c = 0; c < cols!; c++) out[c * rows! + r] = w[r * cols! + c]!;
  return out;
}

/**
 * What the layer adds to its product, summed over A and B and shaped as its output broadcasts it:
 * β·(C_A + C_B) for Gemm, b_A + b_B as [M, 1, …] for Conv; null where the layer has no bias
 * (MatMul, a Conv or Gemm without one); undefined where the bias is not a parameter of the pair.
 */
function summedBias(a: Checkpoint, b: Checkpoint, layer: LinearLayerSpec, node: NodeProto): FloatTensor | null | undefined {
  if (layer.op === 'MatMul' || !node.input[2]) return null;
  const bias = parameterAt(a, layer.nodeIndex, 2);
  if (!bias) return undefined;
  const scale = layer.op === 'Gemm' ? floatAttr(node, 'beta', 1) : 1;
  const [ba, bb] = [a, b].map((c) => c.arena.subarray(bias.offset, bias.offset + bias.length)) as [Float32Array, Float32Array];
  const data = Float32Array.from(ba, (v, i) => scale * (v + bb[i]!));
  const weightRank = a.parameters[layer.weight]!.shape.length;
  return { data, dims: layer.op === 'Conv' ? [bias.length, ...Array<number>(weightRank - 2).fill(1)] : bias.shape };
}

/**
 * A layer output's dims as outer × channels × inner around the axes its bias varies along
 * (ONNX broadcasting aligns dims from the right): a conv's [M, 1, 1] over N×M×H×W is N × M × H·W;
 * Gemm's [n] over m×n is m × n × 1; no bias (or one value) is N × 1 × the rest.
 */
function biasLayout(out: readonly number[], bias: readonly number[] = []): { outer: number; channels: number; inner: number } {
  const size = (dims: readonly number[]) => dims.reduce((p, x) => p * x, 1);
  const offset = out.length - bias.length;
  const varying = bias.flatMap((n, k) => (n === 1 ? [] : [k + offset]));
  if (varying.length === 0) return { outer: out[0] ?? 1, channels: 1, inner: size(out.slice(1)) };
  const [first, last] = [varying[0]!, varying.at(-1)!];
  return { outer: size(out.slice(0, first)), channels: size(out.slice(first, last + 1)), inner: size(out.slice(last + 1)) };
}

/** ‖x − y‖² / (‖x‖‖y‖) from the three sums of squares. */
export function relativeSquaredDistance(sums: Float64Array): number {
  const denominator = Math.sqrt(sums[1]!) * Math.sqrt(sums[2]!);
  return denominator > 0 ? sums[0]! / denominator : 0;
}

/** Where X comes from the layer's outputs: their name, and the bias summed over A and B (null: none). */
interface OutputsForm {
  readonly output: string;
  readonly bias: FloatTensor | null;
}

export class Commutativity {
  /** Over the data: [‖Y‖², ‖X‖², ‖X − Y‖²] and [‖H_A − H_B‖², ‖H_A‖², ‖H_B‖²]. */
  readonly xd = new Sums(3);
  readonly h = new Sums(3);
  /** Of the weights, once. */
  private readonly w = new Float64Array(3);
  private readonly batch = new Float64Array(3);
  /** The arrays the helper graph's outputs are written into (keepsEveryArray), else none: new ones per run. */
  private readonly products: OutputBuffers | undefined;

  private constructor(
    readonly layer: LinearLayerSpec,
    private readonly weightName: string,
    /** X from A's and B's outputs of the layer; null where X is a second product. */
    readonly fromOutputs: OutputsForm | null,
    /** The weights fed per run (none where they are baked into the session). */
    private readonly weights: Record<string, FloatTensor>,
    private readonly session: GraphSession,
    private readonly where: string,
    keepsProducts: boolean,
  ) {
    this.products = keepsProducts ? new OutputBuffers() : undefined;
  }

  static async create(a: Checkpoint, b: Checkpoint, layer: LinearLayerSpec, helpers: HelperSessions): Promise<Commutativity> {
    const node = a.model.graph!.node![layer.nodeIndex]!;
    const weight = a.parameters[layer.weight]!;
    const weightSlot = layer.weightSlot;
    // A weight read through a Transpose (a tied head) enters the product as the node sees it.
    const [wa, wb] = [a, b].map((c) => {
      const w = c.arena.subarray(weight.offset, weight.offset + weight.length);
      return layer.transposed ? transpose2d(w, weight.shape) : w;
    }) as [Float32Array, Float32Array];
    const dims = layer.transposed ? [...weight.shape].reverse() : weight.shape;
    // Only the data and weight inputs: the bias is excluded by definition.
    const product = (h: string, w: string, out: string) => renode(node, weightSlot === 0 ? [w, h] : [h, w], [out], out);
    // X − Y = ΔW·ΔH (D) is one product, free of cancellation. X = W_A·H_A + W_B·H_B is, where
    // the layer's bias is a parameter (or it has none), A's and B's own outputs of the layer
    // less their biases: values the pass computes anyway, so one product per layer. Otherwise
    // it is a second product, by bilinearity ΣW·ΣH + ΔW·ΔH = 2(W_A·H_A + W_B·H_B).
    const bias = summedBias(a, b, layer, node);
    const fromOutputs = bias === undefined ? null : { output: node.output[0]!, bias };
    const d = [renode({ opType: 'Sub' }, ['HA', 'HB'], ['dH'], 'dH'), product('dH', 'dW', 'D')];
    const x = [
      renode({ opType: 'Add' }, ['HA', 'HB'], ['sH'], 'sH'),
      product('sH', 'sW', 'S'),
      renode({ opType: 'Add' }, ['S', 'D'], ['SD'], 'SD'),
      renode({ opType: 'Mul' }, ['SD', 'half'], ['X'], 'X'),
    ];
    const nodes = fromOutputs ? d : [...d, ...x];
    const outputs = fromOutputs ? ['D'] : ['X', 'D'];
    const half = { name: 'half', dims: [], values: Float32Array.of(0.5) };
    // A convolution's ΔW (and ΣW, for a second product) is baked into a session of its own where
    // the model's weights are (bakesWeights): onnxruntime pre-packs constant conv weights and runs
    // them in its blocked layout, over twice as fast here. Other products share one session per
    // graph, fed W_A and W_B per run (views of the arenas) and forming ΔW (and ΣW) in the graph,
    // so that no copy of the weights is held.
    const baked = helpers.bakesConvWeights && TRANSFORMED_WEIGHT_OPS.has(layer.op);
    const model = baked
      ? helperModel(a.model, nodes, ['HA', 'HB'], outputs, [
          { name: 'dW', dims, values: Float32Array.from(wa, (v, i) => v - wb[i]!) },
          ...(fromOutputs ? [] : [half, { name: 'sW', dims, values: Float32Array.from(wa, (v, i) => v + wb[i]!) }]),
        ])
      : helperModel(
          a.model,
          [
            renode({ opType: 'Sub' }, ['WA', 'WB'], ['dW'], 'dW'),
            ...(fromOutputs ? [] : [renode({ opType: 'Add' }, ['WA', 'WB'], ['sW'], 'sW')]),
            ...nodes,
          ],
          ['HA', 'HB', 'WA', 'WB'],
          outputs,
          fromOutputs ? [] : [half],
        );
    const where = `${a.file} (${layer.node})`;
    const fed: Record<string, FloatTensor> = baked ? {} : { WA: { data: wa, dims }, WB: { data: wb, dims } };
    const c = new Commutativity(layer, weight.tensor, fromOutputs, fed, await (baked ? helpers.own(model, where) : helpers.shared(model, where)), where, helpers.keepsProducts);
    native().sumSquares(wa, wb, c.w);
    // A large pair's arenas are read here layer by layer: each layer's pages go back once read
    // where they are file-backed (the pass reads them again, a segment at a time).
    for (const checkpoint of [a, b]) releaseFilePages(checkpoint.arena.subarray(weight.offset, weight.offset + weight.length));
    return c;
  }

  /** The values a batch reads from A and B: the layer's input, and its output where X comes from it. */
  get endpointValues(): string[] {
    return this.fromOutputs ? [this.layer.input, this.fromOutputs.output] : [this.layer.input];
  }

  /** One batch of the layer's inputs (and outputs, where X comes from them) in A and in B. */
  async add(batch: PairBatch): Promise<void> {
    if (!batch.covers(this.endpointValues)) return;
    const node = this.layer.node;
    const [hA, hB] = [batch.value(this.layer.input, 0, node), batch.value(this.layer.input, 1, node)];
    const out = await this.session.run({ HA: hA, HB: hB, ...this.weights }, this.where, this.products);
    const d = floatOutput(out, 'D', node);
    this.batch.fill(0);
    if (this.fromOutputs) {
      const { output, bias } = this.fromOutputs;
      const [zA, zB] = [batch.value(output, 0, node), batch.value(output, 1, node)];
      native().outputCommutativitySums({ za: zA.data, zb: zB.data, ...(bias ? { bias: bias.data } : {}), d: d.data, ...biasLayout(zA.dims, bias?.dims), out: this.batch });
    } else {
      // sumSquares(X, D) gives [‖X − D‖², ‖X‖², ‖D‖²] = [‖Y‖², ‖X‖², ‖X − Y‖²].
      native().sumSquares(floatOutput(out, 'X', node).data, d.data, this.batch);
    }
    this.xd.addAll(this.batch);
    this.addSquares(this.h, hA.data, hB.data);
  }

  /** One batch's sums of squares, added compensated (lib/sums.ts). */
  private addSquares(sums: Sums, x: Float32Array, y: Float32Array): void {
    this.batch.fill(0);
    native().sumSquares(x, y, this.batch);
    sums.addAll(this.batch);
  }

  report(): CommutativityReport {
    return {
      node: this.layer.node,
      weight: this.weightName,
      op: this.layer.op,
      module: this.layer.module,
      distCom: relativeSquaredDistance(this.xd.values().reverse()),
      distW: relativeSquaredDistance(this.w),
      distH: relativeSquaredDistance(this.h.values()),
    };
  }

}

/**
 * The helper sessions of the layers' products: layers with the same op, attributes and weight
 * slot whose weights are fed per run (a transformer's q, k, v and out projections) share one
 * session; a layer whose weights are baked in has its own.
 */
class HelperSessions {
  private readonly byGraph = new Map<string, Promise<GraphSession>>();
  private readonly owned: Promise<GraphSession>[] = [];

  /**
   * `bakesConvWeights`: whether conv layers bake ΣW and ΔW into sessions of their own (bakesWeights
   * of the pair's model); `keepsProducts`: whether each layer keeps arrays for its products (keepsEveryArray).
   */
  constructor(
    readonly bakesConvWeights: boolean,
    readonly keepsProducts: boolean,
  ) {}

  /** A session of a graph fed its weights per run, shared by every layer with the same graph (keyed by its bytes). */
  shared(model: ModelProto, where: string): Promise<GraphSession> {
    const bytes = encodeModel(model);
    const key = Buffer.from(bytes).toString('base64');
    let session = this.byGraph.get(key);
    if (!session) {
      session = GraphSession.create(bytes, where);
      this.byGraph.set(key, session);
    }
    return session;
  }

  /** A session of a graph that holds one layer's weights: never shared, so never keyed. */
  own(model: ModelProto, where: string): Promise<GraphSession> {
    const session = GraphSession.create(model, where);
    this.owned.push(session);
    return session;
  }

  async release(): Promise<void> {
    const settled = await Promise.allSettled([...this.byGraph.values(), ...this.owned]);
    await Promise.all(settled.flatMap((s) => (s.status === 'fulfilled' ? [s.value.release()] : [])));
  }
}

/** Commutativity of every linear layer of the pair. */
class CommutativityCheck implements PairCheck {
  readonly needs;

  private constructor(
    private readonly layers: readonly Commutativity[],
    private readonly helpers: HelperSessions,
  ) {
    this.needs = { endpointValues: layers.flatMap((c) => c.endpointValues), alphas: [], interpolatedValues: [] };
  }

  static async create(setup: PairSetup): Promise<CommutativityCheck> {
    const layers: Commutativity[] = [];
    const helpers = new HelperSessions(bakesWeights(setup.a), keepsEveryArray(setup.a));
    try {
      for (const l of linearLayers(setup.a)) layers.push(await Commutativity.create(setup.a, setup.b, l, helpers));
    } catch (e) {
      await helpers.release();
      throw e;
    }
    return new CommutativityCheck(layers, helpers);
  }

  async add(batch: PairBatch): Promise<void> {
    for (const c of this.layers) await c.add(batch);
  }

  result() {
    return { commutativity: this.layers.map((c) => c.report()) };
  }

  accumulators() {
    return new Map(this.layers.flatMap((c, i): [string, Sums][] => [
      [`${i} ${c.layer.node} X`, c.xd],
      [`${i} ${c.layer.node} H`, c.h],
    ]));
  }

  async release(): Promise<void> {
    await this.helpers.release();
  }
}

/** The name shown for a linear layer: module path, else the weight's name, else the node. */
function linearLabels(rows: readonly CommutativityReport[]): string[] {
  return layerLabels(rows.map((c) => ({ name: c.weight || c.node, module: c.module })));
}

function commutativityTable(rows: readonly CommutativityReport[], caption?: string): string {
  const labels = linearLabels(rows);
  return table(
    ['linear layer', 'op', 'dist<sub>com</sub>', 'dist<sub>W</sub>', 'dist<sub>H</sub>'],
    rows.map((c, i) => [
      `<td class="layer"><span class="name${c.module ? '' : ' mono'}">${esc(labels[i]!)}</span><span class="sub mono">${esc(c.weight)}</span></td>`,
      opCell(c.op),
      numCell(c.distCom),
      numCell(c.distW),
      numCell(c.distH),
    ]),
    { numeric: (i) => i > 1, ...(caption ? { caption } : {}) },
  );
}

function commutativityHtml(s: ReportSections, svgs: ReadonlyMap<string, string>) {
  if (s.commutativity.length === 0) return null;
  const aligned = s.aligned?.commutativity;
  return {
    nav: [['commutativity', 'Commutativity']] as const,
    body: `<section id="commutativity">
<h2>Commutativity</h2>
<p class="explain">For each linear layer (Gemm, MatMul, Conv; bias excluded), dist<sub>com</sub> = ‖X − Y‖²<sub>F</sub> / (‖X‖<sub>F</sub>‖Y‖<sub>F</sub>) with X = W<sub>A</sub>H<sub>A</sub> + W<sub>B</sub>H<sub>B</sub> and Y = W<sub>A</sub>H<sub>B</sub> + W<sub>B</sub>H<sub>A</sub>, against the baselines dist<sub>W</sub> and dist<sub>H</sub>; weak additivity plus commutativity at every layer imply LLFC with c = 1 (Zhou et al. 2023).</p>
<div class="charts">${figure(svgs.get('commutativity'), 'commutativity')}${figure(svgs.get('commutativity-aligned'), 'commutativity-aligned')}</div>
<h3>Commutativity per linear layer</h3>
${both(s.commutativity, aligned && aligned.length > 0 ? aligned : undefined, commutativityTable)}
</section>`,
  };
}

/** dist_com next to its baselines dist_W and dist_H, per linear layer. */
function commutativityChart(sections: ReportSections, which: 'naive' | 'aligned' = 'naive'): Chart | null {
  const layers = which === 'naive' ? sections.commutativity : (sections.aligned?.commutativity ?? []);
  if (layers.length === 0) return null;
  const labels = linearLabels(layers);
  const series = [
    { name: 'dist_com', color: COLORS.distCom },
    { name: 'dist_W', color: COLORS.distW },
    { name: 'dist_H', color: COLORS.distH },
  ];
  const rows: BarRow[] = layers.flatMap((c, i) => {
    const tip = `${labels[i]} (${c.op}, weight ${c.weight}) · dist_com ${exact(c.distCom)} · dist_W ${exact(c.distW)} · dist_H ${exact(c.distH)}`;
    return [
      { label: labels[i]!, series: 'dist_com', value: c.distCom, tip },
      { label: labels[i]!, series: 'dist_W', value: c.distW, tip },
      { label: labels[i]!, series: 'dist_H', value: c.distH, tip },
    ];
  });
  return groupedBars(
    which === 'naive' ? 'commutativity' : 'commutativity-aligned',
    which === 'naive' ? 'Commutativity per linear layer' : 'Commutativity per linear layer, aligned',
    'dist_com = ‖(W_A − W_B)(H_A − H_B)‖² / (‖X‖‖Y‖), small vs dist_W and dist_H',
    labels,
    series,
    rows,
    'normalized squared distance',
    // Naive and aligned charts share the x scale.
    Math.max(...[...sections.commutativity, ...(sections.aligned?.commutativity ?? [])].flatMap((c) => [c.distCom, c.distW, c.distH]).filter(Number.isFinite)),
  );
}

export const commutativityCheck = {
  id: 'commutativity',
  perLayer: true,
  option: { name: 'commutativity', description: 'the commutativity check' } as const,
  create: (setup): Promise<PairCheck> => CommutativityCheck.create(setup),
  text: (analysis: PairAnalysis) =>
    analysis.commutativity.length === 0
      ? ''
      : `Commutativity per linear layer\n${formatTable(
          ['linear layer', 'op', 'dist_com', 'dist_W', 'dist_H'],
          analysis.commutativity.map((c) => [c.module ?? c.node, c.op, fixed(c.distCom), fixed(c.distW), fixed(c.distH)]),
        )}`,
  html: commutativityHtml,
  charts: (s) => [commutativityChart(s, 'naive'), commutativityChart(s, 'aligned')],
} satisfies CheckDefinition;
