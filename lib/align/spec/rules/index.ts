/**
 * The rule table: op type → the rule that follows it. Adding an op family is one file in this
 * folder (a Rule: its op types and how it relates their channels) and one line in FAMILIES.
 */
import type { Rule } from '../rule.js';
import { broadcastRule } from './broadcast.js';
import { concatRule } from './concat.js';
import { constantRule } from './constant.js';
import { convRule } from './conv.js';
import { elementwiseRule } from './elementwise.js';
import { expandRule } from './expand.js';
import { gatherRule } from './gather.js';
import { gemmRule } from './gemm.js';
import { normRule } from './norm.js';
import { padRule } from './pad.js';
import { poolRule } from './pool.js';
import { reduceRule } from './reduce.js';
import { reshapeRule } from './reshape.js';
import { resizeRule } from './resize.js';
import { shapeRule } from './shape.js';
import { sliceRule } from './slice.js';
import { softmaxRule } from './softmax.js';
import { splitRule } from './split.js';
import { topKRule } from './topk.js';
import { transposeRule } from './transpose.js';

const FAMILIES: readonly Rule[] = [
  constantRule,
  shapeRule,
  elementwiseRule,
  softmaxRule,
  broadcastRule,
  gemmRule,
  gatherRule,
  convRule,
  normRule,
  poolRule,
  reduceRule,
  topKRule,
  concatRule,
  splitRule,
  sliceRule,
  padRule,
  reshapeRule,
  transposeRule,
  expandRule,
  resizeRule,
];

function table(rules: readonly Rule[]): ReadonlyMap<string, Rule> {
  const map = new Map<string, Rule>();
  for (const rule of rules) {
    for (const op of rule.ops) {
      if (map.has(op)) throw new Error(`internal: two rules for the op ${op}`);
      map.set(op, rule);
    }
  }
  return map;
}

export const RULES = table(FAMILIES);
