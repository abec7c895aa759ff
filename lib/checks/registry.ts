/**
 * Every check of a pair, one line each, in the order they run, fill the result and appear in
 * the printed report, the HTML page and the charts. A new check is one file implementing
 * CheckDefinition (lib/checks/check.ts) and one line here.
 */
import type { CheckDefinition } from './check.js';
import { commutativityCheck } from './commutativity.js';
import { lewcCheck } from './lewc.js';
import { llfcCheck } from './llfc.js';
import { lmcLossCheck } from './lmc-loss.js';
import { weakAdditivityCheck } from './weak-additivity.js';

export const CHECKS = [
  lmcLossCheck,
  llfcCheck,
  weakAdditivityCheck,
  lewcCheck,
  commutativityCheck,
] as const satisfies readonly CheckDefinition[];

/** The analyze options that switch checks on or off (`commutativity: false`, `lewc: true`, …). */
export type CheckSwitches = { readonly [D in (typeof CHECKS)[number] as D extends { option: { name: infer N extends string } } ? N : never]?: boolean };
