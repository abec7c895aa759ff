/**
 * REPAIR (Jordan et al., ICLR 2023; SCIENCE.md §6): the interpolated model θ(α) with each hidden
 * layer's pre-activation statistics corrected, per channel, to the interpolation of the
 * endpoints' statistics. Every standard deviation carries the same ε: σ̃ = √(σ² + ε); target
 * μ = (1−α)μ_A + αμ_B, σ = (1−α)σ̃_A + ασ̃_B; μ_α, σ̃_α measured in θ(α) with the earlier layers
 * already repaired; folded into the layer as W' = W·s per output channel and b' = b·s + (μ − μ_α·s),
 * s = σ/σ̃_α. ε under the target too makes REPAIR of an endpoint the identity (θ(0) = A measures
 * A's statistics, so s = 1 and μ − μ_α = 0 exactly), and a dead channel still gets the target mean.
 * A graph that keeps its BatchNormalization nodes gets the paper's BN form instead: every BN's
 * running mean and variance recomputed on θ(α), nothing else changed (not an identity at the
 * endpoints: the population statistics replace the trained running ones).
 *
 * The same correction repairs a merge of N models (lib/studies/merge-repair.ts): the endpoints are
 * the permuted models π_i(θ_i), the target μ = Σ_i w_i μ_i, σ = Σ_i w_i σ̃_i with the merge's
 * weights; a pair's θ(α) is the case N = 2, w = (1−α, α).
 *
 * Layers whose statistics do not depend on each other (every repaired layer above them already
 * corrected) are measured in one pass: a level is one pass over the statistics set, so an MLP
 * takes one pass per hidden layer and a ResNet's parallel branches share theirs. The endpoints
 * are measured the same way as θ(α), level by level in A's graph with the same taps, so that
 * θ(0) and θ(1) give exactly A's and B's numbers. Statistics are per-channel float64 sums from
 * the native kernel (channelMoments).
 */
import { checkpointFromModel, pairCheckpoints, withArena, type Checkpoint, type Parameter } from '../checkpoint.js';
import type { Dataset } from '../dataset/index.js';
import { InvalidArgumentError, ShapeMismatchError } from '../errors.js';
import { interpolateArenas, modelOfArena } from '../interpolate.js';
import { native } from '../native.js';
import { floatAttr, intAttr } from '../onnx/attributes.js';
import { nodeName, producerMap } from '../onnx/graph.js';
import { cloneModel } from '../onnx/model.js';
import { modulePath } from '../onnx/names.js';
import { DataType, int64s, newNode, newTensor, type ModelProto, type NodeProto } from '../onnx/proto.js';
import { writeFloat32 } from '../onnx/tensor.js';
import { CONTROL_OPTIONS, resolveOptions, type OptionSchema } from '../options.js';
import { throwIfAborted, type RunControl } from '../progress.js';
import { floatOutput, ModelSession } from '../session.js';

/** ε of σ̃ = √(σ² + ε), for θ(α)'s and the endpoints' σ alike: a channel that is constant in θ(α) gets the target mean instead of a division by zero. */
export const REPAIR_EPSILON = 1e-5;

export interface RepairOptions extends RunControl {
  /** Samples of the statistics set REPAIR measures μ and σ on (default 2000; all, when the set is smaller). */
  readonly repairSamples?: number;
  /** A separate set for the statistics (default: the evaluation data's first samples). */
  readonly repairData?: Dataset;
  /** Samples per onnxruntime run (default 256). */
  readonly batchSize?: number;
}

/** The option kinds REPAIR takes (defaults and validation: lib/options.ts). */
export const REPAIR_OPTIONS = { repairSamples: 'repairSamples', repairData: 'dataset', batchSize: 'batchSize', ...CONTROL_OPTIONS } as const satisfies OptionSchema<RepairOptions>;

/** A hidden layer REPAIR corrects: a linear layer's (biased) output, or a BatchNormalization's input. */
export interface RepairLayer {
  /** The module path (or node name) of the layer. */
  readonly name: string;
  /** The graph value whose per-channel statistics are measured. */
  readonly value: string;
  /** Channels on axis 1 (conv maps, BN inputs) or on the last axis (Gemm, MatMul: tokens are samples). */
  readonly channels: 'first' | 'last';
  /** 1 + the deepest level among the repaired layers it depends on: one pass measures a level. */
  readonly level: number;
  readonly fold: FoldTarget | BatchNormTarget;
}

