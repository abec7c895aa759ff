/**
 * Reading ONNX files (external data included, lib/onnx/external-data.ts) and writing them
 * back through the output gate.
 * A read followed by a write keeps every field of the protobuf message.
 */
import { readFile, stat } from 'node:fs/promises';
import { OnnxFormatError } from '../errors.js';
import { writeFileAtomic } from '../outputs.js';
import { loadExternalData, type ExternalBytes } from './external-data.js';
import { cloneModelProto, decodeModelProto, encodeModelProto, type ModelProto, type TensorProto } from './proto.js';

/** An ONNX model and where it came from. */
export interface OnnxModel {
  readonly file: string;
  readonly proto: ModelProto;
  /** Whether it was read with tensors in external data files (written back the same way). */
  readonly externalData?: boolean;
  /** Tensors left in their data files (readModel's `defer`), located and checked, to be read where they belong. */
  readonly deferred?: ReadonlyMap<TensorProto, ExternalBytes>;
}

/** Parses a model from bytes; `file` names it in errors. */
export function decodeModel(bytes: Uint8Array, file: string): ModelProto {
  let proto: ModelProto;
  try {
    proto = decodeModelProto(bytes);
  } catch (error) {
    throw new OnnxFormatError(file, `protobuf decoding failed (${(error as Error).message}); the file may be truncated or not ONNX`, { cause: error });
  }
  if (!proto.graph) throw new OnnxFormatError(file, 'it has no graph');
  if (proto.opsetImport.length === 0) throw new OnnxFormatError(file, 'it declares no opset (opset_import is empty)');
  if (proto.graph.node.length === 0) throw new OnnxFormatError(file, 'its graph has no nodes');
  return proto;
}

/**
 * Reads an ONNX file; tensors stored in external data files are loaded into raw_data, except those
 * `defer` picks, which stay external (located and checked) in `deferred`.
 */
export async function readModel(file: string, defer?: (tensor: TensorProto) => boolean): Promise<OnnxModel> {
  let bytes: Uint8Array;
  try {
    // A FIFO or device would block or never end: only regular files are read.
    if (!(await stat(file)).isFile()) throw new OnnxFormatError(file, 'it is not a regular file');
    bytes = await readFile(file);
  } catch (error) {
    if (error instanceof OnnxFormatError) throw error;
    throw new OnnxFormatError(file, (error as NodeJS.ErrnoException).code === 'ENOENT' ? 'the file does not exist' : (error as Error).message, { cause: error });
  }
  if (bytes.length === 0) throw new OnnxFormatError(file, 'the file is empty');
  const proto = decodeModel(bytes, file);
  const { external, deferred } = await loadExternalData(proto, file, defer);
  return { file, proto, externalData: external, deferred };
}

export function encodeModel(proto: ModelProto): Uint8Array {
  return encodeModelProto(proto);
}

/** Writes a model through the output gate (atomically). Tensors are embedded (external data is read in by readModel). */
export async function writeModel(proto: ModelProto, file: string): Promise<void> {
  await writeFileAtomic(file, encodeModel(proto));
}

/** A deep copy of a model message. */
export function cloneModel(proto: ModelProto): ModelProto {
  return cloneModelProto(proto);
}
