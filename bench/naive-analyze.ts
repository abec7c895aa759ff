/**
 * Baseline (a) of bench/analyze.ts: the analyze pass (LMC on the α grid, LLFC, weak additivity,
 * commutativity; SCIENCE.md §1–4) as someone would first write it with onnxruntime-node:
 *
 * - the whole dataset is read into one array first;
 * - α is the outer loop, over the union of the LMC grid and the per-layer α (0 and 1 are A and
 *   B): θ(α) is computed in plain JS into a fresh Float32Array and baked into a fresh
 *   onnxruntime session for that α (the model's initializers replaced; a session per α, the
 *   faster of the two feeds for these models, see bench/runtime.ts). `feed: 'inputs'` instead
 *   builds ONE session with the initializers turned into graph inputs and feeds θ(α) per run;
 * - one run per α per batch; every tapped feature of the whole dataset is kept in JS arrays
 *   (the layer outputs at A, B and the per-layer α; the activations' and linear layers' inputs
 *   at A and B; the logits at every α);
 * - then every metric in plain JS, in float64: per-sample cosine distances, weak additivity with
 *   ReLU applied in JS, commutativity with W·H computed in JS for Gemm. Conv in JS would take
 *   minutes per layer, so X and Y of a Conv come from a small onnxruntime graph (the layer's
 *   Conv with W_A, W_B baked in, as lib/checks/commutativity.ts builds it) run on the stored
 *   inputs, with the norms taken in JS (`gemm: 'onnxruntime'` does the same for Gemm).
 *
 * Only the plumbing is borrowed from lib/ (checkpoint loading, layer selection, the ONNX model
 * rewrite that ModelSession does); none of analyzePair's sharing or native reductions.
 */
import type { Checkpoint } from '../lib/checkpoint.js';
import { linearLayers, selectLayers, type LayerSpec, type LinearLayerSpec } from '../lib/checks/layers.js';
import type { Dataset } from '../lib/dataset/index.js';
import { helperModel, renode } from '../lib/onnx/build.js';
import type { NodeProto } from '../lib/onnx/proto.js';
import type { CommutativityReport, LayerReport, PairAnalysis } from '../lib/results.js';
import { optionDefault } from '../lib/options.js';
import { GraphSession, ModelSession } from '../lib/session.js';

export interface NaiveOptions {
  readonly alphas?: readonly number[];
  readonly lmcAlphas?: readonly number[];
  readonly batchSize?: number;
  /** 'initializers' (default): a session per α; 'inputs': one session, θ(α) fed as graph inputs. */
  readonly feed?: 'initializers' | 'inputs';
  /** Gemm products for commutativity: in plain JS (default) or by an onnxruntime helper graph like Conv. */
  readonly gemm?: 'js' | 'onnxruntime';
}

/** Where the naive pass spends its time, in ms. */
export interface NaivePhases {
  readData: number;
  interpolate: number;
  sessions: number;
  runs: number;
  keep: number;
  metrics: number;
  commutativity: number;
}

export interface NaiveResult {
  readonly analysis: PairAnalysis;
  readonly phases: NaivePhases;
  /** Floats kept in JS arrays at the peak (whole-dataset features). */
  readonly keptFloats: number;
}

const product = (dims: readonly number[]): number => dims.reduce((x, y) => x * y, 1);

function attribute(node: NodeProto, name: string, fallback: number): number {
  const a = (node.attribute ?? []).find((x) => x.name === name);
  if (!a) return fallback;
  return a.f !== undefined && a.f !== null && a.type === 1 ? a.f : Number(a.i ?? fallback);
}