/** Where a linear layer's correction goes: its weight's output-channel axis and its bias (the bias enters as `biasScale`·b, Gemm's beta). */
export interface FoldTarget {
  readonly kind: 'fold';
  readonly weight: Parameter;
  readonly weightAxis: number;
  readonly bias: Parameter;
  readonly biasScale: number;
}

/** A BatchNormalization node's running statistics. */
export interface BatchNormTarget {
  readonly kind: 'batchnorm';
  readonly mean: Parameter;
  readonly variance: Parameter;
}

/** Ops that only move the logits into the model's output layout: a linear layer reaching the logits through them is the output layer, not a hidden one. */
const OUTPUT_MOVES = new Set(['Reshape', 'Transpose', 'Flatten', 'Squeeze', 'Unsqueeze', 'Identity']);

interface GraphView {
  readonly nodes: readonly NodeProto[];
  readonly logits: string;
  readonly readers: Map<string, number[]>;
  readonly parameter: (node: number, slot: number) => Parameter | undefined;
}

function graphView(checkpoint: Checkpoint): GraphView {
  const graph = checkpoint.model.graph!;
  const readers = new Map<string, number[]>();
  graph.node.forEach((n, i) => {
    for (const input of new Set(n.input)) readers.set(input, [...(readers.get(input) ?? []), i]);
  });
  const bySlot = new Map(checkpoint.parameters.map((p) => [`${p.nodeIndex}:${p.inputIndex}`, p]));
  return { nodes: graph.node, logits: checkpoint.outputs[0]?.name ?? '', readers, parameter: (node, slot) => bySlot.get(`${node}:${slot}`) };
}

/** The MatMul's bias Add (x + b with b a parameter of one value per channel), if its only reader is one. */
function biasAdd(view: GraphView, index: number, channels: number): { node: number; bias: Parameter } | undefined {
  const readers = view.readers.get(view.nodes[index]!.output[0]!) ?? [];
  if (readers.length !== 1 || view.nodes[readers[0]!]!.opType !== 'Add') return undefined;
  const add = readers[0]!;
  const slot = view.nodes[add]!.input.findIndex((input, k) => k < 2 && view.parameter(add, k) !== undefined);
  const bias = slot >= 0 ? view.parameter(add, slot) : undefined;
  return bias && bias.length === channels ? { node: add, bias } : undefined;
}

/** Whether a value is the logits, up to ops that only move them (its single readers). */
function reachesLogits(view: GraphView, value: string): boolean {
  for (;;) {
    if (value === view.logits) return true;
    const readers = view.readers.get(value) ?? [];
    if (readers.length !== 1 || !OUTPUT_MOVES.has(view.nodes[readers[0]!]!.opType)) return false;
    value = view.nodes[readers[0]!]!.output[0]!;
  }
}

/** A hidden linear layer of the graph: its node, output channels, weight, bias (when it has one) and measured value. */
interface LinearLayer {
  readonly node: number;
  readonly op: 'Conv' | 'Gemm' | 'MatMul';
  readonly channels: number;
  readonly weight: Parameter;
  readonly weightAxis: number;
  readonly bias: Parameter | undefined;
  readonly value: string;
}

/** Conv, Gemm and MatMul (a 2-D weight on the right) with a parameter weight, in graph order, the output layer left out. */
function hiddenLinearLayers(checkpoint: Checkpoint): LinearLayer[] {
  const view = graphView(checkpoint);
  const layers: LinearLayer[] = [];
  view.nodes.forEach((node, index) => {
    const op = node.opType;
    if (node.domain !== '' || (op !== 'Conv' && op !== 'Gemm' && op !== 'MatMul')) return;
    const weight = view.parameter(index, 1);
    if (!weight) return;
    let weightAxis: number;
    if (op === 'Conv') weightAxis = 0;
    else if (op === 'Gemm') weightAxis = intAttr(node, 'transB', 0) === 1 ? 0 : 1;
    else if (weight.shape.length === 2) weightAxis = 1;
    else return;
    const channels = weight.shape[weightAxis]!;
    let bias: Parameter | undefined;
    let value = node.output[0]!;
    if (op === 'MatMul') {
      const add = biasAdd(view, index, channels);
      if (add) [bias, value] = [add.bias, view.nodes[add.node]!.output[0]!];
    } else if (node.input[2]) {
      bias = view.parameter(index, 2);
      if (!bias || bias.length !== channels) {
        throw new InvalidArgumentError(`${checkpoint.file}: REPAIR cannot fold into '${nodeName(node, index)}' (${op}): its bias '${node.input[2]}' is not a parameter of one value per output channel (${channels})`);
      }
    }
    if (reachesLogits(view, value)) return;
    layers.push({ node: index, op, channels, weight, weightAxis, bias, value });
  });
  return layers;
}

