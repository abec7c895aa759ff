/**
 * Layer-wise and cumulative barriers (Adilova et al., ICLR 2024; SCIENCE.md §6): θ_{S,k} holds
 * the tensors of the groups S at α = ½ and every other tensor from base k ∈ {A, B}; its barrier
 * is L(θ_{S,k}) − ½(L_A + L_B). Every distinct θ_{S,k} is one pass over the data, written by the masked native
 * interpolation into one arena, reused for every pass; the checkpoints are read once, and the data
 * once too when its batches fit in memory (lib/dataset/resident.ts; larger data is streamed per pass).
 * The arena reaches onnxruntime as a session's initializers (a session per pass; onnxruntime
 * then pre-packs the weights, which bench/layerwise.ts measured faster) or as the inputs of one
 * session reused for every pass (`feed: 'inputs'`).
 */
import { pairCheckpoints, type Checkpoint, type Parameter } from '../checkpoint.js';
import type { Dataset } from '../dataset/index.js';
import { ResidentBatches } from '../dataset/resident.js';
import { InvalidArgumentError } from '../errors.js';
import { interpolateArenas } from '../interpolate.js';
import { lossSetup, passLoss } from '../checks/loss.js';
import { sharedConstants } from '../align/spec/constants.js';
import { modulePath } from '../onnx/names.js';
import { nodeName } from '../onnx/graph.js';
import { CONTROL_OPTIONS, resolveOptions, type OptionSchema } from '../options.js';
import { throwIfAborted, type RunControl } from '../progress.js';
import { Rng } from '../align/random.js';
import type { CumulativeCurve, LayerwiseGroup, LayerwiseOrder, LayerwisePoint, LayerwiseResult } from '../results.js';
import { ModelSession, type ParameterFeed } from '../session.js';

export interface LayerwiseOptions extends RunControl {
  /** 'layer' (default): one group per module, a weight with its bias; 'module': per first module-path segment. */
  readonly groupBy?: 'layer' | 'module';
  /** Explicit module prefixes, one group each (instead of `groupBy`); tensors under none stay from the base. */
  readonly modules?: readonly string[];
  /** Random orders of the cumulative barriers (default 3). */
  readonly draws?: number;
  /** Seed of the random orders (default 0). */
  readonly seed?: number;
  /** Samples per onnxruntime run (default 256). */
  readonly batchSize?: number;
  /** How parameters reach onnxruntime (default 'initializers': a session per pass, measured faster by bench/layerwise.ts; 'inputs': one session for every pass). */
  readonly feed?: ParameterFeed;
}

/** The option kinds the layer-wise barriers take (defaults and validation: lib/options.ts). */
export const LAYERWISE_OPTIONS = {
  groupBy: 'groupBy',
  modules: 'modules',
  draws: 'draws',
  seed: 'seed',
  batchSize: 'batchSize',
  feed: 'feed',
  ...CONTROL_OPTIONS,
} as const satisfies OptionSchema<LayerwiseOptions>;

/** A group and the parameters (per use) it holds. */
export interface LayerwiseParameterGroup {
  readonly name: string;
  readonly parameters: readonly Parameter[];
}

/**
 * The layer a parameter belongs to: the module path of the node that reads it (a BatchNormalization
 * node is its own module; a folded conv holds its BN), else its tensor's name without the last
 * segment (`fc1.weight` → `fc1`), else a root-level state_dict name as its own layer (a ViT's
 * `pos`, which only an Add reads), else the node's name.
 */
function layerName(checkpoint: Checkpoint, p: Parameter): string {
  const node = checkpoint.model.graph!.node[p.nodeIndex]!;
  const path = modulePath(nodeName(node, p.nodeIndex), node.metadataProps);
  if (path) return path;
  const dot = p.tensor.lastIndexOf('.');
  if (dot > 0 && !p.tensor.startsWith('onnx::')) return p.tensor.slice(0, dot);
  // Exporter-made names (`onnx::Conv_17`, the dynamo exporter's `val_12`) name no module.
  return /^[A-Za-z_]\w*$/.test(p.tensor) && !/^val_\d+$/.test(p.tensor) ? p.tensor : p.node;
}

