import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { align, activationMatching, inferSpec } from '../lib/align/index.js';
import { alignFiles, analyze, analyzeAligned, interpolate, lmc } from '../lib/api.js';
import { loadCheckpoint } from '../lib/checkpoint.js';
import { analyzePair } from '../lib/checks/analyze.js';
import { linearModeConnectivity } from '../lib/checks/lmc.js';
import { openDataset } from '../lib/dataset/index.js';
import { InvalidArgumentError, UnknownOptionError } from '../lib/errors.js';
import { interpolateArenas } from '../lib/interpolate.js';
import { alphaGrid, nearestKey, optionDefault, resolveOptions } from '../lib/options.js';
import type { ProgressEvent } from '../lib/progress.js';
import { fixture, tempDir } from './helpers.js';

const root = fixture('..', '..');
const dataOptions = { data: fixture('data', 'fashion_test_x.npy'), labels: fixture('data', 'fashion_test_y.npy'), normalize: { mean: [0.286], std: [0.353] } };
const files = { a: fixture('models', 'mlp_a.onnx'), b: fixture('models', 'mlp_b.onnx') };
const fashion = (limit: number) => openDataset({ ...dataOptions, limit });
const mlp = async () => [await loadCheckpoint(files.a), await loadCheckpoint(files.b)] as const;

/** The `total` of the last progress event a run reported. */
async function progressTotal(run: (onProgress: (e: ProgressEvent) => void) => Promise<unknown>): Promise<number> {
  let total = -1;
  await run((e) => (total = e.total));
  return total;
}

