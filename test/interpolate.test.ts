import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { InvalidArgumentError } from '../lib/errors.js';
import { interpolateArenas } from '../lib/interpolate.js';
import { native } from '../lib/native.js';

/** The definition, in plain TypeScript: θ(α) = (1−α)·θ_A + α·θ_B, rounded once to float32. */
function reference(a: Float32Array, b: Float32Array, alpha: number): Float32Array {
  return Float32Array.from(a, (x, i) => (1 - alpha) * x + alpha * b[i]!);
}

const arena = (n: number) => fc.float32Array({ minLength: n, maxLength: n, noNaN: true, noDefaultInfinity: true });
const alpha = fc.double({ min: 0, max: 1, noNaN: true });

describe('fused interpolation kernel', () => {
  it('equals the TypeScript definition bit for bit on random arenas and many α', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 3000 }).chain((n) => fc.tuple(arena(n), arena(n), fc.array(alpha, { minLength: 1, maxLength: 12 }))), ([a, b, alphas]) => {
        const outs = interpolateArenas(a, b, alphas);
        alphas.forEach((al, k) => expect(outs[k]).toEqual(reference(a, b, al)));
      }),
      { numRuns: 200 },
    );
  });

  it('equals the definition on an arena large enough to use every thread', () => {
    const n = 1_000_003;
    const a = Float32Array.from({ length: n }, (_, i) => Math.sin(i));
    const b = Float32Array.from({ length: n }, (_, i) => Math.cos(i) * 3);
    const alphas = [0, 0.1, 1 / 3, 0.5, 0.9, 1];
    const outs = interpolateArenas(a, b, alphas);
    alphas.forEach((al, k) => {
      const expected = reference(a, b, al);
      expect(outs[k]!.every((v, i) => v === expected[i])).toBe(true);
    });
  });

  it('gives A at α = 0 and B at α = 1 exactly', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 500 }).chain((n) => fc.tuple(arena(n), arena(n))), ([a, b]) => {
        const [at0, at1] = interpolateArenas(a, b, [0, 1]);
        expect(at0!.every((v, i) => v === a[i])).toBe(true);
        expect(at1!.every((v, i) => v === b[i])).toBe(true);
      }),
    );
  });

  it('interpolates only the masked tensors and copies the rest from the base', () => {
    const layout = {
      parameters: [
        { offset: 0, length: 3 },
        { offset: 3, length: 70_000 },
        { offset: 70_003, length: 5 },
      ],
    } as unknown as Parameters<typeof interpolateArenas>[5];
    const n = 70_008;
    const a = Float32Array.from({ length: n }, (_, i) => i);
    const b = Float32Array.from({ length: n }, (_, i) => -i);
    const [out] = interpolateArenas(a, b, [0.25], undefined, { interpolate: [true, false, true], base: b }, layout);
    const expected = reference(a, b, 0.25);
    expected.set(b.subarray(3, 70_003), 3);
    expect(out).toEqual(expected);
  });

  it('writes into caller-provided buffers without allocating new ones', () => {
    const a = new Float32Array(10).fill(1);
    const b = new Float32Array(10).fill(3);
    const out = new Float32Array(10);
    const [result] = interpolateArenas(a, b, [0.5], [out]);
    expect(result).toBe(out);
    expect(out[0]).toBe(2);
  });

  it('rejects α outside [0, 1] with InvalidArgumentError', () => {
    const a = new Float32Array(4);
    for (const bad of [-0.1, 1.5, NaN, Infinity]) expect(() => interpolateArenas(a, a, [bad])).toThrow(InvalidArgumentError);
  });
});

describe('native addon under bad input from JavaScript', () => {
  const addon = native();
  const a = new Float32Array(8);
  const cases: [string, () => unknown][] = [
    ['no arguments', () => (addon.interpolate as unknown as () => void)()],
    ['a number instead of an array', () => addon.interpolate(1 as unknown as Float32Array, a, new Float64Array([0.5]), [new Float32Array(8)])],
    ['a Float64Array arena', () => addon.interpolate(new Float64Array(8) as unknown as Float32Array, a, new Float64Array([0.5]), [new Float32Array(8)])],
    ['arenas of different lengths', () => addon.interpolate(a, new Float32Array(7), new Float64Array([0.5]), [new Float32Array(8)])],
    ['an output too short', () => addon.interpolate(a, a, new Float64Array([0.5]), [new Float32Array(7)])],
    ['fewer outputs than α', () => addon.interpolate(a, a, new Float64Array([0.5, 0.6]), [new Float32Array(8)])],
    ['a non-array outs', () => addon.interpolate(a, a, new Float64Array([0.5]), {} as unknown as Float32Array[])],
    ['α as a plain array', () => addon.interpolate(a, a, [0.5] as unknown as Float64Array, [new Float32Array(8)])],
    ['α = 2', () => addon.interpolate(a, a, new Float64Array([2]), [new Float32Array(8)])],
    ['a mask that does not tile the arena', () => addon.interpolate(a, a, new Float64Array([0.5]), [new Float32Array(8)], { offsets: new Float64Array([0]), lengths: new Float64Array([7]), interpolate: new Uint8Array([1]), base: a })],
    ['a mask with overlapping segments', () => addon.interpolate(a, a, new Float64Array([0.5]), [new Float32Array(8)], { offsets: new Float64Array([0, 2]), lengths: new Float64Array([4, 6]), interpolate: new Uint8Array([1, 0]), base: a })],
    ['a mask with a short base', () => addon.interpolate(a, a, new Float64Array([0.5]), [new Float32Array(8)], { offsets: new Float64Array([0]), lengths: new Float64Array([8]), interpolate: new Uint8Array([1]), base: new Float32Array(2) })],
    ['a mask of wrong types', () => addon.interpolate(a, a, new Float64Array([0.5]), [new Float32Array(8)], { offsets: [0], lengths: [8], interpolate: [1], base: a } as unknown as Parameters<typeof addon.interpolate>[4])],
    ['copy of different lengths', () => addon.copy(new Float32Array(3), new Float32Array(4))],
  ];
  it.each(cases)('throws a JS error, never aborts, on %s', (_what, call) => {
    expect(call).toThrow(Error);
  });
});
