/**
 * The safetensors format (what `safetensors.torch.load_file` reads), float32 only: an 8-byte
 * little-endian header length N, N bytes of JSON
 *   {"__metadata__": {string: string}, name: {"dtype": "F32", "shape": [...], "data_offsets": [begin, end]}, ...}
 * padded with spaces to a multiple of 8, then the tensors' little-endian bytes, back to back,
 * with offsets counted from the end of the header.
 */
import { endianness } from 'node:os';
import { InvalidArgumentError } from '../errors.js';

export interface SafetensorsTensor {
  readonly name: string;
  readonly shape: readonly number[];
  readonly data: Float32Array;
}

export interface SafetensorsFile {
  readonly metadata: Record<string, string>;
  readonly tensors: SafetensorsTensor[];
}

/** The safetensors file as one buffer of its own (Buffer.concat could hand out a slice of Node's shared pool). */
export function encodeSafetensors(tensors: readonly SafetensorsTensor[], metadata: Record<string, string> = {}): Uint8Array {
  const pieces = safetensorsPieces(tensors, metadata);
  const out = new Uint8Array(pieces.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of pieces) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/**
 * The safetensors file as the pieces it is made of, in order: the header, then each tensor's
 * bytes — on a little-endian machine views of the tensors' own memory, so a model's worth of
 * tensors is written without being copied (OutputFile content takes the pieces).
 */
export function safetensorsPieces(tensors: readonly SafetensorsTensor[], metadata: Record<string, string> = {}): Uint8Array[] {
  const header: Record<string, unknown> = {};
  if (Object.keys(metadata).length > 0) header.__metadata__ = metadata;
  const seen = new Set<string>();
  let offset = 0;
  for (const t of tensors) {
    if (t.name === '__metadata__' || seen.has(t.name)) throw new InvalidArgumentError(`safetensors: duplicate or reserved tensor name '${t.name}'`);
    seen.add(t.name);
    const count = t.shape.reduce((n, d) => n * d, 1);
    if (count !== t.data.length) throw new InvalidArgumentError(`safetensors: tensor '${t.name}' has ${t.data.length} values for shape [${t.shape.join(', ')}]`);
    header[t.name] = { dtype: 'F32', shape: [...t.shape], data_offsets: [offset, offset + 4 * count] };
    offset += 4 * count;
  }
  const json = Buffer.from(JSON.stringify(header), 'utf8');
  const pad = (8 - (json.length % 8)) % 8;
  const head = new Uint8Array(8 + json.length + pad).fill(0x20);
  new DataView(head.buffer).setBigUint64(0, BigInt(json.length + pad), true);
  head.set(json, 8);
  return [head, ...tensors.map((t) => littleEndianBytes(t.data))];
}

/** float32 values as little-endian bytes: a view where the machine is little-endian, else a copy. */
function littleEndianBytes(values: Float32Array): Uint8Array {
  if (endianness() === 'LE') return new Uint8Array(values.buffer, values.byteOffset, values.byteLength);
  const bytes = new Uint8Array(values.length * 4);
  const view = new DataView(bytes.buffer);
  for (let i = 0; i < values.length; i++) view.setFloat32(4 * i, values[i]!, true);
  return bytes;
}

/** Parses a float32 safetensors file; `file` names it in errors. */
export function decodeSafetensors(bytes: Uint8Array, file: string): SafetensorsFile {
  const fail = (detail: string): never => {
    throw new InvalidArgumentError(`${file}: not a valid safetensors file: ${detail}`);
  };
  if (bytes.length < 8) fail('shorter than its 8-byte header length');
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const n = Number(view.getBigUint64(0, true));
  if (n > bytes.length - 8) fail(`the header claims ${n} bytes, the file has ${bytes.length - 8} after the length`);
  let header: Record<string, unknown>;
  try {
    header = JSON.parse(Buffer.from(bytes.subarray(8, 8 + n)).toString('utf8')) as Record<string, unknown>;
  } catch (error) {
    return fail(`the header is not JSON (${(error as Error).message})`);
  }
  const base = 8 + n;
  const metadata = (header.__metadata__ ?? {}) as Record<string, string>;
  const tensors: SafetensorsTensor[] = [];
  const spans: [number, number][] = [];
  for (const [name, entry] of Object.entries(header)) {
    if (name === '__metadata__') continue;
    const e = entry as { dtype?: unknown; shape?: unknown; data_offsets?: unknown };
    if (e.dtype !== 'F32') fail(`tensor '${name}' has dtype ${String(e.dtype)}; only F32 is read`);
    const shape = e.shape as number[];
    const [begin, end] = e.data_offsets as [number, number];
    if (!Array.isArray(shape) || !Number.isInteger(begin) || !Number.isInteger(end)) fail(`tensor '${name}' has no shape or data_offsets`);
    const count = shape.reduce((x, d) => x * d, 1);
    if (end - begin !== 4 * count || begin < 0 || base + end > bytes.length) fail(`tensor '${name}' has offsets [${begin}, ${end}) for shape [${shape.join(', ')}]`);
    spans.push([begin, end]);
    const data = new Float32Array(count);
    for (let i = 0; i < count; i++) data[i] = view.getFloat32(base + begin + 4 * i, true);
    tensors.push({ name, shape, data });
  }
  spans.sort((x, y) => x[0] - y[0]);
  let expected = 0;
  for (const [begin, end] of spans) {
    if (begin !== expected) fail(`the tensors do not cover the data contiguously (a gap or overlap at byte ${begin})`);
    expected = end;
  }
  if (base + expected !== bytes.length) fail(`${bytes.length - base - expected} bytes after the last tensor`);
  return { metadata, tensors };
}
