/**
 * The native-boundary probe, run in a child process by boundary.test.ts (a crash kills this
 * process, not the test runner): `node --expose-gc --import tsx boundary-probe.ts properties`
 * runs fast-check properties of every export: valid calls give the reference result; calls
 * with a wrong type, a resized buffer, a bad size, a buffer detached before the call or by a
 * getter that also forces GC end in a NativeError. `… regression NAME` replays one reported
 * crash or the hang. Exits 0 when everything held, 1 with the counterexample otherwise.
 */
import fc from 'fast-check';
import { NativeError } from '../../lib/errors.js';
import { native, type NativeAddon, type NativeLapResult } from '../../lib/native.js';
import { readFileSync } from 'node:fs';
// Loads onnxruntime's library, which the addon's runner finds in the process (ortRun's property).
import 'onnxruntime-node';
import { helperModel, renode } from '../../lib/onnx/build.js';
import { encodeModel } from '../../lib/onnx/model.js';
import { decodeModelProto } from '../../lib/onnx/proto.js';
import { fixture } from '../helpers.js';
import { cases, lapProblem, ORT_RUN_WEIGHT, ortRunCase, type Call } from './cases.js';

const addon = native();
const gc = (globalThis as { gc?: () => void }).gc ?? (() => undefined);

/** Transfers the view's buffer away (the view is detached) and, in a getter, collects it. */
function detach(view: ArrayBufferView, collect = false): void {
  structuredClone(view.buffer, { transfer: [view.buffer as ArrayBuffer] });
  if (collect) gc();
}

/** A place in the arguments: an argument, or a property / element of an object or array argument. */
interface Slot {
  readonly parent: Record<PropertyKey, unknown>;
  readonly key: PropertyKey;
  /** Whether the addon reads it through a property access (so a getter can run there). */
  readonly nested: boolean;
}

function slots(args: unknown[]): Slot[] {
  const out: Slot[] = [];
  const walk = (parent: Record<PropertyKey, unknown>, key: PropertyKey, nested: boolean) => {
    out.push({ parent, key, nested });
    const v = parent[key];
    if (v && typeof v === 'object' && !ArrayBuffer.isView(v)) for (const k of Object.keys(v)) walk(v as Record<PropertyKey, unknown>, Array.isArray(v) ? Number(k) : k, true);
  };
  args.forEach((_, i) => walk(args as unknown as Record<PropertyKey, unknown>, i, false));
  return out;
}

const buffersOf = (args: unknown[]) => slots(args).map((s) => s.parent[s.key]).filter((v): v is ArrayBufferView => ArrayBuffer.isView(v));

/** Node 20's resizable ArrayBuffer (ES2024), which the ES2022 typings do not declare. */
const ResizableArrayBuffer = ArrayBuffer as unknown as new (length: number, options: { maxByteLength: number }) => ArrayBuffer;

/** Values of every kind a JS caller can pass, made fresh per use. */
const strangers: (() => unknown)[] = [
  () => undefined, () => null, () => 0, () => -1, () => 1.5, () => NaN, () => Infinity, () => -Infinity, () => 1e15,
  () => 2 ** 31, () => 2 ** 53, () => 2 ** 64, () => -0, () => '3', () => true, () => ({}), () => [], () => [1, 2],
  () => () => 1, () => 10n, () => Symbol('x'), () => new Int16Array(4), () => new Float32Array(3), () => new Float64Array(3),
  () => new Uint8Array(2), () => new Int32Array(2), () => new DataView(new ArrayBuffer(8)), () => new Proxy(new Float32Array(4), {}),
  () => new Proxy([new Float32Array(4)], {}), () => new Float32Array(new ResizableArrayBuffer(16, { maxByteLength: 64 })),
];
const badNumbers = [-1, 1.5, NaN, Infinity, -Infinity, 1e15, 2 ** 31, 2 ** 53, 2 ** 64, -(2 ** 31)];

type Mutation = { kind: 'none' | 'stranger' | 'resize' | 'badNumber' | 'detachBefore' | 'detachGetter' | 'shrinkGetter'; a: number; b: number; c: number };
const mutation: fc.Arbitrary<Mutation> = fc.record({
  kind: fc.constantFrom('none', 'stranger', 'resize', 'badNumber', 'detachBefore', 'detachGetter', 'shrinkGetter'),
  a: fc.nat(),
  b: fc.nat(),
  c: fc.nat(),
});

