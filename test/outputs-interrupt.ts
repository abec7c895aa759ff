// A child process for test/outputs.test.ts: commits two files and sends itself SIGINT while
// staging the second. Mode 'handled' cancels through the CLI's Ctrl-C handler (exit 130, as
// lib/cli/main.ts maps CancelledError); mode 'default' has no handler of its own.
import { join } from 'node:path';
import { interruptSignal } from '../lib/cli/terminal.js';
import { CancelledError } from '../lib/errors.js';
import { checkOutputs, commitOutputs, type OutputFile } from '../lib/outputs.js';

const [mode, dir] = process.argv.slice(2) as [string, string];
const plan = await checkOutputs([{ path: join(dir, 'a.json') }, { path: join(dir, 'b.json') }], []);
const files: OutputFile[] = [
  { path: join(dir, 'a.json'), content: 'a'.repeat(1 << 20) },
  {
    path: join(dir, 'b.json'),
    get content() {
      process.kill(process.pid, 'SIGINT');
      return 'b'.repeat(1 << 20);
    },
  },
];
if (mode === 'handled') {
  const interrupt = interruptSignal();
  try {
    await commitOutputs(plan, files, { signal: interrupt.signal });
  } catch (error) {
    process.exitCode = error instanceof CancelledError ? 130 : 1;
  } finally {
    interrupt.dispose();
  }
} else {
  await commitOutputs(plan, files);
}
