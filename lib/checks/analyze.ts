/**
 * One pass over the data for every check of a pair (lib/checks/registry.ts): per batch, A's and
 * B's features are computed once and reused for every α; each θ(α) runs once; the native addon
 * reduces each batch at once (no whole-dataset features are kept), so memory does not grow with
 * the data.
 */
import { pairCheckpoints, type Checkpoint } from '../checkpoint.js';
import type { Dataset } from '../dataset/index.js';
import { InvalidArgumentError } from '../errors.js';
import { CONTROL_OPTIONS, optionDefault, resolveOptions, type OptionSchema, type Resolved } from '../options.js';
import { throwIfAborted, type RunControl } from '../progress.js';
import type { NamedSums } from '../sums.js';
import type { LayerReport, PairAnalysis } from '../results.js';
import { checkData, floatOutput, keepsEveryArray, type FloatTensor, type RunOutputs } from '../session.js';
import { OutputBuffers } from '../runner.js';
import type { PairBatch, PairCheck, PairSetup } from './check.js';
import { selectLayers } from './layers.js';
import { passModels, type PassModels } from './pass-models.js';
import { Reclaimer, SEGMENTED_GARBAGE_BYTES } from '../reclaim.js';
import { CHECK_OPTIONS, CHECKS, type CheckSwitches } from './registry.js';

export interface AnalyzeOptions extends RunControl, CheckSwitches {
  /** α values of the per-layer checks (default 0.25, 0.5, 0.75). */
  readonly alphas?: readonly number[];
  /** α grid of the LMC curve (default 11 points). */
  readonly lmcAlphas?: readonly number[];
  /** Layer selection: node names, tensor names, module paths or op types (default: activations, residual Adds, logits). */
  readonly layers?: readonly string[];
  /** Samples per onnxruntime run (default 256). */
  readonly batchSize?: number;
  /**
   * Run the models in about this many segments, each with a share of the parameters and of the
   * tapped features (lib/segments.ts); without, models of 16M parameters or more run in 16
   * segments, smaller ones whole.
   */
  readonly segments?: number;
  /** A separate labelled set to fit the calibration's temperatures on (default: the data itself). */
  readonly calibrationData?: Dataset;
  /** REPAIR: samples of the statistics set (default 2000). */
  readonly repairSamples?: number;
  /** REPAIR: a separate statistics set (default: the data's first samples). */
  readonly repairData?: Dataset;
}

/** The option kinds the analysis takes (defaults and validation: lib/options.ts; the checks' switches from the registry). */
export const ANALYZE_OPTIONS = {
  alphas: 'layerAlphas',
  lmcAlphas: 'lmcAlphas',
  layers: 'layers',
  batchSize: 'batchSize',
  segments: 'segments',
  calibrationData: 'dataset',
  repairSamples: 'repairSamples',
  repairData: 'dataset',
  ...CHECK_OPTIONS,
  ...CONTROL_OPTIONS,
} as const satisfies OptionSchema<AnalyzeOptions>;

/** α values of the per-layer checks when none are given. */
export const DEFAULT_LAYER_ALPHAS: readonly number[] = Object.freeze(optionDefault('layerAlphas'));

/** The checks the (resolved) switches turn on that apply to this pair and data, in registry order. */
function chosenChecks(setup: PairSetup, switches: Required<CheckSwitches>) {
  return CHECKS.filter((c) => (!('option' in c) || switches[c.option.name]) && (!('applies' in c) || c.applies(setup)));
}

/** Merges the checks' parts into the pair's result in registry order; each check sees the layers' fields of the checks before it. */
function assemble(setup: PairSetup, checks: readonly PairCheck[]): PairAnalysis {
  const layers: Partial<LayerReport>[] = setup.layers.map((layer, i) => ({ name: layer.name, node: layer.node, op: layer.op, module: layer.module, kind: layer.kind, depth: i }));
  const whole: Partial<PairAnalysis> = {};
  for (const check of checks) {
    const { layers: parts, ...rest } = check.result(layers);
    parts?.forEach((part, i) => Object.assign(layers[i]!, part));
    Object.assign(whole, rest);
  }
  return {
    lmc: whole.lmc ?? null,
    alphas: [...setup.alphas],
    layers: layers as LayerReport[],
    commutativity: whole.commutativity ?? [],
    ...(whole.calibration ? { calibration: whole.calibration } : {}),
    ...(whole.repair ? { repair: whole.repair } : {}),
    samples: setup.data.length,
  };
}

