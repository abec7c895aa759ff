/**
 * Every check of a pair, one line each, in the order they run, fill the result and appear in
 * the printed report, the HTML page and the charts. A new check is one file implementing
 * CheckDefinition (lib/checks/check.ts) and one line here.
 */
import type { CheckDefinition } from './check.js';
import { calibrationCheck } from './calibration.js';
import { commutativityCheck } from './commutativity.js';
import { lewcCheck } from './lewc.js';
import { llfcCheck } from './llfc.js';
import { lmcLossCheck } from './lmc-loss.js';
import { repairCheck } from './repair.js';
import { weakAdditivityCheck } from './weak-additivity.js';

export const CHECKS = [
  lmcLossCheck,
  calibrationCheck,
  repairCheck,
  llfcCheck,
  weakAdditivityCheck,
  lewcCheck,
  commutativityCheck,
] as const satisfies readonly CheckDefinition[];

/** The option names of the checks that can be switched on or off. */
export type CheckSwitchName = (typeof CHECKS)[number] extends infer D ? (D extends { option: { name: infer N extends string } } ? N : never) : never;

/** The analyze options that switch checks on or off (`commutativity: false`, `lewc: true`, …). */
export type CheckSwitches = { readonly [K in CheckSwitchName]?: boolean };

/** Each switch's option kind: the row of lib/options.ts with the switch's name (its default and validation). */
export const CHECK_OPTIONS = Object.fromEntries(CHECKS.flatMap((c) => ('option' in c ? [[c.option.name, c.option.name]] : []))) as { readonly [K in CheckSwitchName]: K };
