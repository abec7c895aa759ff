/**
 * onnxruntime sessions (the one place llfc creates them). Over a checkpoint's architecture,
 * parameters are either fed as graph inputs on every run (one session reused for every α) or
 * baked in as initializers (one session per parameter set), and intermediate values are tapped
 * by name as extra outputs. Small helper graphs run in their own sessions, and the shape probe
 * runs a model once on zeros to learn the dims of every value it computes. Every session is
 * created by lib/runner.ts (the addon's runner, or onnxruntime-node).
 */
import * as ort from 'onnxruntime-node';
import { InputTypeError, InvalidArgumentError, ModelRunError, NonFiniteOutputError, OnnxFormatError, ShapeMismatchError } from './errors.js';
import { interpolationInputs, parameterValueName, rewireInterpolated, rewireParameters, type Checkpoint, type ValueSpec } from './checkpoint.js';
import type { Batch, Dataset } from './dataset/index.js';
import { firstNonFinite } from './dataset/batching.js';
import { initializerAliases, initializerMap, isAliasNode } from './onnx/graph.js';
import { encodeModel } from './onnx/model.js';
import { DataType, dataTypeName, newValueInfo, tensorType, type GraphProto, type ModelProto } from './onnx/proto.js';
import { createRunner, feedsKey, type OutputBuffers, type Runner, type RunOutputs } from './runner.js';

export type { RunOutputs } from './runner.js';

/**
 * Models of at least this many floats (64 MiB) never get weights derived from theirs baked into
 * sessions: analyze feeds A's and B's arenas to weightless sessions that compute θ(α) in the
 * graph layer by layer (rewireInterpolated), so memory stays near A and B however many α the
 * checks need (a session per α would hold a copy of the weights each, 13 of them for the
 * default grids); θ(α) is then computed in float32 by onnxruntime, equal to the native kernel's
 * float64 blend up to float32 rounding.
 */
export const BAKE_WEIGHTS_BELOW = 16 * 1024 * 1024;

/** Ops whose constant weights onnxruntime transforms once per session (pre-packed, blocked layouts). */
export const TRANSFORMED_WEIGHT_OPS: ReadonlySet<string> = new Set(['Conv', 'ConvTranspose']);

/**
 * Below this many parameters a pass keeps an array for every value it taps, written again in
 * place batch after batch: on a model this small the batch's features, not its weights, set the
 * peak memory, and an array kept spares the fresh pages a new one takes every run (the small
 * ResNet's analysis about 10% faster, about 150 MB more at batch 256). Larger models get new
 * arrays for the values a pass lets go early, so that their peak stays bounded by the model's size.
 */
export const KEEP_ARRAYS_BELOW = 16 * 1024 * 1024;

/** Whether a pass over this model keeps an array for every value it taps (KEEP_ARRAYS_BELOW). */
export function keepsEveryArray(checkpoint: Checkpoint): boolean {
  return checkpoint.arena.length < KEEP_ARRAYS_BELOW;
}

/**
 * Whether a pass over this model bakes the weights it derives (θ(α), commutativity's ΣW and ΔW)
 * into sessions of their own: smaller models with convolutions, whose once-per-session weight
 * transforms outweigh building a session per weight set (a small ResNet's pass takes 1.5× as long
 * fed). Models of Gemm and MatMul layers (MLPs, transformers) gain nothing from baking that pays
 * for 14 session builds, and run weightless sessions at any size.
 */
export function bakesWeights(checkpoint: Checkpoint): boolean {
  return checkpoint.arena.length < BAKE_WEIGHTS_BELOW && checkpoint.model.graph!.node.some((n) => TRANSFORMED_WEIGHT_OPS.has(n.opType));
}

/** Makes graph values outputs of the model too (those it does not output already), so a run returns them. */
function addOutputs(graph: GraphProto, names: readonly string[]): void {
  const outputs = new Set(graph.output.map((o) => o.name));
  for (const name of names) {
    if (outputs.has(name)) continue;
    graph.output.push(newValueInfo({ name }));
    outputs.add(name);
  }
}