/**
 * Groups in graph order of their first parameter; `key` names a parameter's group (undefined:
 * none). Parameter uses in `constants` (equal in A and B: not trained, such as the dynamo
 * exporter's lifted constants) join no group: interpolating them changes nothing.
 */
function groupParameters(checkpoint: Checkpoint, key: (layer: string) => string | undefined, constants: ReadonlySet<number>): LayerwiseParameterGroup[] {
  const groups = new Map<string, Parameter[]>();
  for (const p of checkpoint.parameters) {
    if (constants.has(p.index)) continue;
    const name = key(layerName(checkpoint, p));
    if (name === undefined) continue;
    const list = groups.get(name) ?? [];
    list.push(p);
    groups.set(name, list);
  }
  return [...groups].map(([name, parameters]) => ({ name, parameters }));
}

/**
 * The groups of a checkpoint: per layer, per first module-path segment, or per given prefix
 * (`layer2` holds `layer2` and every `layer2.*`). A prefix no layer has, or two prefixes
 * claiming one tensor, is an InvalidArgumentError naming the layers there are. The parameter
 * uses in `constants` join no group.
 */
export function layerwiseGroups(checkpoint: Checkpoint, groupBy: 'layer' | 'module', modules?: readonly string[], constants: ReadonlySet<number> = new Set()): LayerwiseParameterGroup[] {
  if (!modules) return groupParameters(checkpoint, groupBy === 'layer' ? (l) => l : (l) => l.split('.')[0]!, constants);
  const layers = [...new Set(checkpoint.parameters.filter((p) => !constants.has(p.index)).map((p) => layerName(checkpoint, p)))];
  const under = (layer: string, prefix: string): boolean => layer === prefix || layer.startsWith(`${prefix}.`);
  for (const prefix of modules) {
    if (!layers.some((l) => under(l, prefix))) {
      throw new InvalidArgumentError(`${checkpoint.file}: no layer is under the module prefix '${prefix}'; its layers are ${layers.slice(0, 12).join(', ')}${layers.length > 12 ? ', …' : ''}`);
    }
  }
  for (const layer of layers) {
    const claims = modules.filter((m) => under(layer, m));
    if (claims.length > 1) throw new InvalidArgumentError(`${checkpoint.file}: the layer '${layer}' is under two module prefixes, '${claims[0]}' and '${claims[1]}'; give prefixes that do not overlap`);
  }
  // In graph order of first use, whatever order the prefixes were given in.
  return groupParameters(checkpoint, (l) => modules.find((m) => under(l, m)), constants);
}

/** One distinct model to measure: the groups at ½ and the base of the rest. */
interface Plan {
  readonly key: string;
  readonly groups: ReadonlySet<number>;
  readonly base: 'a' | 'b';
}

/** The orders of the cumulative barriers: shallow → deep, deep → shallow, then `draws` seeded shuffles. */
export function cumulativeOrders(groups: number, draws: number, seed: number): { order: LayerwiseOrder; draw?: number; groups: number[] }[] {
  const shallow = Array.from({ length: groups }, (_, i) => i);
  const rng = new Rng(seed);
  return [
    { order: 'shallow-to-deep', groups: shallow },
    { order: 'deep-to-shallow', groups: [...shallow].reverse() },
    ...Array.from({ length: draws }, (_, draw) => ({ order: 'random' as const, draw, groups: rng.shuffle([...shallow]) })),
  ];
}

