/**
 * The fuzz harness: runs `node bin/llfc.js …` on one hostile case and judges what happened.
 * A case passes when the command exits 0 or exits 2 with a typed one-line error, within its
 * time limit; touches nothing but its named outputs (all of them on success, none on failure);
 * and never lets the bytes of a file it must not read reach its outputs or its printout.
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, lstatSync, readdirSync, readFileSync, readlinkSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const repoRoot = fileURLToPath(new URL('../../', import.meta.url));
export const cliPath = join(repoRoot, 'bin', 'llfc.js');

function newestMtime(dir: string): number {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    newest = Math.max(newest, entry.isDirectory() ? newestMtime(path) : statSync(path).mtimeMs);
  }
  return newest;
}

/** bin/llfc.js runs dist/'s bundle: build it when it is missing or older than lib/, so the CLI under test is the code under test. */
export function ensureBuiltCli(): void {
  const bundle = join(repoRoot, 'dist', 'llfc-cli.js');
  if (existsSync(bundle) && statSync(bundle).mtimeMs >= newestMtime(join(repoRoot, 'lib'))) return;
  const r = spawnSync(process.execPath, [join(repoRoot, 'scripts', 'build.js')], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`building dist/ for the CLI failed:\n${r.stdout}${r.stderr}`);
}

export interface FuzzCase {
  /** What is hostile and which command meets it, e.g. "ONNX truncated to 412 bytes → interpolate". */
  readonly name: string;
  /** The kind of input: 'onnx', 'data' or 'output'. */
  readonly family: string;
  readonly argv: readonly string[];
  /** The outputs the command names: every one exists after a success (links followed). */
  readonly outputs: readonly string[];
  /** The paths a success may create or replace (default: `outputs`; a symlinked output's target instead of the link). */
  readonly writes?: readonly string[];
  /** Set when success would be wrong: the reason the command must refuse. */
  readonly mustRefuse?: string;
  /** Bytes of files the command must not read: never in what it writes or prints. */
  readonly forbidden?: readonly Buffer[];
  /** Directories in which nothing but `writes` may change. */
  readonly watch: readonly string[];
  /** After a success, a check of what was written: a problem in words, or null. */
  readonly checkSuccess?: () => string | null;
}

export type Outcome =
  | 'success'
  | 'typed error'
  | 'hang'
  | 'crash'
  | 'stack trace'
  | 'wrong success'
  | 'read outside'
  | 'touched'
  | 'missing output'
  | 'wrong result';

export interface Verdict {
  readonly fuzzCase: FuzzCase;
  readonly outcome: Outcome;
  /** Why the outcome is a failure (empty for success and typed error). */
  readonly detail: string;
  readonly code: number | null;
  readonly stderr: string;
  readonly seconds: number;
}

export const passing: readonly Outcome[] = ['success', 'typed error'];

/** One path's identity and content stamp: any write, rename, replacement or chmod changes it. */
function stamp(path: string): string {
  const s = lstatSync(path, { bigint: true });
  if (s.isDirectory()) return `dir ${s.ino}`;
  const kind = s.isFile() ? 'file' : s.isSymbolicLink() ? `link→${readlinkSync(path)}` : s.isFIFO() ? 'fifo' : s.isCharacterDevice() ? `chardev ${s.rdev}` : 'other';
  return `${kind} ${s.ino} ${s.size} ${s.mtimeNs} ${s.ctimeNs} ${s.mode}`;
}

/** Every path under the directories, with its stamp. */
export function snapshot(dirs: readonly string[]): Map<string, string> {
  const out = new Map<string, string>();
  const walk = (path: string): void => {
    out.set(path, stamp(path));
    if (lstatSync(path).isDirectory()) for (const name of readdirSync(path)) walk(join(path, name));
  };
  for (const dir of dirs) if (existsSync(dir)) walk(dir);
  return out;
}

function changedPaths(before: Map<string, string>, after: Map<string, string>): string[] {
  const changed: string[] = [];
  for (const [path, s] of after) if (before.get(path) !== s) changed.push(path);
  for (const path of before.keys()) if (!after.has(path)) changed.push(path);
  return changed;
}

/** A line of a JavaScript stack trace ("    at fn (file.js:1:2)"). */
const STACK_LINE = /^\s+at .*:\d+:\d+\)?$/m;
const MAX_OUTPUT = 4 << 20;

interface Run {
  code: number | null;
  signal: NodeJS.Signals | null;
  timedOut: boolean;
  stdout: Buffer;
  stderr: string;
}

