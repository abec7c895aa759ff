/**
 * What the reports say about sequence models: the data's samples are sequences, the per-layer
 * statistics count tokens (SCIENCE.md §7), both shown; and tied LM heads shown by `spec`.
 */
import { describe, expect, it } from 'vitest';
import { fixture, runCliInProcess } from '../helpers.js';

const lm = (name: string, exporter = '') => fixture('models', exporter, `${name}.onnx`);
const ids = ['--data', fixture('data', 'lm_heldout_ids.npy'), '--limit', '8'];

interface Report {
  data: { samples: number };
  lmc: { tokens?: number; samples: number };
  layers: { kind: string; tokens?: number }[];
}

describe('sequence models: samples are sequences, the per-layer statistics count tokens', () => {
  it('llfc analyze on the byte LM: data.samples counts the 8 sequences, each layer the 256 tokens its statistics average over, the LMC its 248 labelled next-token positions; the text says both', async () => {
    const args = ['analyze', lm('lm_tied_a'), lm('lm_tied_b'), ...ids, '--labels', 'next-token', '--alphas', '0.5', '--steps', '3', '--no-commutativity'];
    const json = await runCliInProcess(...args, '--json', '--quiet');
    expect(json.status).toBe(0);
    const report = JSON.parse(json.stdout) as Report;
    expect(report.data.samples).toBe(8);
    expect(report.layers.length).toBeGreaterThan(0);
    expect(report.layers.map((l) => l.tokens)).toEqual(report.layers.map(() => 8 * 32));
    expect([report.lmc.samples, report.lmc.tokens]).toEqual([8, 8 * 31]);
    const text = await runCliInProcess(...args);
    expect(text.stdout).toMatch(/on 8 samples \(sequences; the per-layer statistics count 256 tokens\) of /);
    expect(text.stdout).toMatch(/loss and accuracy per token: mean over 248 labelled tokens of the 8 sequences/);
  });

  it('a classifier: each image is one sample, so no token counts appear', async () => {
    const r = await runCliInProcess('analyze', lm('moe_a'), lm('moe_b'), '--data', fixture('data', 'fashion_test_x.npy'), '--labels', fixture('data', 'fashion_test_y.npy'),
      '--limit', '16', '--alphas', '0.5', '--steps', '3', '--no-commutativity', '--json', '--quiet');
    const report = JSON.parse(r.stdout) as Report;
    expect(report.layers.every((l) => l.tokens === undefined)).toBe(true);
    expect(report.lmc.tokens).toBeUndefined();
  });
});

describe('tied LM heads in llfc spec', () => {
  it('the dynamo-style export: the head multiplies by the transpose of the embedding table itself', async () => {
    const r = await runCliInProcess('spec', lm('lm_tied_a', 'dynamo'));
    expect(r.stdout).toMatch(/\ntied head: 'node_MatMul_\d+' multiplies by the transpose of 'tok\.weight', the table the embedding 'node_Gather_\d+' reads \(one tensor for both\)\n$/);
    const json = JSON.parse((await runCliInProcess('spec', lm('lm_tied_a', 'dynamo'), '--json')).stdout) as { tiedHeads: unknown[] };
    expect(json.tiedHeads).toEqual([expect.objectContaining({ table: 'tok.weight', form: 'transpose' })]);
  });

  it('the legacy export: a separate initializer equal to the table transposed, found by its values', async () => {
    const r = await runCliInProcess('spec', lm('lm_tied_a'));
    expect(r.stdout).toMatch(/\ntied head: '\/MatMul' multiplies by 'onnx::MatMul_\d+', which equals 'tok\.weight' \(the table the embedding '\/tok\/Gather' reads\) transposed: the exporter stored the tie as a copy\n$/);
  });

  it.each([['lm_untied', ''], ['lm_untied', 'dynamo']])('%s (%s): no tied head, nothing printed about one', async (name, exporter) => {
    const r = await runCliInProcess('spec', lm(`${name}_a`, exporter));
    expect(r.stdout).not.toMatch(/tied head/);
    expect(JSON.parse((await runCliInProcess('spec', lm(`${name}_a`, exporter), '--json')).stdout)).not.toHaveProperty('tiedHeads');
  });
});
