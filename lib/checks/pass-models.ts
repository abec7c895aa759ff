/**
 * How the shared pass (lib/checks/analyze.ts) runs A, B and each θ(α) over a batch: whole, one
 * run per model, or part by part for large models (lib/segments.ts), each part of every model
 * run before the next part of any, so that only one part's features are held at a time and θ(α)
 * exists one segment's parameters at a time.
 */
import * as ort from 'onnxruntime-node';
import { parameterValueName, type Checkpoint, type LoadOptions } from '../checkpoint.js';
import { releaseFilePages } from '../file-backed.js';
import type { Batch, Dataset } from '../dataset/index.js';
import { interpolateArenas } from '../interpolate.js';
import { throwIfAborted } from '../progress.js';
import { createRunner, type OutputBuffers, type Runner } from '../runner.js';
import { encodeModel } from '../onnx/model.js';
import { elementCount } from '../onnx/tensor.js';
import { releaseMemory } from '../reclaim.js';
import { planSegments, type Segment, type SegmentPlan, type PassValues } from '../segments.js';
import { batchFeeds, batchWhat, bakesWeights, checkFiniteOutputs, keepsEveryArray, KEEP_ARRAYS_BELOW, ModelSession, probeShapes, runError, type ModelSessionOptions, type RunOutputs } from '../session.js';

/** A pass's models over its batches. */
export interface PassModels {
  /** Parts of each model's run (1: whole runs). */
  readonly parts: number;
  /**
   * Runs α's model (0: A, 1: B) on `batch`, part `part` only: parts in order, each after the
   * same α's part before it on the same batch. The outputs are the part's values and those that
   * earlier parts pass on; `into` keeps arrays where the models write into them (whole runs).
   */
  run(alpha: number, part: number, batch: Batch, data: Dataset, into: OutputBuffers): Promise<RunOutputs>;
  /** The part whose run yields all of `names` together: the part that computes the last of them. */
  home(names: readonly string[]): number;
  release(): Promise<void>;
}

/** What the pass's models are built from. */
export interface PassModelsSetup {
  readonly a: Checkpoint;
  readonly b: Checkpoint;
  /** Values tapped from A and B. */
  readonly endpointTaps: readonly string[];
  /** The α other than 0 and 1 that run, in order. */
  readonly interior: readonly number[];
  /** Values tapped from θ(α). */
  tapsAt(alpha: number): string[];
  /** Values the checks read together (CheckNeeds.groups). */
  readonly groups: readonly (readonly string[])[];
  /** The data the pass reads (its samples' shape sizes the tapped values). */
  readonly data: Dataset;
  /** Segments to aim for (planSegments); without, AUTOMATIC_SEGMENTS for models of KEEP_ARRAYS_BELOW parameters or more, else whole runs. */
  readonly segments: number | undefined;
  readonly signal: AbortSignal | undefined;
}

/**
 * Segments a large model's pass aims for: each holds at most a sixteenth of the parameters and of
 * the tapped features (ResNet-50 comes out at 29: its features lie in the first layers, its
 * parameters in the last; at batch 8 a segment's features are under 5 MB a model).
 */
export const AUTOMATIC_SEGMENTS = 16;

/**
 * How a pass's pair is loaded (lib/worker/tasks.ts, lib/shard/run.ts): the arenas of models that
 * run in segments by default file-backed (lib/file-backed.ts), since the pass reads them one
 * segment at a time and hands back each segment's pages before the next.
 */
export const SEGMENTED_PASS_LOAD: LoadOptions = { fileBackedFrom: KEEP_ARRAYS_BELOW };

/** The models of a pass: in segments where the setup or the model's size says so and its graph can be cut, else whole. */
export async function passModels(setup: PassModelsSetup): Promise<PassModels> {
  const { a, segments } = setup;
  const count = segments ?? (!bakesWeights(a) && !keepsEveryArray(a) ? AUTOMATIC_SEGMENTS : 1);
  const plan = count > 1 ? planSegments(a, count, await passValues(setup)) : null;
  if (plan && plan.segments.length > 1) {
    const models = await SegmentedModels.create(setup, plan);
    // The probe's values and the sessions' building left freed memory in malloc's arenas.
    releaseMemory();
    return models;
  }
  return WholeModels.create(setup);
}

/**
 * The values the pass taps, their groups, and their bytes per sample from the shape probe on one
 * sample; no bytes for data of several named inputs, which the probe does not feed (segments then
 * share out the parameters alone).
 */
