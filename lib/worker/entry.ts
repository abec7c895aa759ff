/**
 * The worker thread's side: runs one task, posts progress, result or error (with the files it
 * read beyond those named, for the caller's output gate), obeys abort.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { LlfcError } from '../errors.js';
import { inputsReadSoFar, type OutputFile } from '../outputs.js';
import { tasks, type TaskName } from './tasks.js';

/**
 * The large buffers of the files a task returns (a model's weights, its data file), handed to the
 * caller's thread rather than copied: the task is done with them. Small ones are copied: they
 * may lie in Node's shared Buffer pool, which must not be taken away.
 */
function transferables(result: unknown): ArrayBuffer[] {
  const files = (result as { files?: readonly OutputFile[] }).files ?? [];
  const buffers = new Set<ArrayBuffer>();
  for (const { content } of files) {
    for (const piece of typeof content === 'string' ? [] : content instanceof Uint8Array ? [content] : content) {
      if (piece.buffer instanceof ArrayBuffer && piece.buffer.byteLength >= TRANSFER_FROM) buffers.add(piece.buffer);
    }
  }
  return [...buffers];
}

const TRANSFER_FROM = 1 << 20;

interface Start {
  task: TaskName;
  request: never;
}

const controller = new AbortController();

async function run({ task, request }: Start): Promise<void> {
  try {
    const result = await tasks[task](request, {
      signal: controller.signal,
      onProgress: (event) => parentPort!.postMessage({ type: 'progress', event }),
    });
    parentPort!.postMessage({ type: 'result', result, inputsRead: inputsReadSoFar() }, transferables(result));
  } catch (error) {
    const e = error as Error;
    parentPort!.postMessage({
      type: 'error',
      // The typed error's own fields (code, file, sample, option, …) travel too, so the caller can read them.
      error: { name: e.name, message: e.message, stack: e.stack, fields: error instanceof LlfcError ? { ...error } : undefined },
      inputsRead: inputsReadSoFar(),
    });
  }
}

// The task comes with the worker (workerData) or, for a worker started ahead of its task
// (prestartWorker), in a 'start' message.
parentPort!.on('message', (message: { type: 'abort'; reason?: string } | ({ type: 'start' } & Start)) => {
  if (message.type === 'abort') controller.abort(message.reason ?? 'cancelled');
  else if (message.type === 'start') void run(message);
});
if (workerData) await run(workerData as Start);
