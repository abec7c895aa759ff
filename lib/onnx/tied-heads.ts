/**
 * Tied LM heads: a MatMul whose weight is the transpose of a table an embedding Gather reads (the
 * token embedding), so one tensor is both the embedding and the output projection. The dynamo
 * exporter writes the tie as Transpose → MatMul of the table (its optimizer folds a Transpose only
 * of a tensor nothing else reads); torch 1.13's legacy exporter folds the transpose into a
 * separate initializer, a copy equal to the table transposed, so there the tie shows only in the
 * values.
 */
import { nodeName, producerMap, storedTensors } from './graph.js';
import { DataType, type GraphProto, type TensorProto } from './proto.js';
import { readFloat32, tensorShape } from './tensor.js';

export interface TiedHead {
  /** The head's MatMul. */
  readonly node: string;
  /** The embedding table (an initializer). */
  readonly table: string;
  /** The Gather that reads the table as an embedding. */
  readonly embedding: string;
  /** 'transpose': the MatMul reads Transpose(table); 'copy': it reads a separate initializer equal to the table transposed. */
  readonly form: 'transpose' | 'copy';
  /** For a copy: the initializer the MatMul reads. */
  readonly copy?: string;
}

/** Whether `w` ([in, out]) equals the 2-D `table` ([out, in]) transposed, value for value. */
function isTransposeOf(w: TensorProto, table: TensorProto, file: string): boolean {
  const [rows, cols] = tensorShape(table);
  const ws = tensorShape(w);
  if (tensorShape(table).length !== 2 || ws.length !== 2 || ws[0] !== cols || ws[1] !== rows) return false;
  const a = readFloat32(table, file);
  const b = readFloat32(w, file);
  for (let r = 0; r < rows!; r++) for (let c = 0; c < cols!; c++) if (a[r * cols! + c] !== b[c * rows! + r]) return false;
  return true;
}

/** Every tied head of a graph, in graph order. */
export function tiedHeads(graph: GraphProto, file: string): TiedHead[] {
  const stored = storedTensors(graph);
  const producers = producerMap(graph);
  const tables = new Map<string, string>();
  graph.node.forEach((n, i) => {
    const table = stored.get(n.input[0] ?? '');
    if (n.opType === 'Gather' && table?.dataType === DataType.FLOAT && tensorShape(table).length === 2 && !tables.has(table.name)) tables.set(table.name, nodeName(n, i));
  });
  const heads: TiedHead[] = [];
  graph.node.forEach((n, i) => {
    if (n.opType !== 'MatMul') return;
    const weight = n.input[1] ?? '';
    const at = producers.get(weight);
    const transpose = at ? graph.node[at.node] : undefined;
    if (transpose?.opType === 'Transpose') {
      const table = stored.get(transpose.input[0] ?? '');
      const perm = transpose.attribute.find((a) => a.name === 'perm')?.ints.map(Number) ?? [1, 0];
      const embedding = table ? tables.get(table.name) : undefined;
      if (table && embedding && perm.join() === '1,0') heads.push({ node: nodeName(n, i), table: table.name, embedding, form: 'transpose' });
      return;
    }
    const w = stored.get(weight);
    if (w?.dataType !== DataType.FLOAT) return;
    for (const [name, embedding] of tables) {
      if (isTransposeOf(w, stored.get(name)!, file)) {
        heads.push({ node: nodeName(n, i), table: name, embedding, form: 'copy', copy: w.name });
        return;
      }
    }
  });
  return heads;
}

/** One line per tied head, saying what is tied and what that means for a permutation. */
export function formatTiedHeads(heads: readonly TiedHead[]): string {
  return heads
    .map((h) =>
      h.form === 'transpose'
        ? `tied head: '${h.node}' multiplies by the transpose of '${h.table}', the table the embedding '${h.embedding}' reads (one tensor for both)`
        : `tied head: '${h.node}' multiplies by '${h.copy}', which equals '${h.table}' (the table the embedding '${h.embedding}' reads) transposed: the exporter stored the tie as a copy`,
    )
    .join('\n');
}