/** Whether the graph keeps BatchNormalization nodes: REPAIR is then the BN statistics reset. */
export function keepsBatchNorm(checkpoint: Checkpoint): boolean {
  return checkpoint.model.graph!.node.some((n) => n.opType === 'BatchNormalization' && n.domain === '');
}

/** Name of the zero bias REPAIR adds to the k-th hidden layer that has none. */
const newBiasName = (k: number): string => `llfc_repair_bias_${k}`;

/**
 * A copy of the checkpoint's model in which every hidden linear layer has a bias (REPAIR writes
 * one): a zero initializer as a Conv's or Gemm's third input, or an Add after a MatMul. The
 * function is unchanged; both models of a pair get the same new tensors, so they still pair.
 */
function withBiases(checkpoint: Checkpoint): ModelProto {
  const missing = hiddenLinearLayers(checkpoint).filter((l) => !l.bias);
  if (missing.length === 0) return checkpoint.model;
  const model = cloneModel(checkpoint.model);
  const graph = model.graph!;
  const added = new Map<number, NodeProto>();
  missing.forEach((layer, k) => {
    const node = graph.node[layer.node]!;
    const name = newBiasName(k);
    const tensor = newTensor({ name, dataType: DataType.FLOAT, dims: int64s([layer.channels]) });
    writeFloat32(tensor, new Float32Array(layer.channels));
    graph.initializer.push(tensor);
    if (layer.op !== 'MatMul') {
      while (node.input.length < 2) node.input.push('');
      node.input[2] = name;
      return;
    }
    // The MatMul's readers now read the biased value; graph outputs keep their names, so the sum takes the old name.
    const product = `${node.output[0]!}_llfc_unbiased`;
    const out = node.output[0]!;
    node.output[0] = product;
    added.set(layer.node, newNode({ opType: 'Add', input: [product, name], output: [out], name: `${nodeName(node, layer.node)}_llfc_repair_bias` }));
  });
  graph.node = graph.node.flatMap((node, i) => (added.has(i) ? [node, added.get(i)!] : [node]));
  return model;
}

/** The layers REPAIR corrects, in graph order, with their levels (see the file comment). */
export function repairLayers(checkpoint: Checkpoint): RepairLayer[] {
  const view = graphView(checkpoint);
  const batchNorm = keepsBatchNorm(checkpoint);
  const targets = new Map<number, Omit<RepairLayer, 'level'>>();
  const name = (index: number): string => {
    const node = view.nodes[index]!;
    return modulePath(nodeName(node, index), node.metadataProps) ?? nodeName(node, index);
  };
  if (batchNorm) {
    view.nodes.forEach((node, index) => {
      if (node.opType !== 'BatchNormalization' || node.domain !== '') return;
      const mean = view.parameter(index, 3);
      const variance = view.parameter(index, 4);
      if (!mean || !variance) throw new InvalidArgumentError(`${checkpoint.file}: the BatchNormalization '${nodeName(node, index)}' has no running mean and variance parameters for REPAIR to reset`);
      targets.set(index, { name: name(index), value: node.input[0]!, channels: 'first', fold: { kind: 'batchnorm', mean, variance } });
    });
  } else {
    for (const layer of hiddenLinearLayers(checkpoint)) {
      if (!layer.bias) throw new InvalidArgumentError(`${checkpoint.file}: the layer '${name(layer.node)}' has no bias; REPAIR adds one first (repairCheckpoints)`);
      const node = view.nodes[layer.node]!;
      const biasScale = layer.op === 'Gemm' ? floatAttr(node, 'beta', 1) : 1;
      if (biasScale === 0) throw new InvalidArgumentError(`${checkpoint.file}: the Gemm '${name(layer.node)}' ignores its bias (beta = 0); REPAIR cannot fold a shift into it`);
      targets.set(layer.node, {
        name: name(layer.node),
        value: layer.value,
        channels: layer.op === 'Conv' ? 'first' : 'last',
        fold: { kind: 'fold', weight: layer.weight, weightAxis: layer.weightAxis, bias: layer.bias, biasScale },
      });
    }
  }
  // Levels: a value's level is the deepest repaired layer it depends on; a layer measures one deeper than its inputs.
  const levelOf = new Map<string, number>();
  const layers: RepairLayer[] = [];
  view.nodes.forEach((node, index) => {
    const below = Math.max(0, ...node.input.map((v) => levelOf.get(v) ?? 0));
    const target = targets.get(index);
    const level = target ? below + 1 : below;
    if (target) layers.push({ ...target, level });
    for (const out of node.output) levelOf.set(out, level);
  });
  return layers;
}

