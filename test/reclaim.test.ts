/**
 * lib/reclaim.ts collects spent buffers in worker threads without changing the process's V8
 * flags. The probe (test/reclaim-probe.ts) runs in a child process, so the flags it sees are
 * its own, not the test runner's.
 */
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const probe = fileURLToPath(new URL('./reclaim-probe.ts', import.meta.url));

interface ThreadReport {
  thread: 'worker' | 'main';
  before?: number;
  after?: number;
  flagSet: boolean;
  globalGc: string;
}

function runProbe(nodeFlags: string[]): Map<string, ThreadReport> {
  const r = spawnSync(process.execPath, [...nodeFlags, '--import', 'tsx', probe], { encoding: 'utf8', timeout: 60_000 });
  expect(r.status, r.stderr).toBe(0);
  const reports = r.stdout.trim().split('\n').map((line) => JSON.parse(line) as ThreadReport);
  return new Map(reports.map((t) => [t.thread, t]));
}

describe('collectGarbage', () => {
  it('in a worker thread frees a dropped 200 MB buffer, and leaves --expose-gc unset in a process started without it', () => {
    const threads = runProbe([]);
    expect(threads.get('worker')).toMatchObject({ before: 200, after: 0, flagSet: false, globalGc: 'undefined' });
    // The caller's own thread gets no gc global either.
    expect(threads.get('main')).toMatchObject({ flagSet: false, globalGc: 'undefined' });
  });

  it('leaves --expose-gc set in a process started with it', () => {
    const threads = runProbe(['--expose-gc']);
    expect(threads.get('worker')).toMatchObject({ after: 0, flagSet: true });
    expect(threads.get('main')).toMatchObject({ flagSet: true, globalGc: 'function' });
  });
});
