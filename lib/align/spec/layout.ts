/**
 * Channel layouts for permutation-spec inference: a union-find over "channel variables" that
 * can also be split (refined) into consecutive blocks.
 *
 * A variable stands for the units of one axis that a single permutation moves together; it has
 * a size (its number of units). An axis of a tensor is described by a layout: a list of
 * segments `{ v, count, inner }`, read in order along the axis, each covering `count · inner`
 * positions: unit `c` of variable `v` occupies the `inner` consecutive positions starting at
 * `c · inner` within the segment. A segment always covers every unit of its variable
 * (`count` = the variable's size). Examples:
 * - the output channels of a Conv: one segment `{ v, C, 1 }`;
 * - a Concat of two feature maps along channels: `[{ v1, C1, 1 }, { v2, C2, 1 }]`;
 * - Flatten of N×C×H×W: `{ v, C, H·W }` (channel c owns H·W consecutive positions).
 *
 * Unifying two layouts of one axis merges their variables; when their block structures differ,
 * a variable is refined (split into consecutive parts, or grouped into coarser units) so that
 * they line up. A variable can be fixed (it must stay the identity), with the reasons why;
 * fixedness spreads through unions and refinements.
 */

export interface Segment {
  readonly v: number;
  readonly count: number;
  readonly inner: number;
  /**
   * Set on an axis inside blocks (an attention head's dims after a Reshape to [H, d_head]): `v`
   * is then the family (the head variable, carried by another axis of the same value) and the
   * segment holds, at head u, the `count` units of member u of block list `of` (VarTable.members).
   */
  readonly of?: number;
}

export type Layout = readonly Segment[];

/** Why a variable is fixed; `quiet` reasons (spatial, kernel, batch axes) are not reported. */
export interface FixReason {
  readonly text: string;
  readonly quiet: boolean;
}

export function span(layout: Layout): number {
  let n = 0;
  for (const s of layout) n += s.count * s.inner;
  return n;
}

export class VarTable {
  private readonly parent: number[] = [];
  private readonly size: number[] = [];
  private readonly reasons: (Map<string, boolean> | null)[] = [];
  private readonly refined: (Segment[] | null)[] = [];
  /** Per root: the block lists whose family it is. */
  private readonly lists: (number[] | null)[] = [];
  /** Block lists: a family variable and one member variable per unit of it. */
  private readonly blockLists: { readonly family: number; readonly members: readonly number[] }[] = [];
  readonly origin: string[] = [];

  get length(): number {
    return this.parent.length;
  }

  /** A new variable of `count` units; fixed when a reason is given. */
  fresh(count: number, origin: string, fixed?: FixReason): number {
    const v = this.parent.length;
    this.parent.push(v);
    this.size.push(count);
    this.reasons.push(null);
    this.refined.push(null);
    this.lists.push(null);
    this.origin.push(origin);
    if (fixed) this.fix(v, fixed);
    return v;
  }

  /** A layout of one fresh variable covering an axis of length `dim` (empty for 0). */
  axis(dim: number, origin: string, fixed?: FixReason): Segment[] {
    if (dim === 0) return [];
    return [{ v: this.fresh(dim, origin, fixed), count: dim, inner: 1 }];
  }

  find(v: number): number {
    let r = v;
    while (this.parent[r] !== r) r = this.parent[r]!;
    let x = v;
    while (this.parent[x] !== r) {
      const next = this.parent[x]!;
      this.parent[x] = r;
      x = next;
    }
    return r;
  }

  count(v: number): number {
    return this.size[this.find(v)]!;
  }

  isFixed(v: number): boolean {
    return this.reasons[this.find(v)] !== null;
  }

  isRefined(v: number): boolean {
    return this.refined[this.find(v)] !== null;
  }

  /**
   * A new block list: unit u of `family` carries the units of `members[u]` (the dims of head u).
   * Exchanging two units of the family moves their members' positions wholesale.
   */
  newBlocks(family: number, members: readonly number[]): number {
    if (members.length !== this.count(family)) throw new Error(`internal: a family of ${this.count(family)} units given ${members.length} members`);
    const id = this.blockLists.length;
    this.blockLists.push({ family, members });
    const r = this.find(family);
    (this.lists[r] ??= []).push(id);
    return id;
  }

  /** The member variables (roots) of a block list. */
  members(list: number): number[] {
    return this.blockLists[list]!.members.map((m) => this.find(m));
  }