/**
 * Models ready for REPAIR: one graph with a bias wherever REPAIR folds one, the endpoints whose
 * statistics make the target as arenas of its layout (a pair's A and B; a merge's permuted
 * models), and the layers it corrects.
 */
export interface RepairEndpoints {
  readonly graph: Checkpoint;
  readonly endpoints: readonly Float32Array[];
  readonly form: 'fold' | 'batchnorm';
  readonly layers: readonly RepairLayer[];
}

/** A pair ready for REPAIR: its endpoints are A and B, both in the graph's layout. */
export interface RepairPair extends RepairEndpoints {
  readonly a: Checkpoint;
  readonly b: Checkpoint;
}

/**
 * An arena of `from`'s layout in `to`'s, where `to` is `from`'s model with REPAIR's zero biases
 * added (withBiases): each use of a stored tensor keeps its values (uses keep their order, nodes
 * are only added), the new biases are zero.
 */
export function carriedArena(from: Checkpoint, to: Checkpoint, arena: Float32Array): Float32Array {
  if (to === from) return arena;
  const uses = new Map<string, Parameter[]>();
  for (const p of from.parameters) {
    const list = uses.get(p.tensor);
    if (list) list.push(p);
    else uses.set(p.tensor, [p]);
  }
  const out = new Float32Array(to.arena.length);
  const seen = new Map<string, number>();
  for (const p of to.parameters) {
    const k = seen.get(p.tensor) ?? 0;
    seen.set(p.tensor, k + 1);
    const source = uses.get(p.tensor)?.[k];
    if (source) out.set(arena.subarray(source.offset, source.offset + source.length), p.offset);
  }
  return out;
}

/**
 * Prepares REPAIR of models in `graph`'s layout (the arenas): the graph with the biases REPAIR
 * needs added (a no-op for most exports, which have them), the arenas carried into its layout,
 * and the layers.
 */
export function repairEndpoints(graph: Checkpoint, arenas: readonly Float32Array[]): RepairEndpoints {
  const form = keepsBatchNorm(graph) ? 'batchnorm' : 'fold';
  let prepared = graph;
  if (form === 'fold') {
    const model = withBiases(graph);
    if (model !== graph.model) prepared = checkpointFromModel({ file: graph.file, proto: model, externalData: graph.externalData });
  }
  const layers = repairLayers(prepared);
  if (layers.length === 0) throw new InvalidArgumentError(`${graph.file}: REPAIR found no hidden layer to correct (no Conv, Gemm or MatMul with a weight besides the output layer, and no BatchNormalization)`);
  return { graph: prepared, endpoints: arenas.map((arena) => carriedArena(graph, prepared, arena)), form, layers };
}

/** The pair with the biases REPAIR needs added (a no-op for most exports, which have them) and its layers. */
export function repairCheckpoints(a: Checkpoint, b: Checkpoint): RepairPair {
  pairCheckpoints(a, b);
  const prepared = repairEndpoints(a, [a.arena, b.arena]);
  const [, rb] = prepared.endpoints as [Float32Array, Float32Array];
  return { ...prepared, a: prepared.graph, b: prepared.graph === a ? b : { ...withArena(prepared.graph, rb), file: b.file } };
}

