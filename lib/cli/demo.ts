/** `llfc demo`: LMC of two bundled MLPs trained on Fashion-MNIST from different seeds. */
import { Command } from 'commander';
import { join } from 'node:path';
import { packageRoot } from '../version.js';
import { runLmc } from './lmc.js';
import type { OutputOptions } from './terminal.js';

const fixtures = join(packageRoot, 'test', 'fixtures');

export function demoCommand(): Command {
  return new Command('demo')
    .description('run LMC on the bundled checkpoints (two Fashion-MNIST MLPs) and data')
    .option('--out <file>', 'write the JSON report here')
    .option('--json', 'print the report as JSON on stdout')
    .option('--quiet', 'print nothing but errors')
    .action(async (flags: OutputOptions & { out?: string }) => {
      const a = join(fixtures, 'models', 'mlp_a.onnx');
      const b = join(fixtures, 'models', 'mlp_b.onnx');
      await runLmc(a, b, {
        ...flags,
        data: [join(fixtures, 'data', 'fashion_test_x.npy')],
        labels: join(fixtures, 'data', 'fashion_test_y.npy'),
        mean: '0.2860',
        std: '0.3530',
        batchSize: '500',
        feed: 'initializers',
      });
    });
}
