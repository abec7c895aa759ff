/** The numpy + scipy reference of merging (reference/merge.json) and how llfc's results are matched to it, shared by the merge tests. */
import { readFileSync } from 'node:fs';
import { loadCheckpoint, type Checkpoint } from '../../lib/checkpoint.js';
import { openDataset, type Dataset } from '../../lib/dataset/index.js';
import { inferSpec, type PermutationSpec } from '../../lib/align/spec/index.js';
import type { MergeResult } from '../../lib/studies/merge.js';
import { fixture } from '../helpers.js';

export interface MergeEntry {
  permutations: number[][][];
  weights: number[];
  objective: number;
  initialObjective: number;
  loss: number;
  accuracy: number;
}

export interface MergeReference {
  models: string[];
  data: string;
  labels: string;
  samples: number;
  normalize: { mean: number[]; std: number[] };
  spec: [string, number][][];
  evaluations: { loss: number; accuracy: number }[];
  mean: { objective: number; loss: number; accuracy: number };
  mergemany: MergeEntry;
  tree: MergeEntry;
}

export const reference = JSON.parse(readFileSync(fixture('reference', 'merge.json'), 'utf8')) as MergeReference;

export async function load(): Promise<{ models: Checkpoint[]; data: Dataset; spec: PermutationSpec }> {
  const models = await Promise.all(reference.models.map((m) => loadCheckpoint(fixture(m))));
  const data = await openDataset({ data: fixture(reference.data), labels: fixture(reference.labels), normalize: reference.normalize });
  return { models, data, spec: await inferSpec(models[0]!) };
}

/** Our group index for each of the reference's groups, matched by the (tensor, axis) pairs they act on. */
export function groupMap(spec: PermutationSpec): number[] {
  const key = (pairs: [string, number][]): string => pairs.map(([t, a]) => `${t}:${a}`).sort().join(' ');
  const ours = spec.groups.map((g) => key(g.parameters.map((p) => [p.tensor, p.axis])));
  return reference.spec.map((g) => ours.indexOf(key(g)));
}

export function agrees(result: MergeResult, entry: MergeEntry, map: number[]): boolean {
  return entry.permutations.every((model, m) => model.every((perm, g) => perm.every((v, i) => result.permutations[m]![map[g]!]![i] === v)));
}