/** Applies m to the arguments; returns what the call must fail with: a buffer it reads detached or emptied. */
function mutate(args: unknown[], m: Mutation): RegExp | undefined {
  const all = slots(args);
  const pick = <T>(xs: T[], n: number): T | undefined => (xs.length ? xs[n % xs.length] : undefined);
  const set = (s: Slot, v: unknown) => Object.defineProperty(s.parent, s.key, { value: v, writable: true, enumerable: true, configurable: true });
  switch (m.kind) {
    case 'none':
      return undefined;
    case 'stranger': {
      const s = pick(all, m.a);
      if (s) set(s, pick(strangers, m.b)!());
      return undefined;
    }
    case 'resize': {
      const s = pick(all.filter((x) => ArrayBuffer.isView(x.parent[x.key])), m.a);
      if (!s) return undefined;
      const old = s.parent[s.key] as Float32Array;
      const length = [0, old.length + 1, Math.max(0, old.length - 1), 2 * old.length + 3][m.b % 4]!;
      set(s, new (old.constructor as Float32ArrayConstructor)(length));
      return undefined;
    }
    case 'badNumber': {
      const s = pick(all.filter((x) => typeof x.parent[x.key] === 'number'), m.a);
      if (s) set(s, pick(badNumbers, m.b)!);
      return undefined;
    }
    case 'detachBefore': {
      const victim = pick(buffersOf(args), m.a);
      if (victim) detach(victim);
      // Node copies rather than moves a buffer of memory the addon made (file-backed floats).
      return victim && victim.buffer.byteLength === 0 ? /detached/ : undefined;
    }
    case 'detachGetter': {
      const victim = pick(buffersOf(args), m.a);
      const s = pick(all.filter((x) => x.nested), m.b);
      if (!victim || !s) return undefined;
      const value = s.parent[s.key];
      let done = false;
      Object.defineProperty(s.parent, s.key, {
        get() {
          if (!done) detach(victim, true);
          done = true;
          return value;
        },
        enumerable: true,
        configurable: true,
      });
      return /detached/;
    }
    case 'shrinkGetter': {
      // A length-tracking view of a resizable buffer, emptied by a getter read after it.
      const v = pick(all.filter((x) => ArrayBuffer.isView(x.parent[x.key])), m.a);
      const s = pick(all.filter((x) => x.nested), m.b);
      if (!v || !s) return undefined;
      const old = v.parent[v.key] as Float32Array;
      const rab = new ResizableArrayBuffer(old.byteLength, { maxByteLength: old.byteLength }) as ArrayBuffer & { resize(n: number): void };
      const tracking = new (old.constructor as Float32ArrayConstructor)(rab);
      tracking.set(old);
      set(v, tracking);
      const value = s.parent[s.key];
      Object.defineProperty(s.parent, s.key, { get: () => (rab.resize(0), value), enumerable: true, configurable: true });
      return old.length > 0 ? /./ : undefined;
    }
  }
}

const LAP_CODES = new Set(['LAP_NAN', 'LAP_BAD_INFINITY', 'LAP_INFEASIBLE', 'LAP_INVALID_ARGUMENT']);

/**
 * A thrown value the boundary may produce: a NativeError refusing an argument (or the solver's
 * LAP_* failure, or onnxruntime's refusal of a run: an input or output name it does not know).
 */
function expectTyped(error: unknown, mustMention?: RegExp): void {
  if (!(error instanceof NativeError)) throw new Error(`not a NativeError: ${String(error)}`);
  const refusedRun = error.code === 'NATIVE' && /: onnxruntime: /.test(error.message);
  if (error.code !== 'NATIVE_ARGUMENT' && !LAP_CODES.has(error.code) && !refusedRun) throw new Error(`unexpected code ${error.code}: ${error.message}`);
  if (mustMention && !mustMention.test(error.message)) throw new Error(`expected ${mustMention}, got: ${error.message}`);
}

const counts = { runs: 0, threw: 0, returned: 0 };

async function property(name: keyof NativeAddon, call: fc.Arbitrary<() => Call>): Promise<void> {
  const fn = addon[name] as (...args: unknown[]) => unknown;
  // lapAsync's promises: settled after the synchronous runs, each a NativeError or a right answer.
  const settling: Promise<void>[] = [];
  fc.assert(
    fc.property(call, mutation, (make, m) => {
      const c = make();
      const mustFail = mutate(c.args, m);
      counts.runs++;
      let result: unknown;
      try {
        result = fn(...c.args);
      } catch (error) {
        counts.threw++;
        expectTyped(error, mustFail);
        return;
      }
      counts.returned++;
      if (mustFail) throw new Error(`${m.kind}: a buffer detached or emptied while the arguments were read was accepted`);
      if (result instanceof Promise) {
        settling.push(result.then((r) => (m.kind === 'none' ? c.check(r) : undefined), (error: unknown) => expectTyped(error)));
      } else if (m.kind === 'none') {
        c.check(result);
      }
    }),
    { numRuns: 200 },
  );
  await Promise.all(settling);
}

/** lapAsync: validation as lap; a cost (and warm start) detached and collected while the worker runs changes nothing. */
async function lapAsyncProperty(): Promise<void> {
  await fc.assert(
    fc.asyncProperty(lapProblem, fc.boolean(), async (make, warm) => {
      const c = make();
      const [cost, rows, cols, maximize] = c.args as [Float32Array | Float64Array, number, number, boolean];
      const duals = warm ? new Float64Array(Math.max(rows, cols)) : null;
      counts.runs++;
      const pending = addon.lapAsync(cost, rows, cols, maximize, duals);
      detach(cost, true);
      if (duals) detach(duals);
      let result: NativeLapResult;
      try {
        result = await pending;
      } catch (error) {
        counts.threw++;
        throw new Error(`a valid problem was refused after its cost was detached: ${String(error)}`);
      }
      counts.returned++;
      c.check(result);
    }),
    { numRuns: 100 },
  );
  await property('lapAsync', lapProblem);
}

