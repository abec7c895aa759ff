/** `llfc demo`: the full analysis of two bundled MLPs trained on Fashion-MNIST from different seeds, naive and aligned. */
import { Command } from 'commander';
import { join } from 'node:path';
import { packageRoot } from '../version.js';
import { runAnalyze } from './analyze.js';
import { addReportOptions, type ReportFlags } from './report-output.js';

const fixtures = join(packageRoot, 'test', 'fixtures');

export function demoCommand(): Command {
  const command = new Command('demo').description(
    'analyze the bundled checkpoints (two Fashion-MNIST MLPs from different seeds) as trained and after weight matching: LMC, LLFC per layer, weak additivity, commutativity',
  );
  addReportOptions(command);
  return command.action(async (flags: ReportFlags) => {
    await runAnalyze(join(fixtures, 'models', 'mlp_a.onnx'), join(fixtures, 'models', 'mlp_b.onnx'), {
      ...flags,
      data: [join(fixtures, 'data', 'fashion_test_x.npy')],
      labels: join(fixtures, 'data', 'fashion_test_y.npy'),
      mean: '0.2860',
      std: '0.3530',
      batchSize: '500',
      align: 'weight',
    });
  });
}
