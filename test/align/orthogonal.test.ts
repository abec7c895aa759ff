/**
 * Orthogonal alignment of the residual stream (lib/align/orthogonal.ts; SCIENCE.md §7): the map
 * against the PyTorch Procrustes reference (scripts/fixtures/orthogonal_reference.py), the
 * function of B kept on every transformer fixture of both exporters, a rotated copy of A mapped
 * back onto A, and the CLI's files.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { loadCheckpoint, type Checkpoint } from '../../lib/checkpoint.js';
import { align, BoundSpec, pairSpec } from '../../lib/align/index.js';
import { analyzeNaiveAndAligned } from '../../lib/studies/aligned.js';
import { orthogonalAlignment } from '../../lib/align/orthogonal.js';
import { permutedModel } from '../../lib/align/permute.js';
import { openDataset } from '../../lib/dataset/index.js';
import { OrthogonalError } from '../../lib/errors.js';
import { encodeModel } from '../../lib/onnx/model.js';
import { fixture, runCliInProcess, tempDir } from '../helpers.js';
import { logits as transformerLogits, worstRelative } from './transformer-helpers.js';

const model = (name: string): string => fixture('models', `${name}.onnx`);
const reference = JSON.parse(readFileSync(fixture('reference', 'orthogonal.json'), 'utf8')) as {
  pairs: Record<string, { d: number; keepsOnes: boolean; map: number[]; objective: number; initialObjective: number }>;
};

const pair = async (name: string): Promise<[Checkpoint, Checkpoint]> => Promise.all([loadCheckpoint(model(`${name}_a`)), loadCheckpoint(model(`${name}_b`))]);

const classifierData = () => openDataset({ data: fixture('data', 'fashion_test_x.npy'), normalize: { mean: [0.286], std: [0.353] }, limit: 256 });
const lmData = () => openDataset({ data: fixture('data', 'lm_heldout_ids.npy'), limit: 16 });

describe('orthogonal alignment of the residual stream', () => {
  const cases = ['vit_hand', 'vit_mha', 'vit_rms', 'lm_untied'].flatMap((name) => [name, `dynamo/${name}`]);

  it.each(cases)('%s: the map of B as it is equals the PyTorch Procrustes solution on the folded weights', async (name) => {
    const [a, b] = await pair(name);
    const { bound } = await pairSpec(a, b, undefined, undefined, undefined);
    const [stream] = orthogonalAlignment(a, b, bound).streams;
    const ref = reference.pairs[name.replace('dynamo/', '')]!;
    expect(stream!.size).toBe(ref.d);
    expect(stream!.keepsOnes).toBe(ref.keepsOnes);
    expect(worstRelative(stream!.map, ref.map)).toBeLessThan(1e-5);
    expect(stream!.objective).toBeCloseTo(ref.objective, 3);
    expect(stream!.initialObjective).toBeCloseTo(ref.initialObjective, 3);
  });

  it.each([...cases, 'lm_tied', 'dynamo/lm_tied'].flatMap((name) => [[name, 'weight'], [name, 'activation']] as const))(
    '%s, %s matching: B permuted and rotated computes what B computes (1e-4) and scores at least the permutations alone',
    async (name, method) => {
      const [a, b] = await pair(name);
      const data = method === 'activation' ? await (name.includes('lm_') ? lmData() : classifierData()) : undefined;
      const result = await align(a, b, { method, symmetry: 'orthogonal', ...(data ? { data } : {}) });
      const stream = result.orthogonal![0]!;
      expect(stream.objective).toBeGreaterThanOrEqual(stream.initialObjective);
      const written = permutedModel(result.aligned, result.aligned.arena);
      expect(worstRelative(await transformerLogits(encodeModel(b.model), name), await transformerLogits(encodeModel(written.model), name))).toBeLessThan(1e-4);
    },
  );

  it('a LayerNorm stream keeps the all-ones direction (O·1 = 1); an RMSNorm stream is not restricted', async () => {
    for (const [name, keeps] of [['vit_hand', true], ['vit_rms', false]] as const) {
      const [a, b] = await pair(name);
      const { bound } = await pairSpec(a, b, undefined, undefined, undefined);
      const [s] = orthogonalAlignment(a, b, bound).streams;
      expect(s!.keepsOnes).toBe(keeps);
      const rowSums = Array.from({ length: s!.size }, (_, i) => s!.map.subarray(i * s!.size, (i + 1) * s!.size).reduce((x, y) => x + y, 0));
      if (keeps) expect(worstRelative(rowSums, new Array(s!.size).fill(1))).toBeLessThan(1e-9);
      else expect(worstRelative(rowSums, new Array(s!.size).fill(1))).toBeGreaterThan(1e-3);
    }
  });

  it('A rotated by an orthogonal map of its stream is mapped back onto A by weight-based Procrustes', async () => {
    const [a, b] = await pair('vit_hand');
    // The spec of the pair, bound to A (the same layout); A with itself would make every tensor a shared constant.
    const bound = BoundSpec.of(a, (await pairSpec(a, b, undefined, undefined, undefined)).spec);
    const d = bound.spec.groups[0]!.size;
    // A random map: the Procrustes solution of a random C (seeded).
    let s = 7;
    const random = Float64Array.from({ length: d * d }, () => ((s = (s * 1103515245 + 12345) % 2 ** 31) / 2 ** 31) * 2 - 1);
    const rotated = { ...a, arena: orthogonalAlignment(a, a, bound, {}, new Map([[0, random]])).arena };
    expect(worstRelative(rotated.arena, a.arena)).toBeGreaterThan(0.1);
    const back = orthogonalAlignment(a, rotated, bound);
    expect(worstRelative(back.arena, a.arena)).toBeLessThan(1e-4);
  });

  it('a model whose stream no norm reads is refused with an OrthogonalError naming the file', async () => {
    const [a, b] = [await loadCheckpoint(model('mlp_a')), await loadCheckpoint(model('mlp_b'))];
    await expect(align(a, b, { method: 'weight', symmetry: 'orthogonal' })).rejects.toThrow(OrthogonalError);
    await expect(align(a, b, { method: 'weight', symmetry: 'orthogonal' })).rejects.toThrow(/mlp_b\.onnx: no residual stream/);
  });
});

describe('llfc align --symmetry orthogonal', () => {
  it('writes the aligned ONNX, the maps as JSON and as .npy with the same numbers, and interpolate at α = 1 with A gives B’s logits', async () => {
    const tmp = tempDir();
    try {
      const out = tmp.path('b_aligned.onnx');
      const r = await runCliInProcess('align', model('vit_hand_a'), model('vit_hand_b'), '--method', 'weight', '--symmetry', 'orthogonal', '-o', out);
      expect(r.status).toBe(0);
      expect(r.stdout).toMatch(/orthogonal map of the residual stream \(group 0, 32 units, keeping the all-ones direction/);
      const json = JSON.parse(readFileSync(tmp.path('b_aligned.orthogonal.json'), 'utf8'));
      expect(json.format).toBe('llfc-orthogonal');
      expect(json.streams[0].norms).toHaveLength(5);
      const npy = readFileSync(tmp.path('b_aligned.orthogonal.npy'));
      const header = npy.subarray(0, 128).toString('latin1');
      expect(header).toContain("'descr': '<f8'");
      expect(header).toContain("'shape': (1, 32, 32)");
      const body = new Float64Array(npy.buffer.slice(npy.byteOffset + npy.length - 32 * 32 * 8, npy.byteOffset + npy.length));
      expect(Array.from(body)).toEqual(json.streams[0].map.flat());
      const perms = JSON.parse(readFileSync(tmp.path('b_aligned.perms.json'), 'utf8'));
      expect(perms.orthogonal[0].keepsOnes).toBe(true);

      const end = tmp.path('end.onnx');
      expect((await runCliInProcess('interpolate', model('vit_hand_a'), out, '--alpha', '1', '-o', end, '--quiet')).status).toBe(0);
      const b = await loadCheckpoint(model('vit_hand_b'));
      expect(worstRelative(await transformerLogits(encodeModel(b.model), 'vit'), await transformerLogits(readFileSync(end), 'vit'))).toBeLessThan(1e-4);
    } finally {
      tmp.cleanup();
    }
  });

  it('refuses --orthogonal-out without --symmetry orthogonal, naming the options', async () => {
    const tmp = tempDir();
    try {
      const r = await runCliInProcess('align', model('vit_hand_a'), model('vit_hand_b'), '--method', 'weight', '-o', tmp.path('x.onnx'), '--orthogonal-out', tmp.path('o.json'));
      expect(r.status).toBe(2);
      expect(r.stderr).toMatch(/--orthogonal-out and --orthogonal-npy are for --symmetry orthogonal/);
    } finally {
      tmp.cleanup();
    }
  });
});

describe('analyze --align … --symmetry orthogonal', () => {
  it('analyzes each method’s permutations, then the permutations plus the stream map, whose endpoint B keeps B’s loss (1e-5)', async () => {
    const [a, b] = await pair('vit_hand');
    const data = await openDataset({ data: fixture('data', 'fashion_test_x.npy'), labels: fixture('data', 'fashion_test_y.npy'), normalize: { mean: [0.286], std: [0.353] }, limit: 64 });
    const options = { lmcAlphas: [0, 0.5, 1], commutativity: false };
    const { naive, aligned, alsoAligned } = await analyzeNaiveAndAligned(a, b, data, { method: 'weight', alsoAlign: ['activation'], symmetry: 'orthogonal' }, options);
    const all = [aligned, ...(alsoAligned ?? [])];
    expect(all.map((x) => [x.method, Boolean(x.orthogonal)])).toEqual([['weight', false], ['weight', true], ['activation', false], ['activation', true]]);
    for (const x of all) expect(x.lmc!.loss[2]).toBeCloseTo(naive.lmc!.loss[2]!, 5);
    const [stream] = all[1]!.orthogonal!;
    expect(stream).toMatchObject({ size: 32, keepsOnes: true, norms: 5 });
    expect(stream!.objective).toBeGreaterThanOrEqual(stream!.initialObjective);
  });

  it('refuses --symmetry without --align', async () => {
    const r = await runCliInProcess('analyze', model('vit_hand_a'), model('vit_hand_b'), '--data', fixture('data', 'fashion_test_x.npy'), '--symmetry', 'orthogonal');
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/--symmetry chooses what --align may change; give --align too/);
  });
});
