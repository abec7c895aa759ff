import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadCheckpoint, pairCheckpoints } from '../../lib/checkpoint.js';
import { inferSpec } from '../../lib/align/spec/index.js';
import { permuteArena, permutationsFromJson } from '../../lib/align/permute.js';
import { decodeSafetensors } from '../../lib/align/safetensors.js';
import { writeNpy } from '../dataset/helpers.js';
import { fixture, llfc, tempDir } from '../helpers.js';
import { maxAbsDiff, randomFloats, runModel } from './helpers.js';

const tmp = tempDir();
afterAll(() => tmp.cleanup());

const model = (name: string): string => fixture('models', `${name}.onnx`);
const x = fixture('data', 'fashion_test_x.npy');

/** Debian's python with torch, when installed (the torch round trip is skipped otherwise). */
const python = '/usr/bin/python3';
const hasTorch = existsSync(python) && spawnSync(python, ['-c', 'import torch'], { encoding: 'utf8' }).status === 0;

async function sameFunction(fileA: string, fileB: string): Promise<number> {
  const input = randomFloats(5 * 784, 8);
  const bytes = (f: string): Uint8Array => readFileSync(f);
  return maxAbsDiff(await runModel(bytes(fileA), input, [5, 1, 28, 28]), await runModel(bytes(fileB), input, [5, 1, 28, 28]));
}

describe('llfc spec', () => {
  it('prints the groups, what they act on and the fixed axes with reasons', () => {
    const r = llfc('spec', model('cnn_bn_a'));
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/2 groups, 1 fixed/);
    expect(r.stdout).toMatch(/group 1: 32 units, \/conv2\/Conv output channels\n {2}acts on conv2\.weight axis 0 · conv2\.bias axis 0 · bn2\.weight axis 0 .* fc\.weight axis 1 in blocks of 49/);
    expect(r.stdout).toMatch(/10 units, \/fc\/Gemm output channels: model output 'logits'/);
  });

  it('prints JSON with --json and names an unreadable model', () => {
    const r = llfc('spec', model('mlp_a'), '--json');
    expect(r.status).toBe(0);
    const spec = JSON.parse(r.stdout);
    expect(spec.groups.map((g: { size: number }) => g.size)).toEqual([256, 256]);
    const bad = llfc('spec', x);
    expect(bad.status).toBe(2);
    expect(bad.stderr).toMatch(/fashion_test_x\.npy: not a valid ONNX model/);
  });
});

describe('llfc permute', () => {
  it('writes a randomly permuted model computing the same function, and its permutations', async () => {
    const out = join(tmp.dir, 'resnet_perm.onnx');
    const perms = join(tmp.dir, 'resnet_perm.json');
    const r = llfc('permute', model('resnet_a'), '--random', '--seed', '3', '-o', out, '--perm-out', perms);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/permuted 6 groups \(224 units\) .* at random \(seed 3\)/);
    expect(await sameFunction(model('resnet_a'), out)).toBeLessThanOrEqual(1e-4);
    const a = await loadCheckpoint(model('resnet_a'));
    const p = await loadCheckpoint(out);
    pairCheckpoints(a, p);
    const spec = await inferSpec(a);
    const applied = permuteArena(a, spec, permutationsFromJson(spec, JSON.parse(readFileSync(perms, 'utf8')), perms));
    expect(Buffer.from(applied.buffer).equals(Buffer.from(p.arena.buffer))).toBe(true);
    // --perms applies a permutations file: the same model again
    const again = join(tmp.dir, 'resnet_perm_again.onnx');
    expect(llfc('permute', model('resnet_a'), '--perms', perms, '-o', again).status).toBe(0);
    expect(readFileSync(again)).toEqual(readFileSync(out));
  });

  it('refuses unclear or unsafe requests with exit code 2', () => {
    const none = llfc('permute', model('mlp_a'), '-o', join(tmp.dir, 'x.onnx'));
    expect(none.status).toBe(2);
    expect(none.stderr).toMatch(/give either --random or --perms <file>/);
    const copy = join(tmp.dir, 'input.onnx');
    copyFileSync(model('mlp_a'), copy);
    const over = llfc('permute', copy, '--random', '-o', copy);
    expect(over.status).toBe(2);
    expect(over.stderr).toMatch(/refusing to write .*input\.onnx: it is an input file/);
    expect(readFileSync(copy)).toEqual(readFileSync(model('mlp_a')));
    const wrong = llfc('permute', model('mlp_a'), '--perms', model('mlp_b'), '-o', join(tmp.dir, 'y.onnx'));
    expect(wrong.status).toBe(2);
    expect(wrong.stderr).toMatch(/mlp_b\.onnx: not JSON/);
  });
});

