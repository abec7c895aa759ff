/** Special files the fuzz cases plant: FIFOs and character devices (Node has no call for either). */
import { spawnSync } from 'node:child_process';
import { rmSync } from 'node:fs';
import { join } from 'node:path';

function run(command: string, args: string[]): void {
  const r = spawnSync(command, args, { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`${command} ${args.join(' ')} failed: ${r.error?.message ?? r.stderr}`);
}

export function mkfifoSync(path: string): void {
  run('mkfifo', [path]);
}

/** A character device node like /dev/full (major 1, minor 7): writes to it fail with ENOSPC. Needs root (CAP_MKNOD). */
export function mkFullDeviceSync(path: string): void {
  run('mknod', [path, 'c', '1', '7']);
}

/** Whether this process may create device nodes (root with CAP_MKNOD), tried in `dir`. */
export function canMakeDevices(dir: string): boolean {
  const probe = join(dir, '.device-probe');
  const made = spawnSync('mknod', [probe, 'c', '1', '7']).status === 0;
  rmSync(probe, { force: true });
  return made;
}
