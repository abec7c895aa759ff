/**
 * One gate for options: every option of the library has its one default and its one
 * validation in the table below. Each entry point (the API functions, the in-process building
 * blocks, a dataset's `batches`) resolves the options it takes here, once: unknown keys are
 * refused with the nearest known key, defaults are filled in, values are checked. The CLI only
 * parses strings into values and hands them over.
 */
import { TOKEN_DTYPES } from './dataset/dtype.js';
import { InvalidArgumentError, UnknownOptionError } from './errors.js';

/** The typed error for a value that is not what an option takes: "`name` must be `expected`, got `actual`". */
export function invalidArgument(name: string, expected: string, actual: unknown): InvalidArgumentError {
  return new InvalidArgumentError(`${name} must be ${expected}, got ${describeValue(actual)}`);
}

/** A value as a message shows it: numbers and lists as written, strings quoted. */
export function describeValue(value: unknown): string {
  if (typeof value === 'string') return `'${value}'`;
  if (Array.isArray(value)) return `[${value.map(describeValue).join(', ')}]`;
  if (ArrayBuffer.isView(value)) return `a ${value.constructor.name}`;
  if (typeof value === 'function') return 'a function';
  if (value !== null && typeof value === 'object') return `an object (${Object.keys(value).join(', ') || 'no keys'})`;
  return String(value);
}

/** One option: what a valid value is, how to check it (throwing), and its default when it has one. */
export interface OptionRule {
  readonly expected: string;
  /** Throws {@link invalidArgument} (or a more precise InvalidArgumentError) unless `value` is valid. */
  readonly check: (value: unknown, name: string) => void;
  readonly default?: unknown;
  /** The entry point cannot run without it. */
  readonly required?: boolean;
}

function rule(expected: string, valid: (value: unknown) => boolean): OptionRule {
  return {
    expected,
    check(value, name) {
      if (!valid(value)) throw invalidArgument(name, expected, value);
    },
  };
}

const withDefault = <R extends OptionRule, T>(r: R, value: T): R & { readonly default: T } => ({ ...r, default: value });

const isPositiveInteger = (v: unknown): boolean => typeof v === 'number' && Number.isSafeInteger(v) && v > 0;
const isAlpha = (v: unknown): boolean => typeof v === 'number' && Number.isFinite(v) && v >= 0 && v <= 1;
/** An option taking one of a few strings; `values` lets the CLI offer them as its flag's choices. */
const oneOf = <V extends string>(...values: V[]): OptionRule & { readonly values: readonly V[] } => ({
  ...rule(values.map((v) => `'${v}'`).join(' or '), (v) => values.includes(v as V)),
  values,
});

/** A non-empty list whose items each satisfy `item` (named `name[i]` in messages). */
function listOf(expected: string, item: OptionRule): OptionRule {
  return {
    expected,
    check(value, name) {
      if (!Array.isArray(value) || value.length === 0) throw invalidArgument(name, expected, value);
      value.forEach((v, i) => item.check(v, `${name}[${i}]`));
    },
  };
}

const alpha = rule('a number in [0, 1]', isAlpha);
const alphaList = listOf('a non-empty list of numbers in [0, 1]', alpha);
const steps = rule('an integer ≥ 2', (v) => typeof v === 'number' && Number.isSafeInteger(v) && v >= 2);

/** n evenly spaced α from 0 to 1 (i/(n−1), so 0.1 is exactly 1/10). */
export function alphaGrid(n: number): number[] {
  steps.check(n, 'steps');
  return Array.from({ length: n }, (_, i) => i / (n - 1));
}

/** Points of the LMC α grid when none are given. */
const LMC_STEPS = 11;

