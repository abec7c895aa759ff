/**
 * Weak additivity of an activation (SCIENCE.md §3): with pre-activations h_A, h_B of A and B,
 * d(σ((1−α)h_A + αh_B), (1−α)σ(h_A) + ασ(h_B)) per sample, mean. The common activations are
 * mixed, applied and compared in one native pass (float64); any other element-wise op is run
 * by onnxruntime on a one-node graph copied from the model, so its semantics are exact.
 * Printed as columns of the per-layer table, shown as a table and bars.
 */
import type { Checkpoint } from '../checkpoint.js';
import { interpolateArenas } from '../interpolate.js';
import { native, type NativeActivation } from '../native.js';
import { floatAttr, stringAttr } from '../onnx/attributes.js';
import { helperModel, renode } from '../onnx/build.js';
import { initializerAliases, initializerMap, nodeName } from '../onnx/graph.js';
import type { ModelProto, NodeProto } from '../onnx/proto.js';
import { readFloat32, tensorShape } from '../onnx/tensor.js';
import { ALIGNED, alphaText as chartAlpha, distanceBars, NAIVE, type Chart } from '../present/charts.js';
import { alphaText, both, figure, layerNameCell, numCell, opCell, table } from '../present/html.js';
import { alphaNearestHalf, layerAlphas, layerLabels, type ReportSections } from '../present/sections.js';
import { fixed } from '../present/text.js';
import type { LayerReport, PairAnalysis, WeakAdditivityPoint } from '../results.js';
import { floatOutput, GraphSession, type FloatTensor } from '../session.js';
import type { CheckDefinition, PairBatch, PairCheck, PairSetup } from './check.js';
import { CosineAccumulator, sampleCount } from './cosine.js';
import type { LayerSpec } from './layers.js';

/** The addon's name of an activation node's function, with its ONNX attributes (defaults applied) as alpha/beta. */
function kernelActivation(node: NodeProto): { name: string; alpha: number; beta: number } {
  const f = (name: string, fallback: number) => floatAttr(node, name, fallback);
  switch (node.opType) {
    case 'LeakyRelu': return { name: 'LeakyRelu', alpha: f('alpha', 0.01), beta: 0 };
    case 'Elu': return { name: 'Elu', alpha: f('alpha', 1), beta: 0 };
    case 'Selu': return { name: 'Selu', alpha: f('alpha', 1.67326319217681884765625), beta: f('gamma', 1.05070102214813232421875) };
    case 'Celu': return { name: 'Celu', alpha: f('alpha', 1), beta: 0 };
    case 'HardSigmoid': return { name: 'HardSigmoid', alpha: f('alpha', 0.2), beta: f('beta', 0.5) };
    case 'ThresholdedRelu': return { name: 'ThresholdedRelu', alpha: f('alpha', 1), beta: 0 };
    case 'Gelu': return { name: stringAttr(node, 'approximate') === 'tanh' ? 'GeluTanh' : 'Gelu', alpha: 0, beta: 0 };
    default: return { name: node.opType ?? '', alpha: 0, beta: 0 };
  }
}

function tableEntry({ name, alpha, beta }: { name: string; alpha: number; beta: number }): NativeActivation | null {
  const ids = native().activations;
  return Object.hasOwn(ids, name) ? { id: ids[name]!, alpha, beta } : null;
}

/** The native kernel's description of an activation node, or null when only onnxruntime can run it. */
export function nativeActivation(node: NodeProto): NativeActivation | null {
  return tableEntry(kernelActivation(node));
}

/** The kernel of a layer's activation: its node's op, or the decomposed activation it was recognized as. */
function layerKernel(checkpoint: Checkpoint, layer: LayerSpec): NativeActivation | null {
  const pattern = layer.activationPattern;
  return pattern ? tableEntry({ name: pattern.kernel, alpha: 0, beta: 0 }) : nativeActivation(checkpoint.model.graph!.node![layer.nodeIndex]!);
}

/** The names σ's graph reads and writes: chosen so no graph's own values collide with them. */
const SIGMA_IN = 'llfc.sigma.h';
const SIGMA_OUT = 'llfc.sigma.y';

/**
 * σ as a graph for onnxruntime, reading SIGMA_IN and writing SIGMA_OUT: the activation's node, or the nodes of a
 * decomposed activation with the constants they read (Constant nodes, initializers).
 */
