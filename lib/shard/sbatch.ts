/** Submits a sharded run's two scripts with Slurm's sbatch: the array, then the reduction waiting for it. */
import { execFile } from 'node:child_process';
import { SlurmError } from '../errors.js';
import type { SlurmFiles } from './slurm-script.js';

/** The job ids Slurm gave: the shards' array job and the reduce job. */
export interface SubmittedRun {
  readonly shards: string;
  readonly reduce: string;
}

/** Runs `sbatch --parsable …args` and returns the job id it prints (`id` or `id;cluster`). */
function sbatch(args: readonly string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile('sbatch', ['--parsable', ...args], { encoding: 'utf8', timeout: 120_000 }, (error, stdout, stderr) => {
      const command = `sbatch --parsable ${args.join(' ')}`;
      if ((error as NodeJS.ErrnoException | null)?.code === 'ENOENT') {
        reject(new SlurmError("sbatch not found: run llfc slurm where Slurm's commands are (a login node), or print the scripts with --print"));
      } else if (error) {
        reject(new SlurmError(`${command} failed: ${stderr.trim() || error.message}`));
      } else {
        const id = stdout.trim().split(';')[0]!;
        if (/^\d+$/.test(id)) resolve(id);
        else reject(new SlurmError(`${command} printed no job id: '${stdout.trim()}'`));
      }
    });
  });
}

/** Submits the array, then the reduction with `--dependency=afterok:<array>`. */
export async function submitRun(files: SlurmFiles): Promise<SubmittedRun> {
  const shards = await sbatch([files.shardsScript]);
  try {
    return { shards, reduce: await sbatch([`--dependency=afterok:${shards}`, files.reduceScript]) };
  } catch (error) {
    throw new SlurmError(`${(error as Error).message}\nthe shards run as array job ${shards}; submit the reduction once the problem is solved: sbatch --dependency=afterok:${shards} ${files.reduceScript}`);
  }
}
