import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { fixture, tempDir } from './helpers.js';

const tmp = tempDir();
afterAll(() => tmp.cleanup());

describe('API reference', () => {
  it('is generated from the types by TypeDoc without errors, with a page per public function', () => {
    const root = fixture('..', '..');
    const out = join(tmp.dir, 'api');
    const r = spawnSync(process.execPath, [join(root, 'node_modules', 'typedoc', 'bin', 'typedoc'), '--out', out, '--treatWarningsAsErrors'], { cwd: root, encoding: 'utf8' });
    expect(r.stdout + r.stderr).not.toMatch(/\[error\]|\[warning\]/);
    expect(r.status).toBe(0);
    for (const page of ['analyze', 'lmc', 'linearModeConnectivity', 'analyzePair', 'loadCheckpoint', 'openDataset', 'linearSumAssignment', 'interpolate']) {
      expect(existsSync(join(out, 'functions', `${page}.html`)), page).toBe(true);
    }
    expect(readFileSync(join(out, 'functions', 'analyze.html'), 'utf8')).toMatch(/LLFC, weak additivity and commutativity per layer/);
  });
});