/** The checks of a pair on the data, created (released by the caller), with their setup. */
async function createChecks(a: Checkpoint, b: Checkpoint, data: Dataset, resolved: Resolved<AnalyzeOptions, typeof ANALYZE_OPTIONS>): Promise<{ setup: PairSetup; checks: [string, PairCheck][] }> {
  const { calibrationData, repairData, repairSamples } = resolved;
  pairCheckpoints(a, b);
  if (calibrationData && !calibrationData.labels) throw new InvalidArgumentError(`${calibrationData.source}: the calibration set needs labels`);
  const setup: PairSetup = {
    a,
    b,
    data,
    layers: selectLayers(a, resolved.layers),
    alphas: resolved.alphas,
    lmcAlphas: data.labels ? resolved.lmcAlphas : [],
    ...(calibrationData ? { calibrationData } : {}),
    ...(repairData ? { repairData } : {}),
    repairSamples,
  };
  const checks: [string, PairCheck][] = [];
  try {
    for (const definition of chosenChecks(setup, resolved)) checks.push([definition.id, await definition.create(setup)]);
  } catch (e) {
    await Promise.all(checks.map(([, c]) => c.release()));
    throw e;
  }
  return { setup, checks };
}

/** The bytes of a run's outputs that are garbage for the Reclaimer once the pass lets go of them (not kept in `buffers`). */
function spentBytes(outputs: RunOutputs, buffers: OutputBuffers, names: Iterable<string> = Object.keys(outputs)): number {
  let n = 0;
  for (const name of names) {
    const tensor = outputs[name];
    if (tensor && !buffers.holds(tensor)) n += (tensor.data as ArrayBufferView).byteLength;
  }
  return n;
}

/** One set the pass reads: its batches go to `readers`, once with the endpoints (`read`) and then at each α they need (`readAt`). */
interface PassSet {
  readonly set: Dataset;
  readonly readers: readonly PairCheck[];
  read(check: PairCheck, batch: PairBatch): void | Promise<void>;
  readAt(check: PairCheck, batch: PairBatch, alpha: number): void;
}

/**
 * The shared pass: per batch, A and B run and every check's add() reads them; then each α the
 * checks need, in order: θ(α) runs, the checks' addAt() read it, and its values are let go
 * before the next α runs. Only A's, B's and one θ(α)'s values of a batch are held at once
 * (on ResNet-50 each model's tapped features are about half its weights at batch 8). A large
 * model runs in segments (lib/checks/pass-models.ts): the same, once per segment, so only one
 * segment's values are held.
 */
