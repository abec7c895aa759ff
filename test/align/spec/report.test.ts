import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadCheckpoint } from '../../../lib/checkpoint.js';
import { formatSpec, inferSpec } from '../../../lib/align/spec/index.js';
import { fixture } from '../../helpers.js';

// Paths as a user gives them (relative to the repository root, where tests run): the spec names its file.
// Names relative to test/fixtures/models: the legacy exports and the dynamo-style ones (dynamo/…).
const onnxIn = (dir: string): string[] => readdirSync(fixture('models', dir)).filter((f) => f.endsWith('.onnx')).map((f) => join(dir, f.slice(0, -'.onnx'.length)));
const models = [...onnxIn(''), ...onnxIn('dynamo')];
const relative = (name: string): string => join('test', 'fixtures', 'models', `${name}.onnx`);
const pinned = (name: string, ext: string): string => join(__dirname, '__snapshots__', `${name.replace('/', '_')}.${ext}`);

describe('llfc spec output is pinned on every fixture model', () => {
  it.each(models)('%s: the text and the JSON are as pinned', async (name) => {
    const spec = await inferSpec(await loadCheckpoint(relative(name)));
    await expect(`${formatSpec(spec)}\n`).toMatchFileSnapshot(pinned(name, 'txt'));
    await expect(`${JSON.stringify(spec, null, 2)}\n`).toMatchFileSnapshot(pinned(name, 'json'));
  });

  it('the command prints exactly the pinned text and JSON', () => {
    const llfc = (...args: string[]) => spawnSync(process.execPath, ['--import', 'tsx', fixture('..', 'run-cli.ts'), 'spec', relative('cnn_bn_a'), ...args], { encoding: 'utf8' });
    expect(llfc().stdout).toBe(readFileSync(pinned('cnn_bn_a', 'txt'), 'utf8'));
    expect(llfc('--json').stdout).toBe(readFileSync(pinned('cnn_bn_a', 'json'), 'utf8'));
  });
});
