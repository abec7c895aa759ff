/**
 * Reading ONNX files (external data included) and writing them back atomically.
 * A read followed by a write keeps every field of the protobuf message.
 */
import { randomBytes } from 'node:crypto';
import { readFile, rename, rm, stat, writeFile, open } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { ExternalDataError, OnnxFormatError } from '../errors.js';
import { onnx, toNumber, type ModelProto, type TensorProto } from './proto.js';

const EXTERNAL = onnx.TensorProto.DataLocation.EXTERNAL;

/** An ONNX model and where it came from. */
export interface OnnxModel {
  readonly file: string;
  readonly proto: ModelProto;
}

/** Parses a model from bytes; `file` names it in errors. */
export function decodeModel(bytes: Uint8Array, file: string): ModelProto {
  let proto: ModelProto;
  try {
    proto = onnx.ModelProto.decode(bytes);
  } catch (error) {
    throw new OnnxFormatError(file, `protobuf decoding failed (${(error as Error).message}); the file may be truncated or not ONNX`, { cause: error });
  }
  if (!proto.graph) throw new OnnxFormatError(file, 'it has no graph');
  if (!proto.opsetImport || proto.opsetImport.length === 0) throw new OnnxFormatError(file, 'it declares no opset (opset_import is empty)');
  if (!proto.graph.node || proto.graph.node.length === 0) throw new OnnxFormatError(file, 'its graph has no nodes');
  return proto;
}

/** Reads an ONNX file; tensors stored in external data files are loaded into raw_data. */
export async function readModel(file: string): Promise<OnnxModel> {
  let bytes: Uint8Array;
  try {
    bytes = await readFile(file);
  } catch (error) {
    throw new OnnxFormatError(file, (error as NodeJS.ErrnoException).code === 'ENOENT' ? 'the file does not exist' : (error as Error).message, { cause: error });
  }
  if (bytes.length === 0) throw new OnnxFormatError(file, 'the file is empty');
  const proto = decodeModel(bytes, file);
  await loadExternalData(proto, file);
  return { file, proto };
}

function externalField(tensor: TensorProto, key: string): string | undefined {
  return tensor.externalData?.find((e) => e.key === key)?.value ?? undefined;
}

async function loadExternalData(proto: ModelProto, file: string): Promise<void> {
  const dir = dirname(resolve(file));
  for (const tensor of proto.graph?.initializer ?? []) {
    if (tensor.dataLocation !== EXTERNAL) continue;
    const name = tensor.name ?? '';
    const location = externalField(tensor, 'location');
    if (!location) throw new ExternalDataError(file, name, 'external data without a location');
    const path = join(dir, location);
    const offset = Number(externalField(tensor, 'offset') ?? 0);
    const lengthField = externalField(tensor, 'length');
    let size: number;
    try {
      size = (await stat(path)).size;
    } catch {
      throw new ExternalDataError(file, name, `external data file '${path}' is missing`);
    }
    const length = lengthField === undefined ? size - offset : Number(lengthField);
    if (offset + length > size) {
      throw new ExternalDataError(file, name, `external data file '${path}' has ${size} bytes, the tensor needs bytes ${offset}..${offset + length}`);
    }
    const handle = await open(path, 'r');
    try {
      const data = new Uint8Array(length);
      await handle.read(data, 0, length, offset);
      tensor.rawData = data;
    } finally {
      await handle.close();
    }
    tensor.dataLocation = onnx.TensorProto.DataLocation.DEFAULT;
    tensor.externalData = [];
  }
}

export function encodeModel(proto: ModelProto): Uint8Array {
  return onnx.ModelProto.encode(proto).finish();
}

/** Writes bytes to `file` through a temporary file and a rename, so no reader sees a partial file. */
export async function writeFileAtomic(file: string, bytes: Uint8Array | string): Promise<void> {
  const temp = join(dirname(resolve(file)), `.${basename(file)}.${randomBytes(6).toString('hex')}.tmp`);
  try {
    await writeFile(temp, bytes);
    await rename(temp, file);
  } catch (error) {
    await rm(temp, { force: true });
    throw error;
  }
}

/** Writes a model atomically. Tensors are embedded (external data is read in by readModel). */
export async function writeModel(proto: ModelProto, file: string): Promise<void> {
  await writeFileAtomic(file, encodeModel(proto));
}

/** A deep copy of a model message. */
export function cloneModel(proto: ModelProto): ModelProto {
  return onnx.ModelProto.decode(encodeModel(proto));
}

export { toNumber };
