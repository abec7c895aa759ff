// Runs the llfc command from source, for tests that spawn it as a user would.
import { main } from '../lib/cli/main.js';

process.exitCode = await main(process.argv.slice(2));
