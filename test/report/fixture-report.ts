/**
 * Reports for the report tests: a real LMC run on the bundled MLPs, with per-layer sections
 * mapped from the PyTorch reference values in test/fixtures/reference/mechanisms.json.
 */
import { readFileSync } from 'node:fs';
import { loadCheckpoint } from '../../lib/checkpoint.js';
import { linearModeConnectivity } from '../../lib/checks/lmc.js';
import type { LmcResult, AlignedAnalysis, CommutativityReport, LayerKind, LayerReport, LlfcPoint, WeakAdditivityPoint } from '../../lib/results.js';
import { openDataset } from '../../lib/dataset/index.js';
import { buildReport, type Report } from '../../lib/report/json.js';
import { fixture } from '../helpers.js';

interface RefLayer {
  kind: LayerKind;
  onnxTensor: string;
  llfc: LlfcPoint[];
  baseline: number;
  baselineSkipped: number;
  weakAdditivity?: WeakAdditivityPoint[];
  weakAdditivityBaseline?: number;
}

interface RefPair {
  a: string;
  b: string;
  data: string;
  samples: number;
  alphas: number[];
  layers: Record<string, RefLayer>;
  commutativity: Record<string, { onnxNode: string; distCom: number; distW: number; distH: number }>;
}

export type PairName = 'mlp' | 'cnn_bn' | 'resnet';

export function referencePair(pair: PairName): RefPair {
  return JSON.parse(readFileSync(fixture('reference', 'mechanisms.json'), 'utf8'))[pair] as RefPair;
}

const OPS: Record<LayerKind, string> = { activation: 'Relu', add: 'Add', attention: 'MatMul', logits: 'Gemm', other: 'Identity' };

/** The reference layers as LayerReport objects (module = the PyTorch name, name = the ONNX tensor). */
export function referenceLayers(pair: PairName): LayerReport[] {
  const ref = referencePair(pair);
  return Object.entries(ref.layers).map(([module, l], depth) => ({
    name: l.onnxTensor,
    node: ref.commutativity[module]?.onnxNode ?? l.onnxTensor.replace(/_output_\d+$/, ''),
    op: ref.commutativity[module]?.onnxNode.split('/').pop() ?? OPS[l.kind],
    module,
    kind: l.kind,
    depth,
    llfc: l.llfc,
    baseline: l.baseline,
    baselineSkipped: l.baselineSkipped,
    ...(l.weakAdditivity ? { weakAdditivity: l.weakAdditivity, weakAdditivityBaseline: l.weakAdditivityBaseline! } : {}),
  }));
}

export function referenceCommutativity(pair: PairName): CommutativityReport[] {
  return Object.entries(referencePair(pair).commutativity).map(([module, c]) => ({
    node: c.onnxNode,
    weight: `${module}.weight`,
    op: c.onnxNode.split('/').pop()!,
    module,
    distCom: c.distCom,
    distW: c.distW,
    distH: c.distH,
  }));
}

export const LMC_LIMIT = 300;

/** LMC of two bundled models on the first 300 Fashion-MNIST test samples. */
export async function fixtureLmc(a = 'mlp_a.onnx', b = 'mlp_b.onnx', alphas?: number[]): Promise<LmcResult> {
  const [ca, cb, data] = await Promise.all([
    loadCheckpoint(fixture('models', a)),
    loadCheckpoint(fixture('models', b)),
    openDataset({ data: fixture('data', 'fashion_test_x.npy'), labels: fixture('data', 'fashion_test_y.npy'), normalize: { mean: [0.286], std: [0.353] }, limit: LMC_LIMIT }),
  ]);
  return linearModeConnectivity(ca, cb, data, alphas ? { alphas } : {});
}

/** A report as `llfc analyze` writes it: LMC plus per-layer sections (optional aligned part). */
export type FullReport = Report;

export function fixtureReport(lmc: LmcResult, pair: PairName = 'mlp', aligned?: AlignedAnalysis): FullReport {
  const ref = referencePair(pair);
  const base = buildReport({
    models: { a: fixture(ref.a), b: fixture(ref.b) },
    data: { source: fixture(ref.data), samples: lmc.samples, labels: true },
    settings: { batchSize: 256, feed: 'initializers', normalize: { mean: [0.286], std: [0.353] }, limit: LMC_LIMIT },
    lmc,
  });
  return { ...base, layerAlphas: ref.alphas, layers: referenceLayers(pair), commutativity: referenceCommutativity(pair), ...(aligned ? { aligned } : {}) };
}

/**
 * A stand-in for the aligned analysis until alignment lands: the LMC of the spawned MLP pair
 * (a pair that is linearly connected) and the MLP reference layers with distances shrunk.
 * Only the rendering is under test here, not these numbers.
 */
export function standInAligned(lmc: LmcResult): AlignedAnalysis {
  const shrink = (x: number): number => x * 0.35;
  const layers = referenceLayers('mlp').map((l) => ({
    ...l,
    llfc: l.llfc.map((p) => ({ ...p, distance: shrink(p.distance), distanceStd: shrink(p.distanceStd), coefficient: 1 - shrink(1 - p.coefficient) })),
    baseline: l.baseline * 0.6,
    ...(l.weakAdditivity ? { weakAdditivity: l.weakAdditivity.map((p) => ({ ...p, distance: shrink(p.distance) })), weakAdditivityBaseline: l.weakAdditivityBaseline! * 0.6 } : {}),
  }));
  const commutativity = referenceCommutativity('mlp').map((c) => ({ ...c, distCom: shrink(c.distCom), distW: c.distW * 0.5, distH: c.distH * 0.6 }));
  return {
    lmc,
    alphas: referencePair('mlp').alphas,
    layers,
    commutativity,
    samples: 500,
    method: 'weight',
    spec: {
      groups: [
        { name: 'P_fc1', size: 512, tensors: 3 },
        { name: 'P_fc2', size: 256, tensors: 3 },
      ],
      fixed: [
        { tensor: 'fc1.weight', axis: 1, reason: 'model input' },
        { tensor: 'fc3.weight', axis: 0, reason: 'model output (logits)' },
      ],
    },
    objective: [812.5, 1321.25, 1354.0, 1355.5, 1355.5],
  };
}
