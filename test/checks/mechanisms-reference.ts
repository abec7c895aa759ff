/** The per-layer PyTorch references (mechanisms.json, transformer_mechanisms.json) and their comparisons, shared by the analyze tests. */
import { expect } from 'vitest';

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
