/**
 * The inference engine: walks the graph in order and lets the rule table (rules/index.ts)
 * relate the channel layouts of each node's inputs, parameters and outputs.
 *
 * Every floating-point graph value and every parameter use gets one layout per axis over the
 * channel variables of a VarTable (layout.ts). The model input starts as fresh variables; each
 * node is handed to the rule of its op type. A node no rule follows (an unknown op, or a rule
 * that returns false or throws on shapes it did not expect) fixes everything it touches, and its
 * outputs get fresh fixed variables. Parameter axes no rule tied to a channel stay in place, as
 * do the model input and outputs and any channels turned into a non-float value.
 */
import type { Checkpoint, Parameter } from '../../checkpoint.js';
import { constantInts } from '../../onnx/attributes.js';
import { constantNodes, initializerAliases, initializerMap, isAliasNode, nodeName } from '../../onnx/graph.js';
import { toNumber, type NodeProto, type TensorProto } from '../../onnx/proto.js';
import { tensorInts } from '../../onnx/tensor.js';
import type { ValueShape } from '../../session.js';
import { uniformAlong } from './constants.js';
import { span, VarTable, type FixReason, type Segment } from './layout.js';
import { loud, quiet, type Operand, type Rule, type RuleContext, type Site, type Tracked } from './rule.js';
import { RULES } from './rules/index.js';

// Booleans are followed too: a mask computed from channels (a comparison, as in top-k routing) carries them.
const FLOAT_TYPES = new Set(['float32', 'float64', 'float16', 'bfloat16', 'bool']);

/** What the walk leaves behind: the solved variables and the layouts bound to them. */
export interface SolvedGraph {
  readonly checkpoint: Checkpoint;
  readonly shapes: Map<string, ValueShape>;
  readonly inputShape: readonly number[];
  readonly vars: VarTable;
  /** Layouts per axis of every tracked (floating-point) graph value, in graph order. */
  readonly values: Map<string, Segment[][]>;
  /** Layouts per axis of every parameter use. */
  readonly params: Map<number, (Segment[] | undefined)[]>;
  readonly unknownOps: { node: string; op: string }[];
  /** Values read by weight layers (the post-activation features). */
  readonly weightInputs: Set<string>;
  /** Variables created for the output channels of weight layers (for reporting width-1 layers). */
  readonly channelVars: Set<number>;
  readonly outputNames: Set<string>;
  /** Expert families: a variable with one unit per expert, and the parameter uses each expert owns. */
  readonly experts: { family: number; parameters: number[][] }[];
}

/** Runs the rule table over the graph of `checkpoint` with the probed value shapes. */
export function solveGraph(checkpoint: Checkpoint, shapes: Map<string, ValueShape>, inputShape: readonly number[], constants: readonly string[] = []): SolvedGraph {
  return new Inference(checkpoint, shapes, inputShape, new Set(constants)).run();
}

class Inference implements RuleContext {
  readonly vars = new VarTable();
  private readonly values = new Map<string, Segment[][]>();
  private readonly params = new Map<number, (Segment[] | undefined)[]>();
  private readonly unknownOps: { node: string; op: string }[] = [];
  private readonly weightInputs = new Set<string>();
  private readonly channelVars = new Set<number>();
  private readonly paramAt = new Map<string, Parameter>();
  private readonly initializers: Map<string, TensorProto>;
  private readonly aliases: Map<string, string>;
  private readonly constants: Map<string, NodeProto>;
  private readonly consumed = new Set<string>();
  private readonly outputNames: Set<string>;
  private readonly constantUses: { o: Extract<Operand, { kind: 'param' }>; where: string }[] = [];
  private readonly expertSets: { family: number; parameters: number[][] }[] = [];
  /** The node that produces each value. */
  private readonly producer = new Map<string, number>();