async function passValues({ a, data, endpointTaps, interior, tapsAt, groups }: PassModelsSetup): Promise<PassValues> {
  const taps = [...new Set([...endpointTaps, ...interior.flatMap(tapsAt)])];
  if (data.namedInputs) return { taps, groups };
  const shapes = await probeShapes(a, [1, ...data.sampleShape]);
  // The probe read all of A's parameters; the pass reads them again a segment at a time.
  releaseFilePages(a.arena);
  return { taps, groups, bytes: new Map(taps.map((t) => [t, 4 * elementCount(shapes.get(t)?.dims ?? [])])) };
}

/** How one α's model runs a batch whole (its outputs into `into`'s arrays where the runner can). */
type AlphaRunner = (batch: Batch, data: Dataset, into: OutputBuffers) => Promise<RunOutputs>;

/**
 * One session per model: baked-in parameters where bakesWeights says so; else weightless
 * sessions (one per distinct set of taps) fed A's or B's arena, or both and α, per run.
 */
class WholeModels implements PassModels {
  readonly parts = 1;

  private constructor(
    private readonly runners: ReadonlyMap<number, AlphaRunner>,
    private readonly sessions: readonly ModelSession[],
  ) {}

  static async create({ a, b, endpointTaps, interior, tapsAt, signal }: PassModelsSetup): Promise<WholeModels> {
    const runners = new Map<number, AlphaRunner>();
    const sessions: ModelSession[] = [];
    const created = async (checkpoint: Checkpoint, options: ModelSessionOptions): Promise<ModelSession> => {
      const session = await ModelSession.create(checkpoint, options);
      sessions.push(session);
      return session;
    };
    try {
      if (bakesWeights(a)) {
        const baked = (session: ModelSession): AlphaRunner => (batch, data, into) => session.runBatch(batch, data, undefined, into);
        runners.set(0, baked(await created(a, { parameters: a.arena, taps: endpointTaps })));
        runners.set(1, baked(await created(b, { parameters: b.arena, taps: endpointTaps })));
        const theta = new Float32Array(a.arena.length);
        for (const alpha of interior) {
          throwIfAborted(signal);
          interpolateArenas(a.arena, b.arena, [alpha], [theta]);
          runners.set(alpha, baked(await created(a, { parameters: theta, taps: tapsAt(alpha) })));
        }
      } else {
        const byTaps = new Map<string, ModelSession>();
        const sessionFor = async (taps: readonly string[], interpolated: boolean): Promise<ModelSession> => {
          const key = JSON.stringify([interpolated, taps]);
          const known = byTaps.get(key) ?? (await created(a, { taps, interpolated }));
          byTaps.set(key, known);
          return known;
        };
        const endpoints = await sessionFor(endpointTaps, false);
        runners.set(0, (batch, data, into) => endpoints.runBatch(batch, data, a.arena, into));
        runners.set(1, (batch, data, into) => endpoints.runBatch(batch, data, b.arena, into));
        for (const alpha of interior) {
          const session = await sessionFor(tapsAt(alpha), true);
          runners.set(alpha, (batch, data, into) => session.runBatch(batch, data, { a: a.arena, b: b.arena, alpha }, into));
        }
      }
    } catch (e) {
      await Promise.all(sessions.map((s) => s.release()));
      throw e;
    }
    return new WholeModels(runners, sessions);
  }

  run(alpha: number, _part: number, batch: Batch, data: Dataset, into: OutputBuffers): Promise<RunOutputs> {
    return this.runners.get(alpha)!(batch, data, into);
  }

  home(): number {
    return 0;
  }

  async release(): Promise<void> {
    await Promise.all(this.sessions.map((s) => s.release()));
  }
}

/**
 * Each model run segment by segment: one weightless session per segment and set of taps, fed
 * the segment's parameters of A or B (views of their arenas), or θ(α)'s, interpolated by the
 * native kernel into one buffer the size of the largest segment's. The values a segment passes
 * on are held per model until the last segment that reads them has run. Where A's and B's
 * arenas are file-backed (SEGMENTED_PASS_LOAD), the pages a part read are handed back when the
 * next begins, so the process holds about one segment of their weights.
 */
class SegmentedModels implements PassModels {
  /** Per α, the values earlier segments of the batch at work passed on. */
  private readonly carried = new Map<number, Map<string, ort.Tensor>>();
  /** Per α, the next part to run on the batch at work (to catch a run out of order). */
  private readonly next = new Map<number, number>();
  /** The part whose parameters of A and B the process may hold (their pages are handed back when another begins). */
  private holding: number | undefined;
  private batch: Batch | undefined;
  /** The data inputs of the batch at work, as every α's first segment is fed them. */
  private batchInputs: ReadonlyMap<string, ort.Tensor> = new Map();

