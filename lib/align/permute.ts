/**
 * Applying permutations: to a parameter arena (per use, by the native gather kernel) and to
 * the stored ONNX tensors of a model.
 *
 * Convention: a group's permutation `perm` (an Int32Array of its size) means "unit i of the
 * result is unit perm[i] of the original", along every axis the group acts on.
 *
 * Stored tensors shared by several uses (PyTorch's exporter de-duplicates equal tensors through
 * Identity nodes, e.g. all-zero biases of unrelated layers) may be permuted differently per
 * use. permutedModel writes each such tensor once when all its uses still agree after the
 * permutation, and otherwise gives the uses that differ initializers of their own (untying),
 * so the written model computes exactly with the permuted arena.
 */
import type { Checkpoint } from '../checkpoint.js';
import { PermutationError } from '../errors.js';
import { dropUnreadAliases, floatValueInfo, initializerMap } from '../onnx/graph.js';
import { cloneModel } from '../onnx/model.js';
import { DataType, int64s, newTensor, type ModelProto, type NodeProto, type TensorProto } from '../onnx/proto.js';
import { writeFloat32 } from '../onnx/tensor.js';
import { native } from '../native.js';
import { Rng } from './random.js';
import { actionKey, BoundSpec, type AxisAction, type PermutationGroup, type PermutationSpec } from './spec/index.js';

/** One permutation per group of a spec (group order). */
export type Permutations = readonly Int32Array[];

export function identityPermutation(n: number): Int32Array {
  return Int32Array.from({ length: n }, (_, i) => i);
}

export function identityPermutations(spec: PermutationSpec): Int32Array[] {
  return spec.groups.map((g) => identityPermutation(g.size));
}

/** A uniformly random permutation of every group, from a seeded generator. */
export function randomPermutations(spec: PermutationSpec, seed: number): Int32Array[] {
  const rng = new Rng(seed);
  return spec.groups.map((g) => {
    const p = identityPermutation(g.size);
    rng.shuffle(p);
    return p;
  });
}

export function inversePermutation(perm: Int32Array): Int32Array {
  const inv = new Int32Array(perm.length);
  perm.forEach((p, i) => (inv[p] = i));
  return inv;
}

/** Throws PermutationError unless `perms` holds one permutation of the right size per group. */
export function checkPermutations(spec: PermutationSpec, perms: readonly Int32Array[]): void {
  if (perms.length !== spec.groups.length) {
    throw new PermutationError(`${perms.length} permutations given for the ${spec.groups.length} groups of the spec of ${spec.file}`);
  }
  spec.groups.forEach((g, k) => {
    const p = perms[k]!;
    if (p.length !== g.size) throw new PermutationError(`group ${k} ('${g.label}') has ${g.size} units, its permutation has ${p.length}`);
    const seen = new Uint8Array(g.size);
    for (let i = 0; i < p.length; i++) {
      const v = p[i]!;
      if (!Number.isInteger(v) || v < 0 || v >= g.size || seen[v]) {
        throw new PermutationError(`the permutation of group ${k} ('${g.label}') is not a permutation of 0…${g.size - 1} (entry ${i} = ${v})`);
      }
      seen[v] = 1;
    }
  });
}

/** Writes one action of a permutation into an axis map (source index per position). */
function writeAction(map: Int32Array, action: AxisAction, perm: Int32Array): void {
  const { offset, inner } = action;
  for (let c = 0; c < perm.length; c++) {
    const to = offset + c * inner;
    const from = offset + perm[c]! * inner;
    for (let r = 0; r < inner; r++) map[to + r] = from + r;
  }
}

/**
 * The source-index maps of one permutation per group, per parameter use and axis (null: no
 * group acts there), kept current as groups change. Each group's version counts its changes,
 * so that products of a tensor can be reused until a group on its other axes changes.
 */
export class AxisMaps {
  /** The current permutation of every group (identities to start with). */
  readonly perms: Int32Array[];
  private readonly maps = new Map<number, (Int32Array | null)[]>();
  private readonly versions: number[];

