/**
 * The single-node Slurm cluster of scripts/slurm on this machine: starting it again changes
 * nothing, job arrays and dependencies run, scancel ends a running task.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { fixture, tempDir } from '../helpers.js';
import { joinCluster, sleep, slurm, waitFor } from './cluster.js';

const joined = await joinCluster();
const cluster = 'cluster' in joined ? joined.cluster : undefined;
const tmp = tempDir();
afterAll(async () => {
  await cluster?.release();
  tmp.cleanup();
});

/** Submits a batch script written into the temporary folder; returns its job id. */
function submit(name: string, lines: string[], ...options: string[]): string {
  const script = join(tmp.dir, name);
  writeFileSync(script, ['#!/bin/bash', ...lines, ''].join('\n'));
  const id = slurm(cluster!.env, 'sbatch', '--parsable', ...options, script).trim().split(';')[0]!;
  cluster!.own(id);
  return id;
}

if ('skip' in joined) {
  console.warn(`Slurm cluster tests skipped: ${joined.skip}`);
  it.skip(`Slurm cluster: skipped, Slurm cannot start here (${joined.skip})`, () => {});
}

describe.skipIf(!cluster)('the single-node Slurm cluster (scripts/slurm/start-cluster.sh)', () => {
  it('starting it again leaves the running daemons as they are and finds the node ready', () => {
    const again = spawnSync('bash', [fixture('..', '..', 'scripts', 'slurm', 'start-cluster.sh')], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 120_000 });
    expect(again.status, again.stderr).toBe(0);
    expect(again.stderr).not.toMatch(/starting|restarting|generating/);
    expect(again.stdout).toBe(`export SLURM_CONF=${cluster!.env.SLURM_CONF}\n`);
    expect(slurm(cluster!.env, 'sinfo', '-h', '-o', '%t').trim()).toMatch(/^(idle|mix|alloc)$/);
  });

  it('an sbatch --array job runs every task once with its SLURM_ARRAY_TASK_ID and SLURM_ARRAY_TASK_COUNT; a job depending on it (afterok) runs after all of them', async () => {
    const array = submit('array.sh', [`#SBATCH --array=0-3`, `#SBATCH --output=${tmp.dir}/task-%a.out`, 'echo "$SLURM_ARRAY_TASK_ID $SLURM_ARRAY_TASK_COUNT $(date +%s%N)"']);
    const after = submit('after.sh', [`#SBATCH --output=${tmp.dir}/after.out`, 'date +%s%N'], `--dependency=afterok:${array}`);
    expect([...(await waitFor(cluster!.env, array, tmp.dir)).values()]).toEqual(['COMPLETED', 'COMPLETED', 'COMPLETED', 'COMPLETED']);
    expect([...(await waitFor(cluster!.env, after, tmp.dir)).values()]).toEqual(['COMPLETED']);
    const tasks = [0, 1, 2, 3].map((i) => readFileSync(join(tmp.dir, `task-${i}.out`), 'utf8').trim().split(' '));
    tasks.forEach(([id, count], i) => expect([id, count]).toEqual([String(i), '4']));
    const ended = BigInt(readFileSync(join(tmp.dir, 'after.out'), 'utf8').trim());
    for (const [, , time] of tasks) expect(ended > BigInt(time!)).toBe(true);
  }, 150_000);

  it('scancel ends a running task (its process is gone, the task CANCELLED) and the job waiting on the array with --kill-on-invalid-dep is cancelled', async () => {
    const array = submit('cancel.sh', [`#SBATCH --array=0-1`, `#SBATCH --output=${tmp.dir}/cancel-%a.out`, `echo $$ > ${tmp.dir}/pid-$SLURM_ARRAY_TASK_ID`, `[ "$SLURM_ARRAY_TASK_ID" = 0 ] || sleep 120`, `touch ${tmp.dir}/done-$SLURM_ARRAY_TASK_ID`]);
    const after = submit('after-cancel.sh', ['true'], `--dependency=afterok:${array}`, '--kill-on-invalid-dep=yes', `--output=${tmp.dir}/after-cancel.out`);
    const pidFile = join(tmp.dir, 'pid-1');
    const deadline = Date.now() + 120_000;
    while (!existsSync(pidFile) || readFileSync(pidFile, 'utf8').trim() === '') {
      if (Date.now() > deadline) throw new Error(`task 1 of job ${array} did not start in 120 s`);
      await sleep(100);
    }
    const pid = Number(readFileSync(pidFile, 'utf8'));
    expect(existsSync(`/proc/${pid}`)).toBe(true);
    slurm(cluster!.env, 'scancel', `${array}_1`);
    const states = await waitFor(cluster!.env, array, tmp.dir);
    expect([states.get('0'), states.get('1')]).toEqual(['COMPLETED', 'CANCELLED']);
    expect([...(await waitFor(cluster!.env, after, tmp.dir)).values()]).toEqual(['CANCELLED']);
    const stat = existsSync(`/proc/${pid}/status`) ? readFileSync(`/proc/${pid}/status`, 'utf8') : 'gone';
    expect(stat === 'gone' || /^State:\s+Z/m.test(stat), stat).toBe(true);
    expect([existsSync(join(tmp.dir, 'done-0')), existsSync(join(tmp.dir, 'done-1'))]).toEqual([true, false]);
  }, 150_000);
});