/** The table: every option kind, its validation and its default. */
export const OPTIONS = {
  batchSize: withDefault(rule('a positive integer', isPositiveInteger), 256),
  /** Segments of a pass run part by part (no default: large models are parted by their size). */
  segments: rule('a positive integer', isPositiveInteger),
  /** α values of an LMC curve. */
  lmcAlphas: withDefault(alphaList, alphaGrid(LMC_STEPS)),
  /** α values of the per-layer checks (LLFC, weak additivity). */
  layerAlphas: withDefault(alphaList, [0.25, 0.5, 0.75]),
  /** Points of an even LMC α grid (`--steps`). */
  steps: withDefault(steps, LMC_STEPS),
  feed: withDefault(oneOf('initializers', 'inputs'), 'initializers'),
  layers: listOf('a non-empty list of layer names', rule('a non-empty string', (v) => typeof v === 'string' && v.length > 0)),
  commutativity: withDefault(rule('a boolean', (v) => typeof v === 'boolean'), true),
  weakAdditivity: withDefault(rule('a boolean', (v) => typeof v === 'boolean'), true),
  /** Temperature calibration of the LMC curve (Ito et al. 2025), off by default. */
  calibrate: withDefault(rule('a boolean', (v) => typeof v === 'boolean'), false),
  /** REPAIR of the interpolated models (Jordan et al. 2023), off by default. */
  repair: withDefault(rule('a boolean', (v) => typeof v === 'boolean'), false),
  /** REPAIR: samples of the statistics set (its first ones; all of a smaller set). */
  repairSamples: withDefault(rule('a positive integer', isPositiveInteger), 2000),
  /** The LEWC check (Ito et al. 2025), off by default. */
  lewc: withDefault(rule('a boolean', (v) => typeof v === 'boolean'), false),
  method: { ...oneOf('weight', 'activation'), required: true },
  /** `analyze --align`: further methods, each aligning B to A afresh and analyzed beside the first. */
  alsoAlign: listOf("a non-empty list of 'weight' or 'activation'", oneOf('weight', 'activation')),
  /** How `merge` combines many models (SCIENCE.md §6): the plain mean, MergeMany, or the binary tree. */
  mergeMethod: { ...oneOf('mean', 'mergemany', 'tree'), required: true },
  /** How `merge` matches units: by weights or by activations on data. */
  match: withDefault(oneOf('weight', 'activation'), 'weight'),
  /** Tree merging of a count that is not a power of two: a level's odd model is carried up. */
  pad: withDefault(rule('a boolean', (v) => typeof v === 'boolean'), false),
  /** MergeMany: at most this many rounds over the models. */
  maxRounds: withDefault(rule('a positive integer', isPositiveInteger), 100),
  /** One α (`interpolate`). */
  alpha: { ...alpha, required: true },
  seed: withDefault(rule('an integer', (v) => typeof v === 'number' && Number.isSafeInteger(v)), 0),
  /** Layer-wise barriers: what one group of tensors is (a module's tensors, or a top-level module prefix's). */
  groupBy: withDefault(oneOf('layer', 'module'), 'layer'),
  /** Layer-wise barriers: explicit module prefixes, one group each (`layer2` holds every `layer2.*` tensor). */
  modules: listOf('a non-empty list of module prefixes', rule('a non-empty string', (v) => typeof v === 'string' && v.length > 0)),
  /** Layer-wise barriers: random orders of the cumulative barriers. */
  draws: withDefault(rule('an integer ≥ 0', (v) => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0), 3),
  orders: rule('a list of group orders (lists of group indices)', (v) => Array.isArray(v) && v.every((o) => Array.isArray(o))),
  initial: rule('a list of Int32Array permutations', (v) => Array.isArray(v) && v.every((p) => p instanceof Int32Array)),
  maxSweeps: withDefault(rule('a positive integer', isPositiveInteger), 100),
  tolerance: withDefault(rule('a number ≥ 0', (v) => typeof v === 'number' && v >= 0), 1e-12),
  threads: withDefault(rule('an integer ≥ 0 (0: all cores)', (v) => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0), 1),
  correlation: withDefault(oneOf('cross', 'pearson'), 'cross'),
  symmetry: withDefault(oneOf('permutation', 'orthogonal'), 'permutation'),
  inputShape: listOf('a non-empty list of positive integers', rule('a positive integer', isPositiveInteger)),
  limit: rule('a positive integer', isPositiveInteger),
  /** Element type of a flat token file (no default: a wrong guess would read other tokens). */
  tokenDType: oneOf(...TOKEN_DTYPES),
  /** Tokens per sample of a flat token file. */
  context: rule('a positive integer', isPositiveInteger),
  /** Token label left out of the loss and accuracy (PyTorch's cross_entropy default). */
  ignoreIndex: withDefault(rule('an integer', (v) => typeof v === 'number' && Number.isSafeInteger(v)), -100),
  allowNonfinite: withDefault(rule('a boolean', (v) => typeof v === 'boolean'), false),
  /** Stored float tensors that are constants of the architecture (symmetry-breaking, lib/align/spec/constants.ts). */
  constants: rule('a list of tensor names', (v) => Array.isArray(v) && v.every((s) => typeof s === 'string')),
  /** Permute symmetry-breaking constants as if they were parameters. */
  permuteConstants: withDefault(rule('a boolean', (v) => typeof v === 'boolean'), false),
  /** `align()`: permute B's arena in place, making it the aligned B's (the caller is done with B). */
  consumeB: withDefault(rule('a boolean', (v) => typeof v === 'boolean'), false),
  /** A permutation spec already inferred (checked against the checkpoint where it is used). */
  spec: rule('a permutation spec', (v) => typeof v === 'object' && v !== null && Array.isArray((v as { groups?: unknown }).groups)),
  /** An opened dataset. */
  dataset: rule('a dataset (from openDataset)', (v) => typeof v === 'object' && v !== null && typeof (v as { batches?: unknown }).batches === 'function'),
  /** Shards of a run on Slurm: its array tasks 0 … n−1. */
  shards: { ...rule('a positive integer', isPositiveInteger), required: true },
  /** A Slurm partition, or several comma separated. */
  partition: rule('a Slurm partition name (letters, digits, _ . - ; several comma separated)', (v) => typeof v === 'string' && /^[\w.-]+(,[\w.-]+)*$/.test(v)),
  /** A Slurm time limit in a form sbatch takes. */
  slurmTime: rule(
    "a Slurm time limit: minutes, minutes:seconds, hours:minutes:seconds, days-hours[:minutes[:seconds]] or 'UNLIMITED'",
    (v) => typeof v === 'string' && /^(\d+(:\d+){0,2}|\d+-\d+(:\d+){0,2}|UNLIMITED|INFINITE)$/i.test(v),
  ),
  cpusPerTask: rule('a positive integer', isPositiveInteger),
  signal: rule('an AbortSignal', (v) => v instanceof AbortSignal),
  onProgress: rule('a function', (v) => typeof v === 'function'),
} as const satisfies Record<string, OptionRule>;