describe('the table of option defaults', () => {
  it('holds the documented defaults: batch 256, 11-point LMC grid, layer α 0.25/0.5/0.75, seed 0, 100 sweeps, cross-correlation', () => {
    expect(optionDefault('batchSize')).toBe(256);
    expect(optionDefault('lmcAlphas')).toEqual(alphaGrid(11));
    expect(optionDefault('layerAlphas')).toEqual([0.25, 0.5, 0.75]);
    expect(optionDefault('seed')).toBe(0);
    expect(optionDefault('maxSweeps')).toBe(100);
    expect(optionDefault('correlation')).toBe('cross');
    expect(optionDefault('feed')).toBe('initializers');
    expect(optionDefault('allowNonfinite')).toBe(false);
    const readme = readFileSync(join(root, 'README.md'), 'utf8');
    expect(readme).toContain(`(\`--batch-size\`, default ${optionDefault('batchSize')})`);
  });

  it('resolves omitted options to the table defaults and hands out copies of list defaults', () => {
    const first = resolveOptions('t()', { alphas: 'lmcAlphas', batchSize: 'batchSize' } as const, {} as { alphas?: number[]; batchSize?: number });
    first.alphas.push(7);
    const second = resolveOptions('t()', { alphas: 'lmcAlphas', batchSize: 'batchSize' } as const, undefined as { alphas?: number[]; batchSize?: number } | undefined);
    expect(second).toEqual({ alphas: alphaGrid(11), batchSize: 256 });
  });

  it('no file of lib/ or bench/ besides lib/options.ts writes an option default (a `?? value` fallback or a commander .default)', () => {
    const names = ['batchSize', 'alphas', 'lmcAlphas', 'steps', 'feed', 'seed', 'maxSweeps', 'tolerance', 'threads', 'correlation', 'limit', 'allowNonfinite', 'commutativity', 'weakAdditivity'];
    // `options.batchSize ?? 256`, `seed ?? 0`, `alphas ?? [0.25, …]`, `?? alphaGrid(11)`: a literal fallback for an option.
    const fallback = new RegExp(`(?<![?.\\w])(?:options\\.)?(${names.join('|')})\\s*\\?\\?\\s*(\\d|'|"|\\[|alphaGrid|DEFAULT)`);
    // `threads = 1` as a parameter default, `const batchSize = 256`.
    const literal = new RegExp(`(?<![?.\\w])(${names.join('|')})\\??(: \\w+)? = ([\\d.e-]+|'[^']*'|\\[[\\d., ]+\\])(;|,|\\)|$)`);
    const offenders: string[] = [];
    const walk = (dir: string): void => {
      for (const entry of readdirSync(dir, { withFileTypes: true })) {
        const path = join(dir, entry.name);
        if (entry.isDirectory()) walk(path);
        else if (path.endsWith('.ts') && !path.endsWith(join('lib', 'options.ts'))) {
          readFileSync(path, 'utf8')
            .split('\n')
            .forEach((line, i) => {
              if (fallback.test(line) || literal.test(line) || /\.default\(/.test(line)) offenders.push(`${path}:${i + 1}: ${line.trim()}`);
            });
        }
      }
    };
    walk(join(root, 'lib'));
    walk(join(root, 'bench'));
    expect(offenders).toEqual([]);
  });
});

describe('every entry point uses the one batch-size default', () => {
  // 600 samples: 3 batches of the default 256 (5 of 128, 1 of 1000).
  it('lmc(), analyze(), linearModeConnectivity, analyzePair and align (activation) read the data in 3 batches', async () => {
    const [a, b] = await mlp();
    const spec = await inferSpec(b);
    const data = { ...dataOptions, limit: 600 };
    expect(await progressTotal((onProgress) => lmc({ ...files, data }, { alphas: [0, 1], onProgress }))).toBe(3 * 2);
    expect(await progressTotal((onProgress) => analyze({ ...files, data }, { alphas: [0.5], lmcAlphas: [0, 1], onProgress }))).toBe(3 * 3);
    expect(await progressTotal(async (onProgress) => linearModeConnectivity(a, b, await fashion(600), { alphas: [0, 1], onProgress }))).toBe(3 * 2);
    expect(await progressTotal(async (onProgress) => analyzePair(a, b, await fashion(600), { alphas: [0.5], lmcAlphas: [0, 1], onProgress }))).toBe(3 * 3);
    expect(await progressTotal(async (onProgress) => activationMatching(a, b, spec, { data: await fashion(600), onProgress }))).toBe(3);
    let total = -1;
    await align(a, b, { method: 'activation', spec, data: await fashion(600), onProgress: (e) => (total = e.phase === 'activation matching' ? e.total : total) });
    expect(total).toBe(3);
  });
});

describe('every entry point rejects a bad value with the same message', () => {
  const badBatch = 'batchSize must be a positive integer, got 0';
  const badAlphas = 'alphas[1] must be a number in [0, 1], got 2';

  it('batchSize 0: the API functions, the in-process building blocks and a dataset’s batches', async () => {
    const [a, b] = await mlp();
    const data = await fashion(8);
    const spec = await inferSpec(b);
    const tmp = tempDir();
    const rejections = [
      lmc({ ...files, data: dataOptions }, { batchSize: 0 }),
      analyze({ ...files, data: dataOptions }, { batchSize: 0 }),
      analyzeAligned({ ...files, data: dataOptions }, { method: 'weight' }, { batchSize: 0 }),
      alignFiles({ ...files, data: dataOptions, outputs: { onnx: join(tmp.dir, 'x.onnx') } }, { method: 'activation', batchSize: 0 }),
      linearModeConnectivity(a, b, data, { batchSize: 0 }),
      analyzePair(a, b, data, { batchSize: 0 }),
      align(a, b, { method: 'activation', data, batchSize: 0 }),
      activationMatching(a, b, spec, { data, batchSize: 0 }),
    ];
    for (const rejection of rejections) {
      const error = await rejection.catch((e: unknown) => e);
      expect(error).toBeInstanceOf(InvalidArgumentError);
      expect((error as Error).message).toBe(badBatch);
    }
    expect(() => data.batches(0)).toThrow(new InvalidArgumentError(badBatch));
    tmp.cleanup();
  });

  it('α outside [0, 1]: lmc(), analyze(), linearModeConnectivity, analyzePair, interpolateArenas and interpolate()', async () => {
    const [a, b] = await mlp();
    const data = await fashion(8);
    const rejections = [
      lmc({ ...files, data: dataOptions }, { alphas: [0.5, 2] }),
      analyze({ ...files, data: dataOptions }, { alphas: [0.5, 2] }),
      linearModeConnectivity(a, b, data, { alphas: [0.5, 2] }),
      analyzePair(a, b, data, { alphas: [0.5, 2] }),
      Promise.resolve().then(() => interpolateArenas(a.arena, b.arena, [0.5, 2])),
    ];
    for (const rejection of rejections) {
      const error = await rejection.catch((e: unknown) => e);
      expect(error).toBeInstanceOf(InvalidArgumentError);
      expect((error as Error).message).toBe(badAlphas);
    }
    await expect(interpolate(files.a, files.b, 2, 'never.onnx')).rejects.toThrow(new InvalidArgumentError('alpha must be a number in [0, 1], got 2'));
    await expect(analyzePair(a, b, data, { lmcAlphas: [0, NaN] })).rejects.toThrow(new InvalidArgumentError('lmcAlphas[1] must be a number in [0, 1], got NaN'));
    await expect(lmc({ ...files, data: dataOptions }, { alphas: [] })).rejects.toThrow(new InvalidArgumentError('alphas must be a non-empty list of numbers in [0, 1], got []'));
  });

  it('other options: feed, maxSweeps, seed, correlation, method, limit', async () => {
    const [a, b] = await mlp();
    await expect(lmc({ ...files, data: dataOptions }, { feed: 'gpu' as 'inputs' })).rejects.toThrow("feed must be 'initializers' or 'inputs', got 'gpu'");
    await expect(align(a, b, { method: 'weight', maxSweeps: 0 })).rejects.toThrow('maxSweeps must be a positive integer, got 0');
    await expect(align(a, b, { method: 'weight', seed: 0.5 })).rejects.toThrow('seed must be an integer, got 0.5');
    await expect(align(a, b, { method: 'knn' as 'weight' })).rejects.toThrow("method must be 'weight' or 'activation', got 'knn'");
    await expect(align(a, b, {} as { method: 'weight' })).rejects.toThrow("method must be 'weight' or 'activation', got undefined");
    await expect(openDataset({ ...dataOptions, limit: 0 })).rejects.toThrow('limit must be a positive integer, got 0');
    await expect(lmc({ ...files, data: { ...dataOptions, limit: -1 } })).rejects.toThrow('limit must be a positive integer, got -1');
  });
});

describe('unknown options', () => {
  it('lmc() refuses `steps` (where `alphas` is meant), naming the key, the function and the nearest known key', async () => {
    const error = await lmc({ ...files, data: dataOptions }, { steps: 11 } as never).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(UnknownOptionError);
    expect(error).toBeInstanceOf(InvalidArgumentError);
    expect(error).toMatchObject({ where: 'lmc()', option: 'steps', nearest: 'alphas' });
    expect((error as Error).message).toBe("lmc(): unknown option 'steps'; did you mean 'alphas'? (it takes alphas, batchSize, feed, calibrate, repair, repairSamples, signal, onProgress)");
  });

  it('every entry point refuses a misspelt key with the nearest known one', async () => {
    const [a, b] = await mlp();
    const data = await fashion(8);
    const cases: [Promise<unknown>, string, string, string][] = [
      [analyze({ ...files, data: dataOptions }, { batch_size: 64 } as never), 'analyze()', 'batch_size', 'batchSize'],
      [analyzeAligned({ ...files, data: dataOptions }, { method: 'weight', seeed: 1 } as never), 'analyzeAligned() alignment', 'seeed', 'seed'],
      [alignFiles({ ...files, outputs: { onnx: 'x.onnx' } }, { method: 'weight', maxSweep: 3 } as never), 'alignFiles()', 'maxSweep', 'maxSweeps'],
      [lmc({ ...files, datas: dataOptions } as never), 'lmc() request', 'datas', 'data'],
      [linearModeConnectivity(a, b, data, { alpha: [0, 1] } as never), 'linearModeConnectivity()', 'alpha', 'alphas'],
      [analyzePair(a, b, data, { steps: 5 } as never), 'analyzePair()', 'steps', 'alphas'],
      [align(a, b, { method: 'weight', sweeps: 5 } as never), 'align()', 'sweeps', 'maxSweeps'],
      [openDataset({ ...dataOptions, label: 'y.npy' } as never), 'openDataset()', 'label', 'labels'],
      // Through the worker: the typed error and its fields come back.
      [lmc({ ...files, data: { ...dataOptions, normalise: { mean: [0], std: [1] } } as never }), 'openDataset()', 'normalise', 'normalize'],
    ];
    for (const [rejection, where, option, nearest] of cases) {
      const error = await rejection.catch((e: unknown) => e);
      expect(error).toBeInstanceOf(UnknownOptionError);
      expect(error).toMatchObject({ where, option, nearest });
      expect((error as Error).message).toContain(`${where}: unknown option '${option}'; did you mean '${nearest}'?`);
    }
  });

  it('nearestKey: a known confusion first, else the smallest edit distance ignoring case, - and _', () => {
    expect(nearestKey('steps', ['alphas', 'batchSize', 'feed'])).toBe('alphas');
    expect(nearestKey('steps', ['alphas', 'lmcAlphas'])).toBe('alphas');
    expect(nearestKey('BATCH-SIZE', ['alphas', 'batchSize'])).toBe('batchSize');
    expect(nearestKey('corelation', ['correlation', 'seed'])).toBe('correlation');
  });
});