/**
 * How parameters reach the session: baked in ('initializers'), an arena fed per run ('inputs'),
 * or A's and B's arenas and α fed per run, θ(α) computed in the graph ('interpolated').
 */
export type ParameterFeed = 'inputs' | 'initializers' | 'interpolated';

/** The parameters of one run: an arena (feed 'inputs'), or A's and B's arenas and α (feed 'interpolated'). */
export type RunParameters = Float32Array | { readonly a: Float32Array; readonly b: Float32Array; readonly alpha: number };

export interface ModelSessionOptions {
  /** Graph values to return besides the model outputs. */
  readonly taps?: readonly string[];
  /** Bake these parameters in (feed 'initializers'); without, parameters are fed per run. */
  readonly parameters?: Float32Array;
  /** Compute θ(α) in the graph from A's and B's arenas fed per run (feed 'interpolated'; rewireInterpolated). */
  readonly interpolated?: boolean;
  /** onnxruntime intra-op threads (default: onnxruntime's choice). */
  readonly threads?: number;
}

export class ModelSession {
  private constructor(
    readonly checkpoint: Checkpoint,
    private readonly session: Runner,
    readonly feed: ParameterFeed,
    /** Names this session returns: the model outputs, then the taps. */
    readonly outputNames: readonly string[],
  ) {}

  static async create(checkpoint: Checkpoint, options: ModelSessionOptions = {}): Promise<ModelSession> {
    const model = options.interpolated ? rewireInterpolated(checkpoint) : rewireParameters(checkpoint, options.parameters);
    const graph = model.graph!;
    const known = new Set<string>([checkpoint.input.name]);
    for (const node of graph.node) for (const o of node.output) known.add(o);
    const taps = options.taps ?? [];
    const unknown = taps.find((tap) => !known.has(tap));
    if (unknown !== undefined) throw new InvalidArgumentError(`${checkpoint.file}: no value named '${unknown}' to tap`);
    addOutputs(graph, taps.filter((tap) => tap !== checkpoint.input.name));
    const session = await createRunner(encodeModel(model), { ...(options.threads ? { threads: options.threads } : {}) }, checkpoint.file);
    const names = [...checkpoint.outputs.map((o) => o.name), ...taps.filter((t) => !checkpoint.outputs.some((o) => o.name === t))];
    return new ModelSession(checkpoint, session, options.interpolated ? 'interpolated' : options.parameters ? 'initializers' : 'inputs', names);
  }

  /** See checkInputShape (the function). */
  checkInputShape(sampleShape: readonly number[], source: string, inputType: 'float32' | 'int64' = 'float32', input: ValueSpec = this.checkpoint.input): void {
    checkInputShape(this.checkpoint, sampleShape, source, inputType, input);
  }

  /** See checkData (the function). */
  checkData(data: Dataset): void {
    checkData(this.checkpoint, data);
  }

  /**
   * Runs one batch of `data` (every named input, when it has several), with `parameters` when fed
   * per run; `into` keeps the outputs' arrays for the next runs (valid until the next run into it).
   */
  async runBatch(batch: Batch, data: Dataset, parameters?: RunParameters, into?: OutputBuffers): Promise<RunOutputs> {
    const feeds = batchFeeds(this.checkpoint, batch, data);
    const outputs = await this.runFeeds(feeds, batchWhat(batch, data), parameters, into);
    checkFiniteOutputs(this.checkpoint, outputs, batch, data);
    return outputs;
  }

  /**
   * Runs a batch: `inputs` holds samples of shape `dims` ([batch, ...sample]); `parameters`
   * (an arena of the checkpoint's layout) is required when the session takes them per run.
   */
  async run(inputs: Float32Array | BigInt64Array, dims: readonly number[], parameters?: RunParameters, into?: OutputBuffers): Promise<RunOutputs> {
    return this.runFeeds({ [this.checkpoint.input.name]: inputTensor(this.checkpoint, this.checkpoint.input.name, inputs, dims) }, `a batch of shape [${dims.join(', ')}]`, parameters, into);
  }

