/**
 * `llfc slurm` on a real single-node Slurm cluster (scripts/slurm/start-cluster.sh): an 8-shard
 * array of `analyze` and its reduction give the single-process report; a shard cancelled while
 * it runs fails the run, and re-running that shard alone (as its script says), then the whole
 * array, gives the same report again.
 */
import { spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { PARTIAL_SUFFIX, slurmFiles } from '../../lib/shard/slurm-script.js';
import { cliPath, ensureBuiltCli } from '../fuzz/harness.js';
import { fixture, tempDir } from '../helpers.js';
import { joinCluster, sleep, slurm, waitFor } from './cluster.js';

const joined = await joinCluster();
// The jobs run the llfc that submitted them: bin/llfc.js on dist/, as users run it (and without
// compiling TypeScript in every shard).
if ('cluster' in joined) ensureBuiltCli();
const cluster = 'cluster' in joined ? joined.cluster : undefined;
const tmp = tempDir();
afterAll(async () => {
  await cluster?.release();
  tmp.cleanup();
});

const pair = [fixture('models', 'mlp_a.onnx'), fixture('models', 'mlp_b.onnx')];
const data = ['--data', fixture('data', 'fashion_test_x.npy'), '--labels', fixture('data', 'fashion_test_y.npy')];
const SHARDS = 8;

/** `node bin/llfc.js …args` with the cluster, and `env`, in the environment (the jobs it submits inherit both). */
function llfc(args: readonly string[], env: NodeJS.ProcessEnv = {}): SpawnSyncReturns<string> {
  return spawnSync(process.execPath, [cliPath, ...args], { encoding: 'utf8', timeout: 120_000, env: { ...process.env, ...cluster?.env, ...env } });
}

/**
 * The environment in which array task `task`'s pass holds until the task is cancelled, having
 * written `marker` (hold-shard.cjs, preloaded into every job of the array).
 */
function holdingTask(task: number, marker: string): NodeJS.ProcessEnv {
  const preload = `--require ${JSON.stringify(fileURLToPath(new URL('./hold-shard.cjs', import.meta.url)))}`;
  return { NODE_OPTIONS: [process.env.NODE_OPTIONS, preload].filter(Boolean).join(' '), LLFC_TEST_HOLD_TASK: String(task), LLFC_TEST_HOLD_MARKER: marker };
}

/** The job ids `llfc slurm` printed: the shards' array and the reduction. */
function submitted(stdout: string): { shards: string; reduce: string } {
  const m = /as array job (\d+) and the reduction as job (\d+)/.exec(stdout);
  if (!m) throw new Error(`llfc slurm printed no job ids:\n${stdout}`);
  cluster!.own(m[1]!, m[2]!);
  return { shards: m[1]!, reduce: m[2]! };
}

/**
 * The two reports agree: the same fields; every statistic to 1e-12 relative, accuracies and
 * counts exactly. When the report was made is the one field that may differ.
 */
function expectSameReport(actual: unknown, expected: unknown, path = 'report'): void {
  if (typeof expected === 'number' && typeof actual === 'number') {
    if (/accuracy|samples|skipped/i.test(path) || Number.isInteger(expected)) expect(actual, path).toBe(expected);
    else expect(Math.abs(actual - expected), path).toBeLessThanOrEqual(1e-12 * Math.max(Math.abs(actual), Math.abs(expected)));
  } else if (expected !== null && typeof expected === 'object') {
    expect(typeof actual, path).toBe('object');
    const keys = Object.keys(expected).filter((k) => k !== 'createdAt');
    expect(Object.keys(actual as object).filter((k) => k !== 'createdAt'), path).toEqual(keys);
    for (const k of keys) expectSameReport((actual as Record<string, unknown>)[k], (expected as Record<string, unknown>)[k], `${path}.${k}`);
  } else {
    expect(actual, path).toEqual(expected);
  }
}

const readJson = (file: string): unknown => JSON.parse(readFileSync(file, 'utf8'));
const partial = (work: string, i: number): string => `${slurmFiles(work).partialPrefix}${i}${PARTIAL_SUFFIX}`;

/** The single-process report, made once (while the cluster runs the first array). */
let singleReport: unknown;
function single(): unknown {
  if (singleReport === undefined) {
    const out = join(tmp.dir, 'single.json');
    const r = llfc(['analyze', ...pair, ...data, '--out', out, '--quiet']);
    if (r.status !== 0) throw new Error(`llfc analyze failed: ${r.stderr}`);
    singleReport = readJson(out);
  }
  return singleReport;
}

if ('skip' in joined) {
  console.warn(`Slurm end-to-end tests skipped: ${joined.skip}`);
  it.skip(`Slurm end-to-end: skipped, Slurm cannot start here (${joined.skip})`, () => {});
}

describe.skipIf(!cluster)('llfc slurm on a single-node Slurm cluster', () => {

  it(`an ${SHARDS}-shard array of analyze and its reduction give the single-process report: statistics to 1e-12 relative, accuracies exactly`, async () => {
    const { env } = cluster!;
    const out = join(tmp.dir, 'report.json');
    const run = llfc(['slurm', 'analyze', ...pair, ...data, '--shards', String(SHARDS), '--out', out]);
    expect(run.stderr).toBe('');
    expect(run.status).toBe(0);
    const jobs = submitted(run.stdout);
    single();
    const work = join(tmp.dir, 'report.slurm');
    const shards = await waitFor(env, jobs.shards, work);
    expect([...shards.values()]).toEqual(Array(SHARDS).fill('COMPLETED'));
    expect([...(await waitFor(env, jobs.reduce, work)).values()]).toEqual(['COMPLETED']);
    expectSameReport(readJson(out), single());
  }, 200_000);

  it('a shard cancelled while it runs fails the run (no partial, the reduction cancelled); re-run alone as its script says, then as a whole array, the report is still exact', async () => {
    const { env } = cluster!;
    const out = join(tmp.dir, 'rerun.json');
    const work = join(tmp.dir, 'rerun.slurm');
    const args = ['slurm', 'analyze', ...pair, ...data, '--shards', String(SHARDS), '--out', out];
    // Shard 3's pass holds until it is cancelled, so it is cancelled while it runs, its partial not
    // yet written: a shard of ~250 samples would otherwise often finish before scancel lands.
    const held = join(tmp.dir, 'held-3');
    const first = llfc(args, holdingTask(3, held));
    expect(first.status, first.stderr).toBe(0);
    const jobs = submitted(first.stdout);
    const deadline = Date.now() + 120_000;
    while (!existsSync(held)) {
      if (Date.now() > deadline) throw new Error(`shard 3 of job ${jobs.shards} did not start its pass in 120 s; logs in ${work}`);
      await sleep(100);
    }
    slurm(env, 'scancel', `${jobs.shards}_3`);
    const states = await waitFor(env, jobs.shards, work);
    expect(states.get('3')).toBe('CANCELLED');
    expect([...states].filter(([task]) => task !== '3').map(([, s]) => s)).toEqual(Array(SHARDS - 1).fill('COMPLETED'));
    expect([...(await waitFor(env, jobs.reduce, work)).values()]).toEqual(['CANCELLED']);
    expect(existsSync(partial(work, 3))).toBe(false);
    expect(existsSync(out)).toBe(false);

    // The re-run the array script documents, for shard 3 alone.
    const script = readFileSync(join(work, 'shards.sbatch'), 'utf8');
    const rerun = /^# Re-run failed shards alone.*\n#\s+(.+)$/m.exec(script)?.[1]?.replace('--array=3,5', '--array=3');
    expect(rerun).toContain('--array=3 ');
    const others = [0, 1, 2, 4, 5, 6, 7].map((i) => statSync(partial(work, i)).mtimeMs);
    const reduceJob = /Submitted batch job (\d+)/.exec(slurm(env, 'bash', '-c', rerun!))?.[1];
    expect(reduceJob).toBeDefined();
    cluster!.own(reduceJob!);
    expect([...(await waitFor(env, reduceJob!, work)).values()]).toEqual(['COMPLETED']);
    expect([0, 1, 2, 4, 5, 6, 7].map((i) => statSync(partial(work, i)).mtimeMs)).toEqual(others);
    expectSameReport(readJson(out), single());

    // The whole array again with the same settings: every shard finds its partial and reuses it.
    const partials = Array.from({ length: SHARDS }, (_, i) => readFileSync(partial(work, i)));
    const again = llfc(args);
    expect(again.status, again.stderr).toBe(0);
    const againJobs = submitted(again.stdout);
    expect([...(await waitFor(env, againJobs.shards, work)).values()]).toEqual(Array(SHARDS).fill('COMPLETED'));
    expect([...(await waitFor(env, againJobs.reduce, work)).values()]).toEqual(['COMPLETED']);
    partials.forEach((bytes, i) => expect(readFileSync(partial(work, i)).equals(bytes), `partial ${i}`).toBe(true));
    expectSameReport(readJson(out), single());
  }, 300_000);
});
