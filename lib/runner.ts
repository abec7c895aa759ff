/**
 * What runs a checkpoint's session: the addon's onnxruntime runner (native/ort_runtime.h:
 * onnxruntime's C API, in the library onnxruntime-node has loaded) or onnxruntime-node's
 * InferenceSession. onnxruntime-node returns every output in a new buffer, zero-filled and then
 * copied into; the addon's runner writes a pass's features straight into arrays the pass keeps
 * (OutputBuffers) and writes again each batch, which spares that work and the collection of the
 * spent buffers (about a third of a tapped ResNet pass's CPU time). The addon's runner is used
 * where it finds onnxruntime; LLFC_ORT_RUNNER=node forces onnxruntime-node.
 */
import * as ort from 'onnxruntime-node';
import { InvalidArgumentError, OnnxFormatError } from './errors.js';
import { native, type NativeOrtTensor } from './native.js';
import { DataType } from './onnx/proto.js';

/** Output values of one run, by graph value name. */
export type RunOutputs = Record<string, ort.Tensor>;

export interface RunnerSettings {
  /** onnxruntime intra-op threads (default: onnxruntime's choice). */
  readonly threads?: number;
  /** Full graph optimization (default), or none: every value of the graph as written is computed. */
  readonly optimize?: boolean;
}

/**
 * onnxruntime-node's options for every session: full graph optimization, and intra-op threads
 * that sleep rather than spin between runs, since llfc keeps many sessions (one per α, helper
 * graphs) and the native kernels' threads share the same cores. The addon's runner sets the same
 * (native/ort_runtime.cc).
 */
function sessionOptions({ threads, optimize = true }: RunnerSettings): ort.InferenceSession.SessionOptions {
  return {
    graphOptimizationLevel: optimize ? 'all' : 'disabled',
    // Fatal messages only: a failed run comes back as an error that llfc reports itself (ModelRunError).
    logSeverityLevel: 4,
    // One memory arena per session would hold the peak of every α model and helper graph at once.
    enableCpuMemArena: false,
    // Without an arena, a memory pattern is one block per run for every intermediate value: large
    // enough for malloc to map fresh pages each run (a ResNet pass spent a fifth of its CPU time
    // in page faults). Values allocated one by one reuse freed heap memory instead.
    enableMemPattern: false,
    ...(threads ? { intraOpNumThreads: threads } : {}),
    extra: { session: { intra_op: { allow_spinning: '0' }, inter_op: { allow_spinning: '0' } } },
  };
}

/** ONNX element types of the tensor types runs carry. */
const ELEMENT_TYPES: Readonly<Record<string, number>> = {
  float32: DataType.FLOAT, uint8: DataType.UINT8, int8: DataType.INT8, uint16: DataType.UINT16, int16: DataType.INT16, int32: DataType.INT32,
  int64: DataType.INT64, bool: DataType.BOOL, float16: DataType.FLOAT16, float64: DataType.DOUBLE, uint32: DataType.UINT32, uint64: DataType.UINT64,
};
const TENSOR_TYPES: ReadonlyMap<number, ort.Tensor.Type> = new Map(Object.entries(ELEMENT_TYPES).map(([type, code]) => [code, type as ort.Tensor.Type]));

/** The key of kept outputs: they fit the next runs whose feeds have the same dims. */
export function feedsKey(feeds: Record<string, ort.Tensor>): string {
  return Object.values(feeds).map((t) => t.dims.join('x')).join(',');
}

/**
 * The arrays one slot's runs get their outputs in (A, B or θ(α) of a pass, or one layer's helper
 * graph), kept and written again by each run of the same input dims: a run's values are valid
 * until the next run into the same buffers. Values named in `transient` get new arrays each run,
 * so that a pass can let them go (A's and B's values that no check reads at an α). With
 * onnxruntime-node every output is new.
 */
export class OutputBuffers {
  private readonly kept = new Map<string, { readonly key: string; readonly tensor: ort.Tensor }>();
  private readonly held = new Set<ort.Tensor['data']>();

  constructor(private readonly transient: ReadonlySet<string> = new Set()) {}

  /** The kept tensor of `name` for runs whose inputs have dims `key`. */
  get(name: string, key: string): ort.Tensor | undefined {
    const kept = this.kept.get(name);
    return kept?.key === key ? kept.tensor : undefined;
  }

  /** Whether outputs named `name` are kept (not transient). */
  keeps(name: string): boolean {
    return !this.transient.has(name);
  }

  /** Keeps a new output for the next runs of the same input dims (unless `name` is transient). */
  keep(name: string, key: string, tensor: ort.Tensor): void {
    if (!this.keeps(name)) return;
    const before = this.kept.get(name);
    if (before) this.held.delete(before.tensor.data);
    this.kept.set(name, { key, tensor });
    this.held.add(tensor.data);
  }