  private async runFeeds(feeds: Record<string, ort.Tensor>, what: string, parameters?: RunParameters, into?: OutputBuffers): Promise<RunOutputs> {
    const key = into ? feedsKey(feeds) : undefined;
    if (this.feed === 'inputs') {
      if (!(parameters instanceof Float32Array)) throw new InvalidArgumentError('this session takes an arena of parameters per run');
      addParameterFeeds(feeds, this.checkpoint, parameters);
    } else if (this.feed === 'interpolated') {
      if (!parameters || parameters instanceof Float32Array) throw new InvalidArgumentError('this session takes A’s and B’s arenas and α per run');
      addInterpolationFeeds(feeds, this.checkpoint, parameters);
    }
    try {
      return await this.session.run(feeds, this.outputNames, into, key);
    } catch (error) {
      throw runError(this.checkpoint.file, what, error);
    }
  }

  async release(): Promise<void> {
    await this.session.release();
  }
}

/**
 * Throws ShapeMismatchError unless samples of `sampleShape` fit the model's input, and
 * InputTypeError unless the input takes the data's type: float data a FLOAT input, token ids
 * (int64 data) an INT64 or INT32 input.
 */
export function checkInputShape(checkpoint: Checkpoint, sampleShape: readonly number[], source: string, inputType: 'float32' | 'int64' = 'float32', input: ValueSpec = checkpoint.input): void {
  const { file } = checkpoint;
  const type = inputElementType(checkpoint, input.name);
  const takes = inputType === 'int64' ? [DataType.INT64, DataType.INT32] : [DataType.FLOAT];
  if (!takes.includes(type)) {
    const data = inputType === 'int64' ? 'token ids (integers, fed as int64)' : 'FLOAT (float32)';
    const hint = inputType === 'int64' ? 'give float data for this model' : 'a token model takes integer data (.npy/.npz int64, int32, uint16, or --tokens)';
    throw new InputTypeError(`${source}: the data is ${data} but the input '${input.name}' of ${file} takes ${dataTypeName(type)}; ${hint}`);
  }
  const dims = input.shape;
  const fits = dims.length === sampleShape.length + 1 && dims.slice(1).every((d, i) => d < 0 || d === sampleShape[i]);
  if (!fits) {
    throw new ShapeMismatchError(
      `${source}: samples of shape [${sampleShape.join(', ')}] do not fit the input '${input.name}' of ${checkpoint.file}, ` +
        `which takes [${dims.map((d) => (d < 0 ? 'N' : d)).join(', ')}]`,
    );
  }
}

/**
 * Throws unless the data feeds every input of the model, each with samples of its shape and
 * type: one unnamed input feeds a one-input model; named inputs must be exactly the model's.
 */
export function checkData(checkpoint: Checkpoint, data: Dataset): void {
  const { inputs, file } = checkpoint;
  const names = inputs.map((v) => `'${v.name}'`).join(', ');
  if (!data.namedInputs) {
    if (inputs.length > 1) {
      throw new InvalidArgumentError(`${file} takes ${inputs.length} inputs (${names}); give each by name (--input name=file; API: inputs)`);
    }
    checkInputShape(checkpoint, data.sampleShape, data.source, data.inputType);
    return;
  }
  const given = new Map(data.namedInputs.map((n) => [n.name, n]));
  const unknown = data.namedInputs.find((n) => !inputs.some((v) => v.name === n.name));
  if (unknown) throw new InvalidArgumentError(`${unknown.source}: ${file} has no input '${unknown.name}'; its inputs are ${names}`);
  const missing = inputs.find((v) => !given.has(v.name));
  if (missing) throw new InvalidArgumentError(`no data for the input '${missing.name}' of ${file}; its inputs are ${names}, given ${data.namedInputs.map((n) => `'${n.name}'`).join(', ')}`);
  for (const v of inputs) {
    const n = given.get(v.name)!;
    checkInputShape(checkpoint, n.sampleShape, n.source, n.inputType, v);
  }
}

