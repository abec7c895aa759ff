/** Running a sharded run in this process (the shard's pass inline, not in a worker) and comparing results. */
import { expect } from 'vitest';
import type { OpenDatasetOptions } from '../../lib/dataset/index.js';
import type { ShardedCommand } from '../../lib/shard/partial.js';
import { runShard, shardPass, type ShardOutcome } from '../../lib/shard/run.js';

/** Runs shard `index` of `count` and writes its partial to `out`. */
export function runShardInline(command: ShardedCommand, a: string, b: string, data: OpenDatasetOptions, options: object, index: number, count: number, out: string): Promise<ShardOutcome> {
  return runShard({ command, a, b, data, options, shard: { index, count }, out }, (pass) => shardPass(pass, {}));
}

/** Every shard of `count`, each written to `path(i)`; the files and what each shard covered. */
export async function runAllShards(command: ShardedCommand, a: string, b: string, data: OpenDatasetOptions, options: object, count: number, path: (i: number) => string): Promise<{ files: string[]; outcomes: ShardOutcome[] }> {
  const outcomes: ShardOutcome[] = [];
  for (let i = 0; i < count; i++) outcomes.push(await runShardInline(command, a, b, data, options, i, count, path(i)));
  return { files: outcomes.map((o) => o.out), outcomes };
}

/**
 * Expects `actual` to equal `expected` field by field: numbers within 1e-12 relative (NaN equal
 * to NaN), and exactly where the path names an accuracy or a count.
 */
export function expectSameResult(actual: unknown, expected: unknown, path = ''): void {
  if (typeof expected === 'number') {
    expect(typeof actual, path).toBe('number');
    const x = actual as number;
    if (Number.isNaN(expected)) expect(x, path).toBeNaN();
    else if (/accuracy|samples|skipped|linearDepth/i.test(path) || !Number.isFinite(expected)) expect(x, path).toBe(expected);
    else expect(Math.abs(x - expected), `${path}: ${x} vs ${expected}`).toBeLessThanOrEqual(1e-12 * Math.max(Math.abs(x), Math.abs(expected)));
    return;
  }
  if (Array.isArray(expected)) {
    expect(Array.isArray(actual), path).toBe(true);
    expect((actual as unknown[]).length, path).toBe(expected.length);
    expected.forEach((e, i) => expectSameResult((actual as unknown[])[i], e, `${path}[${i}]`));
    return;
  }
  if (typeof expected === 'object' && expected !== null && !ArrayBuffer.isView(expected)) {
    expect(Object.keys(actual as object).sort(), path).toEqual(Object.keys(expected).sort());
    for (const [k, v] of Object.entries(expected)) expectSameResult((actual as Record<string, unknown>)[k], v, `${path}.${k}`);
    return;
  }
  expect(actual, path).toEqual(expected);
}
