import { copyFileSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { InvalidArgumentError, PartialError } from '../../lib/errors.js';
import { reducePartials } from '../../lib/shard/reduce.js';
import { parseShard, shardSamples } from '../../lib/shard/range.js';
import { runShard } from '../../lib/shard/run.js';
import { fixture, runCliInProcess, tempDir } from '../helpers.js';
import { runAllShards, runShardInline } from './helpers.js';

const tmp = tempDir();
afterAll(() => tmp.cleanup());

const a = fixture('models', 'mlp_a.onnx');
const b = fixture('models', 'mlp_b.onnx');
const data = { data: fixture('data', 'fashion_test_x.npy'), labels: fixture('data', 'fashion_test_y.npy'), normalize: { mean: [0.286], std: [0.353] }, limit: 40 };
const options = { batchSize: 8, alphas: [0.5], lmcAlphas: [0, 0.5, 1] };

/** The partials of one 3-shard analyze run. */
let files: string[] = [];
beforeAll(async () => {
  ({ files } = await runAllShards('analyze', a, b, data, options, 3, (i) => tmp.path(`p${i}.json`)));
});

const refused = (promise: Promise<unknown>) => promise.then(() => expect.unreachable('the reduction should refuse'), (e: unknown) => e as PartialError);

describe('partial files that cannot be reduced: a PartialError naming them', () => {
  it('refuses a truncated partial, naming the file', async () => {
    const cut = tmp.path('cut.json');
    const text = readFileSync(files[1]!, 'utf8');
    writeFileSync(cut, text.slice(0, text.length >> 1));
    const e = await refused(reducePartials([files[0]!, cut, files[2]!]));
    expect(e).toBeInstanceOf(PartialError);
    expect(e.files).toEqual([cut]);
    expect(e.message).toMatch(/cut\.json: not a partial file, or a truncated one/);
  });

  it('refuses a partial whose sums were edited (its digest no longer matches)', async () => {
    const edited = tmp.path('edited.json');
    writeFileSync(edited, readFileSync(files[1]!, 'utf8').replace(/"high":\[(-?\d)/, (m, d: string) => m.replace(d, d === '9' ? '8' : String(Number(d) + 1))));
    const e = await refused(reducePartials([files[0]!, edited, files[2]!]));
    expect(e.message).toMatch(/edited\.json: its content does not match its digest: the file was cut short or edited/);
  });

  it('refuses another format version and a file that is not a partial', async () => {
    const newer = tmp.path('newer.json');
    writeFileSync(newer, JSON.stringify({ ...JSON.parse(readFileSync(files[1]!, 'utf8')), version: 2 }));
    expect((await refused(reducePartials([files[0]!, newer, files[2]!]))).message).toMatch(/newer\.json: partial format version 2; this llfc reads version 1/);
    const report = tmp.path('report.json');
    writeFileSync(report, JSON.stringify({ schemaVersion: 1, lmc: null }));
    expect((await refused(reducePartials([report]))).message).toMatch(/report\.json: not an llfc partial file/);
  });

  it('refuses partials of different runs, naming both files and what differs', async () => {
    const other = tmp.path('other-run.json');
    await runShardInline('analyze', a, b, data, { ...options, alphas: [0.25] }, 1, 3, other);
    const e = await refused(reducePartials([files[0]!, other, files[2]!]));
    expect(e.files).toEqual([files[0], other]);
    expect(e.message).toMatch(/other-run\.json and .*p0\.json are partials of different runs \(they differ in options\)/);
  });

  it('refuses a missing shard and a shard given twice, naming them', async () => {
    expect((await refused(reducePartials([files[0]!, files[2]!]))).message).toMatch(/shard 1\/3 of the run missing: give every shard's partial \(3 in all\)/);
    const again = tmp.path('p1-again.json');
    copyFileSync(files[1]!, again);
    const e = await refused(reducePartials([files[0]!, files[1]!, again, files[2]!]));
    expect(e.files).toEqual([files[1], again]);
    expect(e.message).toMatch(/shard 1\/3 is given twice/);
  });

  it('refuses shards of different shard counts', async () => {
    const half = tmp.path('half.json');
    await runShardInline('analyze', a, b, data, options, 1, 2, half);
    expect((await refused(reducePartials([files[0]!, half]))).message).toMatch(/half\.json is shard 1\/2 but .*p0\.json is shard 0\/3/);
  });

  it('refuses to reduce when an input changed since the shards ran', async () => {
    const model = tmp.path('mlp_b_copy.onnx');
    copyFileSync(b, model);
    const { files: parts } = await runAllShards('lmc', a, model, data, { batchSize: 8, alphas: [0, 1] }, 2, (i) => tmp.path(`changed-${i}.json`));
    copyFileSync(a, model);
    expect((await refused(reducePartials(parts))).message).toMatch(/mlp_b_copy\.onnx has changed since the shards ran/);
  });
});

describe('re-running a shard', () => {
  it('reuses the partial a finished shard of the same run left, without running the pass again', async () => {
    const before = statSync(files[1]!).mtimeMs;
    const outcome = await runShard({ command: 'analyze', a, b, data, options, shard: '1/3', out: files[1]! }, () => Promise.reject(new Error('the pass ran again')));
    expect(outcome.reused).toBe(true);
    expect(outcome.shard).toMatchObject({ index: 1, count: 3 });
    expect(statSync(files[1]!).mtimeMs).toBe(before);
  });

  it('runs again when the settings differ from those of the partial at --out', async () => {
    const out = tmp.path('rerun.json');
    copyFileSync(files[1]!, out);
    const outcome = await runShardInline('analyze', a, b, data, { ...options, alphas: [0.75] }, 1, 3, out);
    expect(outcome.reused).toBe(false);
    expect(JSON.parse(readFileSync(out, 'utf8')).run.options.alphas).toEqual([0.75]);
  });
});

describe('which shard and which samples', () => {
  it('reads --shard auto from the Slurm array task index and count', () => {
    expect(parseShard('auto', { SLURM_ARRAY_TASK_ID: '3', SLURM_ARRAY_TASK_COUNT: '8' })).toEqual({ index: 3, count: 8 });
    expect(parseShard('2/7', {})).toEqual({ index: 2, count: 7 });
  });

  it('refuses --shard auto outside a job array, and shard numbers out of range', () => {
    expect(() => parseShard('auto', { SLURM_ARRAY_TASK_ID: '3' })).toThrow(/SLURM_ARRAY_TASK_COUNT is not set: run it as a task of a job array/);
    expect(() => parseShard('auto', {})).toThrow(/SLURM_ARRAY_TASK_ID and SLURM_ARRAY_TASK_COUNT are not set/);
    expect(() => parseShard('auto', { SLURM_ARRAY_TASK_ID: '8', SLURM_ARRAY_TASK_COUNT: '8' })).toThrow(InvalidArgumentError);
    for (const bad of ['3/3', '1/0', '-1/2', '1of2', '']) expect(() => parseShard(bad, {})).toThrow(InvalidArgumentError);
  });

  it('cuts the samples into contiguous whole batches, every sample in one shard, shards empty when there are more shards than batches', () => {
    for (const [samples, batchSize] of [[40, 8], [41, 8], [5, 8], [1000, 7]] as const) {
      for (const count of [1, 2, 3, 7, 16]) {
        let next = 0;
        for (let index = 0; index < count; index++) {
          const [from, to] = shardSamples(samples, batchSize, { index, count });
          expect(from).toBe(next);
          expect(from % batchSize).toBe(0);
          expect(to === samples || to % batchSize === 0).toBe(true);
          next = to;
        }
        expect(next).toBe(samples);
      }
    }
    expect(shardSamples(40, 8, { index: 0, count: 7 })).toEqual([0, 0]);
  });
});

describe('llfc analyze --shard and llfc reduce', () => {
  const args = [a, b, '--data', data.data, '--labels', data.labels, '--mean', '0.286', '--std', '0.353', '--limit', '40', '--batch-size', '8', '--alphas', '0.5'];
  const strip = (file: string) => {
    const { createdAt: _, ...rest } = JSON.parse(readFileSync(file, 'utf8'));
    return rest;
  };

  it('writes, from the partials of every shard (one of them by --shard auto), the report the single run writes', async () => {
    expect((await runCliInProcess('analyze', ...args, '--out', tmp.path('cli-single.json'), '--quiet')).status).toBe(0);
    const first = await runCliInProcess('analyze', ...args, '--shard', '0/2', '--out', tmp.path('cli-0.json'));
    expect(first.status).toBe(0);
    expect(first.stdout).toMatch(/shard 0\/2: samples 0 … 16 of 40; partial written to .*cli-0\.json/);
    process.env.SLURM_ARRAY_TASK_ID = '1';
    process.env.SLURM_ARRAY_TASK_COUNT = '2';
    try {
      expect((await runCliInProcess('analyze', ...args, '--shard', 'auto', '--out', tmp.path('cli-1.json'))).stdout).toMatch(/shard 1\/2: samples 16 … 40 of 40/);
      const again = await runCliInProcess('analyze', ...args, '--shard', 'auto', '--out', tmp.path('cli-1.json'));
      expect(again.stdout).toMatch(/shard 1\/2: .*cli-1\.json already holds this shard's partial of the same run .*reused it, nothing recomputed/);
    } finally {
      delete process.env.SLURM_ARRAY_TASK_ID;
      delete process.env.SLURM_ARRAY_TASK_COUNT;
    }
    const reduced = await runCliInProcess('reduce', tmp.path('cli-1.json'), tmp.path('cli-0.json'), '--out', tmp.path('cli-reduced.json'), '--html', tmp.path('cli-reduced.html'));
    expect(reduced.status).toBe(0);
    expect(reduced.stdout).toMatch(/Analysis of .*mlp_a\.onnx \(α=0\) and .*mlp_b\.onnx \(α=1\) on 40 samples/);
    expect(strip(tmp.path('cli-reduced.json'))).toEqual(strip(tmp.path('cli-single.json')));
    expect(readFileSync(tmp.path('cli-reduced.html'), 'utf8')).toMatch(/<html/);
  });

  it('exits 2 with a clear message for a shard without --out, a report flag on a shard, and a missing shard', async () => {
    const noOut = await runCliInProcess('analyze', ...args, '--shard', '0/2');
    expect(noOut.status).toBe(2);
    expect(noOut.stderr).toMatch(/--shard writes the shard's partial: give --out PARTIAL/);
    const html = await runCliInProcess('lmc', ...args.filter((x, i) => x !== '--alphas' && args[i - 1] !== '--alphas'), '--shard', '0/2', '--out', tmp.path('x.json'), '--html', tmp.path('x.html'));
    expect(html.status).toBe(2);
    expect(html.stderr).toMatch(/--html belongs to llfc reduce/);
    const missing = await runCliInProcess('reduce', tmp.path('cli-0.json'), '--out', tmp.path('never.json'));
    expect(missing.status).toBe(2);
    expect(missing.stderr).toMatch(/shard 1\/2 of the run missing/);
  });
});
