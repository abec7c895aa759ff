/**
 * The single-node Slurm cluster the Slurm tests submit to: started by
 * scripts/slurm/start-cluster.sh, or the one already running. While the tests use it they hold
 * its users lock (shared), so that another run finishing meanwhile leaves it running; at the end
 * a cluster this run started is stopped unless someone else still uses it.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { fixture } from '../helpers.js';

const scripts = fixture('..', '..', 'scripts', 'slurm');

export interface TestCluster {
  /** What a Slurm command of the tests needs in its environment. */
  readonly env: { SLURM_CONF: string };
  /** Notes jobs this run submitted: those still queued or running at the end are cancelled. */
  own(...jobs: string[]): void;
  /** Cancels this run's jobs and lets go of the cluster; stops it when this run started it and nobody else uses it. */
  release(): Promise<void>;
}

/**
 * Starts (or joins) the cluster; `skip` says why it cannot start here (not root, Slurm or
 * munge not installed). With LLFC_REQUIRE_SLURM=1 (CI) that is an error instead.
 */
export async function joinCluster(): Promise<{ cluster: TestCluster } | { skip: string }> {
  const cannot = (why: string): { skip: string } => {
    if (process.env.LLFC_REQUIRE_SLURM === '1') throw new Error(`LLFC_REQUIRE_SLURM=1 but Slurm cannot start here: ${why}`);
    return { skip: why };
  };
  if (process.getuid?.() !== 0) return cannot('not root (slurmd runs jobs as their users, so the test cluster is started as root)');
  const dir = process.env.LLFC_SLURM_DIR ?? '/var/tmp/llfc-slurm';
  mkdirSync(dir, { recursive: true });
  const holder = await holdUsersLock(join(dir, 'users.lock'));
  const started = spawnSync('bash', [join(scripts, 'start-cluster.sh')], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 180_000 });
  if (started.status !== 0) {
    holder.stdin!.end();
    if (started.status === 3) return cannot(started.stderr.trim());
    throw new Error(`scripts/slurm/start-cluster.sh failed (exit ${started.status}):\n${started.stderr}`);
  }
  const conf = /^export SLURM_CONF=(.+)$/m.exec(started.stdout)?.[1];
  if (!conf) throw new Error(`scripts/slurm/start-cluster.sh printed no SLURM_CONF:\n${started.stdout}`);
  const startedHere = /starting slurmctld/.test(started.stderr);
  const jobs: string[] = [];
  return {
    cluster: {
      env: { SLURM_CONF: conf },
      own: (...ids) => jobs.push(...ids),
      async release() {
        if (jobs.length > 0) spawnSync('scancel', jobs, { stdio: 'ignore', env: { ...process.env, SLURM_CONF: conf }, timeout: 60_000 });
        const ended = new Promise((resolve) => holder.once('exit', resolve));
        holder.stdin!.end();
        await ended;
        if (startedHere) spawnSync('bash', [join(scripts, 'stop-cluster.sh'), '--if-unused'], { stdio: 'ignore', timeout: 60_000 });
      },
    },
  };
}

/**
 * A process holding the lock shared until its stdin closes (when this process ends, too, so a
 * crash cannot leave it held); resolves once the lock is held.
 */
function holdUsersLock(lock: string): Promise<ChildProcess> {
  const holder = spawn('flock', ['--shared', '--close', lock, 'sh', '-c', 'echo held; exec cat >/dev/null'], { stdio: ['pipe', 'pipe', 'inherit'] });
  return new Promise((resolve, reject) => {
    holder.once('error', reject);
    holder.stdout!.once('data', () => resolve(holder));
  });
}

/** A Slurm command's output; it must succeed. */
export function slurm(env: TestCluster['env'], command: string, ...args: string[]): string {
  const r = spawnSync(command, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env }, timeout: 60_000 });
  if (r.status !== 0) throw new Error(`${command} ${args.join(' ')} failed (exit ${r.status}): ${r.stderr}`);
  return r.stdout;
}

/** Each record of a job (an array: one per task) as `task → state` (`-` for a job that is no array). */
export function jobStates(env: TestCluster['env'], job: string): Map<string, string> {
  const states = new Map<string, string>();
  for (const line of slurm(env, 'scontrol', '-o', 'show', 'job', job).split('\n').filter(Boolean)) {
    const field = (name: string): string | undefined => new RegExp(`(?:^| )${name}=(\\S+)`).exec(line)?.[1];
    states.set(field('ArrayTaskId') ?? '-', field('JobState')!);
  }
  return states;
}

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

const ENDED = /^(COMPLETED|FAILED|CANCELLED|TIMEOUT|OUT_OF_MEMORY|NODE_FAIL|PREEMPTED|BOOT_FAIL|DEADLINE)$/;

/** Waits until every record of the job has ended (150 s at most; `logs` says where to look then); returns their states. */
export async function waitFor(env: TestCluster['env'], job: string, logs: string): Promise<Map<string, string>> {
  const deadline = Date.now() + 150_000;
  for (;;) {
    const states = jobStates(env, job);
    if ([...states.values()].every((s) => ENDED.test(s))) return states;
    if (Date.now() > deadline) throw new Error(`job ${job} did not end in 150 s: ${JSON.stringify([...states])}; logs in ${logs}`);
    await sleep(500);
  }
}