/** Per-sample cosine distance of rows of a against m = (1−α)fa + α·fb, in float64. */
function cosineRows(a: Float32Array, fa: Float32Array, fb: Float32Array, alpha: number, n: number, d: number) {
  const distances: number[] = [];
  let coefficient = 0;
  let skipped = 0;
  for (let s = 0; s < n; s++) {
    let dot = 0;
    let aa = 0;
    let mm = 0;
    for (let j = s * d, end = j + d; j < end; j++) {
      const av = a[j]!;
      const mv = (1 - alpha) * fa[j]! + alpha * fb[j]!;
      dot += av * mv;
      aa += av * av;
      mm += mv * mv;
    }
    if (aa === 0 || mm === 0) {
      skipped++;
      continue;
    }
    distances.push(1 - Math.abs(dot) / (Math.sqrt(aa) * Math.sqrt(mm)));
    coefficient += dot / mm;
  }
  const count = distances.length;
  const mean = distances.reduce((x, y) => x + y, 0) / count;
  const variance = distances.reduce((x, y) => x + (y - mean) * (y - mean), 0) / count;
  return { distance: mean, distanceStd: Math.sqrt(variance), coefficient: coefficient / count, skipped };
}

/** ‖x − y‖² / (‖x‖‖y‖) in float64. */
function relativeDistance(x: ArrayLike<number>, y: ArrayLike<number>): number {
  let dd = 0;
  let xx = 0;
  let yy = 0;
  for (let i = 0; i < x.length; i++) {
    const xv = x[i]!;
    const yv = y[i]!;
    dd += (xv - yv) * (xv - yv);
    xx += xv * xv;
    yy += yv * yv;
  }
  const den = Math.sqrt(xx) * Math.sqrt(yy);
  return den > 0 ? dd / den : 0;
}

/** X = W_A·H_A + W_B·H_B and Y = W_A·H_B + W_B·H_A of a Gemm (H: n×k rows), in JS, float64. */
function gemmCommutativity(node: NodeProto, wa: Float32Array, wb: Float32Array, shape: readonly number[], ha: Float32Array, hb: Float32Array, n: number): number {
  if (attribute(node, 'transA', 0) !== 0) throw new Error(`${node.name}: naive Gemm supports transA=0 only`);
  const transB = attribute(node, 'transB', 0) !== 0;
  const gain = attribute(node, 'alpha', 1);
  const out = transB ? shape[0]! : shape[1]!;
  const k = transB ? shape[1]! : shape[0]!;
  // W as out×k rows so that every product is a dot product of two contiguous rows.
  const rows = (w: Float32Array): Float32Array => {
    if (transB) return w;
    const t = new Float32Array(w.length);
    for (let i = 0; i < k; i++) for (let o = 0; o < out; o++) t[o * k + i] = w[i * out + o]!;
    return t;
  };
  const A = rows(wa);
  const B = rows(wb);
  const X = new Float64Array(n * out);
  const Y = new Float64Array(n * out);
  for (let s = 0; s < n; s++) {
    const hs = s * k;
    for (let o = 0; o < out; o++) {
      const ws = o * k;
      let aa = 0;
      let bb = 0;
      let ab = 0;
      let ba = 0;
      for (let i = 0; i < k; i++) {
        const wA = A[ws + i]!;
        const wB = B[ws + i]!;
        const hA = ha[hs + i]!;
        const hB = hb[hs + i]!;
        aa += wA * hA;
        bb += wB * hB;
        ab += wA * hB;
        ba += wB * hA;
      }
      X[s * out + o] = gain * (aa + bb);
      Y[s * out + o] = gain * (ab + ba);
    }
  }
  return relativeDistance(X, Y);
}

