import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { fixture, tempDir } from './helpers.js';

// Examples import 'llfc' (the built package, dist/), as a user's script would.
const built = existsSync(fixture('..', '..', 'dist', 'index.js'));
const tmp = tempDir();
afterAll(() => tmp.cleanup());
const run = (name: string, ...args: string[]) =>
  spawnSync(process.execPath, ['--import', 'tsx', fixture('..', '..', 'examples', name), ...args], { encoding: 'utf8' });

describe.skipIf(!built)('examples (run against dist/; `npm run build` first)', () => {
  it('analyze-pair prints the barriers and a verdict per layer', () => {
    const r = run('analyze-pair.ts');
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/loss barrier \d\.\d{4}/);
    expect(r.stdout).toMatch(/relu1 +LLFC distance .* vs baseline .*: LLFC (does not )?holds?/);
  });

  it('sweep-and-plot writes the loss and accuracy charts', () => {
    const dir = join(tmp.dir, 'plots');
    const r = run('sweep-and-plot.ts', dir);
    expect(r.status).toBe(0);
    for (const f of ['lmc-loss.svg', 'lmc-loss.png', 'lmc-accuracy.svg']) expect(existsSync(join(dir, f))).toBe(true);
    expect(readFileSync(join(dir, 'lmc-loss.svg'), 'utf8')).toMatch(/<svg/);
  });

  it('align-then-midpoint writes the aligned B and midpoints; the aligned midpoint is the better model', () => {
    const dir = join(tmp.dir, 'aligned');
    const r = run('align-then-midpoint.ts', dir);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    for (const f of ['b_aligned.onnx', 'perms.json', 'mid_naive.onnx', 'mid_aligned.onnx']) expect(existsSync(join(dir, f))).toBe(true);
    const accuracy = (name: string) => Number(new RegExp(`${name} midpoint: accuracy (\\d+\\.\\d+)%`).exec(r.stdout)![1]);
    expect(accuracy('aligned')).toBeGreaterThan(accuracy('naive') + 5);
  });
});
