import { readFileSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { loadCheckpoint } from '../../lib/checkpoint.js';
import { analyzePair } from '../../lib/checks/analyze.js';
import { linearModeConnectivity } from '../../lib/checks/lmc.js';
import { openDataset, type OpenDatasetOptions } from '../../lib/dataset/index.js';
import { InputTypeError, InvalidArgumentError, LabelError, ModelRunError, ShapeMismatchError } from '../../lib/errors.js';
import { tempDir, writeNpy } from '../dataset/helpers.js';
import { fixture } from '../helpers.js';
import { expectLmcReference, type LmcCurveReference } from './lmc-reference.js';


const tok = (name: string): string => fixture('tokens', name);
const references = JSON.parse(readFileSync(tok('reference.json'), 'utf8')) as Record<'labels' | 'window' | 'nextToken' | 'named', LmcCurveReference>;
const tmp = tempDir();
afterAll(() => tmp.cleanup());

const models = async () => Promise.all([loadCheckpoint(tok('lm_a.onnx')), loadCheckpoint(tok('lm_b.onnx'))]);

describe('LMC of a token model against PyTorch (mean token cross-entropy, float64)', () => {
  const cases: [string, OpenDatasetOptions, keyof typeof references][] = [
    ['int64 .npy ids with N×T labels holding ignore-index positions', { data: tok('ids.npy'), labels: tok('labels.npy') }, 'labels'],
    ['int32 .npz ids (by key) with N×T labels', { data: tok('ids.npz'), key: 'ids', labels: tok('labels.npy') }, 'labels'],
    ['uint16 .npy ids with next-token labels (last position ignored)', { data: tok('ids_u16.npy'), labels: 'next-token' }, 'nextToken'],
    ['int64 .npy ids with next-token labels', { data: tok('ids.npy'), labels: 'next-token' }, 'nextToken'],
    ['a flat uint16 token file cut into windows of context + 1', { tokens: tok('val.bin'), dtype: 'uint16', context: 12 }, 'window'],
  ];
  it.each(cases)('the curve on %s equals the reference (loss 1e-4 relative, accuracy exact)', async (_name, options, key) => {
    const [a, b] = await models();
    const data = await openDataset(options);
    expect(data.inputType).toBe('int64');
    expectLmcReference(await linearModeConnectivity(a, b, data, { alphas: references[key].alphas, batchSize: 7 }), references[key]);
  });

  it('analyze computes the same LMC curve from its shared pass, with parameters fed as inputs too', async () => {
    const [a, b] = await models();
    const data = await openDataset({ tokens: tok('val.bin'), dtype: 'uint16', context: 12 });
    const analysis = await analyzePair(a, b, data, { batchSize: 11 });
    expectLmcReference(analysis.lmc!, references.window);
    const viaInputs = await linearModeConnectivity(a, b, data, { alphas: [0, 0.5, 1], feed: 'inputs' });
    expect(viaInputs.accuracy).toEqual([0, 5, 10].map((i) => references.window.accuracy[i]));
  });

  it('a labels value equal to a custom ignore index is left out of loss and accuracy', async () => {
    const [a, b] = await models();
    const npy = readFileSync(tok('labels.npy'));
    const masked = new BigInt64Array(npy.buffer.slice(npy.byteOffset + 128, npy.byteOffset + npy.length)).map((v) => (v === -100n ? -1n : v));
    const labels = writeNpy(tmp.path('labels-minus1.npy'), '<i8', [30, 12], masked);
    const data = await openDataset({ data: tok('ids.npy'), labels, ignoreIndex: -1 });
    const r = await linearModeConnectivity(a, b, data, { alphas: [0, 1] });
    expect(r.accuracy).toEqual([references.labels.accuracy[0], references.labels.accuracy[10]]);
  });
});

describe('bad token data gets a clear, typed error', () => {
  it('float data for a model taking int64 ids is an InputTypeError naming the input', async () => {
    const [a, b] = await models();
    const file = writeNpy(tmp.path('float-ids.npy'), '<f4', [2, 12], new Float32Array(24));
    const nextToken = await openDataset({ data: file, labels: 'next-token' }).catch((e) => e);
    expect(nextToken).toBeInstanceOf(InvalidArgumentError);
    expect(nextToken.message).toMatch(/next-token labels need token ids, but .*float-ids\.npy holds float32 values/);
    const unlabelled = await openDataset({ data: file });
    const err = await analyzePair(a, b, unlabelled, { commutativity: false, weakAdditivity: false }).catch((e) => e);
    expect(err).toBeInstanceOf(InputTypeError);
    expect(err.message).toMatch(/float-ids\.npy: the data is FLOAT \(float32\) but the input 'input_ids' of .*lm_a\.onnx takes INT64/);
  });

  it('token ids for a model taking float inputs are an InputTypeError', async () => {
    const [a, b] = await Promise.all([loadCheckpoint(fixture('models', 'mlp_a.onnx')), loadCheckpoint(fixture('models', 'mlp_b.onnx'))]);
    const ids = writeNpy(tmp.path('ids784.npy'), '<i8', [2, 784], new BigInt64Array(2 * 784));
    const labels = writeNpy(tmp.path('y2.npy'), '<i8', [2], new BigInt64Array(2));
    const err = await linearModeConnectivity(a, b, await openDataset({ data: ids, labels })).catch((e) => e);
    expect(err).toBeInstanceOf(InputTypeError);
    expect(err.message).toMatch(/ids784\.npy: the data is token ids \(integers, fed as int64\) but the input 'input' of .*mlp_a\.onnx takes FLOAT/);
  });

  it('a token id beyond the vocabulary is a LabelError as a label, and a ModelRunError naming the model and the batch as an input', async () => {
    const [a, b] = await models();
    const asLabel = writeNpy(tmp.path('big-label.npy'), '<i8', [2, 12], BigInt64Array.from({ length: 24 }, (_, i) => BigInt(i === 5 ? 300 : 65)));
    const labelErr = await linearModeConnectivity(a, b, await openDataset({ data: asLabel, labels: 'next-token' })).catch((e) => e);
    expect(labelErr).toBeInstanceOf(LabelError);
    expect(labelErr.message).toMatch(/big-label\.npy: label 300 at index 4 is outside \[0, 256\)/);
    // The first token of a sequence is no one's next-token label: only the embedding lookup meets it.
    const ids = BigInt64Array.from({ length: 24 }, (_, i) => BigInt(i === 12 ? 300 : 65));
    const file = writeNpy(tmp.path('big-id.npy'), '<i8', [2, 12], ids);
    const err = await linearModeConnectivity(a, b, await openDataset({ data: file, labels: 'next-token' }), { alphas: [0, 1] }).catch((e) => e);
    expect(err).toBeInstanceOf(ModelRunError);
    expect(err.message).toMatch(/lm_a\.onnx: onnxruntime could not run it on a batch of shape \[2, 12\]/);
  });

  it('N×T logits and labels of another model shape are a ShapeMismatchError', async () => {
    const [a, b] = await Promise.all([loadCheckpoint(fixture('models', 'mlp_a.onnx')), loadCheckpoint(fixture('models', 'mlp_b.onnx'))]);
    const err = await linearModeConnectivity(a, b, await openDataset({ data: tok('ids.npy'), labels: tok('labels.npy') })).catch((e) => e);
    expect(err).toBeInstanceOf(ShapeMismatchError);
    expect(err.message).toMatch(/mlp_a\.onnx: the first output 'logits' has shape \[N?-?1?, 10\], not N×T×V logits for N×T token labels/);
  });

  it('labels that all equal the ignore index are a LabelError, not NaN', async () => {
    const [a, b] = await models();
    const labels = writeNpy(tmp.path('all-ignored.npy'), '<i8', [30, 12], new BigInt64Array(360).fill(-100n));
    const err = await linearModeConnectivity(a, b, await openDataset({ data: tok('ids.npy'), labels }), { alphas: [0, 1] }).catch((e) => e);
    expect(err).toBeInstanceOf(LabelError);
    expect(err.message).toMatch(/every label equals the ignore index -100/);
  });
});

describe('several named inputs (ids, position ids, attention mask)', () => {
  const pos = async () => Promise.all([loadCheckpoint(tok('poslm_a.onnx')), loadCheckpoint(tok('poslm_b.onnx'))]);
  const inputs = { input_ids: tok('ids.npy'), position_ids: tok('position_ids.npy'), attention_mask: tok('attention_mask.npy') };

  it('the curve with every input fed by name equals the reference, in LMC and in analyze, whatever the batch size and limit', async () => {
    const [a, b] = await pos();
    const data = await openDataset({ inputs, labels: tok('labels.npy') });
    expect(data.namedInputs!.map((n) => n.name)).toEqual(['input_ids', 'position_ids', 'attention_mask']);
    expectLmcReference(await linearModeConnectivity(a, b, data, { alphas: references.named.alphas, batchSize: 7 }), references.named);
    expectLmcReference((await analyzePair(a, b, data, { batchSize: 13 })).lmc!, references.named);
    const limited = await openDataset({ inputs, labels: tok('labels.npy'), limit: 4 });
    expect(limited.length).toBe(4);
    const batches = [];
    for await (const batch of limited.batches(3)) batches.push(batch);
    expect(batches.map((x) => [x.size, x.named!.attention_mask!.length, x.labels!.length])).toEqual([[3, 36, 36], [1, 12, 12]]);
  });

  it('inputs from one .npz archive are read at the arrays of their names', async () => {
    const npz = tok('ids.npz');
    const data = await openDataset({ inputs: { ids: npz } });
    expect(data.namedInputs![0]!.source).toMatch(/ids\.npz \[ids\.npy\]/);
  });

  it('a missing input is an error naming it and the model inputs', async () => {
    const [a, b] = await pos();
    const data = await openDataset({ inputs: { input_ids: tok('ids.npy'), attention_mask: tok('attention_mask.npy') }, labels: 'next-token' });
    await expect(linearModeConnectivity(a, b, data)).rejects.toThrow(
      /no data for the input 'position_ids' of .*poslm_a\.onnx; its inputs are 'input_ids', 'position_ids', 'attention_mask', given 'input_ids', 'attention_mask'/,
    );
  });

  it('an unknown input is an error naming it and the model inputs', async () => {
    const [a, b] = await pos();
    const data = await openDataset({ inputs: { ...inputs, token_type_ids: tok('ids.npy') }, labels: 'next-token' });
    await expect(linearModeConnectivity(a, b, data)).rejects.toThrow(/poslm_a\.onnx has no input 'token_type_ids'; its inputs are 'input_ids', 'position_ids', 'attention_mask'/);
  });

  it('one unnamed data file for a model of several inputs is an error naming them', async () => {
    const [a, b] = await pos();
    const err = await linearModeConnectivity(a, b, await openDataset({ data: tok('ids.npy'), labels: 'next-token' })).catch((e) => e);
    expect(err).toBeInstanceOf(InvalidArgumentError);
    expect(err.message).toMatch(/poslm_a\.onnx takes 3 inputs \('input_ids', 'position_ids', 'attention_mask'\); give each by name/);
  });

  it('inputs of different sample counts are a DatasetError naming the file', async () => {
    const short = writeNpy(tmp.path('mask-short.npy'), '<i8', [29, 12], new BigInt64Array(29 * 12));
    await expect(openDataset({ inputs: { input_ids: tok('ids.npy'), attention_mask: short } })).rejects.toThrow(
      /mask-short\.npy: 29 samples for the input 'attention_mask', but 30 for 'input_ids'/,
    );
  });

  it('an input of the wrong type (float for an int64 input) is an InputTypeError naming the input', async () => {
    const [a, b] = await pos();
    const mask = writeNpy(tmp.path('mask-float.npy'), '<f4', [30, 12], new Float32Array(360).fill(1));
    const data = await openDataset({ inputs: { ...inputs, attention_mask: mask }, labels: 'next-token' });
    const err = await linearModeConnectivity(a, b, data).catch((e) => e);
    expect(err).toBeInstanceOf(InputTypeError);
    expect(err.message).toMatch(/mask-float\.npy: the data is FLOAT \(float32\) but the input 'attention_mask' of .*poslm_a\.onnx takes INT64/);
  });
});