/** Per-channel mean and population variance of a layer's value. */
interface ChannelStats {
  readonly mean: Float64Array;
  readonly variance: Float64Array;
}

/** The statistics set: `samples` of `data` from the start. */
export interface StatisticsSet {
  readonly data: Dataset;
  readonly samples: number;
}

/** outer × channels × inner of a value whose channels are on axis 1 or on the last axis. */
function channelLayout(dims: readonly number[], channels: 'first' | 'last', where: string): { outer: number; channels: number; inner: number } {
  if (dims.length < 2) throw new ShapeMismatchError(`${where}: a value of shape [${dims.join(', ')}] has no channel axis`);
  const axis = channels === 'first' ? 1 : dims.length - 1;
  const product = (xs: readonly number[]): number => xs.reduce((n, d) => n * d, 1);
  return { outer: product(dims.slice(0, axis)), channels: dims[axis]!, inner: product(dims.slice(axis + 1)) };
}

/** One pass of the model `arena` over the statistics set: the per-channel statistics of each layer's value. */
async function channelStatistics(checkpoint: Checkpoint, arena: Float32Array, layers: readonly RepairLayer[], set: StatisticsSet, batchSize: number, control: RunControl, tick: () => void): Promise<ChannelStats[]> {
  const session = await ModelSession.create(checkpoint, { parameters: arena, taps: [...new Set(layers.map((l) => l.value))] });
  const sums: (Float64Array | undefined)[] = layers.map(() => undefined);
  const counts = layers.map(() => 0);
  try {
    session.checkData(set.data);
    for await (const batch of set.data.batches(batchSize, { to: set.samples, ...(control.signal ? { signal: control.signal } : {}) })) {
      throwIfAborted(control.signal);
      const out = await session.runBatch(batch, set.data, arena);
      layers.forEach((layer, i) => {
        const where = `${checkpoint.file}: REPAIR of '${layer.name}'`;
        const value = floatOutput(out, layer.value, where);
        const shape = channelLayout(value.dims, layer.channels, `${where}, value '${layer.value}'`);
        sums[i] ??= new Float64Array(2 * shape.channels);
        if (sums[i]!.length !== 2 * shape.channels) throw new ShapeMismatchError(`${where}: '${layer.value}' has ${shape.channels} channels in one batch and ${sums[i]!.length / 2} in another`);
        native().channelMoments({ x: value.data, ...shape, sums: sums[i]! });
        counts[i]! += shape.outer * shape.inner;
      });
      tick();
    }
  } finally {
    await session.release();
  }
  return layers.map((layer, i) => {
    const s = sums[i]!;
    const channels = s.length / 2;
    const n = counts[i]!;
    const mean = new Float64Array(channels);
    const variance = new Float64Array(channels);
    for (let c = 0; c < channels; c++) {
      mean[c] = s[c]! / n;
      // E[x²] − μ² can round below zero for a constant channel.
      variance[c] = Math.max(0, s[channels + c]! / n - mean[c]! ** 2);
    }
    return { mean, variance };
  });
}

/** σ̃ = √(σ² + ε) per channel. */
const smoothedSigma = (stats: ChannelStats): Float64Array => Float64Array.from(stats.variance, (v) => Math.sqrt(v + REPAIR_EPSILON));

/**
 * Folds the correction of one layer into `arena` (SCIENCE.md §6): W' = W·s per output channel,
 * b' = b·s + (μ − μ_α·s), s = σ/σ̃_α; in float64, each result rounded once to float32. Written so
 * that s = 1 and μ = μ_α give back W and b bit for bit.
 */
function foldCorrection(arena: Float32Array, fold: FoldTarget, target: { mean: Float64Array; sigma: Float64Array }, measured: ChannelStats): void {
  const channels = target.mean.length;
  const measuredSigma = smoothedSigma(measured);
  const scale = Float64Array.from(target.sigma, (sigma, c) => sigma / measuredSigma[c]!);
  const { weight, weightAxis, bias, biasScale } = fold;
  const inner = weight.shape.slice(weightAxis + 1).reduce((n, d) => n * d, 1);
  for (let i = 0; i < weight.length; i++) {
    const c = Math.floor(i / inner) % channels;
    arena[weight.offset + i] = arena[weight.offset + i]! * scale[c]!;
  }
  for (let c = 0; c < channels; c++) {
    const b = biasScale * arena[bias.offset + c]!;
    arena[bias.offset + c] = (b * scale[c]! + (target.mean[c]! - measured.mean[c]! * scale[c]!)) / biasScale;
  }
}

