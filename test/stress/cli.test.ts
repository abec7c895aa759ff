/**
 * Stress without a benchmark: concurrent commands writing into one folder, and Ctrl-C (SIGINT)
 * at random moments of running commands. Outputs appear complete or not at all.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Rng } from '../../lib/align/random.js';
import { decodeModel } from '../../lib/onnx/model.js';
import { cliPath, ensureBuiltCli } from '../fuzz/harness.js';
import { fixture, tempDir } from '../helpers.js';

const tmp = tempDir();
beforeAll(() => ensureBuiltCli());
afterAll(() => tmp.cleanup());

const mlp = [fixture('models', 'mlp_a.onnx'), fixture('models', 'mlp_b.onnx')];
const data = ['--data', fixture('data', 'fashion_test_x.npy'), '--labels', fixture('data', 'fashion_test_y.npy'), '--mean', '0.286', '--std', '0.353'];

interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
  stderr: string;
  /** The progress lines it printed: from the first on, its work and its Ctrl-C handler run. */
  lines: number;
  /** Milliseconds from its last progress line to its exit: the results computed, written and committed. */
  afterLast: number;
  /** Whether the SIGINT was sent while the command was running. */
  interrupted: boolean;
}

/** When a run's SIGINT is sent: `delay` milliseconds after its progress line number `line` (from 1). */
interface Moment {
  line: number;
  delay: number;
}

/** A whole progress line (a partly received one could read as another step: 1/13 of 1/132). */
const PROGRESS_LINE = /^llfc: .+ \d+\/\d+\n/gm;

/**
 * Runs `node bin/llfc.js`. With `progress`, it reports each step on stderr (LLFC_PROGRESS=lines).
 * With `interruptAt`, SIGINT follows that progress line: where in the work it lands is set by
 * the command's own progress, not by how fast a loaded machine runs it.
 */
function run(argv: string[], options: { progress?: boolean; interruptAt?: Moment } = {}): Promise<Exit> {
  return new Promise((resolve, reject) => {
    const env = { ...process.env, ...(options.progress ? { LLFC_PROGRESS: 'lines' } : {}) };
    const child = spawn(process.execPath, [cliPath, ...argv], { stdio: ['ignore', 'ignore', 'pipe'], env });
    const at = options.interruptAt;
    let stderr = '';
    let lines = 0;
    let lastAt = NaN;
    let interrupted = false;
    let exited = false;
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
      const seen = stderr.match(PROGRESS_LINE)?.length ?? 0;
      if (seen === lines) return;
      const reached = at !== undefined && lines < at.line && seen >= at.line;
      lines = seen;
      lastAt = performance.now();
      if (!reached) return;
      setTimeout(() => {
        if (!exited) interrupted = child.kill('SIGINT');
      }, at.delay);
    });
    child.on('error', reject);
    child.on('exit', () => (exited = true));
    child.on('close', (code, signal) => resolve({ code, signal, stderr, lines, afterLast: performance.now() - lastAt, interrupted }));
  });
}

/** Runs `jobs` two at a time. */
async function inPairs<T>(jobs: (() => Promise<T>)[]): Promise<T[]> {
  const results: T[] = new Array(jobs.length);
  let next = 0;
  const lane = async (): Promise<void> => {
    while (next < jobs.length) {
      const i = next++;
      results[i] = await jobs[i]!();
    }
  };
  await Promise.all([lane(), lane()]);
  return results;
}

/** A problem with a written output (it must be complete), or null. */
function incomplete(file: string): string | null {
  const bytes = readFileSync(file);
  try {
    if (file.endsWith('.json')) JSON.parse(bytes.toString('utf8'));
    else if (file.endsWith('.html')) {
      if (!bytes.toString('utf8').trimEnd().endsWith('</html>')) return `${file} does not end with </html>`;
    } else if (file.endsWith('.onnx')) decodeModel(bytes, file);
    else if (file.endsWith('.safetensors')) JSON.parse(bytes.subarray(8, 8 + Number(bytes.readBigUInt64LE(0))).toString('utf8'));
  } catch (error) {
    return `${file}: ${(error as Error).message}`;
  }
  return null;
}

/** A command under interruption: its argv writing into `dir`, and the outputs it names. */
interface Job {
  name: string;
  argv(dir: string): string[];
  outputs: string[];
}

const JOBS: readonly Job[] = [
  { name: 'analyze', argv: (dir) => ['analyze', ...mlp, ...data, '--limit', '400', '--batch-size', '50', '--out', join(dir, 'r.json'), '--html', join(dir, 'r.html')], outputs: ['r.json', 'r.html'] },
  { name: 'lmc', argv: (dir) => ['lmc', ...mlp, ...data, '--limit', '600', '--batch-size', '50', '--out', join(dir, 'r.json')], outputs: ['r.json'] },
  {
    name: 'align',
    argv: (dir) => ['align', ...mlp, '--method', 'activation', '--data', fixture('data', 'fashion_test_x.npy'), '--limit', '400', '-o', join(dir, 'b.onnx'), '--perm-out', join(dir, 'p.json'), '--safetensors', join(dir, 'b.safetensors')],
    outputs: ['b.onnx', 'p.json', 'b.safetensors'],
  },
];

