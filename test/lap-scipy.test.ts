/**
 * Optimal totals against scipy.optimize.linear_sum_assignment (test/fixtures/lap/reference.json,
 * written by scripts/fixtures/lap_reference.py). The matrices are regenerated here with the
 * script's counter-based hash; totals are compared, not permutations (ties).
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { InfeasibleAssignmentError, linearSumAssignment } from '../lib/index.js';
import { fixture } from './helpers.js';

interface Case {
  kind: string;
  rows: number;
  cols: number;
  seed: number;
  maximize: boolean;
  samples: [number, number | string][];
  total?: number;
  pairs?: number;
  infeasible?: boolean;
}

const reference = JSON.parse(readFileSync(fixture('lap', 'reference.json'), 'utf8')) as { scipy: string; cases: Case[] };

// ---- the generator of scripts/fixtures/lap_reference.py, in uint32 arithmetic ----------------

function mix(x: number): number {
  x ^= x >>> 16;
  x = Math.imul(x, 0x7feb352d);
  x ^= x >>> 15;
  x = Math.imul(x, 0x846ca68b);
  x ^= x >>> 16;
  return x >>> 0;
}

function stream(seed: number, n: number): Uint32Array {
  const key = mix(Math.imul(seed, 0x9e3779b1) >>> 0);
  const out = new Uint32Array(n);
  for (let i = 0; i < n; i++) out[i] = mix((i + key) >>> 0);
  return out;
}

function unit(seed: number, n: number): Float64Array {
  const s = stream(seed, n);
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) out[i] = (s[i]! >>> 8) / 2 ** 24;
  return out;
}

function forbid(c: Float64Array, seed: number, maximize: boolean, pred: (h: number) => boolean): void {
  const s = stream(seed + 3, c.length);
  for (let i = 0; i < c.length; i++) if (pred(s[i]! % 8)) c[i] = maximize ? -Infinity : Infinity;
}

function matrix({ kind, rows, cols, seed, maximize }: Case): Float64Array {
  const n = rows * cols;
  switch (kind) {
    case 'uniform':
      return unit(seed, n);
    case 'int':
      return unit(seed, n).map((u) => Math.floor(u * 10));
    case 'lowrank': {
      const a = unit(seed + 1, rows * 16).map((u) => Math.floor(u * 129) - 64);
      const b = unit(seed + 2, cols * 16).map((u) => Math.floor(u * 129) - 64);
      const c = new Float64Array(n);
      for (let i = 0; i < rows; i++) {
        for (let j = 0; j < cols; j++) {
          let s = 0;
          for (let t = 0; t < 16; t++) s += a[i * 16 + t]! * b[j * 16 + t]!;
          c[i * cols + j] = s;
        }
      }
      return c;
    }
    case 'big':
      return unit(seed, n).map((u) => Math.fround(u * 1e10));
    case 'tiny':
      return unit(seed, n).map((u) => Math.fround(u * 1e-10));
    case 'signed':
      return unit(seed, n).map((u) => u * 2 - 1);
    case 'forbidden': {
      const c = unit(seed, n);
      forbid(c, seed, maximize, (h) => h === 0);
      return c;
    }
    case 'sparse': {
      const c = unit(seed, n);
      forbid(c, seed, maximize, (h) => h < 6);
      return c;
    }
    default:
      throw new Error(`unknown kind ${kind}`);
  }
}

const name = (c: Case) => `${c.kind} ${c.rows}×${c.cols}${c.maximize ? ' max' : ''} (seed ${c.seed})`;

describe(`linearSumAssignment vs scipy ${reference.scipy}`, () => {
  it('has the fixture cases', () => {
    expect(reference.cases.length).toBeGreaterThan(200);
    expect(Math.max(...reference.cases.map((c) => Math.max(c.rows, c.cols)))).toBeGreaterThanOrEqual(1024);
  });

  for (const c of reference.cases) {
    it(name(c), () => {
      const cost64 = matrix(c);
      for (const [k, v] of c.samples) {
        expect(cost64[k], `regenerated entry ${k}`).toBe(typeof v === 'string' ? Number(v.replace('inf', 'Infinity')) : v);
      }
      const cost32 = Float32Array.from(cost64);
      let inexact = 0; // float32-exact by construction
      for (let k = 0; k < cost64.length; k++) if (cost32[k] !== cost64[k]) inexact++;
      expect(inexact).toBe(0);
      for (const cost of [cost64, cost32]) {
        if (c.infeasible) {
          expect(() => linearSumAssignment(cost, c.rows, c.cols, { maximize: c.maximize })).toThrow(InfeasibleAssignmentError);
          continue;
        }
        const r = linearSumAssignment(cost, c.rows, c.cols, { maximize: c.maximize });
        expect(r.rowInd.length).toBe(c.pairs);
        const want = c.total!;
        expect(Math.abs(r.total - want), `total ${r.total} vs scipy ${want}`).toBeLessThanOrEqual(1e-9 * Math.abs(want));
      }
    });
  }
});