/**
 * Throws NonFiniteOutputError at the first NaN or ±Inf among the model's own float outputs
 * (the logits, not the taps) of a batch whose inputs are all finite. Inputs that hold such
 * values (let through by allowNonfinite) make such outputs expected.
 */
export function checkFiniteOutputs(checkpoint: Checkpoint, outputs: RunOutputs, batch: Batch, data: Dataset): void {
  for (const { name } of checkpoint.outputs) {
    const values = outputs[name]?.data;
    if (!(values instanceof Float32Array)) continue;
    const at = firstNonFinite(values);
    if (at < 0) continue;
    const inputs = [batch.inputs, ...Object.values(batch.named ?? {})];
    if (inputs.some((x) => x instanceof Float32Array && firstNonFinite(x) >= 0)) return;
    const perSample = values.length / batch.size;
    const sample = batch.start + (Number.isInteger(perSample) ? Math.floor(at / perSample) : 0);
    throw new NonFiniteOutputError(checkpoint.file, name, sample, values[at]!, data.source);
  }
}

/** The data inputs of one batch of `data` as the checkpoint's feeds (every named input, when it has several). */
export function batchFeeds(checkpoint: Checkpoint, batch: Batch, data: Dataset): Record<string, ort.Tensor> {
  if (!batch.named || !data.namedInputs) return { [checkpoint.input.name]: inputTensor(checkpoint, checkpoint.input.name, batch.inputs, [batch.size, ...data.sampleShape]) };
  const feeds: Record<string, ort.Tensor> = {};
  for (const n of data.namedInputs) feeds[n.name] = inputTensor(checkpoint, n.name, batch.named[n.name]!, [batch.size, ...n.sampleShape]);
  return feeds;
}

/** A batch as run errors name it. */
export function batchWhat(batch: Batch, data: Dataset): string {
  if (!batch.named || !data.namedInputs) return `a batch of shape [${[batch.size, ...data.sampleShape].join(', ')}]`;
  return `a batch of ${batch.size} samples of ${data.namedInputs.map((n) => `${n.name} [${n.sampleShape.join(', ')}]`).join(', ')}`;
}

/** Feeds the parameters of a rewired model (rewireParameters without values) from an arena, without copying it. */
function addParameterFeeds(feeds: Record<string, ort.Tensor>, checkpoint: Checkpoint, arena: Float32Array): void {
  for (const p of checkpoint.parameters) feeds[parameterValueName(p)] = new ort.Tensor('float32', arena.subarray(p.offset, p.offset + p.length), [...p.shape]);
}

/** Feeds an interpolating model (rewireInterpolated): A's and B's arenas without copying them, and α. */
function addInterpolationFeeds(feeds: Record<string, ort.Tensor>, checkpoint: Checkpoint, { a, b, alpha }: { a: Float32Array; b: Float32Array; alpha: number }): void {
  const names = interpolationInputs;
  for (const p of checkpoint.parameters) {
    feeds[names.a(p)] = new ort.Tensor('float32', a.subarray(p.offset, p.offset + p.length), [...p.shape]);
    feeds[names.b(p)] = new ort.Tensor('float32', b.subarray(p.offset, p.offset + p.length), [...p.shape]);
  }
  feeds[names.alpha] = new ort.Tensor('float32', Float32Array.of(alpha), []);
}

/** The element type of a data input of the checkpoint (FLOAT when the model does not say). */
function inputElementType(checkpoint: Checkpoint, name: string = checkpoint.input.name): number {
  const info = (checkpoint.model.graph?.input ?? []).find((v) => v.name === name);
  return tensorType(info)?.elemType ?? DataType.FLOAT;
}