describe('stress: concurrent and interrupted commands', () => {
  it('8 concurrent analyze runs writing into one folder (pairs naming the same files) all succeed with complete, identical reports and no temporary file', async () => {
    const dir = join(tmp.dir, 'concurrent');
    mkdirSync(dir);
    const names = (i: number) => [`report-${i % 4}.json`, `report-${i % 4}.html`];
    const exits = await Promise.all(
      Array.from({ length: 8 }, (_, i) => run(['analyze', ...mlp, ...data, '--limit', '300', '--alphas', '0.5', '--out', join(dir, names(i)[0]!), '--html', join(dir, names(i)[1]!), '--quiet'])),
    );
    for (const e of exits) expect({ code: e.code, signal: e.signal, stderr: e.stderr }).toEqual({ code: 0, signal: null, stderr: '' });
    const expected = [0, 1, 2, 3].flatMap(names).sort();
    expect(readdirSync(dir).sort()).toEqual(expected);
    for (const f of expected) expect(incomplete(join(dir, f))).toBeNull();
    const reports = [0, 1, 2, 3].map((i) => ({ ...JSON.parse(readFileSync(join(dir, `report-${i}.json`), 'utf8')), createdAt: undefined }));
    for (const r of reports.slice(1)) expect(r).toEqual(reports[0]);
  }, 300_000);

  it('50 SIGINTs at random moments of running analyze, lmc and align (the 30 sent on a progress line before the last all land while it runs): exit 0 or 130 (or SIGINT while exiting after the work), every output complete or none; never a temporary file', async () => {
    // Each command's progress lines, and how long it runs after the last one (the results computed and written).
    const timings = await inPairs(JOBS.map((job, j) => async () => {
      const dir = join(tmp.dir, `timing-${j}`);
      mkdirSync(dir);
      const e = await run(job.argv(dir), { progress: true });
      expect(e.code).toBe(0);
      expect(e.lines).toBeGreaterThan(1);
      return e;
    }));
    // Three in five signals follow a random progress line before the last at once: the command
    // still has work to report then, so they land whatever the load. The others fall at a random
    // time of what follows the last line as the timing run took it (results computed, written,
    // committed), and may come after the exit.
    const rng = new Rng(50);
    const trials = Array.from({ length: 50 }, (_, i) => {
      const { lines, afterLast } = timings[i % JOBS.length]!;
      const r = rng.next() / 2 ** 32;
      const working = i % 5 < 3;
      const moment = working ? { line: 1 + Math.floor(r * (lines - 1)), delay: 0 } : { line: lines, delay: r * afterLast };
      return { job: JOBS[i % JOBS.length]!, working, moment, dir: join(tmp.dir, `sigint-${i}`) };
    });
    const exits = await inPairs(trials.map((t) => () => {
      mkdirSync(t.dir);
      return run(t.job.argv(t.dir), { progress: true, interruptAt: t.moment });
    }));
    const problems: string[] = [];
    exits.forEach((e, i) => {
      const { job, moment, dir } = trials[i]!;
      const what = `${job.name} with SIGINT ${moment.delay.toFixed(0)} ms after progress line ${moment.line}`;
      const present = readdirSync(dir);
      const stray = present.filter((f) => !job.outputs.includes(f));
      if (stray.length > 0) problems.push(`${what}: left ${stray.join(', ')}`);
      const written = job.outputs.filter((f) => present.includes(f));
      // All outputs or none: a signal after the commit may still end the run with 130.
      if (written.length > 0 && written.length < job.outputs.length) problems.push(`${what}: exit ${e.code} with only ${written.join(', ')} written`);
      if (e.code === 0 && written.length === 0) problems.push(`${what}: exit 0 without its outputs`);
      for (const f of written) {
        const problem = incomplete(join(dir, f));
        if (problem) problems.push(`${what}: ${problem}`);
      }
      // A signal that lands as the process exits, its handlers gone, ends it by SIGINT (a shell
      // reports 130): acceptable only once everything is written, i.e. the work was done.
      const killedAtExit = e.signal === 'SIGINT' && written.length === job.outputs.length;
      if (e.code === 130) {
        if (!/interrupted/.test(e.stderr)) problems.push(`${what}: exit 130 without saying it was interrupted: ${e.stderr.trim()}`);
      } else if (e.code !== 0 && !killedAtExit) {
        problems.push(`${what}: exit ${e.code ?? `by ${e.signal}`}: ${e.stderr.trim().split('\n').slice(0, 3).join(' | ')}`);
      }
    });
    const interrupted = exits.filter((e) => e.interrupted).length;
    const after = trials.filter((t, i) => exits[i]!.code === 130 && readdirSync(t.dir).length > 0).length;
    const atExit = exits.filter((e) => e.signal === 'SIGINT').length;
    const late = trials.filter((t, i) => !t.working && exits[i]!.interrupted).length;
    const counts = `${exits.length} runs, ${interrupted} signalled while running (${late} of them after the last progress line): ${exits.filter((e) => e.code === 130).length} exit 130 (${after} of them after writing), ${exits.filter((e) => e.code === 0).length} exit 0, ${atExit} ended by SIGINT while exiting`;
    process.stdout.write(`llfc stress: ${counts}\n`);
    expect(problems).toEqual([]);
    // Most signals must land while the command runs, or the test checks little: those sent on a
    // progress line before the last all do.
    expect(trials.flatMap((t, i) => (t.working && !exits[i]!.interrupted ? [`${t.job.name} at progress line ${t.moment.line} of ${timings[i % JOBS.length]!.lines}`] : []))).toEqual([]);
  }, 600_000);
});
