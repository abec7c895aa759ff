/** The per-layer PyTorch references (mechanisms.json, transformer_mechanisms.json) and their comparisons, shared by the analyze tests. */
import { expect } from 'vitest';
import { loadCheckpoint } from '../../lib/checkpoint.js';
import { linearLayers } from '../../lib/checks/layers.js';

export interface ReferencePoint { alpha: number; distance: number; distanceStd?: number; coefficient?: number }
export interface ReferenceLayer { onnxTensor: string; llfc: ReferencePoint[]; baseline: number; weakAdditivity?: ReferencePoint[]; weakAdditivityBaseline?: number }
export interface CommutativityReference { onnxNode: string; distCom: number; distW: number; distH: number }
export interface MechanismsReference {
  samples: number;
  alphas: number[];
  layers: Record<string, ReferenceLayer>;
  commutativity: Record<string, CommutativityReference>;
}

interface CommutativityResult { node: string; distCom: number; distW: number; distH: number }

/** The same linear layers as the reference (by ONNX node), each distance within 1e-4. */
export function expectCommutativity(result: readonly CommutativityResult[], ref: Record<string, CommutativityReference>): void {
  expect(result.map((c) => c.node).sort()).toEqual(Object.values(ref).map((c) => c.onnxNode).sort());
  for (const expected of Object.values(ref)) {
    const ours = result.find((c) => c.node === expected.onnxNode)!;
    expect(Math.abs(ours.distCom - expected.distCom)).toBeLessThan(1e-4);
    expect(Math.abs(ours.distW - expected.distW)).toBeLessThan(1e-4);
    expect(Math.abs(ours.distH - expected.distH)).toBeLessThan(1e-4);
  }
}

interface LayerResult {
  llfc: readonly { alpha: number; distance: number; distanceStd: number; coefficient: number }[];
  baseline: number;
  weakAdditivity?: readonly { distance: number }[];
  weakAdditivityBaseline?: number;
}

/** One layer's LLFC points, baseline and weak additivity (present exactly when the reference has it) within 1e-4. */
export function expectLayer(ours: LayerResult, expected: ReferenceLayer): void {
  expected.llfc.forEach((p, k) => {
    expect(ours.llfc[k]!.alpha).toBe(p.alpha);
    expect(Math.abs(ours.llfc[k]!.distance - p.distance)).toBeLessThan(1e-4);
    expect(Math.abs(ours.llfc[k]!.distanceStd - p.distanceStd!)).toBeLessThan(1e-4);
    expect(Math.abs(ours.llfc[k]!.coefficient - p.coefficient!)).toBeLessThan(1e-4);
  });
  expect(Math.abs(ours.baseline - expected.baseline)).toBeLessThan(1e-4);
  if (expected.weakAdditivity) {
    expected.weakAdditivity.forEach((p, k) => expect(Math.abs(ours.weakAdditivity![k]!.distance - p.distance)).toBeLessThan(1e-4));
    expect(Math.abs(ours.weakAdditivityBaseline! - expected.weakAdditivityBaseline!)).toBeLessThan(1e-4);
  } else {
    expect(ours.weakAdditivity).toBeUndefined();
  }
}

interface AnalysisResult {
  layers: readonly LayerResult[];
  commutativity: readonly (CommutativityResult & { module: string | null })[];
}

/**
 * Every default layer against the reference's layers in execution order, and commutativity in graph
 * order against the reference's linear layers, found through the nodes of `legacy` (the legacy export
 * the reference names nodes in: a converted model names them otherwise). 1e-4.
 */
export async function expectMechanismsThroughLegacy(result: AnalysisResult, ref: MechanismsReference, legacy: string): Promise<void> {
  const expected = Object.values(ref.layers);
  expect(result.layers).toHaveLength(expected.length);
  result.layers.forEach((layer, i) => expectLayer(layer, expected[i]!));
  const legacyLinear = linearLayers(await loadCheckpoint(legacy));
  expect(result.commutativity.map((c) => c.module)).toEqual(legacyLinear.map((c) => c.module));
  result.commutativity.forEach((c, i) => {
    const r = Object.values(ref.commutativity).find((x) => x.onnxNode === legacyLinear[i]!.node)!;
    [c.distCom, c.distW, c.distH].forEach((v, j) => expect(Math.abs(v - [r.distCom, r.distW, r.distH][j]!)).toBeLessThan(1e-4));
  });
}
