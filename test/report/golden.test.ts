import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
// @ts-expect-error: the fixture script is plain JavaScript without declarations
import { CASES, goldenReport } from '../../scripts/fixtures/golden_reports.mjs';
import { fixture } from '../helpers.js';

const cases = Object.entries(CASES as Record<string, string[]>);
const cli = ['--import', 'tsx', fixture('..', 'run-cli.ts')];

// onnxruntime picks its float32 kernels by CPU (AVX2, AVX-512, …), so features, and every
// statistic of them, may move in the 7th digit from the machine that wrote the goldens, and a
// standard deviation (a difference of moments) or a barrier (of losses) by more: up to 1.05e-6 on
// an AMD EPYC (AVX2) against the goldens' machine. A change of llfc's own arithmetic moves them
// far more; text, structure and integers stay exact.
const RELATIVE = 1e-5;

/** Where `actual` differs from `golden`: a JSON path and both values, or null when they agree. */
function difference(actual: unknown, golden: unknown, path = '$'): string | null {
  if (typeof actual === 'number' && typeof golden === 'number') {
    if (Number.isInteger(golden) && Number.isInteger(actual)) return actual === golden ? null : `${path}: ${actual} ≠ ${golden}`;
    const scale = Math.max(Math.abs(actual), Math.abs(golden));
    return Math.abs(actual - golden) <= RELATIVE * scale + 1e-12 ? null : `${path}: ${actual} ≠ ${golden}`;
  }
  if (Array.isArray(actual) && Array.isArray(golden)) {
    if (actual.length !== golden.length) return `${path}: length ${actual.length} ≠ ${golden.length}`;
    for (let i = 0; i < actual.length; i++) {
      const d = difference(actual[i], golden[i], `${path}[${i}]`);
      if (d) return d;
    }
    return null;
  }
  if (actual && golden && typeof actual === 'object' && typeof golden === 'object' && !Array.isArray(actual) && !Array.isArray(golden)) {
    const keys = Object.keys(actual);
    const goldenKeys = Object.keys(golden);
    if (keys.join(',') !== goldenKeys.join(',')) return `${path}: keys ${keys.join(',')} ≠ ${goldenKeys.join(',')}`;
    for (const key of keys) {
      const d = difference((actual as Record<string, unknown>)[key], (golden as Record<string, unknown>)[key], `${path}.${key}`);
      if (d) return d;
    }
    return null;
  }
  return actual === golden ? null : `${path}: ${JSON.stringify(actual)} ≠ ${JSON.stringify(golden)}`;
}

describe('reports equal the golden ones (scripts/fixtures/golden_reports.mjs; all but createdAt and tool): same keys, text and integers, other numbers to 1e-5 relative', () => {
  it.each(cases)('%s', (name, args) => {
    const actual = JSON.parse(goldenReport(cli, args) as string);
    const golden = JSON.parse(readFileSync(fixture('golden', `${name}.json`), 'utf8'));
    expect(difference(actual, golden)).toBeNull();
  });

  it('the comparison catches a changed statistic, a changed count and a changed name', () => {
    const golden = { a: [{ d: 0.1979637688040777, n: 500, name: 'fc1' }] };
    expect(difference({ a: [{ d: 0.19796376880407773, n: 500, name: 'fc1' }] }, golden)).toBeNull();
    expect(difference({ a: [{ d: 0.19797, n: 500, name: 'fc1' }] }, golden)).toBe('$.a[0].d: 0.19797 ≠ 0.1979637688040777');
    expect(difference({ a: [{ d: 0.1979637688040777, n: 499, name: 'fc1' }] }, golden)).toBe('$.a[0].n: 499 ≠ 500');
    expect(difference({ a: [{ d: 0.1979637688040777, n: 500, name: 'fc2' }] }, golden)).toBe('$.a[0].name: "fc2" ≠ "fc1"');
  });
});
