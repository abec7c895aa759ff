/**
 * Preloaded (NODE_OPTIONS=--require) into the jobs of one array by test/slurm/slurm.test.ts: in
 * array task LLFC_TEST_HOLD_TASK the shard's worker thread, which runs its pass over the data,
 * writes the file LLFC_TEST_HOLD_MARKER and then waits until the job is cancelled. The test
 * cancels that shard once the file exists: surely while it runs and before it can write its
 * partial, however fast its pass would be.
 */
'use strict';
const { writeFileSync } = require('node:fs');
const { isMainThread } = require('node:worker_threads');

if (!isMainThread && process.env.SLURM_ARRAY_TASK_ID === process.env.LLFC_TEST_HOLD_TASK) {
  writeFileSync(process.env.LLFC_TEST_HOLD_MARKER, `${process.pid}\n`);
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0);
}