async function pass(setup: PairSetup, checks: readonly PairCheck[], batchSize: number, segments: number | undefined, control: RunControl): Promise<void> {
  const { a, b, data, calibrationData } = setup;
  const { signal, onProgress } = control;
  let models: PassModels | undefined;
  try {
    const inputName = a.input.name;
    const endpointTaps = [...new Set(checks.flatMap((c) => c.needs.endpointValues))].filter((t) => t !== inputName);
    // Every α that needs a model of its own, minus the endpoints; each taps what its checks read there.
    const interior = [...new Set(checks.flatMap((c) => c.needs.alphas))].filter((x) => x !== 0 && x !== 1).sort((x, y) => x - y);
    const tapsAt = (alpha: number) => [...new Set(checks.filter((c) => c.needs.alphas.includes(alpha)).flatMap((c) => c.needs.interpolatedValues))].filter((t) => t !== inputName);

    checkData(a, data);
    // The checks that fit something on a separate set see it first, through the same sessions.
    const calibrating = calibrationData ? checks.filter((c) => c.calibrate) : [];
    if (calibrating.length > 0) checkData(a, calibrationData!);
    models = await passModels({ a, b, data, endpointTaps, interior, tapsAt, groups: checks.flatMap((c) => c.needs.groups ?? []), segments, signal });
    const parts = models.parts;
    // θ(α) that only the model outputs are read from run in a row at the part that computes them,
    // each segment's values passed on for one α at a time, not beside those of every α.
    const untapped = new Set(parts > 1 ? interior.filter((x) => tapsAt(x).length === 0) : []);
    const outputsPart = models.home(a.outputs.map((o) => o.name));
    const sets: PassSet[] = [];
    if (calibrating.length > 0) sets.push({ set: calibrationData!, readers: calibrating, read: () => {}, readAt: (c, batch, alpha) => c.calibrate!(batch, alpha) });
    sets.push({ set: data, readers: checks, read: (c, batch) => c.add?.(batch), readAt: (c, batch, alpha) => c.addAt?.(batch, alpha) });
    // The α each set's readers need, in order; its interior ones run one model each per batch, besides A and B.
    const alphasOf = (readers: readonly PairCheck[]) => [...new Set(readers.flatMap((c) => c.needs.alphas))].sort((x, y) => x - y);
    const runsPerBatch = (alphas: readonly number[]) => parts * (2 + alphas.filter((x) => x !== 0 && x !== 1 && !untapped.has(x)).length) + alphas.filter((x) => untapped.has(x)).length;
    const total = sets.reduce((n, s) => n + Math.ceil(s.set.length / batchSize) * runsPerBatch(alphasOf(s.readers)), 0);
    let done = 0;
    const tick = (): void => onProgress?.({ phase: 'analyze', done: ++done, total });
    const reclaimer = parts > 1 ? new Reclaimer(SEGMENTED_GARBAGE_BYTES, true) : new Reclaimer();
    for (const { set, readers, read, readAt } of sets) {
      const alphas = alphasOf(readers);
      // The values checks read at their α: θ(α)'s taps, and A's and B's of the same names (the model outputs always).
      const readAtAlpha = new Set([...a.outputs.map((o) => o.name), ...readers.filter((c) => c.needs.alphas.length > 0).flatMap((c) => c.needs.interpolatedValues)]);
      // A's and B's other values (pre-activations, linear layers' inputs and outputs) are let go after add(), before any θ(α) runs.
      const spentAfterAdd = new Set(endpointTaps.filter((t) => !readAtAlpha.has(t)));
      // The arrays A's, B's and the θ(α) at work's outputs are written into, batch after batch;
      // a large model's values let go after add() get new ones each run, freed before θ(α) runs.
      const transient = keepsEveryArray(a) ? new Set<string>() : spentAfterAdd;
      const [ofA, ofB, ofTheta] = [new OutputBuffers(transient), new OutputBuffers(transient), new OutputBuffers()];
      const buffersOf = (alpha: number): OutputBuffers => (alpha === 0 ? ofA : alpha === 1 ? ofB : ofTheta);
      for await (const batch of set.batches(batchSize, signal ? { signal: signal } : {})) {
        const dims = [batch.size, ...set.sampleShape];
        const input: FloatTensor | undefined = batch.inputs instanceof Float32Array ? { data: batch.inputs, dims } : undefined;
        // Part by part (one part: whole runs): each part of A, B and every θ(α), read before the next part runs.
        for (let part = 0; part < parts; part++) {
          // A's and B's outputs, and those of the one θ(α) at work.
          const outputsAt = new Map<number, RunOutputs>();
          // `through`: θ(α)'s parts up to this one in a row (an untapped α).
          const run = async (alpha: number, through = false): Promise<void> => {
            throwIfAborted(signal);
            for (let p = through ? 0 : part; p < part; p++) reclaimer.release(spentBytes(await models!.run(alpha, p, batch, set, buffersOf(alpha)), buffersOf(alpha)));
            outputsAt.set(alpha, await models!.run(alpha, part, batch, set, buffersOf(alpha)));
            tick();
          };
          // Dropped before the Reclaimer may collect, so the collection frees them.
          const letGo = (alpha: number): void => {
            const spent = spentBytes(outputsAt.get(alpha)!, buffersOf(alpha));
            outputsAt.delete(alpha);
            reclaimer.release(spent);
          };
          const dropEndpointValues = (): void => {
            let spent = 0;
            for (const alpha of [0, 1]) {
              const outputs = outputsAt.get(alpha)!;
              spent += spentBytes(outputs, buffersOf(alpha), spentAfterAdd);
              for (const name of spentAfterAdd) delete outputs[name];
            }
            reclaimer.release(spent);
          };
          const pairBatch: PairBatch = {
            size: batch.size,
            labels: batch.labels,
            covers: (names) => models!.home(names) === part,
            value: (name, alpha, where) => {
              if (name === inputName) {
                if (!input) throw new InvalidArgumentError(`${where}: the input '${inputName}' holds token ids, not features`);
                return input;
              }
              const outputs = outputsAt.get(alpha);
              if (!outputs) throw new InvalidArgumentError(`${where}: θ(${alpha})'s values were read while it was not the α at work`);
              if (!(name in outputs) && models!.home([name]) !== part) {
                throw new InvalidArgumentError(`${where}: '${name}' is not readable in part ${part + 1} of ${parts} of the pass (a large model runs in segments); a check reads each group of values in the call that covers it (PairBatch.covers)`);
              }
              if (!(name in outputs) && spentAfterAdd.has(name)) throw new InvalidArgumentError(`${where}: ${alpha === 0 ? 'A' : 'B'}'s value '${name}' was read after add(); a check reads A's and B's values at an α only among its needs.interpolatedValues`);
              return floatOutput(outputs, name, where);
            },
          };
          await run(0);
          await run(1);
          for (const check of readers) await read(check, pairBatch);
          dropEndpointValues();
          for (const alpha of alphas) {
            const interpolated = alpha !== 0 && alpha !== 1;
            if (interpolated && untapped.has(alpha)) {
              if (part !== outputsPart) continue;
              await run(alpha, true);
            } else if (interpolated) await run(alpha);
            for (const check of readers) if (check.needs.alphas.includes(alpha)) readAt(check, pairBatch, alpha);
            if (interpolated) letGo(alpha);
          }
          letGo(0);
          letGo(1);
        }
      }
    }
  } finally {
    await models?.release();
  }
}

