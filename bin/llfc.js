#!/usr/bin/env node
import { prestartFor } from '../dist/cli/prestart.js';

prestartFor(process.argv.slice(2));
const { main } = await import('../dist/cli/main.js');
process.exitCode = await main(process.argv.slice(2));
