/** The package version, read from package.json once. */
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The package root (one level above lib/ and dist/). */
export const packageRoot = join(dirname(fileURLToPath(import.meta.url)), '..');

export const version: string = (JSON.parse(readFileSync(join(packageRoot, 'package.json'), 'utf8')) as { version: string }).version;