/** X and Y of a Conv (or, on request, a Gemm) by onnxruntime on the stored inputs, batch by batch; the norms in JS. */
async function ortCommutativity(a: Checkpoint, layer: LinearLayerSpec, wa: Float32Array, wb: Float32Array, ha: Float32Array, hb: Float32Array, n: number, sampleDims: readonly number[], batchSize: number): Promise<number> {
  const node = a.model.graph!.node![layer.nodeIndex]!;
  const weight = a.parameters[layer.weight]!;
  const prod = (h: string, w: string, o: string) => renode(node, weight.inputIndex === 0 ? [w, h] : [h, w], [o], o);
  const model = helperModel(
    a.model,
    [prod('HA', 'WA', 'p1'), prod('HB', 'WB', 'p2'), prod('HB', 'WA', 'q1'), prod('HA', 'WB', 'q2'), renode({ opType: 'Add' }, ['p1', 'p2'], ['X'], 'X'), renode({ opType: 'Add' }, ['q1', 'q2'], ['Y'], 'Y')],
    ['HA', 'HB'],
    ['X', 'Y'],
    [
      { name: 'WA', values: wa, dims: weight.shape },
      { name: 'WB', values: wb, dims: weight.shape },
    ],
  );
  const session = await GraphSession.create(model, layer.node);
  const d = product(sampleDims);
  let dd = 0;
  let xx = 0;
  let yy = 0;
  try {
    for (let start = 0; start < n; start += batchSize) {
      const m = Math.min(batchSize, n - start);
      const dims = [m, ...sampleDims];
      const out = await session.run({ HA: { data: ha.subarray(start * d, (start + m) * d), dims }, HB: { data: hb.subarray(start * d, (start + m) * d), dims } });
      const X = out.X!.data as Float32Array;
      const Y = out.Y!.data as Float32Array;
      for (let i = 0; i < X.length; i++) {
        const xv = X[i]!;
        const yv = Y[i]!;
        dd += (xv - yv) * (xv - yv);
        xx += xv * xv;
        yy += yv * yv;
      }
    }
  } finally {
    await session.release();
  }
  const den = Math.sqrt(xx) * Math.sqrt(yy);
  return den > 0 ? dd / den : 0;
}