  constructor(
    private readonly cp: Checkpoint,
    private readonly shapes: Map<string, ValueShape>,
    private readonly inputShape: readonly number[],
    /** Stored tensors that are symmetry-breaking constants (constants.ts). */
    private readonly constantTensors: ReadonlySet<string>,
  ) {
    const graph = cp.model.graph!;
    this.initializers = initializerMap(graph);
    this.aliases = initializerAliases(graph, this.initializers);
    for (const p of cp.parameters) this.paramAt.set(`${p.nodeIndex}:${p.inputIndex}`, p);
    this.constants = constantNodes(graph);
    for (const node of graph.node) for (const i of node.input) this.consumed.add(i);
    graph.node.forEach((node, k) => node.output.forEach((o) => this.producer.set(o, k)));
    this.outputNames = new Set(graph.output.map((o) => o.name));
    for (const o of this.outputNames) this.consumed.add(o);
  }

  run(): SolvedGraph {
    const graph = this.cp.model.graph!;
    const input = this.cp.input.name;
    const reason = loud(`model input '${input}'`);
    if (FLOAT_TYPES.has(this.shapes.get(input)?.type ?? 'float32')) {
      this.values.set(
        input,
        this.inputShape.map((d, k) => this.vars.axis(d, `input '${input}' axis ${k}`, reason)),
      );
    }
    graph.node.forEach((node, index) => {
      if (isAliasNode(node, this.aliases)) return;
      this.visit(node, index);
    });
    for (const o of graph.output) {
      const layouts = this.values.get(o.name);
      if (layouts) for (const l of layouts) this.vars.fixLayout(l, loud(`model output '${o.name}'`));
    }
    // Once every other constraint is known, so that only axes that could move are reported.
    for (const { o, where } of this.constantUses) this.keepConstant(o, where);
    return {
      checkpoint: this.cp,
      shapes: this.shapes,
      inputShape: this.inputShape,
      vars: this.vars,
      values: this.values,
      params: this.params,
      unknownOps: this.unknownOps,
      weightInputs: this.weightInputs,
      channelVars: this.channelVars,
      outputNames: this.outputNames,
      experts: this.expertSets,
    };
  }

  // ---- operands and layouts (the RuleContext) -------------------------------------------------

  private operand(node: NodeProto, nodeIndex: number, slot: number): Operand {
    const name = node.input[slot] ?? '';
    if (!name) return { kind: 'none' };
    const p = this.paramAt.get(`${nodeIndex}:${slot}`);
    if (p) return { kind: 'param', p, dims: p.shape };
    const layouts = this.values.get(name);
    const shape = this.shapes.get(name);
    if (layouts && shape) return { kind: 'value', name, dims: shape.dims };
    return { kind: 'other', name };
  }

  L(o: Tracked, k: number, origin?: string): Segment[] {
    if (o.kind === 'value') return this.values.get(o.name)![k]!;
    let axes = this.params.get(o.p.index);
    if (!axes) {
      axes = o.p.shape.map(() => undefined);
      this.params.set(o.p.index, axes);
    }
    let l = axes[k];
    if (!l) {
      l = this.vars.axis(o.p.shape[k]!, origin ?? `'${o.p.tensor}' axis ${k} at ${o.p.node}`);
      axes[k] = l;
    }
    return l;
  }

  tracked(o: Operand | undefined): o is Tracked {
    return o?.kind === 'param' || o?.kind === 'value';
  }

  outDims(node: NodeProto, slot = 0): readonly number[] | undefined {
    const name = node.output[slot] ?? '';
    const s = name ? this.shapes.get(name) : undefined;
    return s && FLOAT_TYPES.has(s.type) ? s.dims : undefined;
  }

  setOut(node: NodeProto, slot: number, layouts: Segment[][]): void {
    const name = node.output[slot] ?? '';
    const dims = this.outDims(node, slot);
    if (!name || !dims) return;
    if (layouts.length !== dims.length || layouts.some((l, k) => span(l) !== dims[k])) {
      throw new Error(`internal: layouts of '${name}' do not match its dims [${dims.join(', ')}]`);
    }
    this.keepHeadsWithTheirDims(name, layouts);
    this.values.set(name, layouts);
  }