function sigmaModel(checkpoint: Checkpoint, layer: LayerSpec): ModelProto {
  const graph = checkpoint.model.graph!;
  const nodes = graph.node!;
  const pattern = layer.activationPattern;
  if (!pattern) return helperModel(checkpoint.model, [renode(nodes[layer.nodeIndex]!, [SIGMA_IN], [SIGMA_OUT], 'sigma')], [SIGMA_IN], [SIGMA_OUT]);
  const x = layer.activationInput!;
  const copies = pattern.nodes.map((i) => {
    const n = nodes[i]!;
    return renode(n, (n.input ?? []).map((v) => (v === x ? SIGMA_IN : v)), i === layer.nodeIndex ? [SIGMA_OUT] : [...(n.output ?? [])], nodeName(n, i));
  });
  const reads = new Set(copies.flatMap((n) => n.input ?? []));
  const constants = nodes.filter((n) => n.opType === 'Constant' && reads.has(n.output?.[0] ?? ''));
  const tensors = initializerMap(graph);
  const aliases = initializerAliases(graph, tensors);
  const initializers = [...reads].flatMap((name) => {
    const t = tensors.get(aliases.get(name) ?? name);
    return t ? [{ name, values: readFloat32(t, checkpoint.file), dims: tensorShape(t) }] : [];
  });
  return helperModel(checkpoint.model, [...constants, ...copies], [SIGMA_IN], [SIGMA_OUT], initializers);
}

export class WeakAdditivity {
  readonly accumulator: CosineAccumulator;
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
    const kernel = options.viaGraph ? null : layerKernel(checkpoint, layer);
    if (kernel) return new WeakAdditivity(layer, alphas, kernel, null);
    return new WeakAdditivity(layer, alphas, null, await GraphSession.create(sigmaModel(checkpoint, layer), `${checkpoint.file} (${layer.node})`));
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
      const out = await this.session!.run({ [SIGMA_IN]: { data: mix, dims: hA.dims } });
      sigmaOfMix.push(floatOutput(out, SIGMA_OUT, this.layer.node).data);
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

/**
 * Weak additivity of every reported activation without parameters; its baseline
 * d(σ(h̃_A), σ(h̃_B)) compares the activation's own outputs, so it is the LLFC baseline
 * d(f_A, f_B) of that layer, which LLFC (before it in the registry) measures.
 */
class WeakAdditivityCheck implements PairCheck {
  readonly needs;

  private constructor(
    private readonly setup: PairSetup,
    private readonly activations: readonly WeakAdditivity[],
  ) {
    this.needs = {
      endpointValues: activations.flatMap((w) => [w.layer.activationInput!, w.layer.name]),
      alphas: [],
      interpolatedValues: [],
      groups: activations.map((w) => [w.layer.activationInput!, w.layer.name]),
    };
  }

  static async create(setup: PairSetup): Promise<WeakAdditivityCheck> {
    const layers = setup.layers.filter((l) => l.activationInput !== undefined);
    const activations: WeakAdditivity[] = [];
    try {
      for (const layer of layers) activations.push(await WeakAdditivity.create(setup.a, layer, setup.alphas));
    } catch (e) {
      await Promise.all(activations.map((w) => w.release()));
      throw e;
    }
    return new WeakAdditivityCheck(setup, activations);
  }

  async add(batch: PairBatch): Promise<void> {
    for (const w of this.activations) {
      const l = w.layer;
      if (!batch.covers([l.activationInput!, l.name])) continue;
      const fa = batch.value(l.name, 0, l.node);
      const fb = batch.value(l.name, 1, l.node).data;
      await w.add(batch.value(l.activationInput!, 0, l.node), batch.value(l.activationInput!, 1, l.node), fa.data, fb, sampleCount(fa, l.tokens));
    }
  }

  result(earlier: readonly Partial<LayerReport>[]) {
    const byName = new Map(this.activations.map((w) => [w.layer.name, w.points()]));
    return {
      layers: this.setup.layers.map((l, i) => {
        const points = byName.get(l.name);
        return points && { weakAdditivity: points, weakAdditivityBaseline: earlier[i]!.baseline! };
      }),
    };
  }

  accumulators() {
    return new Map(this.activations.map((w) => [w.layer.name, w.accumulator.sums]));
  }