describe('llfc align', () => {
  it('weight matching: writes the aligned ONNX (same function as B), the permutations and PyTorch-named safetensors', async () => {
    const out = join(tmp.dir, 'mlp_b_aligned.onnx');
    const r = llfc('align', model('mlp_a'), model('mlp_b'), '--method', 'weight', '-o', out);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/weight matching of .*mlp_b\.onnx to .*mlp_a\.onnx: 2 groups, \d+ sweeps \(converged\)/);
    expect(await sameFunction(model('mlp_b'), out)).toBeLessThanOrEqual(1e-4);
    const perms = JSON.parse(readFileSync(join(tmp.dir, 'mlp_b_aligned.perms.json'), 'utf8'));
    expect(perms.method).toBe('weight');
    expect(perms.objective[perms.objective.length - 1]).toBeGreaterThan(20 * perms.initialObjective);
    const aligned = await loadCheckpoint(out);
    const st = decodeSafetensors(readFileSync(join(tmp.dir, 'mlp_b_aligned.safetensors')), 'mlp_b_aligned.safetensors');
    expect(st.tensors.map((t) => t.name)).toEqual(['fc1.weight', 'fc1.bias', 'fc2.weight', 'fc2.bias', 'fc3.weight', 'fc3.bias']);
    expect(st.metadata.format).toBe('pt');
    for (const t of st.tensors) {
      const p = aligned.parameters.find((q) => q.tensor === t.name)!;
      expect(t.shape).toEqual(p.shape);
      expect(Buffer.from(t.data.buffer).equals(Buffer.from(aligned.arena.slice(p.offset, p.offset + p.length).buffer))).toBe(true);
    }
  });

  it('activation matching on data; says when data is missing or the pair does not match', async () => {
    const out = join(tmp.dir, 'cnn_b_aligned.onnx');
    const r = llfc('align', model('cnn_bn_a'), model('cnn_bn_b'), '--method', 'activation', '--data', x, '--mean', '0.286', '--std', '0.353', '--limit', '300', '--correlation', 'pearson', '-o', out);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/activation matching \(pearson\) of .* on 300 samples: 2 groups/);
    expect(await sameFunction(model('cnn_bn_b'), out)).toBeLessThanOrEqual(1e-4);
    const missing = llfc('align', model('cnn_bn_a'), model('cnn_bn_b'), '--method', 'activation', '-o', join(tmp.dir, 'z.onnx'));
    expect(missing.status).toBe(2);
    expect(missing.stderr).toMatch(/activation matching needs data/);
    const mismatch = llfc('align', model('cnn_bn_a'), model('mlp_b'), '--method', 'weight', '-o', join(tmp.dir, 'w.onnx'));
    expect(mismatch.status).toBe(2);
    expect(mismatch.stderr).toMatch(/differ at node 0/);
    expect(existsSync(join(tmp.dir, 'w.onnx'))).toBe(false);
  });

  it.skipIf(!hasTorch)('the safetensors load back with model.load_state_dict (MLP, a ResNet with folded BatchNorm, a ViT whose nn.MultiheadAttention keeps in_proj_weight)', async () => {
    const input = randomFloats(4 * 784, 12);
    const xFile = writeNpy(join(tmp.dir, 'x_torch.npy'), '<f4', [4, 1, 28, 28], input);
    for (const [name, kind] of [
      ['mlp', 'mlp'],
      ['resnet', 'resnet_folded'],
      ['vit_mha', 'vit_mha'],
    ] as const) {
      const out = join(tmp.dir, `${name}_torch_aligned.onnx`);
      const r = llfc('align', model(`${name}_a`), model(`${name}_b`), '--method', 'weight', '-o', out);
      expect(r.status).toBe(0);
      if (name === 'resnet') expect(r.stdout).toMatch(/note: \d+ Conv tensors have BatchNorm folded in/);
      const logits = join(tmp.dir, `${name}_torch_logits.npy`);
      const py = spawnSync(python, [fixture('..', 'align', 'load_state_dict.py'), kind, join(tmp.dir, `${name}_torch_aligned.safetensors`), xFile, logits], { encoding: 'utf8' });
      expect(py.stderr.split('\n').filter((l) => /Error|Traceback/.test(l))).toEqual([]);
      expect(py.status).toBe(0);
      const raw = readFileSync(logits);
      const headerLength = raw.readUInt16LE(8);
      const torchLogits = new Float32Array(raw.buffer.slice(raw.byteOffset + 10 + headerLength, raw.byteOffset + raw.length));
      const onnxLogits = await runModel(readFileSync(out), input, [4, 1, 28, 28]);
      expect(maxAbsDiff(torchLogits, onnxLogits)).toBeLessThanOrEqual(1e-4);
    }
  });
});