/** Layer-wise barriers per group for both bases, and the cumulative barriers in every order. */
export async function layerwiseBarriers(a: Checkpoint, b: Checkpoint, data: Dataset, options: LayerwiseOptions = {}): Promise<LayerwiseResult> {
  const { groupBy, modules, draws, seed, batchSize, feed, signal, onProgress } = resolveOptions('layerwiseBarriers()', LAYERWISE_OPTIONS, options);
  pairCheckpoints(a, b);
  const setup = lossSetup(a, data);
  const untrained = new Set(sharedConstants(a, b).a);
  const constants = new Set(a.parameters.filter((p) => untrained.has(p.tensor)).map((p) => p.index));
  const groups = layerwiseGroups(a, groupBy, modules, constants);
  const grouped = new Set(groups.flatMap((g) => g.parameters.map((p) => p.index)));
  const ungrouped = a.parameters.filter((p) => !grouped.has(p.index));
  const orders = cumulativeOrders(groups.length, draws, seed);

  // Every distinct θ_{S,k}, once: S covering every tensor is θ(½) whatever the base.
  const plans = new Map<string, Plan>();
  const plan = (set: readonly number[], base: 'a' | 'b'): string => {
    const sorted = [...set].sort((x, y) => x - y);
    const whole = ungrouped.every((p) => constants.has(p.index)) && sorted.length === groups.length;
    const key = whole ? 'all' : `${base}:${sorted.join(',')}`;
    if (!plans.has(key)) plans.set(key, { key, groups: new Set(sorted), base: whole ? 'a' : base });
    return key;
  };
  const ends = { a: plan([], 'a'), b: plan([], 'b') };
  const middle = plan(groups.map((_, i) => i), 'a');
  const layerKeys = groups.map((_, i) => ({ a: plan([i], 'a'), b: plan([i], 'b') }));
  const curveKeys = orders.map((o) => ({ a: o.groups.map((_, i) => plan(o.groups.slice(0, i + 1), 'a')), b: o.groups.map((_, i) => plan(o.groups.slice(0, i + 1), 'b')) }));

  const groupOf = new Int32Array(a.parameters.length).fill(-1);
  groups.forEach((g, i) => g.parameters.forEach((p) => (groupOf[p.index] = i)));
  const batches = Math.ceil(data.length / batchSize);
  const total = batches * plans.size;
  let done = 0;
  const tick = (): void => onProgress?.({ phase: 'layerwise', done: ++done, total });
  const measured = new Map<string, { loss: number; accuracy: number }>();
  const shared = feed === 'inputs' ? await ModelSession.create(a) : undefined;
  const batchesOf = new ResidentBatches(data, batchSize);
  try {
    const theta = new Float32Array(a.arena.length);
    for (const p of plans.values()) {
      throwIfAborted(signal);
      const base = p.base === 'a' ? a.arena : b.arena;
      let parameters = base;
      if (p.groups.size > 0) {
        const interpolate = Array.from(groupOf, (g) => g >= 0 && p.groups.has(g));
        interpolateArenas(a.arena, b.arena, [0.5], [theta], { interpolate, base }, a);
        parameters = theta;
      }
      const session = shared ?? (await ModelSession.create(a, { parameters }));
      try {
        measured.set(p.key, await passLoss(session, data, batchesOf.pass(signal), setup, parameters, { signal, onBatch: tick }));
      } finally {
        if (!shared) await session.release();
      }
    }
  } finally {
    await shared?.release();
  }

  const ea = measured.get(ends.a)!;
  const eb = measured.get(ends.b)!;
  const point = (key: string): LayerwisePoint => {
    const { loss, accuracy } = measured.get(key)!;
    return { loss, accuracy, lossBarrier: loss - 0.5 * (ea.loss + eb.loss), errorBarrier: 1 - accuracy - 0.5 * (1 - ea.accuracy + (1 - eb.accuracy)) };
  };
  const summary = (g: LayerwiseParameterGroup): LayerwiseGroup => ({ name: g.name, tensors: [...new Set(g.parameters.map((p) => p.tensor))], size: g.parameters.reduce((n, p) => n + p.length, 0) });
  return {
    groupBy: modules ? 'module' : groupBy,
    groups: groups.map(summary),
    ungrouped: [...new Set(ungrouped.map((p) => p.tensor))],
    endpoints: { a: ea, b: eb },
    midpoint: point(middle),
    layers: groups.map((g, i) => ({ group: g.name, a: point(layerKeys[i]!.a), b: point(layerKeys[i]!.b) })),
    cumulative: orders.map((o, i): CumulativeCurve => ({ ...o, a: curveKeys[i]!.a.map(point), b: curveKeys[i]!.b.map(point) })),
    seed,
    draws,
    samples: data.length,
    passes: plans.size,
  };
}