  constructor(
    private readonly bound: BoundSpec,
    perms?: readonly Int32Array[],
  ) {
    this.perms = identityPermutations(bound.spec);
    this.versions = bound.spec.groups.map(() => 0);
    for (const [index, axes] of bound.parameters) {
      const shape = bound.layout[index]!.shape;
      this.maps.set(index, axes.map((acting, axis) => (acting.length > 0 ? identityPermutation(shape[axis]!) : null)));
    }
    perms?.forEach((p, g) => this.set(g, p));
  }

  /** Sets a group's permutation (written into every axis it acts on); false when it was already that. */
  set(group: number, perm: ArrayLike<number>): boolean {
    const current = this.perms[group]!;
    let i = 0;
    while (i < current.length && current[i] === perm[i]) i++;
    if (i === current.length) return false;
    current.set(perm);
    const axes = new Set(this.bound.spec.groups[group]!.parameters.map((a) => `${a.parameter}:${a.axis}`));
    for (const key of axes) {
      const [parameter, axis] = key.split(':').map(Number) as [number, number];
      this.rewrite(parameter, axis);
    }
    this.versions[group]!++;
    return true;
  }

  /**
   * The map of one axis from every group acting on it: groups of single units first (they act
   * on disjoint positions), then groups of blocks (attention heads), finest blocks first, each
   * moving whole blocks as the groups before it arranged them: head u of the result is head
   * perm[u] of the original with its own within-head permutations.
   */
  private rewrite(parameter: number, axis: number): void {
    const map = this.maps.get(parameter)![axis]!;
    for (let i = 0; i < map.length; i++) map[i] = i;
    const groups = this.bound.spec.groups;
    const acting = this.bound.parameters.get(parameter)![axis]!;
    for (const { group, action } of acting) if (!groups[group]!.carries) writeAction(map, action, this.perms[group]!);
    const blocks = acting.filter(({ group }) => groups[group]!.carries).sort((x, y) => x.action.inner - y.action.inner);
    for (const { group, action } of blocks) {
      const before = map.slice();
      const perm = this.perms[group]!;
      for (let c = 0; c < perm.length; c++) {
        for (let r = 0; r < action.inner; r++) map[action.offset + c * action.inner + r] = before[action.offset + perm[c]! * action.inner + r]!;
      }
    }
  }

  /** How many times a group's permutation changed. */
  version(group: number): number {
    return this.versions[group]!;
  }

  /** The maps of one parameter use, per axis (undefined when no group acts on it). */
  of(parameter: number): readonly (Int32Array | null)[] | undefined {
    return this.maps.get(parameter);
  }

  /** Every parameter use some group acts on, with its maps (in group order of first use). */
  entries(): IterableIterator<[number, (Int32Array | null)[]]> {
    return this.maps.entries();
  }
}

/**
 * The arena with every group's permutation applied (a new array; parameters no group touches
 * are copied). `spec` may be bound already (to this checkpoint's parameter layout).
 */
export function permuteArena(checkpoint: Checkpoint, spec: PermutationSpec | BoundSpec, perms: readonly Int32Array[], arena: Float32Array = checkpoint.arena): Float32Array {
  checkArenaLength(checkpoint, arena);
  return permuteInto(checkpoint, spec, perms, arena, new Float32Array(arena));
}

/**
 * Applies every group's permutation to `arena` itself (this checkpoint's layout) and returns it:
 * no second arena, only a copy of the largest permuted parameter at a time.
 */
export function permuteArenaInPlace(checkpoint: Checkpoint, spec: PermutationSpec | BoundSpec, perms: readonly Int32Array[], arena: Float32Array): Float32Array {
  checkArenaLength(checkpoint, arena);
  return permuteInto(checkpoint, spec, perms, arena, arena);
}

/**
 * Every group's permutation applied from `from` to `out` (the same array when in place: each
 * permuted parameter is then copied aside first), then the experts exchanged in `out`.
 */