function runCli(argv: readonly string[], cwd: string, timeoutMs: number): Promise<Run> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [cliPath, ...argv], { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    const stdout: Buffer[] = [];
    const stderr: Buffer[] = [];
    let size = 0;
    const keep = (into: Buffer[]) => (chunk: Buffer): void => {
      if (size < MAX_OUTPUT) into.push(chunk);
      size += chunk.length;
    };
    child.stdout.on('data', keep(stdout));
    child.stderr.on('data', keep(stderr));
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, timeoutMs);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, timedOut, stdout: Buffer.concat(stdout), stderr: Buffer.concat(stderr).toString('utf8') });
    });
  });
}

/** Runs one case and judges it. */
export async function runCase(c: FuzzCase, cwd: string, timeoutMs: number): Promise<Verdict> {
  const before = snapshot(c.watch);
  const start = performance.now();
  const r = await runCli(c.argv, cwd, timeoutMs);
  const seconds = (performance.now() - start) / 1000;
  const verdict = (outcome: Outcome, detail = ''): Verdict => ({ fuzzCase: c, outcome, detail, code: r.code, stderr: r.stderr, seconds });
  if (r.timedOut) return verdict('hang', `no exit within ${timeoutMs / 1000} s`);
  if (r.signal !== null) return verdict('crash', `killed by ${r.signal}`);
  if (r.code !== 0 && r.code !== 2) return verdict('crash', `exit ${r.code}`);
  if (STACK_LINE.test(r.stderr)) return verdict('stack trace', 'a stack trace on stderr');

  const after = snapshot(c.watch);
  const writes = new Set(r.code === 0 ? (c.writes ?? c.outputs) : []);
  const written = [...writes].filter((p) => existsSync(p) && lstatSync(p).isFile());
  for (const bytes of c.forbidden ?? []) {
    const leaked = [r.stdout, Buffer.from(r.stderr)].some((b) => b.includes(bytes)) ? 'its printout' : written.find((p) => readFileSync(p).includes(bytes));
    if (leaked) return verdict('read outside', `bytes of a file it must not read appear in ${leaked}`);
  }
  if (r.code === 0 && c.mustRefuse) return verdict('wrong success', `exit 0, but it must refuse: ${c.mustRefuse}`);
  const touched = changedPaths(before, after).filter((p) => !writes.has(p));
  if (touched.length > 0) {
    return verdict('touched', `${r.code === 0 ? 'besides its outputs' : 'after failing'} it changed ${touched.map((p) => `${p} (${before.get(p) ?? 'new'} → ${after.get(p) ?? 'gone'})`).join(', ')}`);
  }
  if (r.code === 2) return verdict('typed error');
  const missing = c.outputs.filter((p) => !existsSync(p));
  if (missing.length > 0) return verdict('missing output', `exit 0 without writing ${missing.join(', ')}`);
  const problem = c.checkSuccess?.() ?? null;
  return problem ? verdict('wrong result', problem) : verdict('success');
}

/** Runs the cases, `parallel` at a time, in order of the list. */
export async function runCases(cases: readonly FuzzCase[], cwd: string, options: { parallel: number; timeoutMs: number }): Promise<Verdict[]> {
  const verdicts: Verdict[] = new Array(cases.length);
  let next = 0;
  const lane = async (): Promise<void> => {
    while (next < cases.length) {
      const i = next++;
      verdicts[i] = await runCase(cases[i]!, cwd, options.timeoutMs);
    }
  };
  await Promise.all(Array.from({ length: options.parallel }, lane));
  return verdicts;
}

/** "41 cases: 20 success, 21 typed error" plus each failing outcome's count. */
export function countLine(verdicts: readonly Verdict[]): string {
  const counts = new Map<Outcome, number>();
  for (const v of verdicts) counts.set(v.outcome, (counts.get(v.outcome) ?? 0) + 1);
  const parts = [...counts].sort((a, b) => b[1] - a[1]).map(([o, n]) => `${n} ${o}`);
  return `${verdicts.length} cases: ${parts.join(', ')}`;
}

/** One paragraph per failing case: what it was, what happened, how to rerun it. */
export function describeFailures(verdicts: readonly Verdict[]): string {
  return verdicts
    .filter((v) => !passing.includes(v.outcome))
    .map((v) => `${v.fuzzCase.name}: ${v.outcome} (${v.detail})\n  llfc ${v.fuzzCase.argv.join(' ')}\n  ${v.stderr.trim().split('\n').slice(0, 6).join('\n  ')}`)
    .join('\n');
}
