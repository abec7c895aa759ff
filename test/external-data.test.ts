import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { alignFiles } from '../lib/api.js';
import { loadCheckpoint } from '../lib/checkpoint.js';
import { ExternalDataError } from '../lib/errors.js';
import { encodeModel, readModel } from '../lib/onnx/model.js';
import { DataLocation, newEntry } from '../lib/onnx/proto.js';
import { fixture, llfc, tempDir } from './helpers.js';

const tmp = tempDir();
afterAll(() => tmp.cleanup());

let n = 0;
/**
 * Writes mlp_a.onnx into a fresh directory with its first initializer (fc1.weight) moved to
 * external data at `location`, with the given extra fields; `data` (when given) is written to
 * `dataFile` inside the directory. Returns the model path and the tensor's bytes.
 */
async function externalModel(location: string, fields: Record<string, string> = {}, data?: { file: string; bytes?: Uint8Array }): Promise<{ dir: string; file: string; bytes: Uint8Array; tensor: string }> {
  const dir = join(tmp.dir, `model${n++}`);
  mkdirSync(dir);
  const proto = (await readModel(fixture('models', 'mlp_a.onnx'))).proto;
  const tensor = proto.graph!.initializer![0]!;
  const bytes = Uint8Array.from(tensor.rawData!);
  tensor.rawData = new Uint8Array(0);
  tensor.dataLocation = DataLocation.EXTERNAL;
  tensor.externalData = Object.entries({ location, ...fields }).map(([key, value]) => newEntry(key, value));
  if (data) writeFileSync(join(dir, data.file), data.bytes ?? bytes);
  const file = join(dir, 'model.onnx');
  writeFileSync(file, encodeModel(proto));
  return { dir, file, bytes, tensor: tensor.name! };
}

describe('external data stays inside the model’s directory', () => {
  it('reads a location inside the directory, also through a subfolder and a symlink that stays inside', async () => {
    const embedded = await loadCheckpoint(fixture('models', 'mlp_a.onnx'));
    const plain = await externalModel('weights.bin', {}, { file: 'weights.bin' });
    expect((await loadCheckpoint(plain.file)).arena).toEqual(embedded.arena);
    const nested = await externalModel('sub/w.bin');
    mkdirSync(join(nested.dir, 'sub'));
    writeFileSync(join(nested.dir, 'w.bin'), nested.bytes);
    symlinkSync(join(nested.dir, 'w.bin'), join(nested.dir, 'sub', 'w.bin'));
    expect((await loadCheckpoint(nested.file)).arena).toEqual(embedded.arena);
  });

  it.each([
    ['../../../../../../etc/services', /goes up a directory/],
    ['sub/../weights.bin', /goes up a directory/],
    ['/etc/services', /is an absolute path/],
  ])('refuses the location %s with ExternalDataError naming the model, the tensor and the location', async (location, why) => {
    const { file, tensor } = await externalModel(location, {}, { file: 'weights.bin' });
    const error = (await loadCheckpoint(file).catch((e: unknown) => e)) as ExternalDataError;
    expect(error).toBeInstanceOf(ExternalDataError);
    expect(error.message).toMatch(why);
    expect(error.message).toContain(file);
    expect(error.message).toContain(`tensor '${tensor}'`);
    expect(error.message).toContain(`'${location}'`);
    expect(error.dataFile).toBe(location);
  });

  it('refuses a symlink inside the directory that leads out of it', async () => {
    const { dir, file } = await externalModel('escape.bin');
    symlinkSync('/etc/services', join(dir, 'escape.bin'));
    await expect(loadCheckpoint(file)).rejects.toThrow(/external data location 'escape\.bin' resolves to \/etc\/services, outside/);
  });

  it('refuses a FIFO as the data file instead of blocking on it', async (ctx) => {
    const { dir, file } = await externalModel('pipe.bin');
    const r = spawnSync('mkfifo', [join(dir, 'pipe.bin')]);
    if (r.status !== 0) return ctx.skip('mkfifo is not available here');
    await expect(loadCheckpoint(file)).rejects.toThrow(/'pipe\.bin' is not a regular file/);
  });

  it('names the data file when it is missing or too short for the tensor', async () => {
    const missing = await externalModel('gone.bin');
    await expect(loadCheckpoint(missing.file)).rejects.toThrow(/model\.onnx: tensor 'fc1\.weight': external data file '.*gone\.bin' is missing/);
    const short = await externalModel('short.bin', { length: '1000000' }, { file: 'short.bin' });
    await expect(loadCheckpoint(short.file)).rejects.toThrow(/external data file '.*short\.bin' has \d+ bytes, the tensor needs bytes 0\.\.1000000/);
    const past = await externalModel('w.bin', { offset: '999999999' }, { file: 'w.bin' });
    await expect(loadCheckpoint(past.file)).rejects.toThrow(ExternalDataError);
  });

  it.each(['-4', '1e3', '0x10', 'abc', '', '99999999999999999999'])('refuses the offset %j, which is not a non-negative integer', async (offset) => {
    const { file } = await externalModel('w.bin', { offset }, { file: 'w.bin' });
    await expect(loadCheckpoint(file)).rejects.toThrow(`offset '${offset}' is not a non-negative integer`);
  });

  it('llfc interpolate on a model reaching for ../../etc/services: exit 2, a message, nothing written', async () => {
    const { dir, file } = await externalModel('../../etc/services');
    const out = join(dir, 'mid.onnx');
    const r = llfc('interpolate', file, file, '--alpha', '0.5', '-o', out);
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/^llfc: error: .*model\.onnx: tensor 'fc1\.weight': external data location '\.\.\/\.\.\/etc\/services' goes up a directory/);
    expect(r.stderr).not.toMatch(/\n\s+at /);
    expect(existsSync(out)).toBe(false);
    expect(readFileSync(file).length).toBeGreaterThan(0);
  });

  it('an output naming an input model’s external data file is refused, by the CLI and by alignFiles (which reads in its worker)', async () => {
    const { dir, file } = await externalModel('weights.bin', {}, { file: 'weights.bin' });
    const before = readFileSync(join(dir, 'weights.bin'));
    const r = llfc('interpolate', file, file, '--alpha', '0.5', '-o', join(dir, 'weights.bin'));
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/refusing to write .*weights\.bin: it is an input file/);
    await expect(alignFiles({ a: file, b: file, outputs: { onnx: join(dir, 'aligned.onnx'), safetensors: join(dir, 'weights.bin') } }, { method: 'weight' })).rejects.toThrow(
      /refusing to write outputs\.safetensors .*weights\.bin: it is an input file/,
    );
    expect(readFileSync(join(dir, 'weights.bin')).equals(before)).toBe(true);
    expect(existsSync(join(dir, 'aligned.onnx'))).toBe(false);
  });

  it('refuses a model path that is a FIFO instead of blocking on it', async (ctx) => {
    const fifo = join(tmp.dir, `model${n++}.onnx`);
    if (spawnSync('mkfifo', [fifo]).status !== 0) return ctx.skip('mkfifo is not available here');
    await expect(loadCheckpoint(fifo)).rejects.toThrow(/model\d+\.onnx: not a valid ONNX model: it is not a regular file/);
  });
});
