/**
 * The `llfc` command (bin/llfc.js runs its bundle, dist/llfc-cli.js): the worker of a command
 * that needs one starts before the command's own modules are evaluated, so both load at once.
 */
import { prestartFor } from './prestart.js';

prestartFor(process.argv.slice(2));
const { main } = await import('./main.js');
process.exitCode = await main(process.argv.slice(2));
