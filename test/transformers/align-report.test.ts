/**
 * `llfc analyze --align weight,activation` on the transformer fixtures (SCIENCE.md §7): the
 * report holds the naive pair, B aligned by weight matching and B aligned afresh by activation
 * matching, each with its barriers and per-layer LLFC distances, and says which symmetries the
 * alignment used; the HTML report shows them side by side.
 */
import { readFileSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { fixture, runCliInProcess, tempDir } from '../helpers.js';

const tmp = tempDir();
afterAll(() => tmp.cleanup());

const images = ['--data', fixture('data', 'fashion_test_x.npy'), '--labels', fixture('data', 'fashion_test_y.npy'), '--mean', '0.286', '--std', '0.353', '--limit', '300'];

interface AlignedPart {
  method: string;
  lmc: { barriers: { loss: number } };
  layers: { name: string; llfc: { alpha: number; distance: number }[] }[];
  spec: { symmetries: { kind: string; groups: number; units: number }[]; groups: { symmetry: string }[] };
}

async function analyzeAligned(name: string): Promise<{ report: { lmc: { barriers: { loss: number } }; layers: unknown[]; aligned: AlignedPart; alsoAligned: AlignedPart[] }; html: string; stdout: string }> {
  const out = tmp.path(`${name}.json`);
  const html = tmp.path(`${name}.html`);
  const r = await runCliInProcess('analyze', fixture('models', `${name}_a.onnx`), fixture('models', `${name}_b.onnx`), ...images, '--align', 'weight,activation', '--no-commutativity', '--out', out, '--html', html);
  expect(r.stderr).toBe('');
  expect(r.status).toBe(0);
  return { report: JSON.parse(readFileSync(out, 'utf8')), html: readFileSync(html, 'utf8'), stdout: r.stdout };
}

describe('analyze --align weight,activation on transformers', () => {
  it('vit_hand: weight- and activation-aligned analyses beside the naive one, the activation barrier below naive, the symmetries used named (residual stream, heads, within-head, MLP hidden), in the JSON and the HTML report', async () => {
    const { report, html, stdout } = await analyzeAligned('vit_hand');
    expect(report.aligned.method).toBe('weight');
    expect(report.alsoAligned.map((x) => x.method)).toEqual(['activation']);
    expect(report.alsoAligned[0]!.lmc.barriers.loss).toBeLessThan(report.lmc.barriers.loss);
    for (const x of [report.aligned, ...report.alsoAligned]) {
      expect(x.layers).toHaveLength(report.layers.length);
      expect(x.spec.symmetries).toEqual([
        { kind: 'residual stream', groups: 1, units: 32 },
        { kind: 'within-head', groups: 16, units: 128 },
        { kind: 'heads', groups: 2, units: 8 },
        { kind: 'hidden', groups: 2, units: 128 },
      ]);
    }
    expect(stdout).toMatch(/loss barrier: naive [\d.]+ → weight matching [\d.]+ → activation matching [\d.]+/);
    // The HTML comparison: the barriers and the LLFC distance per layer in three columns, and the symmetries.
    const section = html.slice(html.indexOf('<section id="alignment">'));
    expect(section).toMatch(/<caption>LMC barriers, naive and aligned<\/caption><thead><tr><th>barrier<\/th><th class="num">naive<\/th><th class="num">weight matching<\/th><th class="num">activation matching<\/th>/);
    expect(section).toMatch(/<caption>LLFC distance per layer at α = 0\.5<\/caption>/);
    const distance = report.alsoAligned[0]!.layers[0]!.llfc.find((p) => p.alpha === 0.5)!.distance;
    expect(section).toContain(`title="${distance}"`);
    expect(section).toMatch(/<caption>symmetries used<\/caption>[\s\S]*<td>heads<\/td><td class="num">2<\/td><td class="num">8<\/td>/);
  });

  it('moe: the symmetries used are the stem, the experts with their hidden units and the experts\' shared output, and both alignments lower the barrier', async () => {
    const { report } = await analyzeAligned('moe');
    expect(report.aligned.spec.symmetries.map((s) => s.kind).sort()).toEqual(['expert hidden', 'experts', 'hidden', 'residual stream']);
    for (const x of [report.aligned, ...report.alsoAligned]) expect(x.lmc.barriers.loss).toBeLessThan(report.lmc.barriers.loss);
  });
});