  /**
   * Head dims (Segment.of) mean "the dims of the head this element is in": a value that no longer
   * has the head axis beside them (heads summed over, or spread) cannot tell the heads apart, so
   * their dims stay in place.
   */
  private keepHeadsWithTheirDims(name: string, layouts: Segment[][]): void {
    const expanded = layouts.map((l) => this.vars.expand(l));
    expanded.forEach((l, k) => {
      for (const s of l) {
        if (s.of === undefined) continue;
        const family = this.vars.find(s.v);
        const beside = expanded.some((m, j) => j !== k && m.some((x) => x.of === undefined && this.vars.find(x.v) === family));
        if (!beside) this.vars.fixLayout([s], loud(`'${name}' holds attention head dims without their head axis`));
      }
    });
  }

  freshFixed(dims: readonly number[], origin: string, reason: FixReason): Segment[][] {
    return dims.map((d, k) => this.vars.axis(d, `${origin} axis ${k}`, reason));
  }

  ints(name: string | undefined): number[] | undefined {
    if (!name) return undefined;
    const stored = this.initializers.has(name) ? name : this.aliases.get(name);
    if (stored !== undefined) return tensorInts(this.initializers.get(stored)!);
    const c = this.constants.get(name);
    // Shape arithmetic (MultiheadAttention's q/k/v Slice bounds): the values the probe computed.
    return c ? constantInts(c) : this.shapes.get(name)?.ints?.slice();
  }

  otherDims(name: string): readonly number[] | undefined {
    const stored = this.initializers.get(this.aliases.get(name) ?? name);
    return stored ? stored.dims.map((d) => toNumber(d)) : this.shapes.get(name)?.dims;
  }

  outputChannels(w: Tracked, axis: number, name: string): Segment[] {
    const l = this.L(w, axis, `${name} output channels`);
    if (w.kind === 'param') for (const s of l) this.channelVars.add(s.v);
    return l;
  }

  markChannels(v: number): void {
    this.channelVars.add(v);
  }

  experts(values: readonly string[], family: number): boolean {
    const nodes = this.cp.model.graph!.node;
    const ancestry = values.map((v) => {
      const seen = new Set<number>();
      const stack = [v];
      while (stack.length > 0) {
        const k = this.producer.get(stack.pop()!);
        if (k === undefined || seen.has(k)) continue;
        seen.add(k);
        stack.push(...nodes[k]!.input);
      }
      return seen;
    });
    const own = ancestry.map((set, i) => [...set].filter((k) => ancestry.every((other, j) => j === i || !other.has(k))).sort((x, y) => x - y));
    const params = own.map((ks) => this.cp.parameters.filter((p) => ks.includes(p.nodeIndex)));
    const signature = (i: number): string => own[i]!.map((k) => nodes[k]!.opType).join() + '|' + params[i]!.map((p) => `${p.inputIndex}:${p.shape.join('x')}`).join();
    if (params[0]!.length === 0 || values.some((_, i) => signature(i) !== signature(0))) return false;
    this.expertSets.push({ family, parameters: params.map((list) => list.map((p) => p.index)) });
    return true;
  }

  spatial(from: number, dims: readonly number[], where: string): Segment[][] {
    return dims.slice(from).map((d, k) => this.vars.axis(d, `${where} spatial axis ${k}`, quiet('spatial axis')));
  }

  /** Every variable a tracked operand carries (all axes). */
  private fixOperand(o: Operand, reason: FixReason): void {
    if (o.kind === 'value') for (const l of this.values.get(o.name)!) this.vars.fixLayout(l, reason);
    if (o.kind === 'param') o.p.shape.forEach((_, k) => this.vars.fixLayout(this.L(o, k), reason));
  }

  // ---- visiting -------------------------------------------------------------------------------

