/**
 * Flag strings into values, and nothing more: what a value may be (a positive batch size, α in
 * [0, 1], …) is decided once, by lib/options.ts, where the command hands the values over.
 */
import { InvalidArgumentError } from '../errors.js';

/** The number a flag's text writes (undefined for an absent flag). */
export function parseNumber(text: string | undefined, flag: string): number | undefined {
  if (text === undefined) return undefined;
  const value = Number(text);
  if (text.trim() === '' || Number.isNaN(value)) throw new InvalidArgumentError(`${flag}: '${text}' is not a number`);
  return value;
}

/** The comma-separated items of a flag's text; an empty item is an error naming its position. */
export function parseList(text: string, flag: string): string[] {
  const items = text.split(',').map((s) => s.trim());
  const empty = items.findIndex((s) => s.length === 0);
  if (empty >= 0) throw new InvalidArgumentError(`${flag}: item ${empty + 1} of '${text}' is empty`);
  return items;
}

/** The comma-separated numbers of a flag's text. */
export function parseNumberList(text: string, flag: string): number[] {
  return parseList(text, flag).map((item, i) => {
    const value = Number(item);
    if (Number.isNaN(value)) throw new InvalidArgumentError(`${flag}: item ${i + 1} of '${text}' is not a number ('${item}')`);
    return value;
  });
}