function permuteInto(checkpoint: Checkpoint, spec: PermutationSpec | BoundSpec, perms: readonly Int32Array[], from: Float32Array, out: Float32Array): Float32Array {
  checkPermutations(spec instanceof BoundSpec ? spec.spec : spec, perms);
  const bound = BoundSpec.of(checkpoint, spec);
  const addon = native();
  const permuted = [...new AxisMaps(bound, perms).entries()];
  const before = from === out ? new Float32Array(Math.max(0, ...permuted.map(([index]) => checkpoint.parameters[index]!.length))) : undefined;
  for (const [index, maps] of permuted) {
    const p = checkpoint.parameters[index]!;
    const slot = out.subarray(p.offset, p.offset + p.length);
    let source = from.subarray(p.offset, p.offset + p.length);
    if (before) {
      source = before.subarray(0, p.length);
      source.set(slot);
    }
    addon.gatherAxes(source, p.shape, maps, slot);
  }
  bound.spec.groups.forEach((g, k) => {
    if (g.experts) exchangeExperts(checkpoint, out, g.experts, perms[k]!);
  });
  return out;
}

function checkArenaLength(checkpoint: Checkpoint, arena: Float32Array): void {
  if (arena.length !== checkpoint.arena.length) throw new PermutationError(`an arena of ${arena.length} floats for ${checkpoint.file}, whose arena has ${checkpoint.arena.length}`);
}

/**
 * Where each expert-owned parameter use of the result takes its values from under `perms`: slot
 * j of expert u reads slot j of expert perm[u] (parameters of no expert group are absent).
 */
export function expertSources(spec: PermutationSpec, perms: readonly Int32Array[]): Map<number, number> {
  const sources = new Map<number, number>();
  spec.groups.forEach((g, k) => {
    g.experts?.forEach((list, u) => list.forEach((e, j) => sources.set(e.parameter, g.experts![perms[k]![u]!]![j]!.parameter)));
  });
  return sources;
}

/** Expert u of the result takes the parameters of expert perm[u] (as the groups inside it left them). */
export function exchangeExperts(checkpoint: Checkpoint, arena: Float32Array, experts: NonNullable<PermutationGroup['experts']>, perm: Int32Array): void {
  const view = (index: number): Float32Array => {
    const p = checkpoint.parameters[index]!;
    return arena.subarray(p.offset, p.offset + p.length);
  };
  const before = experts.map((list) => list.map((e) => view(e.parameter).slice()));
  experts.forEach((list, u) => list.forEach((e, j) => view(e.parameter).set(before[perm[u]!]![j]!)));
}

function equalValues(a: Float32Array, b: Float32Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (!Object.is(a[i], b[i])) return false;
  return true;
}

export interface PermutedModel {
  readonly model: ModelProto;
  /** Stored tensors whose uses had to get initializers of their own, with the new names. */
  readonly untied: readonly { tensor: string; names: string[]; nodes: string[] }[];
}

/**
 * The checkpoint's model with its parameters set to `arena` (this checkpoint's layout),
 * keeping initializer names; uses of a shared tensor whose values now differ are untied.
 */
