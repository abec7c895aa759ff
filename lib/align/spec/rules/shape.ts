/** Shape, Size: their integer outputs depend on the input's dims only, so reading channels through them fixes nothing. */
import type { Rule } from '../rule.js';

export const shapeRule: Rule = {
  ops: ['Shape', 'Size'],
  anyInputs: true,
  shapeOnly: true,
  apply: () => true,
};