/** LMC, LLFC, weak additivity, commutativity (and the checks switched on) of A and B on the data, in one pass. */
export async function analyzePair(a: Checkpoint, b: Checkpoint, data: Dataset, options: AnalyzeOptions = {}): Promise<PairAnalysis> {
  const resolved = resolveOptions('analyzePair()', ANALYZE_OPTIONS, options);
  const { setup, checks } = await createChecks(a, b, data, resolved);
  const live = checks.map(([, c]) => c);
  try {
    await pass(setup, live, resolved.batchSize, resolved.segments, resolved);
    for (const check of live) await check.run?.(resolved, resolved.batchSize);
    return assemble(setup, live);
  } finally {
    await Promise.all(live.map((c) => c.release()));
  }
}

/**
 * The pass of analyzePair over `data` (a shard of the run's data, lib/shard/), without the
 * result: every check's accumulators, by check id in registry order.
 */
export async function analyzeSums(a: Checkpoint, b: Checkpoint, data: Dataset, options: AnalyzeOptions = {}): Promise<Map<string, NamedSums>> {
  const resolved = resolveOptions('analyzePair()', ANALYZE_OPTIONS, options);
  const { setup, checks } = await createChecks(a, b, data, resolved);
  try {
    await pass(setup, checks.map(([, c]) => c), resolved.batchSize, resolved.segments, resolved);
    return new Map(checks.map(([id, c]) => [id, c.accumulators()]));
  } finally {
    await Promise.all(checks.map(([, c]) => c.release()));
  }
}

/**
 * analyzePair's result with no pass over the data: `addSums` adds the sums of every part of the
 * run (the shards' partials, in shard order) into each check's accumulators, by check id.
 */
export async function analysisOfSums(a: Checkpoint, b: Checkpoint, data: Dataset, options: AnalyzeOptions, addSums: (id: string, accumulators: NamedSums) => void): Promise<PairAnalysis> {
  const resolved = resolveOptions('analyzePair()', ANALYZE_OPTIONS, options);
  const { setup, checks } = await createChecks(a, b, data, resolved);
  try {
    for (const [id, check] of checks) addSums(id, check.accumulators());
    return assemble(setup, checks.map(([, c]) => c));
  } finally {
    await Promise.all(checks.map(([, c]) => c.release()));
  }
}
