/**
 * Malformed ONNX checkpoints, generated from the CNN fixture with a seeded generator:
 * truncations, bit flips, wrong raw_data lengths, wrong and huge dims, wrong element types,
 * broken graphs, and external data that is missing, short, or points out of the model's folder
 * (`..`, absolute paths, symlinks) at the planted marker.
 */
import { existsSync, readFileSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { Rng } from '../../lib/align/random.js';
import { encodeModel } from '../../lib/onnx/model.js';
import { AttributeType, DataLocation, DataType, decodeModelProto, int64s, newAttribute, newEntry, newTensor, shapeDims, tensorType, type ModelProto, type TensorProto } from '../../lib/onnx/proto.js';
import { fixture } from '../helpers.js';
import { MODEL_COMMANDS, modelCommand, type ModelCommand } from './commands.js';
import type { FuzzCase } from './harness.js';
import { mkfifoSync } from './fs-nodes.js';
import type { Workspace } from './workspace.js';

const baseA = fixture('models', 'cnn_bn_a.onnx');
const baseB = fixture('models', 'cnn_bn_b.onnx');
const EXTERNAL = DataLocation.EXTERNAL;

function decoded(): ModelProto {
  return decodeModelProto(readFileSync(baseA));
}

function initializer(model: ModelProto, name: string): TensorProto {
  return model.graph!.initializer!.find((t) => t.name === name)!;
}

/** The fixture with one edit. */
function edited(edit: (model: ModelProto) => void): Uint8Array {
  const model = decoded();
  edit(model);
  return encodeModel(model);
}

/** Stores conv2.weight (18432 bytes) and fc.bias (40 bytes) in `weights.bin` beside the model; `edit` may then point them elsewhere. */
function externalModel(edit: (conv2: TensorProto, fcBias: TensorProto) => void): { model: Uint8Array; weights: Uint8Array } {
  const model = decoded();
  const conv2 = initializer(model, 'conv2.weight');
  const fcBias = initializer(model, 'fc.bias');
  const weights = Buffer.concat([conv2.rawData!, fcBias.rawData!]);
  const place = (t: TensorProto, offset: number): void => {
    t.externalData = [
      newEntry('location', 'weights.bin'),
      newEntry('offset', String(offset)),
      newEntry('length', String(t.rawData!.length)),
    ];
    t.dataLocation = EXTERNAL;
    t.rawData = new Uint8Array(0);
  };
  place(conv2, 0);
  place(fcBias, conv2.dims!.reduce<number>((n, d) => n * Number(d), 4));
  edit(conv2, fcBias);
  return { model: encodeModel(model), weights };
}

function setField(t: TensorProto, key: string, value: string | undefined): void {
  t.externalData = (t.externalData ?? []).filter((e) => e.key !== key);
  if (value !== undefined) t.externalData.push(newEntry(key, value));
}

interface ModelCase {
  name: string;
  /** Writes the hostile model (and anything beside it) into `dir`; returns the model's path. */
  build(dir: string, ws: Workspace): string;
  mustRefuse?: string;
  forbidden?: (ws: Workspace) => Buffer[];
  /** Commands that reach the hostile part (default: any, in rotation). */
  commands?: readonly ModelCommand[];
}

const OUTSIDE = 'external data outside the model directory';

/** The hostile models, drawn from `rng`. */
function hostileModels(rng: Rng): ModelCase[] {
  const size = readFileSync(baseA).length;
  const cases: ModelCase[] = [];
  const write = (name: string, bytes: Uint8Array | (() => Uint8Array), extra: Partial<ModelCase> = {}): void => {
    cases.push({ name, build: (dir, ws) => ws.file(dir, 'model.onnx', typeof bytes === 'function' ? bytes() : bytes), ...extra });
  };

  const whole = readFileSync(baseA);
  for (const length of [0, 100 + rng.below(1000), rng.below(size), size - 1 - rng.below(64)]) {
    write(`ONNX truncated to ${length} of ${size} bytes`, whole.subarray(0, length));
  }
  // Bit flips: the graph's structure sits in the first and last kilobyte (nodes first, inputs and outputs last).
  for (let k = 0; k < 6; k++) {
    const bytes = Buffer.from(whole);
    const flips = 1 + rng.below(8);
    const where = k % 3 === 0 ? 'anywhere' : k % 3 === 1 ? 'in the nodes' : 'in the inputs and outputs';
    for (let f = 0; f < flips; f++) {
      const at = where === 'anywhere' ? rng.below(size) : where === 'in the nodes' ? rng.below(1024) : size - 1 - rng.below(1024);
      bytes[at]! ^= 1 << rng.below(8);
    }
    write(`ONNX with ${flips} bit flips ${where} (#${k})`, bytes);
  }
  const run = Buffer.from(whole);
  const at = rng.below(size - 16);
  run.fill(0xff, at, at + 1 + rng.below(16));
  write(`ONNX with a run of 0xff bytes at ${at}`, run);

  write('raw_data 4 bytes shorter than the shape needs', edited((m) => { const t = initializer(m, 'conv1.weight'); t.rawData = t.rawData!.subarray(4); }), { mustRefuse: 'raw_data length mismatch' });
  write('raw_data 1 byte longer than the shape needs', edited((m) => { const t = initializer(m, 'fc.bias'); t.rawData = Buffer.concat([t.rawData!, Buffer.of(0)]); }), { mustRefuse: 'raw_data length mismatch' });
  write('a float tensor with neither raw_data nor float_data', edited((m) => { initializer(m, 'bn1.bias').rawData = new Uint8Array(0); }), { mustRefuse: 'no values for a non-empty shape' });
  write('float_data of the wrong count', edited((m) => { const t = initializer(m, 'bn1.bias'); t.rawData = new Uint8Array(0); t.floatData = [1, 2, 3]; }), { mustRefuse: 'float_data length mismatch' });
  write('dims that do not match raw_data', edited((m) => { initializer(m, 'conv1.weight').dims = int64s([16, 1, 3, 4]); }), { mustRefuse: 'dims do not match the data' });
  write('a negative dim', edited((m) => { initializer(m, 'conv1.weight').dims = int64s([-16, 1, 3, 3]); }), { mustRefuse: 'negative dim' });
  write('a zero dim with data present', edited((m) => { initializer(m, 'conv1.bias').dims = [0n]; }), { mustRefuse: 'dims do not match the data' });
  write('a huge dim (2^40)', edited((m) => { initializer(m, 'fc.bias').dims = int64s([2 ** 40]); }), { mustRefuse: 'dims do not match the data' });
  write('dims whose product overflows 2^53', edited((m) => { initializer(m, 'fc.weight').dims = int64s([2 ** 31, 2 ** 31, 2 ** 31]); }), { mustRefuse: 'dims do not match the data' });
  write('huge dims on a float_data tensor', edited((m) => { const t = initializer(m, 'bn2.bias'); t.floatData = Array.from(new Float32Array(Uint8Array.from(t.rawData!).buffer)); t.rawData = new Uint8Array(0); t.dims = int64s([1e12]); }), { mustRefuse: 'dims do not match the data' });
  write('a graph input of huge static dims', edited((m) => { tensorType(m.graph!.input![0])!.shape!.dim = shapeDims(['batch', 1, 2 ** 31 - 1, 2 ** 31 - 1]); }));
  write('a weight stored as INT64', edited((m) => { initializer(m, 'conv1.weight').dataType = DataType.INT64; }));
  write('a weight stored as DOUBLE', edited((m) => { initializer(m, 'fc.weight').dataType = DataType.DOUBLE; }));
  write('a weight of undefined element type', edited((m) => { initializer(m, 'conv2.bias').dataType = 0; }));
  write('a NaN weight', edited((m) => { const t = initializer(m, 'fc.bias'); const v = new Float32Array(Uint8Array.from(t.rawData!).buffer); v[3] = NaN; t.rawData = new Uint8Array(v.buffer); }), { mustRefuse: 'NaN parameter' });
  write('two initializers of one name', edited((m) => { m.graph!.initializer!.push(newTensor({ ...initializer(m, 'fc.bias'), dims: [3n], rawData: new Uint8Array(12) })); }));
  write('a node reading a missing tensor', edited((m) => { m.graph!.node![0]!.input![1] = 'nowhere'; }), { mustRefuse: 'a dangling input' });
  write('an unknown op', edited((m) => { m.graph!.node![2]!.opType = 'FuzzOp'; }));
  write('a Conv of group 0', edited((m) => { m.graph!.node![0]!.attribute!.push(newAttribute({ name: 'group', type: AttributeType.INT, i: 0n })); }));
  write('no graph outputs', edited((m) => { m.graph!.output = []; }));
  write('no opset import', edited((m) => { m.opsetImport = []; }), { mustRefuse: 'no opset' });
  write('an integer (token) graph input', edited((m) => { tensorType(m.graph!.input![0])!.elemType = DataType.INT64; }));
  write('a cycle in the graph', edited((m) => { const nodes = m.graph!.node!; nodes[0]!.input![0] = nodes[3]!.output![0]!; }));

  const ext = (name: string, edit: (conv2: TensorProto, fcBias: TensorProto, ws: Workspace) => void, extra: Partial<ModelCase> & { beside?: (dir: string, ws: Workspace, weights: Uint8Array) => void } = {}): void => {
    const { beside, ...rest } = extra;
    cases.push({
      name: `external data: ${name}`,
      build: (dir, ws) => {
        const { model, weights } = externalModel((c, b) => edit(c, b, ws));
        if (beside) beside(dir, ws, weights);
        else ws.file(dir, 'weights.bin', weights);
        return ws.file(dir, 'model.onnx', model);
      },
      ...rest,
    });
  };
  const marker = (ws: Workspace): Buffer[] => [ws.markerBytes];
  const passwd = existsSync('/etc/passwd') ? readFileSync('/etc/passwd').subarray(0, 40) : undefined;
  ext('beside the model (a control)', () => {});
  ext('location ../../outside/marker.bin', (c) => setField(c, 'location', '../../outside/marker.bin'), { mustRefuse: OUTSIDE, forbidden: marker });
  ext('location the marker by absolute path', (c, _b, ws) => setField(c, 'location', ws.markerFile), { mustRefuse: OUTSIDE, forbidden: marker });
  ext('location ../../../../../../../../etc/passwd', (_c, b) => setField(b, 'location', '../../../../../../../../etc/passwd'), { mustRefuse: OUTSIDE, ...(passwd && passwd.length === 40 ? { forbidden: () => [passwd] } : {}) });
  ext('a symlink beside the model to the marker outside', (c) => setField(c, 'location', 'link.bin'), {
    mustRefuse: OUTSIDE,
    forbidden: marker,
    beside: (dir, ws, weights) => { ws.file(dir, 'weights.bin', weights); symlinkSync(ws.markerFile, join(dir, 'link.bin')); },
  });
  ext('a symlinked folder beside the model leading outside', (c) => setField(c, 'location', 'sub/marker.bin'), {
    mustRefuse: OUTSIDE,
    forbidden: marker,
    beside: (dir, ws, weights) => { ws.file(dir, 'weights.bin', weights); symlinkSync(ws.outside, join(dir, 'sub')); },
  });
  ext('a symlink beside the model to a file beside it', (c) => setField(c, 'location', 'alias.bin'), {
    beside: (dir, ws, weights) => { ws.file(dir, 'weights.bin', weights); symlinkSync('weights.bin', join(dir, 'alias.bin')); },
  });
  ext('location through sub/../ back beside the model', (c) => setField(c, 'location', 'sub/../weights.bin'), {
    beside: (dir, ws, weights) => { ws.file(dir, 'weights.bin', weights); ws.file(dir, 'sub/keep', ''); },
  });
  ext('the data file missing', () => {}, { beside: () => {}, mustRefuse: 'missing data file' });
  ext('the data file short', () => {}, { beside: (dir, ws, weights) => ws.file(dir, 'weights.bin', weights.subarray(0, 1000 + rng.below(17000))), mustRefuse: 'short data file' });
  ext('an offset past the end', (c) => setField(c, 'offset', String(1 << 20)), { mustRefuse: 'offset past the end' });
  ext('a negative offset', (c) => setField(c, 'offset', '-8'), { mustRefuse: 'negative offset' });
  ext('an offset that is not a number', (c) => setField(c, 'offset', 'zero'), { mustRefuse: 'offset not a number' });
  ext('a negative length', (_c, b) => setField(b, 'length', '-1'), { mustRefuse: 'negative length' });
  ext('a length of 2^50', (_c, b) => setField(b, 'length', String(2 ** 50)), { mustRefuse: 'length past the end' });
  ext('a length that does not match the shape', (_c, b) => setField(b, 'length', '36'), { mustRefuse: 'length mismatch' });
  ext('no location', (c) => setField(c, 'location', undefined), { mustRefuse: 'no location' });
  ext('an empty location', (c) => setField(c, 'location', ''), { mustRefuse: 'no location' });
  ext('a location with a NUL byte', (c) => setField(c, 'location', 'weights.bin\u0000.txt'), { mustRefuse: 'bad location' });
  ext('the location a folder', (c) => setField(c, 'location', 'sub'), {
    mustRefuse: 'not a regular file',
    beside: (dir, ws, weights) => { ws.file(dir, 'weights.bin', weights); ws.file(dir, 'sub/keep', ''); },
  });
  ext('the location a FIFO nobody writes', (_c, b) => { setField(b, 'location', 'pipe'); setField(b, 'length', undefined); }, {
    mustRefuse: 'not a regular file',
    beside: (dir, ws, weights) => { ws.file(dir, 'weights.bin', weights); mkfifoSync(join(dir, 'pipe')); },
  });
  ext('the location the model itself', (_c, b) => setField(b, 'location', 'model.onnx'));
  return cases;
}

/** The ONNX cases: each hostile model met by one command in rotation (as A, or as B for the pair commands). */
export function onnxCases(ws: Workspace, rng: Rng): FuzzCase[] {
  return hostileModels(rng).map((m, i) => {
    const commands = m.commands ?? MODEL_COMMANDS;
    const command = commands[i % commands.length]!;
    const dir = ws.caseDir(`onnx-${m.name}`);
    const model = m.build(dir, ws);
    // A leaked marker shows in the output when the hostile model is A (interpolate writes A at α = 0).
    const asB = !m.forbidden && command !== 'spec' && command !== 'permute' && rng.below(3) === 0;
    const line = modelCommand(command, asB ? baseA : model, asB ? model : baseB, dir);
    return {
      name: `${m.name} → ${command}${asB ? ' (as B)' : ''}`,
      family: 'onnx',
      ...line,
      ...(m.mustRefuse ? { mustRefuse: m.mustRefuse } : {}),
      ...(m.forbidden ? { forbidden: m.forbidden(ws) } : {}),
      watch: ws.watch(dir),
    };
  });
}