  /** Whether an output's memory is kept here (not garbage once the pass lets the output go). */
  holds(tensor: ort.Tensor): boolean {
    return this.held.has(tensor.data);
  }
}

/** A session's runs: the feeds by input name, the outputs to fetch. */
export interface Runner {
  /** The session's outputs, in its order. */
  readonly outputNames: readonly string[];
  /** Runs once; `into` (with `key`, the dims of the run's data inputs) receives the outputs where the runner can write into kept arrays. */
  run(feeds: Record<string, ort.Tensor>, fetch: readonly string[], into?: OutputBuffers, key?: string): Promise<RunOutputs>;
  release(): Promise<void>;
}

class NodeRunner implements Runner {
  constructor(private readonly session: ort.InferenceSession) {}

  get outputNames(): readonly string[] {
    return this.session.outputNames;
  }

  run(feeds: Record<string, ort.Tensor>, fetch: readonly string[]): Promise<RunOutputs> {
    return this.session.run(feeds, [...fetch]);
  }

  release(): Promise<void> {
    return this.session.release();
  }
}

/** A tensor as the addon takes it. */
function nativeTensor(name: string, tensor: ort.Tensor): NativeOrtTensor {
  const type = ELEMENT_TYPES[tensor.type];
  if (type === undefined) throw new InvalidArgumentError(`the input '${name}' is a ${tensor.type} tensor, which llfc does not feed`);
  return { name, type, dims: tensor.dims, data: tensor.data as NativeOrtTensor['data'] };
}

class NativeRunner implements Runner {
  constructor(
    private readonly session: unknown,
    readonly outputNames: readonly string[],
  ) {}

  async run(feeds: Record<string, ort.Tensor>, fetch: readonly string[], into?: OutputBuffers, key = ''): Promise<RunOutputs> {
    const inputs = Object.entries(feeds).map(([name, tensor]) => nativeTensor(name, tensor));
    const kept = fetch.map((name) => into?.get(name, key));
    const outputs = fetch.map((name, k) => (kept[k] ? nativeTensor(name, kept[k]!) : { name, adopt: into?.keeps(name) ?? false }));
    let result: NativeOrtTensor[];
    try {
      result = native().ortRun(this.session, inputs, outputs);
    } catch (error) {
      // Kept arrays no longer fit when a value's dims depend on the data: run again into new ones.
      if (!kept.some((t) => t)) throw error;
      kept.fill(undefined);
      result = native().ortRun(this.session, inputs, fetch.map((name) => ({ name })));
    }
    const out: RunOutputs = {};
    result.forEach((t, k) => {
      if (kept[k]) {
        out[t.name] = kept[k]!;
        return;
      }
      const tensor = new ort.Tensor(TENSOR_TYPES.get(t.type)!, t.data as Float32Array, t.dims);
      into?.keep(t.name, key, tensor);
      out[t.name] = tensor;
    });
    return out;
  }

  async release(): Promise<void> {
    native().ortRelease(this.session);
  }
}

/**
 * Whether sessions run on the addon's runner: LLFC_ORT_RUNNER=node says no, =native requires it
 * (an error that says why where it cannot run), unset uses it where it finds onnxruntime.
 */
export function usesNativeRunner(): boolean {
  const forced = process.env.LLFC_ORT_RUNNER?.toLowerCase();
  if (forced !== undefined && forced !== 'native' && forced !== 'node') {
    throw new InvalidArgumentError(`LLFC_ORT_RUNNER is '${process.env.LLFC_ORT_RUNNER}'; it is 'native' or 'node'`);
  }
  if (forced === 'node') return false;
  const { version, unavailable } = native().ortRuntime();
  if (forced === 'native' && version === undefined) throw new InvalidArgumentError(`LLFC_ORT_RUNNER=native, but the addon cannot run onnxruntime here: ${unavailable}`);
  return version !== undefined;
}

/** A runner of the serialized model; a model onnxruntime refuses is `file`'s format error, saying `refused` and why. */
export async function createRunner(model: Uint8Array, settings: RunnerSettings, file: string, refused = 'onnxruntime cannot load it'): Promise<Runner> {
  const onAddon = usesNativeRunner();
  try {
    if (!onAddon) return new NodeRunner(await ort.InferenceSession.create(model, sessionOptions(settings)));
    const created = await native().ortCreateSession(model, { threads: settings.threads ?? 0, optimize: settings.optimize ?? true });
    return new NativeRunner(created.session, created.outputs);
  } catch (error) {
    throw new OnnxFormatError(file, `${refused}: ${(error as Error).message}`, { cause: error });
  }
}
