/**
 * One pass over the data for every check of a pair: per batch, A's and B's features are
 * computed once and reused for every α; each θ(α) runs once; the native addon reduces each
 * batch at once (no whole-dataset features are kept), so memory does not grow with the data.
 */
import { pairCheckpoints, type Checkpoint } from '../checkpoint.js';
import { checkLabels, type Dataset } from '../dataset/index.js';
import { interpolateArenas } from '../interpolate.js';
import { CONTROL_OPTIONS, optionDefault, resolveOptions, type OptionSchema } from '../options.js';
import { throwIfAborted, type RunControl } from '../progress.js';
import type { LayerReport, PairAnalysis } from '../report/types.js';
import { floatOutput, ModelSession, type FloatTensor, type RunOutputs } from '../session.js';
import { Commutativity } from './commutativity.js';
import { linearLayers, selectLayers } from './layers.js';
import { LlfcAccumulator } from './llfc.js';
import { crossEntropyAndHits, lmcResult, logitClasses } from './lmc.js';
import { WeakAdditivity } from './weak-additivity.js';

export interface AnalyzeOptions extends RunControl {
  /** α values of the per-layer checks (default 0.25, 0.5, 0.75). */
  readonly alphas?: readonly number[];
  /** α grid of the LMC curve (default 11 points). */
  readonly lmcAlphas?: readonly number[];
  /** Layer selection: node names, tensor names, module paths or op types (default: activations, residual Adds, logits). */
  readonly layers?: readonly string[];
  /** Samples per onnxruntime run (default 256). */
  readonly batchSize?: number;
  /** false: skip the commutativity check (it runs every linear layer four more times). */
  readonly commutativity?: boolean;
  readonly weakAdditivity?: boolean;
}

/** The option kinds the analysis takes (defaults and validation: lib/options.ts). */
export const ANALYZE_OPTIONS = {
  alphas: 'layerAlphas',
  lmcAlphas: 'lmcAlphas',
  layers: 'layers',
  batchSize: 'batchSize',
  commutativity: 'commutativity',
  weakAdditivity: 'weakAdditivity',
  ...CONTROL_OPTIONS,
} as const satisfies OptionSchema<AnalyzeOptions>;

/** α values of the per-layer checks when none are given. */
export const DEFAULT_LAYER_ALPHAS: readonly number[] = Object.freeze(optionDefault('layerAlphas'));

function valueOf(name: string, outputs: RunOutputs, input: FloatTensor, inputName: string, where: string): FloatTensor {
  return name === inputName ? input : floatOutput(outputs, name, where);
}