export function permutedModel(checkpoint: Checkpoint, arena: Float32Array): PermutedModel {
  checkArenaLength(checkpoint, arena);
  const model = cloneModel(checkpoint.model);
  const graph = model.graph!;
  const initializers = initializerMap(graph);
  const taken = new Set<string>([...initializers.keys()]);
  for (const node of graph.node) for (const o of node.output) taken.add(o);
  for (const v of graph.input) taken.add(v.name);
  const listedAsInput = new Set(graph.input.map((v) => v.name));
  const nodes = graph.node;

  const uses = new Map<string, typeof checkpoint.parameters[number][]>();
  for (const p of checkpoint.parameters) {
    const list = uses.get(p.tensor) ?? [];
    list.push(p);
    uses.set(p.tensor, list);
  }
  const untied: { tensor: string; names: string[]; nodes: string[] }[] = [];
  for (const [tensor, list] of uses) {
    const values = list.map((p) => arena.subarray(p.offset, p.offset + p.length));
    writeFloat32(initializers.get(tensor)!, values[0]!);
    const classes: { values: Float32Array; name: string }[] = [{ values: values[0]!, name: tensor }];
    const record = { tensor, names: [] as string[], nodes: [] as string[] };
    list.forEach((p, k) => {
      if (k === 0) return;
      let cls = classes.find((c) => equalValues(c.values, values[k]!));
      if (!cls) {
        let name = `${tensor}.llfc_use${p.index}`;
        for (let n = 2; taken.has(name); n++) name = `${tensor}.llfc_use${p.index}_${n}`;
        taken.add(name);
        const t: TensorProto = newTensor({ name, dataType: DataType.FLOAT, dims: int64s(p.shape), metadataProps: initializers.get(tensor)!.metadataProps });
        writeFloat32(t, values[k]!);
        graph.initializer.push(t);
        if (listedAsInput.has(tensor)) graph.input.push(floatValueInfo(name, p.shape));
        cls = { values: values[k]!, name };
        classes.push(cls);
        record.names.push(name);
      }
      if (cls.name !== tensor) {
        nodes[p.nodeIndex]!.input[p.inputIndex] = cls.name;
        record.nodes.push(p.node);
      }
    });
    if (record.names.length > 0) untied.push(record);
  }
  if (untied.length > 0) dropUnreadAliases(graph);
  return { model, untied };
}


// ---- permutations as JSON ---------------------------------------------------------------------

export const PERMUTATIONS_FORMAT = 'llfc-permutations';

export interface PermutationsFile {
  readonly format: typeof PERMUTATIONS_FORMAT;
  readonly version: 1;
  readonly convention: string;
  readonly model: string;
  readonly groups: {
    readonly index: number;
    readonly size: number;
    readonly label: string;
    readonly parameters: { parameter: number; tensor: string; node: string; axis: number; offset: number; inner: number }[];
    readonly permutation: number[];
  }[];
  readonly [key: string]: unknown;
}

export const PERMUTATION_CONVENTION = 'unit i of the permuted model is unit permutation[i] of the original, along every listed axis (positions offset + unit·inner + r, r < inner)';

export function permutationsToJson(spec: PermutationSpec, perms: readonly Int32Array[], extra: Record<string, unknown> = {}): PermutationsFile {
  return {
    format: PERMUTATIONS_FORMAT,
    version: 1,
    convention: PERMUTATION_CONVENTION,
    model: spec.file,
    ...extra,
    groups: spec.groups.map((g: PermutationGroup, k) => ({
      index: g.index,
      size: g.size,
      label: g.label,
      parameters: g.parameters.map((a) => ({ parameter: a.parameter, tensor: a.tensor, node: a.node, axis: a.axis, offset: a.offset, inner: a.inner })),
      permutation: Array.from(perms[k]!),
    })),
  };
}

/** Reads permutations written by permutationsToJson, checking that they fit `spec`. */
export function permutationsFromJson(spec: PermutationSpec, json: unknown, source: string): Int32Array[] {
  const file = json as Partial<PermutationsFile> | null;
  if (!file || typeof file !== 'object' || file.format !== PERMUTATIONS_FORMAT || !Array.isArray(file.groups)) {
    throw new PermutationError(`${source}: not an llfc permutations file (format '${PERMUTATIONS_FORMAT}')`);
  }
  if (file.groups.length !== spec.groups.length) {
    throw new PermutationError(`${source}: ${file.groups.length} groups, the spec of ${spec.file} has ${spec.groups.length}`);
  }
  const perms = spec.groups.map((g, k) => {
    const fg = file.groups![k]!;
    if (!fg || fg.size !== g.size || !Array.isArray(fg.parameters) || fg.parameters.map(actionKey).join() !== g.parameters.map(actionKey).join()) {
      throw new PermutationError(`${source}: group ${k} does not act where group ${k} ('${g.label}') of the spec of ${spec.file} does`);
    }
    if (!Array.isArray(fg.permutation)) throw new PermutationError(`${source}: group ${k} has no permutation`);
    return Int32Array.from(fg.permutation);
  });
  try {
    checkPermutations(spec, perms);
  } catch (error) {
    throw new PermutationError(`${source}: ${(error as Error).message}`);
  }
  return perms;
}