/** The three segfaults, the lapAsync use after free and the cosineStats hang, each as it was reported. */
const regressions: Record<string, () => Promise<void> | void> = {
  'mask getter': () => {
    const a = new Float32Array(1 << 16).fill(1);
    const mask = { offsets: Float64Array.of(0), lengths: Float64Array.of(a.length), interpolate: Uint8Array.of(1), base: new Float32Array(a.length) };
    Object.defineProperty(mask, 'base', { get: () => (detach(a, true), new Float32Array(1 << 16)), enumerable: true });
    throwsDetached(() => addon.interpolate(a, new Float32Array(1 << 16), Float64Array.of(0.5), [new Float32Array(1 << 16)], mask));
  },
  'outs[0] getter': () => {
    const a = new Float32Array(1 << 16).fill(1);
    const outs: Float32Array[] = [];
    Object.defineProperty(outs, 0, { get: () => (detach(a, true), new Float32Array(1 << 16)), enumerable: true });
    throwsDetached(() => addon.interpolate(a, new Float32Array(1 << 16), Float64Array.of(0.5), outs));
  },
  'maps[0] getter': () => {
    const src = new Float32Array(1 << 16);
    const maps: (Int32Array | null)[] = [null, null];
    Object.defineProperty(maps, 0, { get: () => (detach(src, true), null), enumerable: true });
    throwsDetached(() => addon.gatherAxes(src, [256, 256], maps, new Float32Array(1 << 16)));
  },
  'lapAsync detach': async () => {
    // Large enough that the freed memory is unmapped or reused (filled with +inf) mid-solve.
    const n = 2000;
    const cost = Float64Array.from({ length: n * n }, (_, x) => ((x * 7919) % 1009) / 1009);
    const want = addon.lap(cost.slice(), n, n, false);
    const pending = addon.lapAsync(cost, n, n, false);
    detach(cost, true);
    const reuse = Array.from({ length: 8 }, () => new Float64Array(n * n).fill(Infinity));
    const got = await pending;
    reuse.length = 0;
    if (got.total !== want.total || got.colInd.join() !== want.colInd.join()) throw new Error(`lapAsync after detach: total ${got.total}, expected ${want.total}`);
    counts.returned++;
  },
  'cosineStats hang': () => {
    const started = Date.now();
    try {
      addon.cosineStats({ compared: [new Float32Array(0)], alphas: Float64Array.of(0.5), fa: new Float32Array(0), fb: new Float32Array(0), samples: 1e15, acc: new Float64Array(5) });
    } catch (error) {
      counts.threw++;
      expectTyped(error, /do not split into 1000000000000000 samples/);
      if (Date.now() - started > 1000) throw new Error('cosineStats took over a second to refuse');
      return;
    }
    throw new Error('cosineStats accepted 1e15 samples of empty features');
  },
};

function throwsDetached(call: () => unknown): void {
  try {
    call();
  } catch (error) {
    counts.threw++;
    expectTyped(error, /detached/);
    return;
  }
  throw new Error('a buffer detached by a getter was accepted');
}

/** A session of Y = X·W (ortRunCase), in the opset of a fixture. */
async function ortSession(): Promise<unknown> {
  const like = decodeModelProto(readFileSync(fixture('models', 'mlp_a.onnx')));
  const model = helperModel(like, [renode({ opType: 'MatMul' }, ['X', 'W'], ['Y'], 'Y')], ['X'], ['Y'], [{ name: 'W', dims: [3, 2], values: ORT_RUN_WEIGHT }]);
  return (await addon.ortCreateSession(encodeModel(model), { threads: 1, optimize: true })).session;
}

/**
 * `properties`: every export's property in turn; `regression NAME`: one scenario. Each prints
 * `start NAME` first (so a crash names what it was running), then its counts as JSON.
 */
async function main(what: string): Promise<void> {
  const runs: [string, () => Promise<void> | void][] =
    what === 'properties'
      ? [...[...cases(addon), ortRunCase(await ortSession())].map((c): [string, () => Promise<void>] => [c.name, () => property(c.name, c.call)]), ['lapAsync', lapAsyncProperty]]
      : what === 'regression'
        ? Object.entries(regressions).filter(([name]) => name === process.argv[3])
        : [];
  if (runs.length === 0) throw new Error(`usage: boundary-probe.ts properties | regression NAME, got ${process.argv.slice(2).join(' ')}`);
  for (const [name, run] of runs) {
    console.log(`start ${name}`);
    Object.assign(counts, { runs: 0, threw: 0, returned: 0 });
    const started = Date.now();
    await run();
    console.log(JSON.stringify({ probe: name, ...counts, ms: Date.now() - started }));
  }
}

main(process.argv[2] ?? '').catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : error);
  process.exit(1);
});