  private constructor(
    private readonly setup: PassModelsSetup,
    private readonly plan: SegmentPlan,
    /** Per α, the session of each segment. */
    private readonly sessions: ReadonlyMap<number, readonly Runner[]>,
    private readonly owned: readonly Runner[],
    private readonly theta: Float32Array,
  ) {}

  get parts(): number {
    return this.plan.segments.length;
  }

  static async create(setup: PassModelsSetup, plan: SegmentPlan): Promise<SegmentedModels> {
    const { a, endpointTaps, interior, tapsAt, signal } = setup;
    const owned: Runner[] = [];
    const byTaps = new Map<string, Runner>();
    const sessionFor = async (segment: Segment, taps: readonly string[]): Promise<Runner> => {
      const own = taps.filter((t) => segment.computes.has(t));
      const key = `${segment.index} ${JSON.stringify(own)}`;
      let runner = byTaps.get(key);
      if (!runner) {
        throwIfAborted(signal);
        runner = await createRunner(encodeModel(plan.model(segment, own)), {}, a.file);
        owned.push(runner);
        byTaps.set(key, runner);
      }
      return runner;
    };
    const sessions = new Map<number, Runner[]>();
    try {
      for (const [alpha, taps] of [[0, endpointTaps], [1, endpointTaps], ...interior.map((x) => [x, tapsAt(x)] as const)] as const) {
        const runners: Runner[] = [];
        for (const segment of plan.segments) runners.push(await sessionFor(segment, taps));
        sessions.set(alpha, runners);
      }
    } catch (e) {
      await Promise.all(owned.map((r) => r.release()));
      throw e;
    }
    const theta = new Float32Array(Math.max(...plan.segments.map((s) => s.hi - s.lo)));
    return new SegmentedModels(setup, plan, sessions, owned, theta);
  }

  async run(alpha: number, part: number, batch: Batch, data: Dataset): Promise<RunOutputs> {
    if (batch !== this.batch) {
      this.batch = batch;
      this.batchInputs = new Map(Object.entries(batchFeeds(this.setup.a, batch, data)));
      this.carried.clear();
      this.next.clear();
    }
    if ((this.next.get(alpha) ?? 0) !== part) throw new Error(`segment ${part} of θ(${alpha}) ran out of order`);
    this.next.set(alpha, part + 1);
    const { a, b } = this.setup;
    if (part !== this.holding) {
      // A's and B's pages read by the part before (its runs, θ(α)'s blend, the checks' reads of
      // weights) go back where their arenas are file-backed: this part reads its own.
      releaseFilePages(a.arena);
      releaseFilePages(b.arena);
      this.holding = part;
    }
    const segment = this.plan.segments[part]!;
    const carried = this.carried.get(alpha) ?? this.batchInputs;
    const feeds: Record<string, ort.Tensor> = {};
    for (const name of segment.inputs) feeds[name] = carried.get(name)!;
    const arena = alpha === 0 ? a.arena : alpha === 1 ? b.arena : this.interpolated(segment, alpha);
    const base = alpha === 0 || alpha === 1 ? 0 : segment.lo;
    for (const p of segment.parameters) feeds[parameterValueName(p)] = new ort.Tensor('float32', arena.subarray(p.offset - base, p.offset - base + p.length), [...p.shape]);
    const runner = this.sessions.get(alpha)![part]!;
    let outputs: RunOutputs;
    try {
      outputs = await runner.run(feeds, runner.outputNames);
    } catch (error) {
      throw runError(a.file, `${batchWhat(batch, data)} (segment ${part + 1} of ${this.parts})`, error);
    }
    checkFiniteOutputs(a, outputs, batch, data);
    const result: RunOutputs = { ...Object.fromEntries(carried), ...outputs };
    if (part === this.parts - 1) this.carried.delete(alpha);
    else this.carried.set(alpha, new Map(segment.live.map((name) => [name, outputs[name] ?? carried.get(name)!])));
    return result;
  }

  /** θ(α)'s parameters of one segment, in the shared buffer from its start. */
  private interpolated(segment: Segment, alpha: number): Float32Array {
    const { a, b } = this.setup;
    const theta = this.theta.subarray(0, segment.hi - segment.lo);
    interpolateArenas(a.arena.subarray(segment.lo, segment.hi), b.arena.subarray(segment.lo, segment.hi), [alpha], [theta]);
    return theta;
  }

  home(names: readonly string[]): number {
    return Math.max(0, ...names.map((name) => this.plan.segmentOf(name) ?? 0));
  }

  async release(): Promise<void> {
    await Promise.all(this.owned.map((r) => r.release()));
  }
}
