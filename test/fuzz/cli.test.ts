/**
 * The CLI fuzz suite: seeded hostile checkpoints, data files and output targets, each run
 * through `node bin/llfc.js`. LLFC_FUZZ_SEED picks another seed (the default is committed).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Rng } from '../../lib/align/random.js';
import { dataCases } from './data-cases.js';
import { countLine, describeFailures, ensureBuiltCli, type FuzzCase, runCases, type Verdict } from './harness.js';
import { onnxCases } from './onnx-cases.js';
import { outputCases } from './output-cases.js';
import { Workspace } from './workspace.js';

const SEED = Number(process.env.LLFC_FUZZ_SEED ?? 12);
/** Two commands at a time; a command that outlives this is a hang. */
const PARALLEL = 2;
const TIMEOUT_MS = 60_000;
/** Per family of cases. */
const FAMILY_MS = 600_000;

const ws = new Workspace();
const verdicts: Verdict[] = [];

beforeAll(() => ensureBuiltCli());
afterAll(() => {
  process.stdout.write(`llfc fuzz (seed ${SEED}): ${countLine(verdicts)}\n`);
  ws.cleanup();
});

async function check(cases: FuzzCase[]): Promise<void> {
  const results = await runCases(cases, ws.root, { parallel: PARALLEL, timeoutMs: TIMEOUT_MS });
  verdicts.push(...results);
  process.stdout.write(`llfc fuzz, ${cases[0]?.family}: ${countLine(results)}\n`);
  for (const v of [...results].sort((x, y) => y.seconds - x.seconds).slice(0, 8)) process.stdout.write(`  ${v.seconds.toFixed(2)} s ${v.fuzzCase.name}\n`);
  expect(describeFailures(results)).toBe('');
}

describe(`llfc on hostile inputs (seed ${SEED}): exit 0, or exit 2 with a typed error; no crash, hang, read outside the model folder, or file touched but the named outputs`, () => {
  const rng = new Rng(SEED);

  it('malformed ONNX checkpoints and external data (truncated, bit-flipped, wrong lengths and dims, huge dims, paths out of the model folder)', async () => {
    await check(onnxCases(ws, rng));
  }, FAMILY_MS);

  it('malformed .npy, .npz, IDX and CIFAR-10 data and label files (bad headers, dtypes, shapes, truncation, NaN and Inf)', async () => {
    await check(await dataCases(ws, rng));
  }, FAMILY_MS);

  it('hostile output targets (device node, FIFO, symlinks, folders, missing folders, inputs, one file for two outputs)', async () => {
    const { cases, skipped } = outputCases(ws);
    for (const note of skipped) process.stdout.write(`llfc fuzz, output: left out ${note}\n`);
    await check(cases);
  }, FAMILY_MS);
});