/** The data as the model's input tensor: floats as float32, token ids as int64 (int32 where the model takes that). */
function inputTensor(checkpoint: Checkpoint, name: string, inputs: Float32Array | BigInt64Array, dims: readonly number[]): ort.Tensor {
  if (inputs instanceof Float32Array) return new ort.Tensor('float32', inputs, [...dims]);
  if (inputElementType(checkpoint, name) !== DataType.INT32) return new ort.Tensor('int64', inputs, [...dims]);
  const narrow = new Int32Array(inputs.length);
  for (let i = 0; i < inputs.length; i++) {
    const v = inputs[i]!;
    if (v < -2147483648n || v > 2147483647n) {
      throw new InputTypeError(`${checkpoint.file}: token id ${v} does not fit the int32 input '${name}'`);
    }
    narrow[i] = Number(v);
  }
  return new ort.Tensor('int32', narrow, [...dims]);
}

/** A float tensor as the checks see it: values and dims. */
export interface FloatTensor {
  readonly data: Float32Array;
  readonly dims: readonly number[];
}

/** Reads a run output as a FloatTensor; throws when it is not float32. */
export function floatOutput(outputs: RunOutputs, name: string, where: string): FloatTensor {
  const tensor = outputs[name];
  if (!tensor) throw new InvalidArgumentError(`${where}: the run produced no value '${name}'`);
  if (tensor.type !== 'float32') throw new InvalidArgumentError(`${where}: '${name}' is ${tensor.type}, not a float tensor`);
  return { data: tensor.data as Float32Array, dims: tensor.dims };
}

/** A failed onnxruntime run of `file`'s model on `what`, as a typed error. */
export function runError(file: string, what: string, error: unknown): ModelRunError {
  return new ModelRunError(file, `${file}: onnxruntime could not run it on ${what}: ${(error as Error).message}`, { cause: error });
}

/** A session over a small helper graph (one activation, a linear layer's products, …). */
export class GraphSession {
  private constructor(
    private readonly session: Runner,
    private readonly where: string,
  ) {}

  /** A session of `model`, given as a ModelProto or already encoded. */
  static async create(model: ModelProto | Uint8Array, where: string): Promise<GraphSession> {
    const bytes = model instanceof Uint8Array ? model : encodeModel(model);
    return new GraphSession(await createRunner(bytes, {}, where, 'onnxruntime cannot build a helper graph'), where);
  }

  /**
   * Runs the graph on `inputs`, its outputs into `into`'s arrays where given; `where` names the
   * caller in errors (default: where it was created), for a session shared by several.
   */
  async run(inputs: Record<string, FloatTensor>, where = this.where, into?: OutputBuffers): Promise<RunOutputs> {
    const feeds: Record<string, ort.Tensor> = {};
    for (const [name, t] of Object.entries(inputs)) feeds[name] = new ort.Tensor('float32', t.data, [...t.dims]);
    try {
      return await this.session.run(feeds, this.session.outputNames, into, into ? feedsKey(feeds) : undefined);
    } catch (error) {
      throw runError(where, `a helper graph fed ${Object.entries(inputs).map(([name, t]) => `${name} [${t.dims.join(', ')}]`).join(', ')}`, error);
    }
  }

  async release(): Promise<void> {
    await this.session.release();
  }
}

// ---- the shape probe ---------------------------------------------------------------------------

/** Dims and element type of a graph value, as onnxruntime computed it. */
export interface ValueShape {
  readonly dims: readonly number[];
  readonly type: string;
  /** The values of a small integer tensor (shape arithmetic: Slice bounds computed from Shape), as probed. */
  readonly ints?: readonly number[];
}

/** Integer tensors up to this many elements keep their probed values. */
const PROBED_INTS = 64;

