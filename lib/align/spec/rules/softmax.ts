/**
 * Softmax, LogSoftmax: along their axis the result is permutation-equivariant (permuting the
 * inputs permutes the outputs the same way), and element-wise along every other axis, so every
 * axis carries its channels through.
 */
import type { Rule } from '../rule.js';
import { carryThrough } from './elementwise.js';

export const softmaxRule: Rule = {
  ops: ['Softmax', 'LogSoftmax'],
  apply: carryThrough,
};
