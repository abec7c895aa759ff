import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
// @ts-expect-error: the fixture script is plain JavaScript without declarations
import { CASES, goldenReport } from '../../scripts/fixtures/golden_reports.mjs';
import { fixture } from '../helpers.js';

const cases = Object.entries(CASES as Record<string, string[]>);
const cli = ['--import', 'tsx', fixture('..', 'run-cli.ts')];

describe('reports byte-identical to the golden ones (scripts/fixtures/golden_reports.mjs; all but createdAt and tool)', () => {
  it.each(cases)('%s', (name, args) => {
    expect(goldenReport(cli, args) as string).toBe(readFileSync(fixture('golden', `${name}.json`), 'utf8'));
  });
});