  async release(): Promise<void> {
    await Promise.all(this.activations.map((w) => w.release()));
  }
}

function weakAdditivityTable(layers: readonly LayerReport[], caption?: string): string {
  const acts = layers.filter((l) => l.weakAdditivity && l.weakAdditivity.length > 0);
  const alphas = [...new Set(acts.flatMap((l) => l.weakAdditivity!.map((p) => p.alpha)))].sort((x, y) => x - y);
  const labels = layerLabels(acts);
  const rows = acts.map((l, i) => [
    layerNameCell(labels[i]!, l),
    opCell(l.op),
    l.weakAdditivityBaseline !== undefined ? numCell(l.weakAdditivityBaseline) : '<td class="num">—</td>',
    ...alphas.map((a) => {
      const p = l.weakAdditivity!.find((q) => q.alpha === a);
      return p ? numCell(p.distance) : '<td class="num">—</td>';
    }),
  ]);
  return table(['activation', 'op', 'baseline d(σ(h̃<sub>A</sub>), σ(h̃<sub>B</sub>))', ...alphas.map((a) => `α = ${alphaText(a)}`)], rows, { numeric: (i) => i > 1, ...(caption ? { caption } : {}) });
}

function weakAdditivityHtml(s: ReportSections, svgs: ReadonlyMap<string, string>) {
  if (!s.layers.some((l) => l.weakAdditivity && l.weakAdditivity.length > 0)) return null;
  const half = alphaNearestHalf(layerAlphas(s.layers));
  return {
    nav: [['weak-additivity', 'Weak additivity']] as const,
    body: `<section id="weak-additivity">
<h2>Weak additivity of the activations</h2>
<p class="explain">For each activation σ, the cosine distance between σ((1−α)·h̃<sub>A</sub> + α·h̃<sub>B</sub>) and (1−α)·σ(h̃<sub>A</sub>) + α·σ(h̃<sub>B</sub>), with h̃<sub>A</sub>, h̃<sub>B</sub> its inputs in A and in B; small against the baseline d(σ(h̃<sub>A</sub>), σ(h̃<sub>B</sub>)) means the activation is weakly additive${half !== null ? ` (the chart shows α = ${alphaText(half)})` : ''}.</p>
<div class="charts">${figure(svgs.get('weak-additivity'), 'weak-additivity')}</div>
<h3>Weak additivity distance per α</h3>
${both(s.layers, s.aligned?.layers, weakAdditivityTable)}
</section>`,
  };
}

/** Weak additivity of each activation at the α closest to ½ next to its baseline d(σ(h̃_A), σ(h̃_B)). */
function weakAdditivityChart(sections: ReportSections): Chart | null {
  const runs = [{ which: NAIVE, layers: sections.layers }, ...(sections.aligned ? [{ which: ALIGNED, layers: sections.aligned.layers }] : [])].map((r) => ({
    ...r,
    layers: r.layers.filter((l) => l.weakAdditivity && l.weakAdditivity.length > 0),
  }));
  const first = runs[0]!;
  if (first.layers.length === 0) return null;
  const alpha = alphaNearestHalf([...new Set(first.layers.flatMap((l) => l.weakAdditivity!.map((p) => p.alpha)))]);
  if (alpha === null) return null;
  return distanceBars(
    { id: 'weak-additivity', title: `Weak additivity of the activations at α = ${chartAlpha(alpha)}`, subtitle: 'distance of σ of mixed pre-activations from the mix of activations, vs baseline' },
    runs,
    alpha,
    { distance: 'weak additivity distance', series: 'weak additivity', baseline: 'baseline d(σ(h̃_A), σ(h̃_B))' },
    (l) => l.weakAdditivity!,
    (l) => l.weakAdditivityBaseline,
  );
}

export const weakAdditivityCheck = {
  id: 'weak-additivity',
  perLayer: true,
  option: { name: 'weakAdditivity', description: 'the weak-additivity check' } as const,
  create: (setup): Promise<PairCheck> => WeakAdditivityCheck.create(setup),
  // Columns of every layer, blank for the layers that are not activations.
  layerColumns: (analysis: PairAnalysis) => ({
    header: analysis.alphas.map((a) => `WA α=${a}`),
    legend: 'WA: weak additivity',
    cells: (l: LayerReport) => (l.weakAdditivity ? l.weakAdditivity.map((p) => fixed(p.distance)) : analysis.alphas.map(() => '')),
  }),
  html: weakAdditivityHtml,
  charts: (s) => [weakAdditivityChart(s)],
} satisfies CheckDefinition;