  /** The block lists whose family is v's root (none for an ordinary variable). */
  blocksOf(v: number): readonly number[] {
    return this.lists[this.find(v)] ?? [];
  }

  /** The reasons a (leaf) variable is fixed, loud ones first. */
  fixReasons(v: number): FixReason[] {
    const r = this.reasons[this.find(v)];
    if (!r) return [];
    return [...r.entries()].map(([text, quiet]) => ({ text, quiet })).sort((a, b) => Number(a.quiet) - Number(b.quiet));
  }

  fix(v: number, reason: FixReason): void {
    const r = this.find(v);
    let set = this.reasons[r];
    if (!set) {
      set = new Map();
      this.reasons[r] = set;
    }
    const had = set.get(reason.text);
    if (had === undefined || (had && !reason.quiet)) set.set(reason.text, reason.quiet);
    const parts = this.refined[r];
    if (parts) for (const s of parts) this.fix(s.v, reason);
  }

  /** Fixes every variable of a layout (for an axis inside blocks, the members). */
  fixLayout(layout: Layout, reason: FixReason): void {
    for (const s of layout) {
      if (s.of === undefined) this.fix(s.v, reason);
      else for (const m of this.members(s.of)) this.fix(m, reason);
    }
  }

  /** Splits variable v into consecutive parts (a layout over its units). */
  refine(v: number, parts: Segment[]): void {
    const r = this.find(v);
    if (this.refined[r]) throw new Error(`internal: variable ${r} is already refined`);
    if (span(parts) !== this.size[r]) throw new Error(`internal: refinement of ${this.size[r]} units spans ${span(parts)}`);
    this.refined[r] = parts;
    // A head variable cut apart: its blocks can no longer be told apart, so their dims stay in place.
    for (const list of this.lists[r] ?? []) for (const m of this.members(list)) this.fix(m, { text: `attention heads '${this.origin[r]}' are split apart`, quiet: false });
    const reasons = this.reasons[r];
    if (reasons) for (const [text, quiet] of reasons) for (const s of parts) this.fix(s.v, { text, quiet });
  }

  /** A layout in terms of leaf variables (roots that are not refined). */
  expand(layout: Layout): Segment[] {
    const out: Segment[] = [];
    for (const s of layout) this.expandInto(s, out);
    return out;
  }

  private expandInto(s: Segment, out: Segment[]): void {
    const r = this.find(s.v);
    if (s.of !== undefined) {
      out.push(s.v === r ? s : { ...s, v: r });
      return;
    }
    const parts = this.refined[r];
    if (!parts) {
      out.push(s.v === r ? s : { v: r, count: s.count, inner: s.inner });
      return;
    }
    for (const p of parts) this.expandInto({ v: p.v, count: p.count, inner: p.inner * s.inner }, out);
  }

  union(a: number, b: number): void {
    const ra = this.find(a);
    const rb = this.find(b);
    if (ra === rb) return;
    if (this.size[ra] !== this.size[rb]) throw new Error(`internal: union of variables of ${this.size[ra]} and ${this.size[rb]} units`);
    const root = Math.min(ra, rb);
    const other = root === ra ? rb : ra;
    this.parent[other] = root;
    const partsRoot = this.refined[root];
    const partsOther = this.refined[other];
    this.refined[other] = null;
    const reasonsOther = this.reasons[other];
    this.reasons[other] = null;
    const listsOther = this.lists[other];
    this.lists[other] = null;
    if (listsOther) (this.lists[root] ??= []).push(...listsOther);
    if (!partsRoot && partsOther) this.refined[root] = partsOther;
    if (reasonsOther) for (const [text, quiet] of reasonsOther) this.fix(root, { text, quiet });
    if (this.reasons[root]) for (const [text, quiet] of this.reasons[root]!) this.fix(root, { text, quiet });
    if (partsRoot && partsOther) this.unify(partsRoot, partsOther, 'a residual or shared channel structure');
  }