  private visit(node: NodeProto, index: number): void {
    const name = nodeName(node, index);
    const op = node.opType;
    const inputs = node.input.map((_, k) => this.operand(node, index, k));
    const where = `node '${name}' (${op})`;
    const rule = RULES.get(op);
    let known = false;
    let failure: string | undefined;
    try {
      known = node.domain === '' || node.domain === 'ai.onnx' ? this.apply(rule, { node, name, op, inputs, where }) : false;
    } catch (error) {
      // A rule that cannot follow this node (shapes it did not expect): everything the node
      // touches stays fixed, as for an unknown op. Constraints already added only restrict more.
      failure = (error as Error).message;
    }
    if (!known) {
      this.unknownOps.push({ node: name, op: node.domain ? `${node.domain}::${op}` : op });
      const reason = loud(failure ? `${where} could not be followed (${failure})` : `${where} is an op the spec inference does not know`);
      for (const o of inputs) this.fixOperand(o, reason);
      node.output.forEach((out, slot) => {
        const dims = this.outDims(node, slot);
        if (out && dims) this.values.set(out, this.freshFixed(dims, `'${out}'`, reason));
      });
    }
    // Parameter axes no rule tied to a channel stay in place.
    for (const o of inputs) {
      if (o.kind !== 'param') continue;
      const axes = this.params.get(o.p.index) ?? o.p.shape.map(() => undefined);
      this.params.set(o.p.index, axes);
      o.p.shape.forEach((d, k) => {
        if (!axes[k]) axes[k] = this.vars.axis(d, `'${o.p.tensor}' axis ${k} at ${name}`, quiet(`axis ${k} of '${o.p.tensor}' at ${where} is not a channel axis`));
      });
    }
    for (const o of inputs) if (o.kind === 'param' && this.constantTensors.has(o.p.tensor)) this.constantUses.push({ o, where });
    // Outputs a rule left undescribed, and non-float results computed from channels.
    node.output.forEach((out, slot) => {
      if (!out) return;
      const shape = this.shapes.get(out);
      if (shape && FLOAT_TYPES.has(shape.type) && !this.values.has(out)) {
        this.values.set(out, this.freshFixed(shape.dims, `'${out}'`, loud(`output ${slot} of ${where} is not followed`)));
      }
      if (shape && !FLOAT_TYPES.has(shape.type) && this.consumed.has(out) && !rule?.shapeOnly) {
        const reason = loud(`${where} turns channels into the non-float value '${out}'`);
        for (const o of inputs) this.fixOperand(o, reason);
      }
    });
    if (rule?.readsWeights && inputs.some((o) => o.kind === 'param')) {
      for (const o of inputs) if (o.kind === 'value') this.weightInputs.add(o.name);
    }
  }

  /** A constant's axes along which it varies stay in place: permuting them would change the network. */
  private keepConstant(o: Extract<Operand, { kind: 'param' }>, where: string): void {
    const values = this.cp.arena.subarray(o.p.offset, o.p.offset + o.p.length);
    o.p.shape.forEach((_, k) => {
      const l = this.L(o, k);
      if (!this.vars.permutable(l) || uniformAlong(values, o.p.shape, k)) return;
      this.vars.fixLayout(l, loud(`'${o.p.tensor}' at ${where} is a constant (the same in both checkpoints, not trained) that varies along axis ${k}: permuting would change it`));
    });
  }

  /** Applies the rule of a node's op; false when there is none (or it cannot follow the node). */
  private apply(rule: Rule | undefined, site: Site): boolean {
    if (rule?.anyInputs) return rule.apply(site, this);
    if (!site.inputs.some((o) => this.tracked(o))) return this.constantOutputs(site);
    return rule ? rule.apply(site, this) : false;
  }

  /** A node on non-float (or unknown) inputs only: its float outputs are constants. */
  private constantOutputs({ node, where }: Site): boolean {
    node.output.forEach((out, slot) => {
      const dims = this.outDims(node, slot);
      if (out && dims) this.setOut(node, slot, this.freshFixed(dims, `'${out}'`, loud(`constant computed by ${where}`)));
    });
    return true;
  }
}
