/**
 * The partial file of one shard (SCIENCE.md §8): the run it belongs to (command, files, data,
 * options, the report's settings, the sha256 of every input file), which samples the shard
 * covered, and every check's float64 sums (lib/sums.ts, with their rounding errors), under a
 * format name and version and a sha256 digest of the rest, so that a truncated or edited file
 * is refused rather than reduced.
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { PartialError } from '../errors.js';
import { Sums } from '../sums.js';
import type { Shard } from './range.js';

export const PARTIAL_FORMAT = 'llfc-partial';
export const PARTIAL_VERSION = 1;

/** The commands that run sharded. */
export type ShardedCommand = 'lmc' | 'analyze' | 'align';

/** What makes two shards parts of one run: equal in every partial of it. */
export interface PartialRun {
  readonly command: ShardedCommand;
  /** The checkpoints and data options as given (relative paths resolve against the partial's cwd). */
  readonly a: string;
  readonly b: string;
  readonly data: Record<string, unknown>;
  /** The command's options, resolved (defaults filled in). */
  readonly options: Record<string, unknown>;
  /** What the report says about the data and settings besides the results. */
  readonly report: { readonly source: string; readonly settings: Record<string, unknown> };
  /** sha256 of every input file (checkpoints, their external data, the data files), in order. */
  readonly hashes: readonly { readonly file: string; readonly sha256: string }[];
}

/** Which shard a partial is, and its samples [from, to) of the data's `samples`. */
export interface PartialShard extends Shard {
  readonly from: number;
  readonly to: number;
  readonly samples: number;
}

/** Sums as they cross a thread or come from a check: the running sums and their rounding errors. */
export interface SumsData {
  readonly high: Float64Array;
  readonly low: Float64Array;
}

/** Sums as a partial holds them. */
interface StoredSums {
  readonly high: (number | string)[];
  readonly low: (number | string)[];
}

/** One shard's part of a run. */
export interface Partial {
  readonly format: typeof PARTIAL_FORMAT;
  readonly version: number;
  readonly run: PartialRun;
  /** The directory the shard ran in, against which the run's relative paths resolve. */
  readonly cwd: string;
  readonly shard: PartialShard;
  /** Per part of the result (a check's id), its sums by name. */
  readonly sums: Record<string, Record<string, StoredSums>>;
}

/** sha256 of a file's content, read as a stream. */
export async function fileSha256(file: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(file)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

/** Non-finite sums (a model that outputs NaN on data let through) as JSON strings. */
const store = (v: number): number | string => (Number.isFinite(v) ? v : String(v));
const load = (v: number | string): number => (typeof v === 'number' ? v : Number(v));

const digestOf = (body: string): string => createHash('sha256').update(body).digest('hex');

/** The partial file's content: the body, then its digest. */
export function partialContent(run: PartialRun, cwd: string, shard: PartialShard, parts: ReadonlyMap<string, ReadonlyMap<string, SumsData>>): string {
  const sums: Partial['sums'] = {};
  for (const [id, named] of parts) {
    sums[id] = Object.fromEntries([...named].map(([name, s]) => [name, { high: Array.from(s.high, store), low: Array.from(s.low, store) }]));
  }
  const partial: Partial = { format: PARTIAL_FORMAT, version: PARTIAL_VERSION, run, cwd, shard, sums };
  const body = JSON.stringify(partial);
  return `${JSON.stringify({ ...partial, digest: digestOf(body) })}\n`;
}

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const isStored = (v: unknown): boolean => typeof v === 'number' || v === 'NaN' || v === 'Infinity' || v === '-Infinity';
const isStoredSums = (s: unknown): boolean => isRecord(s) && Array.isArray(s.high) && Array.isArray(s.low) && s.high.length === s.low.length && s.high.every(isStored) && s.low.every(isStored);
const isCount = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;

/** A partial's content, checked: format, version, digest and the shape of its fields. */
export function parsePartial(file: string, text: string): Partial {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (e) {
    throw new PartialError([file], `${file}: not a partial file, or a truncated one (${(e as Error).message})`, { cause: e });
  }
  if (!isRecord(parsed) || parsed.format !== PARTIAL_FORMAT) {
    throw new PartialError([file], `${file}: not an llfc partial file (format ${JSON.stringify(isRecord(parsed) ? parsed.format : undefined)}, expected '${PARTIAL_FORMAT}')`);
  }
  if (parsed.version !== PARTIAL_VERSION) {
    throw new PartialError([file], `${file}: partial format version ${JSON.stringify(parsed.version)}; this llfc reads version ${PARTIAL_VERSION}: run the shards again with this llfc`);
  }
  const { digest, ...rest } = parsed;
  if (digest !== digestOf(JSON.stringify(rest))) throw new PartialError([file], `${file}: its content does not match its digest: the file was cut short or edited`);
  const shard = parsed.shard;
  const valid =
    isRecord(parsed.run) &&
    typeof parsed.cwd === 'string' &&
    isRecord(shard) &&
    [shard.index, shard.count, shard.from, shard.to, shard.samples].every(isCount) &&
    (shard.index as number) < (shard.count as number) &&
    (shard.from as number) <= (shard.to as number) &&
    (shard.to as number) <= (shard.samples as number) &&
    isRecord(parsed.sums) &&
    Object.values(parsed.sums).every((named) => isRecord(named) && Object.values(named).every(isStoredSums));
  if (!valid) throw new PartialError([file], `${file}: a partial whose fields are malformed (run, cwd, shard, sums)`);
  return rest as unknown as Partial;
}

/** Reads and checks a partial file. */
export async function readPartial(file: string): Promise<Partial> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (e) {
    throw new PartialError([file], `${file}: cannot read the partial (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`, { cause: e });
  }
  return parsePartial(file, text);
}

/** A partial's stored sums as Sums, for adding into a check's. */
export function storedSums(s: StoredSums): Sums {
  const sums = new Sums(s.high.length);
  sums.high.set(s.high.map(load));
  sums.low.set(s.low.map(load));
  return sums;
}

/** The two runs' fields that differ, for messages. */
export function runDifferences(x: PartialRun, y: PartialRun): string[] {
  const keys = [...new Set([...Object.keys(x), ...Object.keys(y)])] as (keyof PartialRun)[];
  return keys.filter((k) => JSON.stringify(x[k]) !== JSON.stringify(y[k])).map((k) => (k === 'hashes' ? 'input file contents (sha256)' : k));
}

/** True when two partials belong to the same run. */
export const sameRun = (x: PartialRun, y: PartialRun): boolean => runDifferences(x, y).length === 0;
