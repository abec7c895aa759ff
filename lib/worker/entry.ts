/**
 * The worker thread's side: runs one task, posts progress, result or error (with the files it
 * read beyond those named, for the caller's output gate), obeys abort.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { LlfcError } from '../errors.js';
import { inputsReadSoFar } from '../outputs.js';
import { tasks, type TaskName } from './tasks.js';

const { task, request } = workerData as { task: TaskName; request: never };
const controller = new AbortController();
parentPort!.on('message', (message: { type: 'abort'; reason?: string }) => {
  if (message.type === 'abort') controller.abort(message.reason ?? 'cancelled');
});

try {
  const result = await tasks[task](request, {
    signal: controller.signal,
    onProgress: (event) => parentPort!.postMessage({ type: 'progress', event }),
  });
  parentPort!.postMessage({ type: 'result', result, inputsRead: inputsReadSoFar() });
} catch (error) {
  const e = error as Error;
  parentPort!.postMessage({
    type: 'error',
    // The typed error's own fields (code, file, sample, option, …) travel too, so the caller can read them.
    error: { name: e.name, message: e.message, stack: e.stack, fields: error instanceof LlfcError ? { ...error } : undefined },
    inputsRead: inputsReadSoFar(),
  });
}