/** A BatchNormalization's running statistics set to those measured (the paper's BN form). */
function resetBatchNorm(arena: Float32Array, target: BatchNormTarget, measured: ChannelStats): void {
  arena.set(Float32Array.from(measured.mean), target.mean.offset);
  arena.set(Float32Array.from(measured.variance), target.variance.offset);
}

/** Which set REPAIR's statistics came from, as reports say it. */
export interface RepairStatistics {
  readonly statistics: 'evaluation' | 'repair';
  readonly source: string;
  readonly samples: number;
}

/** The layers of one level (one pass), with their places in the models' list. */
type Level = readonly { readonly layer: RepairLayer; readonly i: number }[];

/** The layers by level, shallowest first. */
function levelsOf(models: RepairEndpoints): Level[] {
  const deepest = Math.max(...models.layers.map((l) => l.level));
  return Array.from({ length: deepest }, (_, k) => models.layers.flatMap((layer, i) => (layer.level === k + 1 ? [{ layer, i }] : [])));
}

/** An endpoint's statistics of one layer: μ and σ̃ = √(σ² + ε) per channel. */
interface EndpointStats {
  readonly mean: Float64Array;
  readonly sigma: Float64Array;
}

/**
 * Σ_i w_i x_i per channel, in float64, in endpoint order. Where every endpoint has the same value
 * the weighted mean is that value (the weights sum to 1), taken as is: rounding the sum would
 * move it by an ulp, and REPAIR of a merge of copies of one model would not be the identity.
 */
function weightedMean(values: readonly Float64Array[], weights: readonly number[]): Float64Array {
  const first = values[0]!;
  return Float64Array.from(first, (v, c) => {
    if (values.every((x) => x[c] === v)) return v;
    let sum = weights[0]! * v;
    for (let i = 1; i < values.length; i++) sum += weights[i]! * values[i]![c]!;
    return sum;
  });
}

/**
 * REPAIR of a model between endpoints: their statistics, measured once, and the repaired model
 * for any weights (a pair's θ(α): 1 − α and α; a merge's: the merge's weights). `evaluation` is
 * the data losses are reported on: the statistics come from `repairData` when given, else from
 * its first `repairSamples`.
 */
export class Repair {
  private constructor(
    readonly models: RepairEndpoints,
    private readonly set: StatisticsSet,
    readonly statistics: RepairStatistics,
    private readonly endpoints: EndpointStats[][] | undefined,
    private readonly batchSize: number,
    private readonly control: RunControl,
  ) {}

  /** Passes over the statistics set one repaired model takes (the BN form needs no endpoint statistics). */
  static passesPerAlpha(models: RepairEndpoints): number {
    return levelsOf(models).length;
  }

  /** The statistics set of a run: `repairData`'s, else the evaluation data's, first `repairSamples`. */
  static statisticsSet(evaluation: Dataset, options: RepairOptions = {}): StatisticsSet {
    const { repairSamples, repairData } = resolveOptions('repair()', REPAIR_OPTIONS, options);
    const data = repairData ?? evaluation;
    return { data, samples: Math.min(repairSamples, data.length) };
  }

  /**
   * Prepares REPAIR (repairCheckpoints, repairEndpoints): in the fold form, the endpoints'
   * statistics, each measured in the graph one pass per level, the passes a repaired model takes
   * (see the file comment). `tick` counts batches.
   */
  static async create(models: RepairEndpoints, evaluation: Dataset, options: RepairOptions = {}, tick: () => void = () => {}): Promise<Repair> {
    const { repairData, batchSize, signal, onProgress } = resolveOptions('repair()', REPAIR_OPTIONS, options);
    const control = { ...(signal ? { signal } : {}), ...(onProgress ? { onProgress } : {}) };
    const set = Repair.statisticsSet(evaluation, options);
    const statistics: RepairStatistics = { statistics: repairData ? 'repair' : 'evaluation', source: set.data.source, samples: set.samples };
    let endpoints: EndpointStats[][] | undefined;
    if (models.form === 'fold') {
      endpoints = [];
      for (const arena of models.endpoints) {
        const stats: EndpointStats[] = [];
        for (const level of levelsOf(models)) {
          const measured = await channelStatistics(models.graph, arena, level.map((h) => h.layer), set, batchSize, control, tick);
          level.forEach(({ i }, k) => (stats[i] = { mean: measured[k]!.mean, sigma: smoothedSigma(measured[k]!) }));
        }
        endpoints.push(stats);
      }
    }
    return new Repair(models, set, statistics, endpoints, batchSize, control);
  }

