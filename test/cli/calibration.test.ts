import { readFileSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { writeNpy } from '../dataset/helpers.js';
import { fixture, llfc, runCliInProcess, tempDir } from '../helpers.js';

const model = (k: string): string => fixture('models', `mlp_${k}.onnx`);
const [mlpA, mlpB] = [model('a'), model('b')];
const [x, y] = [fixture('data', 'fashion_test_x.npy'), fixture('data', 'fashion_test_y.npy')];
const norm = ['--mean', '0.286', '--std', '0.353'];
const tmp = tempDir();
afterAll(() => tmp.cleanup());

/** Labels of the whole data file that are each sample's least likely class under A: the loss only grows with 1/T, so T = ∞. */
async function worstLabels(): Promise<string> {
  const { loadCheckpoint } = await import('../../lib/checkpoint.js');
  const { openDataset } = await import('../../lib/dataset/index.js');
  const { ModelSession } = await import('../../lib/session.js');
  const a = await loadCheckpoint(mlpA);
  const data = await openDataset({ data: x, normalize: { mean: [0.286], std: [0.353] } });
  const n = data.length;
  const session = await ModelSession.create(a, { parameters: a.arena });
  const labels = new BigInt64Array(n);
  try {
    for await (const batch of data.batches(500)) {
      const logits = (await session.runBatch(batch, data))[session.outputNames[0]!]!.data as Float32Array;
      for (let s = 0; s < batch.size; s++) {
        const row = logits.subarray(s * 10, s * 10 + 10);
        labels[batch.start + s] = BigInt(row.indexOf(Math.min(...row)));
      }
    }
  } finally {
    await session.release();
  }
  return writeNpy(tmp.path('worst.npy'), '<i8', [n], labels);
}

describe('--calibrate', () => {
  it('lmc prints and reports T(α) and the calibrated barriers, and says which set T was fitted on; the HTML page has its section and charts', () => {
    const out = tmp.path('lmc.json');
    const html = tmp.path('lmc.html');
    const r = llfc('lmc', mlpA, mlpB, '--data', x, '--labels', y, ...norm, '--limit', '300', '--steps', '5', '--calibrate', '--calibration-data', x, '--calibration-labels', y, '--out', out, '--html', html);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/Temperature calibration \(one T per model, fitted on the calibration set/);
    expect(r.stdout).toMatch(/calibrated barriers: loss \d\.\d{4}/);
    const report = JSON.parse(readFileSync(out, 'utf8'));
    // The calibration set is the whole file: --limit is the evaluation data's.
    expect(report.calibration).toMatchObject({ fittedOn: 'calibration', samples: 2000, source: x, alphas: [0, 0.25, 0.5, 0.75, 1] });
    expect(report.settings.calibrate).toBe(true);
    expect(report.lmc.calibration).toBeUndefined();
    const page = readFileSync(html, 'utf8');
    expect(page).toContain('id="calibration"');
    expect(page).toContain('data-chart="calibration-loss"');
    expect(page).toContain('data-chart="calibration-temperature"');
  });

  it('analyze adds the calibration, fitted on the evaluation data without a separate set, for the aligned pair too', async () => {
    const r = await runCliInProcess('analyze', mlpA, mlpB, '--data', x, '--labels', y, ...norm, '--limit', '128', '--calibrate', '--align', 'weight', '--no-commutativity', '--no-weak-additivity', '--json');
    expect(r.status).toBe(0);
    const report = JSON.parse(r.stdout);
    expect(report.calibration).toMatchObject({ fittedOn: 'evaluation', samples: 128 });
    expect(report.aligned.calibration.temperature).toHaveLength(11);
    expect(report.settings.calibrate).toBe(true);
  });

  it('reports T = ∞ as "infinity" in the JSON report (no finite T lowers the loss) and as ∞ in the table', async () => {
    const labels = await worstLabels();
    const r = await runCliInProcess('lmc', mlpA, mlpA, '--data', x, '--labels', labels, ...norm, '--limit', '64', '--alphas', '0,1', '--calibrate', '--json');
    expect(r.status).toBe(0);
    const report = JSON.parse(r.stdout);
    expect(report.calibration.temperature).toEqual(['infinity', 'infinity']);
    expect(report.calibration.loss[0]).toBeCloseTo(Math.log(10), 6);
    const text = await runCliInProcess('lmc', mlpA, mlpA, '--data', x, '--labels', labels, ...norm, '--limit', '64', '--alphas', '0,1', '--calibrate');
    expect(text.stdout).toMatch(/1\.000 +\d+\.\d{4} +2\.3026 +∞/);
  });

  it('exits 2 for calibration flags that do not go together', async () => {
    const base = ['lmc', mlpA, mlpB, '--data', x, '--labels', y, ...norm, '--limit', '16'];
    const without = await runCliInProcess(...base, '--calibration-data', x, '--calibration-labels', y);
    expect(without.status).toBe(2);
    expect(without.stderr).toMatch(/give --calibrate too/);
    const noLabels = await runCliInProcess(...base, '--calibrate', '--calibration-data', x);
    expect(noLabels.status).toBe(2);
    expect(noLabels.stderr).toMatch(/--calibration-data needs --calibration-labels/);
    const analyzeWithout = await runCliInProcess('analyze', mlpA, mlpB, '--data', x, '--labels', y, ...norm, '--limit', '16', '--calibration-data', x, '--calibration-labels', y);
    expect(analyzeWithout.status).toBe(2);
  });
});