/** LMC, LLFC, weak additivity and commutativity of A and B on the data, in one pass. */
export async function analyzePair(a: Checkpoint, b: Checkpoint, data: Dataset, options: AnalyzeOptions = {}): Promise<PairAnalysis> {
  const { alphas: layerAlphas, lmcAlphas: grid, layers: names, batchSize, commutativity, weakAdditivity, signal, onProgress } = resolveOptions('analyzePair()', ANALYZE_OPTIONS, options);
  const lmcAlphas = data.labels ? grid : [];
  pairCheckpoints(a, b);
  const classes = data.labels ? logitClasses(a) : 0;
  if (data.labels) checkLabels(data.labels, classes, data.labelsSource ?? data.source);

  const layers = selectLayers(a, names);
  const linear = !commutativity ? [] : linearLayers(a);
  const activations = !weakAdditivity ? [] : layers.filter((l) => l.activationInput !== undefined);
  const logitsName = a.outputs[0]!.name;
  const inputName = a.input.name;
  const endpointTaps = [...new Set([...layers.map((l) => l.name), ...activations.map((l) => l.activationInput!), ...linear.map((l) => l.input)])].filter((t) => t !== inputName);
  const alphaTaps = layers.map((l) => l.name);

  // Every α that needs a model of its own: the LMC grid and the layer α, minus the endpoints.
  const interior = [...new Set([...lmcAlphas, ...layerAlphas])].filter((x) => x !== 0 && x !== 1).sort((x, y) => x - y);
  const sessions: ModelSession[] = [];
  const helpers: { release(): Promise<void> }[] = [];
  try {
    const sessionA = await ModelSession.create(a, { parameters: a.arena, taps: endpointTaps });
    sessions.push(sessionA);
    const sessionB = await ModelSession.create(b, { parameters: b.arena, taps: endpointTaps });
    sessions.push(sessionB);
    sessionA.checkInputShape(data.sampleShape, data.source);
    const theta = new Float32Array(a.arena.length);
    const interiorSessions = new Map<number, ModelSession>();
    for (const alpha of interior) {
      throwIfAborted(signal);
      interpolateArenas(a.arena, b.arena, [alpha], [theta]);
      const session = await ModelSession.create(a, { parameters: theta, taps: layerAlphas.includes(alpha) ? alphaTaps : [] });
      sessions.push(session);
      interiorSessions.set(alpha, session);
    }
    const llfc = layers.map(() => new LlfcAccumulator(layerAlphas));
    const weak = await Promise.all(activations.map((l) => WeakAdditivity.create(a, l, layerAlphas)));
    helpers.push(...weak);
    const commutativity = await Promise.all(linear.map((l) => Commutativity.create(a, b, l)));
    helpers.push(...commutativity);
    const lossSums = new Map(lmcAlphas.map((x) => [x, { loss: 0, hits: 0 }]));

    const batches = Math.ceil(data.length / batchSize);
    const total = batches * (2 + interior.length);
    let done = 0;
    const tick = (): void => onProgress?.({ phase: 'analyze', done: ++done, total });
    for await (const batch of data.batches(batchSize, signal ? { signal } : {})) {
      const dims = [batch.size, ...data.sampleShape];
      const input: FloatTensor = { data: batch.inputs, dims };
      const outA = await sessionA.run(batch.inputs, dims);
      tick();
      throwIfAborted(signal);
      const outB = await sessionB.run(batch.inputs, dims);
      tick();
      const outputsAt = new Map<number, RunOutputs>([
        [0, outA],
        [1, outB],
      ]);
      for (const [alpha, session] of interiorSessions) {
        throwIfAborted(signal);
        outputsAt.set(alpha, await session.run(batch.inputs, dims));
        tick();
      }
      for (const [alpha, sums] of lossSums) {
        const logits = floatOutput(outputsAt.get(alpha)!, logitsName, a.file).data;
        const r = crossEntropyAndHits(logits, batch.labels!, classes);
        sums.loss += r.loss;
        sums.hits += r.hits;
      }
      layers.forEach((layer, i) => {
        const where = `layer '${layer.module ?? layer.name}' (${layer.node})`;
        const fa = floatOutput(outA, layer.name, where).data;
        const fb = floatOutput(outB, layer.name, where).data;
        llfc[i]!.add(layerAlphas.map((x) => floatOutput(outputsAt.get(x)!, layer.name, where).data), fa, fb, batch.size);
      });
      for (const w of weak) {
        const l = w.layer;
        const hA = valueOf(l.activationInput!, outA, input, inputName, l.node);
        const hB = valueOf(l.activationInput!, outB, input, inputName, l.node);
        await w.add(hA, hB, floatOutput(outA, l.name, l.node).data, floatOutput(outB, l.name, l.node).data, batch.size);
      }
      for (const c of commutativity) {
        await c.add(valueOf(c.layer.input, outA, input, inputName, c.layer.node), valueOf(c.layer.input, outB, input, inputName, c.layer.node));
      }
    }

    const weakByLayer = new Map(weak.map((w) => [w.layer.name, w]));
    const layerReports: LayerReport[] = layers.map((layer, i) => {
      const baseline = llfc[i]!.baselineSummary();
      const w = weakByLayer.get(layer.name);
      return {
        name: layer.name,
        node: layer.node,
        op: layer.op,
        module: layer.module,
        kind: layer.kind,
        depth: i,
        llfc: llfc[i]!.points(),
        ...baseline,
        // σ(h_A), σ(h_B) are the layer's own outputs: the weak-additivity baseline is the LLFC one.
        ...(w ? { weakAdditivity: w.points(), weakAdditivityBaseline: baseline.baseline } : {}),
      };
    });
    const lmc = data.labels
      ? lmcResult(
          lmcAlphas,
          lmcAlphas.map((x) => lossSums.get(x)!.loss / data.length),
          lmcAlphas.map((x) => lossSums.get(x)!.hits / data.length),
          data.length,
        )
      : null;
    return { lmc, alphas: layerAlphas, layers: layerReports, commutativity: commutativity.map((c) => c.report()), samples: data.length };
  } finally {
    await Promise.all([...sessions, ...helpers].map((s) => s.release()));
  }
}