  /** Passes over the statistics set create() takes. */
  static endpointPasses(models: RepairEndpoints): number {
    return models.form === 'fold' ? models.endpoints.length * Repair.passesPerAlpha(models) : 0;
  }

  /** The layers corrected, in graph order. */
  layerNames(): string[] {
    return this.models.layers.map((l) => l.name);
  }

  /** A pair's repaired θ(α), written into `theta` (an arena of the prepared pair's layout): one pass per level. */
  async repairedArena(alpha: number, theta: Float32Array, tick: () => void = () => {}): Promise<Float32Array> {
    const [a, b] = this.models.endpoints;
    if (this.models.endpoints.length !== 2) throw new InvalidArgumentError(`REPAIR of θ(α) needs a pair of endpoints, these models have ${this.models.endpoints.length}`);
    interpolateArenas(a!, b!, [alpha], [theta]);
    return this.repaired(theta, [1 - alpha, alpha], tick);
  }

  /**
   * Repairs the model `theta` (an arena of the graph's layout) in place, one pass per level: each
   * layer's target is Σ_i w_i μ_i and Σ_i w_i σ̃_i over the endpoints (the BN form resets the
   * statistics to θ's own).
   */
  async repaired(theta: Float32Array, weights: readonly number[], tick: () => void = () => {}): Promise<Float32Array> {
    if (weights.length !== this.models.endpoints.length) throw new InvalidArgumentError(`REPAIR: ${weights.length} weights for ${this.models.endpoints.length} endpoints`);
    for (const level of levelsOf(this.models)) {
      throwIfAborted(this.control.signal);
      const measured = await channelStatistics(this.models.graph, theta, level.map((h) => h.layer), this.set, this.batchSize, this.control, tick);
      level.forEach(({ layer, i }, k) => {
        if (layer.fold.kind === 'batchnorm') return resetBatchNorm(theta, layer.fold, measured[k]!);
        const stats = this.endpoints!.map((e) => e[i]!);
        const target = { mean: weightedMean(stats.map((s) => s.mean), weights), sigma: weightedMean(stats.map((s) => s.sigma), weights) };
        foldCorrection(theta, layer.fold, target, measured[k]!);
      });
    }
    return theta;
  }
}

/** What `interpolate --repair` gives: the repaired θ(α) as a model, and how it was repaired. */
export interface RepairedModel {
  readonly model: ModelProto;
  /** Every use of a shared tensor got its own initializer (see interpolatedModel). */
  readonly perUse: boolean;
  readonly form: 'fold' | 'batchnorm';
  readonly layers: string[];
  readonly statistics: RepairStatistics;
}

/** The repaired θ(α) of A and B as an ONNX model (A's graph, with the biases REPAIR added), statistics from `data`. */
export async function repairedModel(a: Checkpoint, b: Checkpoint, alpha: number, data: Dataset, options: RepairOptions = {}): Promise<RepairedModel> {
  const pair = repairCheckpoints(a, b);
  const set = Repair.statisticsSet(data, options);
  const batchSize = resolveOptions('repairedModel()', REPAIR_OPTIONS, options).batchSize;
  const total = Math.ceil(set.samples / batchSize) * (Repair.endpointPasses(pair) + Repair.passesPerAlpha(pair));
  let done = 0;
  const tick = (): void => options.onProgress?.({ phase: 'repair', done: ++done, total });
  const repair = await Repair.create(pair, data, options, tick);
  const theta = await repair.repairedArena(alpha, new Float32Array(pair.a.arena.length), tick);
  return { ...modelOfArena(pair.a, theta), form: pair.form, layers: repair.layerNames(), statistics: repair.statistics };
}