/** The input shape to probe with: the model's, a symbolic batch as 2. */
export function probeInputShape(checkpoint: Checkpoint, given?: readonly number[]): number[] {
  const dims = checkpoint.input.shape;
  if (given) {
    if (given.length !== dims.length || given.some((d, i) => !Number.isInteger(d) || d <= 0 || (dims[i]! >= 0 && dims[i] !== d))) {
      throw new InvalidArgumentError(
        `${checkpoint.file}: input shape [${given.join(', ')}] does not fit the input '${checkpoint.input.name}' of shape [${dims.map((d) => (d < 0 ? '?' : d)).join(', ')}]`,
      );
    }
    return [...given];
  }
  return dims.map((d, i) => {
    if (d >= 0) return d;
    if (i === 0) return 2;
    throw new InvalidArgumentError(
      `${checkpoint.file}: the input '${checkpoint.input.name}' has a symbolic dimension at axis ${i}; give the input shape (--input-shape)`,
    );
  });
}

/**
 * Runs the model once on zeros and returns the dims and type of every value it computes.
 * Graph optimization is off so that every value of the graph as written is computed.
 */
export async function probeShapes(checkpoint: Checkpoint, inputShape: readonly number[]): Promise<Map<string, ValueShape>> {
  // Parameters are fed from the arena: the probe's session holds no copy of the weights.
  const model = rewireParameters(checkpoint);
  const graph = model.graph!;
  const aliases = initializerAliases(graph, initializerMap(graph));
  addOutputs(graph, graph.node.filter((node) => !isAliasNode(node, aliases)).flatMap((node) => node.output.filter((o) => o !== '')));
  const session = await createRunner(encodeModel(model), { optimize: false }, checkpoint.file);
  const shapes = new Map<string, ValueShape>();
  try {
    const input = zeroInput(checkpoint, inputShape);
    let result: RunOutputs;
    try {
      const feeds: Record<string, ort.Tensor> = { [checkpoint.input.name]: input };
      addParameterFeeds(feeds, checkpoint, checkpoint.arena);
      result = await session.run(feeds, session.outputNames);
    } catch (error) {
      throw new OnnxFormatError(checkpoint.file, `running it on a zero input of shape [${inputShape.join(', ')}] failed: ${(error as Error).message}`, { cause: error });
    }
    for (const [name, tensor] of Object.entries(result)) {
      const small = (tensor.type === 'int64' || tensor.type === 'int32') && tensor.size <= PROBED_INTS;
      shapes.set(name, { dims: [...tensor.dims], type: tensor.type, ...(small ? { ints: Array.from(tensor.data as BigInt64Array | Int32Array, Number) } : {}) });
    }
  } finally {
    await session.release();
  }
  shapes.set(checkpoint.input.name, { dims: [...inputShape], type: zeroInput(checkpoint, [0]).type });
  return shapes;
}

/** Zeros of the input's element type (float32 unless the model says otherwise). */
function zeroInput(checkpoint: Checkpoint, dims: readonly number[]): ort.Tensor {
  const n = dims.reduce((a, d) => a * d, 1);
  const type = inputElementType(checkpoint);
  switch (type) {
    case DataType.FLOAT:
      return new ort.Tensor('float32', new Float32Array(n), [...dims]);
    case DataType.DOUBLE:
      return new ort.Tensor('float64', new Float64Array(n), [...dims]);
    case DataType.INT64:
      return new ort.Tensor('int64', new BigInt64Array(n), [...dims]);
    case DataType.INT32:
      return new ort.Tensor('int32', new Int32Array(n), [...dims]);
    case DataType.UINT8:
      return new ort.Tensor('uint8', new Uint8Array(n), [...dims]);
    case DataType.BOOL:
      return new ort.Tensor('bool', new Uint8Array(n), [...dims]);
    default:
      throw new InvalidArgumentError(`${checkpoint.file}: the input '${checkpoint.input.name}' has element type ${type}, which the shape probe cannot feed`);
  }
}