/** The naive analyze pass; returns the same shape as analyzePair. */
export async function naiveAnalyze(a: Checkpoint, b: Checkpoint, data: Dataset, options: NaiveOptions = {}): Promise<NaiveResult> {
  // The library's defaults (lib/options.ts), so both sides of the comparison run the same settings.
  const layerAlphas = options.alphas ? [...options.alphas] : optionDefault('layerAlphas');
  const lmcAlphas = options.lmcAlphas ? [...options.lmcAlphas] : optionDefault('lmcAlphas');
  const batchSize = options.batchSize ?? optionDefault('batchSize');
  const feed = options.feed ?? optionDefault('feed');
  const phases: NaivePhases = { readData: 0, interpolate: 0, sessions: 0, runs: 0, keep: 0, metrics: 0, commutativity: 0 };
  let t = performance.now();
  const lap = (k: keyof NaivePhases): void => {
    const now = performance.now();
    phases[k] += now - t;
    t = now;
  };

  const layers: LayerSpec[] = selectLayers(a);
  const linear = linearLayers(a);
  const activations = layers.filter((l) => l.activationInput !== undefined);
  const inputName = a.input.name;
  const logitsName = a.outputs[0]!.name;
  const endpointTaps = [...new Set([...layers.map((l) => l.name), ...activations.map((l) => l.activationInput!), ...linear.map((l) => l.input)])].filter((x) => x !== inputName);
  const layerTaps = layers.map((l) => l.name);
  const allAlphas = [...new Set([0, 1, ...lmcAlphas, ...layerAlphas])].sort((x, y) => x - y);

  // The whole dataset in memory.
  const n = data.length;
  const sampleSize = product(data.sampleShape);
  const inputs = new Float32Array(n * sampleSize);
  const labels = new Int32Array(n);
  for await (const batch of data.batches(batchSize)) {
    inputs.set(batch.inputs as Float32Array, batch.start * sampleSize); // float data only
    if (batch.labels) labels.set(batch.labels, batch.start);
  }
  lap('readData');

  // features[α][tensor] = the tensor for every sample, kept.
  const features = new Map<number, Map<string, { data: Float32Array; sampleDims: number[] }>>();
  let keptFloats = 0;
  const shared = feed === 'inputs' ? await ModelSession.create(a, { taps: endpointTaps }) : undefined;
  lap('sessions');
  try {
    for (const alpha of allAlphas) {
      const theta = new Float32Array(a.arena.length);
      for (let i = 0; i < theta.length; i++) theta[i] = (1 - alpha) * a.arena[i]! + alpha * b.arena[i]!;
      lap('interpolate');
      const wanted = alpha === 0 || alpha === 1 ? endpointTaps : layerAlphas.includes(alpha) ? layerTaps : [];
      const session = shared ?? (await ModelSession.create(a, { parameters: theta, taps: wanted }));
      lap('sessions');
      const kept = new Map<string, { data: Float32Array; sampleDims: number[] }>();
      features.set(alpha, kept);
      for (let start = 0; start < n; start += batchSize) {
        const m = Math.min(batchSize, n - start);
        const out = await session.run(inputs.subarray(start * sampleSize, (start + m) * sampleSize), [m, ...data.sampleShape], theta);
        lap('runs');
        for (const name of [logitsName, ...wanted]) {
          const tensor = out[name]!;
          const per = tensor.data.length / m;
          let slot = kept.get(name);
          if (!slot) {
            slot = { data: new Float32Array(n * per), sampleDims: tensor.dims.slice(1) as number[] };
            kept.set(name, slot);
            keptFloats += n * per;
          }
          slot.data.set(tensor.data as Float32Array, start * per);
        }
        lap('keep');
      }
      if (!shared) await session.release();
      lap('sessions');
    }
  } finally {
    await shared?.release();
  }
  const valueAt = (alpha: number, name: string) => (name === inputName ? { data: inputs, sampleDims: [...data.sampleShape] } : features.get(alpha)!.get(name)!);

  // LMC: cross-entropy and top-1 from the kept logits.
  const classes = valueAt(0, logitsName).data.length / n;
  const loss: number[] = [];
  const accuracy: number[] = [];
  for (const alpha of lmcAlphas) {
    const logits = valueAt(alpha, logitsName).data;
    let sum = 0;
    let hits = 0;
    for (let s = 0; s < n; s++) {
      const row = logits.subarray(s * classes, (s + 1) * classes);
      let best = 0;
      for (let c = 1; c < classes; c++) if (row[c]! > row[best]!) best = c;
      let z = 0;
      for (let c = 0; c < classes; c++) z += Math.exp(row[c]! - row[best]!);
      sum += row[best]! + Math.log(z) - row[labels[s]!]!;
      if (best === labels[s]) hits++;
    }
    loss.push(sum / n);
    accuracy.push(hits / n);
  }
  const l0 = loss[lmcAlphas.indexOf(0)]!;
  const l1 = loss[lmcAlphas.indexOf(1)]!;
  const a0 = accuracy[lmcAlphas.indexOf(0)]!;
  const a1 = accuracy[lmcAlphas.indexOf(1)]!;
  const barriers = {
    loss: Math.max(...lmcAlphas.map((x, i) => loss[i]! - ((1 - x) * l0 + x * l1))),
    lossMidpoint: Math.max(...loss) - 0.5 * (l0 + l1),
    accuracy: Math.max(...lmcAlphas.map((x, i) => (1 - x) * a0 + x * a1 - accuracy[i]!)),
  };

  // LLFC, baseline and weak additivity per layer.
  const layerReports: LayerReport[] = layers.map((layer, depth) => {
    const fa = valueAt(0, layer.name).data;
    const fb = valueAt(1, layer.name).data;
    const d = fa.length / n;
    const llfc = layerAlphas.map((alpha) => ({ alpha, ...cosineRows(valueAt(alpha, layer.name).data, fa, fb, alpha, n, d) }));
    const base = cosineRows(fa, fa, fb, 1, n, d);
    let weak = {};
    if (layer.activationInput !== undefined) {
      if (layer.op !== 'Relu') throw new Error(`naive weak additivity applies ReLU only, not ${layer.op}`);
      const ha = valueAt(0, layer.activationInput).data;
      const hb = valueAt(1, layer.activationInput).data;
      const points = layerAlphas.map((alpha) => {
        const sigma = new Float32Array(ha.length);
        for (let i = 0; i < ha.length; i++) sigma[i] = Math.max(0, (1 - alpha) * ha[i]! + alpha * hb[i]!);
        const r = cosineRows(sigma, fa, fb, alpha, n, d);
        return { alpha, distance: r.distance, skipped: r.skipped };
      });
      weak = { weakAdditivity: points, weakAdditivityBaseline: base.distance };
    }
    return { name: layer.name, node: layer.node, op: layer.op, module: layer.module, kind: layer.kind, depth, llfc, baseline: base.distance, baselineSkipped: base.skipped, ...weak };
  });
  lap('metrics');

  // Commutativity per linear layer.
  const commutativity: CommutativityReport[] = [];
  for (const layer of linear) {
    const node = a.model.graph!.node![layer.nodeIndex]!;
    const p = a.parameters[layer.weight]!;
    const wa = a.arena.subarray(p.offset, p.offset + p.length);
    const wb = b.arena.subarray(p.offset, p.offset + p.length);
    const ha = valueAt(0, layer.input);
    const hb = valueAt(1, layer.input);
    let distCom: number;
    if (layer.op === 'Gemm' && options.gemm !== 'onnxruntime') distCom = gemmCommutativity(node, wa, wb, p.shape, ha.data, hb.data, n);
    else if (layer.op === 'Conv' || layer.op === 'Gemm') distCom = await ortCommutativity(a, layer, wa, wb, ha.data, hb.data, n, ha.sampleDims, batchSize);
    else throw new Error(`naive commutativity: ${layer.op} is not supported`);
    commutativity.push({ node: layer.node, weight: p.tensor, op: layer.op, module: layer.module, distCom, distW: relativeDistance(wa, wb), distH: relativeDistance(ha.data, hb.data) });
  }
  lap('commutativity');

  return {
    analysis: { lmc: { alphas: lmcAlphas, loss, accuracy, barriers, samples: n }, alphas: layerAlphas, layers: layerReports, commutativity, samples: n },
    phases,
    keptFloats,
  };
}

