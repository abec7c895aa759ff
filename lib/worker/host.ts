/** The caller's side: starts a task in a worker thread and relays progress, cancellation and errors. */
import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
import * as errors from '../errors.js';
import { CancelledError, LlfcError } from '../errors.js';
import { noteInputRead } from '../outputs.js';
import { passiveOpenMp } from '../native.js';
import type { RunControl } from '../progress.js';
import type { TaskMap, TaskName } from './tasks.js';

interface SerializedError {
  name: string;
  message: string;
  stack?: string;
  /** A typed error's own fields, its code among them. */
  fields?: Record<string, unknown>;
}

/** Rebuilds the typed error thrown in the worker, so `instanceof` works for the caller. */
function reviveError(data: SerializedError): Error {
  const classes = errors as unknown as Record<string, new (...args: never[]) => Error>;
  const Class = classes[data.name] ?? (data.fields ? LlfcError : Error);
  const error = Object.create(Class.prototype) as Error;
  Object.defineProperties(error, {
    message: { value: data.message, enumerable: false, writable: true },
    name: { value: data.name, enumerable: false, writable: true },
    stack: { value: data.stack, enumerable: false, writable: true },
  });
  Object.assign(error, data.fields);
  return error;
}

/** Set in the CLI's bundle (scripts/build.js) to the worker's bundle beside it. */
declare const LLFC_WORKER_BUNDLE: string | undefined;

/**
 * The worker runs entry.js (in the CLI's bundle, the worker's bundle); from source (tests
 * under tsx) it runs entry.ts after registering tsx's loader inside the worker, which does not
 * inherit the parent's loader hooks.
 */
function startWorker(workerData: unknown): Worker {
  // The worker's native addon loads OpenMP, which reads the process environment, set only from here.
  passiveOpenMp();
  if (!import.meta.url.endsWith('.ts')) return new Worker(new URL(typeof LLFC_WORKER_BUNDLE === 'string' ? LLFC_WORKER_BUNDLE : './entry.js', import.meta.url), { workerData });
  const tsx = pathToFileURL(createRequire(import.meta.url).resolve('tsx/esm/api')).href.replace(/index\.cjs$/, 'index.mjs');
  const entry = new URL('./entry.ts', import.meta.url).href;
  const bootstrap = `import(${JSON.stringify(tsx)}).then((m) => { m.register(); return import(${JSON.stringify(entry)}); });`;
  return new Worker(bootstrap, { eval: true, workerData });
}

/** A worker started ahead of its task (prestartWorker), until a task takes it or it exits. */
let standby: Worker | undefined;

/**
 * Starts the worker of the process's first task now, without its task: it loads its modules
 * (onnxruntime, the ONNX schema, the checks) while the caller still loads and parses, and the
 * first runTask hands it the task. Unreferenced until then, so a process that never runs a
 * task exits as before.
 */
export function prestartWorker(): void {
  if (standby) return;
  const worker = startWorker(undefined);
  worker.unref();
  worker.once('exit', () => {
    if (standby === worker) standby = undefined;
  });
  standby = worker;
}

/** The standby worker with the task posted to it, or a new worker started with the task. */
function workerFor(task: TaskName, request: unknown): Worker {
  const worker = standby;
  if (!worker) return startWorker({ task, request });
  standby = undefined;
  worker.ref();
  worker.postMessage({ type: 'start', task, request });
  return worker;
}

/** Runs a task off the main thread; resolves with its result. */
export function runTask<K extends TaskName>(task: K, request: TaskMap[K]['request'], control: RunControl = {}): Promise<TaskMap[K]['result']> {
  if (control.signal?.aborted) return Promise.reject(new CancelledError());
  const worker = workerFor(task, request);
  return new Promise((resolve, reject) => {
    let settled = false;
    const onAbort = (): void => worker.postMessage({ type: 'abort', reason: typeof control.signal?.reason === 'string' ? control.signal.reason : 'cancelled' });
    control.signal?.addEventListener('abort', onAbort, { once: true });
    const finish = (f: () => void): void => {
      if (settled) return;
      settled = true;
      control.signal?.removeEventListener('abort', onAbort);
      f();
      void worker.terminate();
    };
    worker.on('message', (message: { type: string; event?: never; result?: never; error?: SerializedError; inputsRead?: string[] }) => {
      for (const file of message.inputsRead ?? []) noteInputRead(file);
      if (message.type === 'progress') control.onProgress?.(message.event!);
      else if (message.type === 'result') finish(() => resolve(message.result!));
      else if (message.type === 'error') finish(() => reject(reviveError(message.error!)));
    });
    worker.on('error', (error) => finish(() => reject(error)));
    worker.on('exit', (code) => finish(() => reject(new errors.NativeError(`the worker thread exited with code ${code} before finishing ${task}`))));
  });
}
