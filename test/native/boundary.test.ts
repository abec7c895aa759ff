/**
 * The native boundary cannot be crashed from JavaScript. The probes run in a child process
 * (test/native/boundary-probe.ts), so a segfault or an abort fails a test here instead of
 * killing the runner, and a hang fails it by the timeout.
 */
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';

const probe = fileURLToPath(new URL('./boundary-probe.ts', import.meta.url));

interface Outcome {
  status: number | null;
  signal: NodeJS.Signals | null;
  output: string;
  counts: Map<string, { runs: number; threw: number; returned: number }>;
}

function runProbe(args: string[], timeoutMs: number): Outcome {
  const r = spawnSync(process.execPath, ['--expose-gc', '--import', 'tsx', probe, ...args], { encoding: 'utf8', timeout: timeoutMs });
  const output = `${r.stdout}${r.stderr}`;
  const counts = new Map(
    r.stdout
      .split('\n')
      .filter((line) => line.startsWith('{'))
      .map((line) => JSON.parse(line) as { probe: string; runs: number; threw: number; returned: number })
      .map(({ probe: name, ...c }) => [name, c] as const),
  );
  return { status: r.status, signal: r.signal, output, counts };
}

function expectClean(o: Outcome): void {
  expect({ signal: o.signal, status: o.status, output: o.output }).toMatchObject({ signal: null, status: 0 });
}

describe('native boundary under random arguments (fast-check, in a child process)', () => {
  let outcome: Outcome;
  beforeAll(() => {
    outcome = runProbe(['properties'], 60_000);
    const rows = [...outcome.counts].map(([name, c]) => `${name} ${c.runs} runs: ${c.threw} refused, ${c.returned} answered`);
    console.log(`native boundary properties:\n  ${rows.join('\n  ')}`);
  });

  it('the probe process exits cleanly: no crash, abort or hang, every property held', () => {
    expectClean(outcome);
  });

  it.each([
    'interpolate', 'copy', 'cosineStats', 'weakAdditivityStats', 'sumSquares', 'lap', 'lapAsync', 'gemmAbt',
    'gatherAxes', 'gatheredDot', 'extractUnits', 'accumulateCross', 'addToFloat64', 'outputCommutativitySums', 'crossEntropySums', 'ortRun', 'releaseFilePages',
  ])('%s: wrong types, disagreeing sizes and detached buffers (also by getters that force GC) end in a NativeError, valid calls in the reference result', (name) => {
    const c = outcome.counts.get(name);
    expect(c, outcome.output).toBeDefined();
    expect(c!.threw).toBeGreaterThan(0);
    expect(c!.returned).toBeGreaterThan(0);
  });
});

describe('native boundary regressions (each in a child process)', () => {
  it.each([
    ['mask getter', 'a getter on mask.base that transfers an arena and forces GC is refused, not read after free'],
    ['outs[0] getter', 'a getter on outs[0] that transfers an arena and forces GC is refused, not read after free'],
    ['maps[0] getter', 'a getter on maps[0] that transfers src and forces GC is refused, not read after free'],
    ['lapAsync detach', 'lapAsync whose cost is detached and collected mid-solve returns the assignment of the cost as passed'],
    ['cosineStats hang', 'cosineStats of empty features with 1e15 samples is refused at once'],
  ])('%s: %s', (name) => {
    const o = runProbe(['regression', name], 30_000);
    expectClean(o);
    expect(o.counts.has(name), o.output).toBe(true);
  });
});