  /**
   * Makes two layouts of one axis act alike, refining variables where their block structures
   * differ. When they cannot line up, every variable involved is fixed with a reason naming `where`.
   */
  unify(l1: Layout, l2: Layout, where: string): void {
    if (span(l1) !== span(l2)) {
      this.failUnify(l1, l2, where);
      return;
    }
    const a = this.expand(l1);
    const b = this.expand(l2);
    let i = 0;
    let j = 0;
    // Re-expands the head of a list when its variable was refined meanwhile (a union or an
    // earlier refinement of a repeated variable).
    const head = (list: Segment[], k: number): void => {
      while (k < list.length && list[k]!.of === undefined && this.isRefined(list[k]!.v)) list.splice(k, 1, ...this.expand([list[k]!]));
    };
    while (true) {
      head(a, i);
      head(b, j);
      if (i >= a.length || j >= b.length) break;
      const s = a[i]!;
      const t = b[j]!;
      if (s.of !== undefined || t.of !== undefined) {
        // Head dims meet head dims (Q and K at QKᵀ): the families are one, and so is each head's pair of members.
        if (s.of === undefined || t.of === undefined || s.count !== t.count || s.inner !== t.inner || !this.unionBlocks(s.of, t.of)) {
          this.failUnify(l1, l2, where);
          return;
        }
        i++;
        j++;
        continue;
      }
      const ss = s.count * s.inner;
      const st = t.count * t.inner;
      if (ss === st) {
        if (s.inner === t.inner) {
          this.union(s.v, t.v);
          i++;
          j++;
          continue;
        }
        const [fine, coarse] = s.inner < t.inner ? [s, t] : [t, s];
        if (coarse.inner % fine.inner !== 0) {
          this.failUnify(l1, l2, where);
          return;
        }
        const q = coarse.inner / fine.inner;
        const w = this.fresh(coarse.count, `${this.origin[fine.v]} (blocks of ${q})`);
        this.refine(fine.v, [{ v: w, count: coarse.count, inner: q }]);
        continue;
      }
      const big = ss > st ? s : t;
      const cut = Math.min(ss, st);
      if (cut % big.inner !== 0) {
        this.failUnify(l1, l2, where);
        return;
      }
      const k = cut / big.inner;
      const origin = this.origin[big.v]!;
      this.refine(big.v, [
        { v: this.fresh(k, `${origin} [0:${k})`), count: k, inner: 1 },
        { v: this.fresh(big.count - k, `${origin} [${k}:${big.count})`), count: big.count - k, inner: 1 },
      ]);
    }
    if (i < a.length || j < b.length) this.failUnify(l1, l2, where);
  }

  /** One family for two block lists, member by member; false when their families differ in size. */
  private unionBlocks(a: number, b: number): boolean {
    const ma = this.members(a);
    const mb = this.members(b);
    if (ma.length !== mb.length || ma.some((m, u) => this.count(m) !== this.count(mb[u]!))) return false;
    this.union(this.blockLists[a]!.family, this.blockLists[b]!.family);
    ma.forEach((m, u) => this.union(m, mb[u]!));
    return true;
  }

  private failUnify(l1: Layout, l2: Layout, where: string): void {
    const reason = { text: `channel structures that cannot be lined up meet at ${where}`, quiet: false };
    this.fixLayout(this.expand(l1), reason);
    this.fixLayout(this.expand(l2), reason);
  }

  /**
   * The part of a layout between positions [start, end), refining variables cut by a bound.
   * Returns null when a bound falls inside a unit (inner > 1 and not aligned).
   */
  slice(layout: Layout, start: number, end: number): Segment[] | null {
    let list = this.expand(layout);
    for (const bound of [start, end]) {
      let pos = 0;
      for (let k = 0; k < list.length; k++) {
        const s = list[k]!;
        const len = s.count * s.inner;
        if (bound > pos && bound < pos + len) {
          if (s.of !== undefined) return null;
          const off = bound - pos;
          if (off % s.inner !== 0) return null;
          const c = off / s.inner;
          const origin = this.origin[s.v]!;
          this.refine(s.v, [
            { v: this.fresh(c, `${origin} [0:${c})`), count: c, inner: 1 },
            { v: this.fresh(s.count - c, `${origin} [${c}:${s.count})`), count: s.count - c, inner: 1 },
          ]);
          list = this.expand(list);
          break;
        }
        pos += len;
      }
    }
    const out: Segment[] = [];
    let pos = 0;
    for (const s of list) {
      const len = s.count * s.inner;
      if (pos >= start && pos + len <= end) out.push(s);
      pos += len;
    }
    return out;
  }

  /** Whether a layout has a variable that could still be permuted (not fixed, 2 units or more). */
  permutable(layout: Layout): boolean {
    return this.expand(layout).some((s) => (s.of === undefined ? s.count > 1 && !this.isFixed(s.v) : s.count > 1 && this.members(s.of).some((m) => !this.isFixed(m))));
  }
}
