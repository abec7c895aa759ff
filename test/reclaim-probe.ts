/**
 * Probe of test/reclaim.test.ts, run as `node --import tsx reclaim-probe.ts`: collectGarbage()
 * in a worker thread, and the flags both threads see after it; prints one JSON line per thread.
 */
import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';
import vm from 'node:vm';
import { isMainThread, parentPort, Worker } from 'node:worker_threads';
import { collectGarbage } from '../lib/reclaim.js';

/**
 * Megabytes of ArrayBuffers alive before and after dropping a 200 MB one and collecting; V8 frees
 * dead backing stores on a background thread, so "after" is read once that is done (at most 2 s).
 */
async function dropAndCollect(): Promise<{ before: number; after: number }> {
  let buffer: Float32Array | null = new Float32Array(50e6).fill(1);
  const before = Math.round(process.memoryUsage().arrayBuffers / 1e6);
  buffer = null;
  collectGarbage();
  const until = Date.now() + 2000;
  while (process.memoryUsage().arrayBuffers > 100e6 && Date.now() < until) await new Promise((r) => setTimeout(r, 20));
  return { before, after: Math.round(process.memoryUsage().arrayBuffers / 1e6) + (buffer ? 1 : 0) };
}

/** Whether a context created now gets a `gc` (the process's --expose-gc flag is set). */
const flagSet = (): boolean => vm.runInNewContext('typeof gc') === 'function';

if (isMainThread) {
  // The worker loads this file from source through tsx, which workers do not inherit.
  const tsx = pathToFileURL(createRequire(import.meta.url).resolve('tsx/esm/api')).href.replace(/index\.cjs$/, 'index.mjs');
  const worker = new Worker(`import(${JSON.stringify(tsx)}).then((m) => { m.register(); return import(${JSON.stringify(import.meta.url)}); });`, { eval: true });
  worker.on('message', (m) => {
    console.log(JSON.stringify(m));
    console.log(JSON.stringify({ thread: 'main', flagSet: flagSet(), globalGc: typeof (globalThis as { gc?: unknown }).gc }));
  });
} else {
  parentPort!.postMessage({ thread: 'worker', ...(await dropAndCollect()), flagSet: flagSet(), globalGc: typeof (globalThis as { gc?: unknown }).gc });
}