export type OptionKind = keyof typeof OPTIONS;
export type DefaultedOptionKind = { [K in OptionKind]: (typeof OPTIONS)[K] extends { readonly default: unknown } ? K : never }[OptionKind];

/** The default of an option kind (a fresh copy for lists). */
export function optionDefault<K extends DefaultedOptionKind>(kind: K): (typeof OPTIONS)[K]['default'] {
  const value = OPTIONS[kind].default;
  return (Array.isArray(value) ? [...value] : value) as (typeof OPTIONS)[K]['default'];
}

/** Validates one value against an option kind (named `name` in the message). */
export function checkOption(kind: OptionKind, value: unknown, name: string = kind): void {
  OPTIONS[kind].check(value, name);
}

/** Throws InvalidArgumentError unless every α is a finite number in [0, 1]: the one α validation. */
export function checkAlphas(alphas: readonly number[], name = 'alphas'): void {
  alphaList.check(alphas, name);
}

/** Which kind each option key of an entry point is. */
export type OptionSchema<O> = { readonly [K in keyof O]-?: OptionKind };

type DefaultedKeys<O, S extends OptionSchema<O>> = { [K in keyof O]: S[K] extends DefaultedOptionKind ? K : never }[keyof O];

/** Lists are copied by resolution: the copy is the entry point's own. */
type Owned<T> = T extends readonly (infer E)[] ? E[] : T;

/** An entry point's options after resolution: every option with a default is present. */
export type Resolved<O, S extends OptionSchema<O>> = Omit<O, DefaultedKeys<O, S>> & { readonly [K in DefaultedKeys<O, S>]-?: Owned<Exclude<O[K], undefined>> };

/** Known confusions: a key someone may write, and the keys meant by it. */
const CONFUSED_WITH: Record<string, readonly string[]> = {
  steps: ['alphas', 'lmcAlphas'],
  alpha: ['alphas'],
  batch: ['batchSize'],
  sweeps: ['maxSweeps'],
};

function editDistance(x: string, y: string): number {
  let previous = Array.from({ length: y.length + 1 }, (_, j) => j);
  for (let i = 1; i <= x.length; i++) {
    const row = [i];
    for (let j = 1; j <= y.length; j++) row.push(Math.min(previous[j]! + 1, row[j - 1]! + 1, previous[j - 1]! + (x[i - 1] === y[j - 1] ? 0 : 1)));
    previous = row;
  }
  return previous[y.length]!;
}

/** The known key closest to `key`: a known confusion, else the smallest edit distance (case, '-' and '_' ignored). */
export function nearestKey(key: string, known: readonly string[]): string | undefined {
  const meant = CONFUSED_WITH[key]?.find((k) => known.includes(k));
  if (meant) return meant;
  const plain = (s: string): string => s.toLowerCase().replace(/[-_]/g, '');
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const k of known) {
    const d = editDistance(plain(key), plain(k));
    if (d < bestDistance) [best, bestDistance] = [k, d];
  }
  return best;
}

/** Refuses keys of `given` that `known` does not list, naming the nearest known key. */
export function checkKnownKeys(where: string, given: object, known: readonly string[]): void {
  for (const key of Object.keys(given)) {
    if (!known.includes(key)) throw new UnknownOptionError(where, key, nearestKey(key, known), known);
  }
}

/**
 * Resolves the options of one entry point (`where`, e.g. "lmc()"): refuses unknown keys,
 * checks every given value against its kind and fills in the defaults. Keys given as
 * `undefined` count as not given.
 */
export function resolveOptions<O extends object, S extends OptionSchema<O>>(where: string, schema: S, given: O | undefined): Resolved<O, S> {
  if (given !== undefined && (typeof given !== 'object' || given === null || Array.isArray(given))) throw invalidArgument(`the options of ${where}`, 'an object', given);
  const options = (given ?? {}) as Record<string, unknown>;
  const kinds = schema as Record<string, OptionKind>;
  checkKnownKeys(where, options, Object.keys(kinds));
  const resolved: Record<string, unknown> = {};
  for (const [key, kind] of Object.entries(kinds)) {
    const value = options[key];
    if (value !== undefined || ('required' in OPTIONS[kind] && OPTIONS[kind].required)) {
      OPTIONS[kind].check(value, key);
      resolved[key] = Array.isArray(value) ? [...value] : value;
    } else if ('default' in OPTIONS[kind]) {
      resolved[key] = optionDefault(kind as DefaultedOptionKind);
    }
  }
  return resolved as Resolved<O, S>;
}

/** The progress and cancellation keys every long-running entry point takes. */
export const CONTROL_OPTIONS = { signal: 'signal', onProgress: 'onProgress' } as const;
