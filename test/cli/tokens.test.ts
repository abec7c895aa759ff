import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { fixture, llfc } from '../helpers.js';

const tok = (name: string): string => fixture('tokens', name);
const models = [tok('lm_a.onnx'), tok('lm_b.onnx')];
const reference = JSON.parse(readFileSync(tok('reference.json'), 'utf8')) as Record<string, { loss: number[]; accuracy: number[] }>;

describe('llfc lmc on token data', () => {
  it.each([
    ['--tokens val.bin --dtype uint16 --context 12', ['--tokens', tok('val.bin'), '--dtype', 'uint16', '--context', '12'], 'window'],
    ['--data ids.npy --labels next-token', ['--data', tok('ids.npy'), '--labels', 'next-token'], 'nextToken'],
    ['--data ids.npz --data-key ids --labels labels.npy', ['--data', tok('ids.npz'), '--data-key', 'ids', '--labels', tok('labels.npy')], 'labels'],
    [
      '--input input_ids=… --input position_ids=… --input attention_mask=… (a three-input model)',
      ['--input', `input_ids=${tok('ids.npy')}`, '--input', `position_ids=${tok('position_ids.npy')}`, '--input', `attention_mask=${tok('attention_mask.npy')}`, '--labels', tok('labels.npy')],
      'named',
    ],
  ])('%s gives the PyTorch reference curve', (_name, args, key) => {
    const pair = key === 'named' ? [tok('poslm_a.onnx'), tok('poslm_b.onnx')] : models;
    const r = llfc('lmc', ...pair, ...args, '--json');
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    const report = JSON.parse(r.stdout);
    expect(report.lmc.accuracy).toEqual(reference[key]!.accuracy);
    report.lmc.loss.forEach((l: number, i: number) => expect(Math.abs(l - reference[key]!.loss[i]!) / reference[key]!.loss[i]!).toBeLessThan(1e-4));
  });

  it.each([
    [['--tokens', tok('val.bin'), '--dtype', 'uint16', '--context', '1000'], /val\.bin: context 1000 needs windows of 1001 tokens, but the file holds 395 uint16 tokens/],
    [['--tokens', tok('val.bin'), '--dtype', 'float32', '--context', '12'], /--dtype.*float32.*(uint16|choices)/],
    [['--data', tok('ids.npy'), '--tokens', tok('val.bin'), '--dtype', 'uint16', '--context', '12'], /give the data: --data, --input name=file or --tokens \(one of them\)/],
    [[], /give the data: --data, --input name=file or --tokens/],
    [['--input', 'input_ids'], /--input: 'input_ids' is not name=file/],
    [['--input', `input_ids=${tok('ids.npy')}`, '--input', `input_ids=${tok('ids.npy')}`], /--input: 'input_ids' is given twice/],
    [['--input', `input_id=${tok('ids.npy')}`, '--labels', 'next-token'], /lm_a\.onnx has no input 'input_id'; its inputs are 'input_ids'/],
    [['--data', tok('ids.npy'), '--labels', 'next-token', '--ignore-index', '1.5'], /ignoreIndex must be an integer, got 1\.5/],
    [['--data', tok('ids.npy'), '--labels', 'next-token', '--mean', '0', '--std', '1'], /ids\.npy holds token ids \(int64\), which are fed unchanged: drop the normalization/],
  ])('bad token options %j exit 2 with a message naming the problem', (args, message) => {
    const r = llfc('lmc', ...models, ...args);
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(message);
  });
});
