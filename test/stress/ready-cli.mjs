// bin/llfc.js with a readiness signal for tests that interrupt it: writes "ready" on fd 3 when
// the CLI installs its Ctrl-C (SIGINT) handler, so a test signals a command that is running
// rather than guessing with a fixed delay.
import { writeSync } from 'node:fs';
import { main } from '../../dist/cli/main.js';

let ready = false;
process.on('newListener', (event) => {
  if (event !== 'SIGINT' || ready) return;
  ready = true;
  writeSync(3, 'ready\n');
});
process.exitCode = await main(process.argv.slice(2));
