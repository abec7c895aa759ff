/**
 * onnxruntime sessions over a checkpoint's architecture. Parameters are either fed as graph
 * inputs on every run (one session reused for every α) or baked in as initializers (one
 * session per parameter set). Intermediate values are tapped by name as extra outputs.
 */
import * as ort from 'onnxruntime-node';
import { InputTypeError, InvalidArgumentError, OnnxFormatError, ShapeMismatchError } from './errors.js';
import { parameterValueName, rewireParameters, type Checkpoint } from './checkpoint.js';
import { encodeModel } from './onnx/model.js';
import { DataType, dataTypeName, onnx, type ModelProto } from './onnx/proto.js';

/**
 * Options for every session: full graph optimization, and intra-op threads that sleep rather
 * than spin between runs, since llfc keeps many sessions (one per α, helper graphs) and the
 * native kernels' threads share the same cores.
 */
function sessionOptions(threads?: number): ort.InferenceSession.SessionOptions {
  return {
    graphOptimizationLevel: 'all',
    // One memory arena per session would hold the peak of every α model and helper graph at once.
    enableCpuMemArena: false,
    ...(threads ? { intraOpNumThreads: threads } : {}),
    extra: { session: { intra_op: { allow_spinning: '0' }, inter_op: { allow_spinning: '0' } } },
  };
}

/** How parameters reach the session. */
export type ParameterFeed = 'inputs' | 'initializers';

export interface ModelSessionOptions {
  /** Graph values to return besides the model outputs. */
  readonly taps?: readonly string[];
  /** Bake these parameters in (feed 'initializers'); without, parameters are fed per run. */
  readonly parameters?: Float32Array;
  /** onnxruntime intra-op threads (default: onnxruntime's choice). */
  readonly threads?: number;
}

/** Output values of one run, by graph value name. */
export type RunOutputs = Record<string, ort.Tensor>;

export class ModelSession {
  private constructor(
    readonly checkpoint: Checkpoint,
    private readonly session: ort.InferenceSession,
    readonly feed: ParameterFeed,
    /** Names this session returns: the model outputs, then the taps. */
    readonly outputNames: readonly string[],
  ) {}

  static async create(checkpoint: Checkpoint, options: ModelSessionOptions = {}): Promise<ModelSession> {
    const model = rewireParameters(checkpoint, options.parameters);
    const graph = model.graph!;
    const outputs = new Set((graph.output ?? []).map((o) => o.name ?? ''));
    const known = new Set<string>([checkpoint.input.name]);
    for (const node of graph.node ?? []) for (const o of node.output ?? []) known.add(o);
    for (const tap of options.taps ?? []) {
      if (!known.has(tap)) throw new InvalidArgumentError(`${checkpoint.file}: no value named '${tap}' to tap`);
      if (!outputs.has(tap) && tap !== checkpoint.input.name) {
        graph.output!.push(onnx.ValueInfoProto.create({ name: tap }));
        outputs.add(tap);
      }
    }
    let session: ort.InferenceSession;
    try {
      session = await ort.InferenceSession.create(encodeModel(model), sessionOptions(options.threads));
    } catch (error) {
      throw new OnnxFormatError(checkpoint.file, `onnxruntime cannot load it: ${(error as Error).message}`, { cause: error });
    }
    const names = [...checkpoint.outputs.map((o) => o.name), ...(options.taps ?? []).filter((t) => !checkpoint.outputs.some((o) => o.name === t))];
    return new ModelSession(checkpoint, session, options.parameters ? 'initializers' : 'inputs', names);
  }

  /**
   * Throws ShapeMismatchError unless samples of `sampleShape` fit the model's input, and
   * InputTypeError unless the input takes float32 (data is always fed as float32; a token
   * model takes int64 ids).
   */
  checkInputShape(sampleShape: readonly number[], source: string): void {
    const { input, file } = this.checkpoint;
    const info = (this.checkpoint.model.graph?.input ?? []).find((v) => v.name === input.name);
    const type = info?.type?.tensorType?.elemType ?? DataType.FLOAT;
    if (type !== DataType.FLOAT) {
      throw new InputTypeError(`${source}: the data is FLOAT (float32) but the input '${input.name}' of ${file} takes ${dataTypeName(type)}; llfc feeds float data only`);
    }
    const dims = this.checkpoint.input.shape;
    const fits = dims.length === sampleShape.length + 1 && dims.slice(1).every((d, i) => d < 0 || d === sampleShape[i]);
    if (!fits) {
      throw new ShapeMismatchError(
        `${source}: samples of shape [${sampleShape.join(', ')}] do not fit the input '${this.checkpoint.input.name}' of ${this.checkpoint.file}, ` +
          `which takes [${dims.map((d) => (d < 0 ? 'N' : d)).join(', ')}]`,
      );
    }
  }

  /**
   * Runs a batch: `inputs` holds samples of shape `dims` ([batch, ...sample]); `parameters`
   * (an arena of the checkpoint's layout) is required when the session takes them per run.
   */
  async run(inputs: Float32Array, dims: readonly number[], parameters?: Float32Array): Promise<RunOutputs> {
    const feeds: Record<string, ort.Tensor> = { [this.checkpoint.input.name]: new ort.Tensor('float32', inputs, [...dims]) };
    if (this.feed === 'inputs') {
      if (!parameters) throw new InvalidArgumentError('this session takes its parameters per run');
      for (const p of this.checkpoint.parameters) {
        feeds[parameterValueName(p)] = new ort.Tensor('float32', parameters.subarray(p.offset, p.offset + p.length), [...p.shape]);
      }
    }
    return this.session.run(feeds, [...this.outputNames]);
  }

  async release(): Promise<void> {
    await this.session.release();
  }
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

/** A session over a small helper graph (one activation, a linear layer's products, …). */
export class GraphSession {
  private constructor(private readonly session: ort.InferenceSession) {}

  static async create(model: ModelProto, where: string): Promise<GraphSession> {
    try {
      return new GraphSession(await ort.InferenceSession.create(encodeModel(model), sessionOptions()));
    } catch (error) {
      throw new OnnxFormatError(where, `onnxruntime cannot build a helper graph: ${(error as Error).message}`, { cause: error });
    }
  }

  async run(inputs: Record<string, FloatTensor>): Promise<RunOutputs> {
    const feeds: Record<string, ort.Tensor> = {};
    for (const [name, t] of Object.entries(inputs)) feeds[name] = new ort.Tensor('float32', t.data, [...t.dims]);
    return this.session.run(feeds);
  }

  async release(): Promise<void> {
    await this.session.release();
  }
}