/** Every number two analyses report, by a readable key (for the equality check). */
export function analysisNumbers(r: PairAnalysis): Map<string, number> {
  const out = new Map<string, number>();
  if (r.lmc) {
    r.lmc.alphas.forEach((x, i) => {
      out.set(`lmc.loss@${x}`, r.lmc!.loss[i]!);
      out.set(`lmc.accuracy@${x}`, r.lmc!.accuracy[i]!);
    });
    if (r.lmc.barriers) for (const [k, v] of Object.entries(r.lmc.barriers)) out.set(`lmc.barriers.${k}`, v);
  }
  for (const l of r.layers) {
    for (const p of l.llfc) {
      out.set(`${l.name}.llfc@${p.alpha}.distance`, p.distance);
      out.set(`${l.name}.llfc@${p.alpha}.distanceStd`, p.distanceStd);
      out.set(`${l.name}.llfc@${p.alpha}.coefficient`, p.coefficient);
      out.set(`${l.name}.llfc@${p.alpha}.skipped`, p.skipped);
    }
    out.set(`${l.name}.baseline`, l.baseline);
    out.set(`${l.name}.baselineSkipped`, l.baselineSkipped);
    for (const p of l.weakAdditivity ?? []) {
      out.set(`${l.name}.weakAdditivity@${p.alpha}.distance`, p.distance);
      out.set(`${l.name}.weakAdditivity@${p.alpha}.skipped`, p.skipped);
    }
    if (l.weakAdditivityBaseline !== undefined) out.set(`${l.name}.weakAdditivityBaseline`, l.weakAdditivityBaseline);
  }
  for (const c of r.commutativity) {
    out.set(`${c.node}.distCom`, c.distCom);
    out.set(`${c.node}.distW`, c.distW);
    out.set(`${c.node}.distH`, c.distH);
  }
  return out;
}

/** Largest |difference| between two analyses over every number, and the keys missing in either. */
export function compareAnalyses(x: PairAnalysis, y: PairAnalysis): { maxDiff: number; worst: string; count: number; missing: string[] } {
  const nx = analysisNumbers(x);
  const ny = analysisNumbers(y);
  let maxDiff = 0;
  let worst = '';
  const missing = [...nx.keys()].filter((k) => !ny.has(k)).concat([...ny.keys()].filter((k) => !nx.has(k)));
  for (const [k, v] of nx) {
    const w = ny.get(k);
    if (w === undefined) continue;
    const diff = Number.isNaN(v) && Number.isNaN(w) ? 0 : Math.abs(v - w);
    if (!(diff <= maxDiff)) {
      maxDiff = diff;
      worst = k;
    }
  }
  return { maxDiff, worst, count: nx.size, missing };
}
