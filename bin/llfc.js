#!/usr/bin/env node
// The CLI as one bundled file (scripts/build.js): loading it takes a fraction of loading dist/'s modules one by one.
await import('../dist/llfc-cli.js');
