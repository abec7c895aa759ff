import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { decodeModel, encodeModel, readModel, writeModel } from '../../lib/onnx/model.js';
import { newEntry, type ModelProto, type StringStringEntryProto } from '../../lib/onnx/proto.js';
import { fixture, runCliInProcess, tempDir } from '../helpers.js';

const tmp = tempDir();
afterAll(() => tmp.cleanup());

// A minimal protobuf writer, so the test states the bytes independently of the schema library.
const varint = (n: number): number[] => {
  const out: number[] = [];
  do {
    out.push((n & 0x7f) | (n > 0x7f ? 0x80 : 0));
    n = Math.floor(n / 128);
  } while (n > 0);
  return out;
};
const bytes = (field: number, value: Uint8Array | number[] | string): number[] => {
  const data = typeof value === 'string' ? [...new TextEncoder().encode(value)] : [...value];
  return [...varint((field << 3) | 2), ...varint(data.length), ...data];
};
const int = (field: number, value: number): number[] => [...varint(field << 3), ...varint(value)];
const fixed32 = (field: number, value: number): number[] => [...varint((field << 3) | 5), value & 0xff, (value >> 8) & 0xff, (value >> 16) & 0xff, value >>> 24];

/** x·w → y (Mul by a float initializer), with a field number onnx.proto does not define on the model, graph, node and tensor. */
function modelWithUnknownFields(): Uint8Array {
  const tensor = [...int(1, 2), ...int(2, 1), ...bytes(8, 'w'), ...bytes(9, new Uint8Array(new Float32Array([2, -3]).buffer)), ...int(1000, 7)];
  const node = [...bytes(1, 'x'), ...bytes(1, 'w'), ...bytes(2, 'y'), ...bytes(3, 'mul'), ...bytes(4, 'Mul'), ...bytes(1001, 'node note')];
  const floatValue = (name: string) => [...bytes(1, name), ...bytes(2, [...bytes(1, [...int(1, 1), ...bytes(2, [...bytes(1, int(1, 2))])])])];
  const graph = [...bytes(1, node), ...bytes(2, 'g'), ...bytes(5, tensor), ...bytes(11, floatValue('x')), ...bytes(12, floatValue('y')), ...fixed32(1002, 0xdeadbeef)];
  const model = [...int(1, 8), ...bytes(7, graph), ...bytes(8, [...bytes(1, ''), ...int(2, 13)]), ...bytes(1003, 'model note')];
  return Uint8Array.from(model);
}

describe('the ONNX schema (ONNX 1.20)', () => {
  it('a decode→encode round trip keeps fields unknown to the schema on the model, graph, node and tensor, byte for byte', () => {
    const original = modelWithUnknownFields();
    const model = decodeModel(original, 'unknown.onnx');
    expect(model.graph!.node[0]!.opType).toBe('Mul');
    expect(model.graph!.initializer[0]!.dims).toEqual([2n]);
    expect(Buffer.from(encodeModel(model))).toEqual(Buffer.from(original));
  });

  it('a read→write through a file keeps unknown fields, also after the known fields are edited', async () => {
    const file = join(tmp.dir, 'unknown.onnx');
    writeFileSync(file, modelWithUnknownFields());
    const { proto } = await readModel(file);
    proto.graph!.node[0]!.name = 'renamed';
    const out = join(tmp.dir, 'unknown.out.onnx');
    await writeModel(proto, out);
    const written = Buffer.from(readFileSync(out));
    for (const note of ['node note', 'model note']) expect(written.includes(Buffer.from(note)), note).toBe(true);
    expect(written.includes(Buffer.from([0xef, 0xbe, 0xad, 0xde]))).toBe(true);
    expect(written.includes(Buffer.from([...varint((1000 << 3) | 0), 7]))).toBe(true);
    expect(decodeModel(written, out).graph!.node[0]!.name).toBe('renamed');
  });

  it('reads metadata_props of nodes, values and tensors (ONNX 1.16+), which the 1.8 schema dropped', () => {
    const node = [...bytes(1, 'x'), ...bytes(2, 'y'), ...bytes(4, 'Relu'), ...bytes(9, [...bytes(1, 'pkg.torch.onnx.name_scopes'), ...bytes(2, "['', 'act', 'relu']")])];
    const tensor = [...int(1, 1), ...int(2, 1), ...bytes(8, 't'), ...bytes(9, new Uint8Array(4)), ...bytes(16, [...bytes(1, 'pkg.onnxscript.optimizer.folded_from'), ...bytes(2, 'fc.weight')])];
    const value = (name: string) => [...bytes(1, name), ...bytes(4, [...bytes(1, 'note'), ...bytes(2, name)])];
    const graph = [...bytes(1, node), ...bytes(5, tensor), ...bytes(11, value('x')), ...bytes(12, value('y'))];
    const model = decodeModel(Uint8Array.from([...int(1, 10), ...bytes(7, graph), ...bytes(8, [...bytes(1, ''), ...int(2, 18)])]), 'metadata.onnx');
    const g = model.graph!;
    expect(g.node[0]!.metadataProps.map((e) => [e.key, e.value])).toEqual([['pkg.torch.onnx.name_scopes', "['', 'act', 'relu']"]]);
    expect(g.initializer[0]!.metadataProps.map((e) => [e.key, e.value])).toEqual([['pkg.onnxscript.optimizer.folded_from', 'fc.weight']]);
    expect(g.input[0]!.metadataProps[0]!.value).toBe('x');
    expect(g.output[0]!.metadataProps[0]!.value).toBe('y');
  });
});

/** What the dynamo exporter writes on a node: cumulative module paths, the node's own name last. */
function dynamoMetadata(path: string, op: string): StringStringEntryProto[] {
  const scopes = ['', ...path.split('.').map((_, k, parts) => parts.slice(0, k + 1).join('.')), op];
  return [
    newEntry('namespace', `: __main__.Net/${scopes.slice(1, -1).map((s) => `${s}: torch.nn.Module`).join('/')}/${op}: aten.${op}.default`),
    newEntry('pkg.torch.onnx.name_scopes', `[${scopes.map((s) => `'${s}'`).join(', ')}]`),
  ];
}

/** A fixture MLP with dynamo-style metadata on every node, value and initializer. */
function withMetadata(proto: ModelProto): ModelProto {
  const graph = proto.graph!;
  graph.node.forEach((node, k) => {
    const path = node.name.split('/').filter((s) => s.length > 0).slice(0, -1).join('.');
    node.metadataProps = path ? dynamoMetadata(path, `op_${k}`) : [newEntry('pkg.torch.onnx.name_scopes', `['', 'op_${k}']`)];
  });
  for (const value of [...graph.input, ...graph.output]) value.metadataProps = [newEntry('llfc.test.value', value.name)];
  for (const tensor of graph.initializer) tensor.metadataProps = [newEntry('pkg.onnxscript.optimizer.folded_from', `${tensor.name}.source`)];
  return proto;
}

const metadataOf = (proto: ModelProto) => {
  const graph = proto.graph!;
  const entries = (list: readonly StringStringEntryProto[]) => list.map((e) => `${e.key}=${e.value}`);
  return {
    nodes: Object.fromEntries(graph.node.map((n) => [n.name, entries(n.metadataProps)])),
    values: Object.fromEntries([...graph.input, ...graph.output].map((v) => [v.name, entries(v.metadataProps)])),
    tensors: Object.fromEntries(graph.initializer.map((t) => [t.name, entries(t.metadataProps)])),
  };
};

describe('metadata_props through the commands that write models', () => {
  const a = join(tmp.dir, 'meta_a.onnx');
  const b = join(tmp.dir, 'meta_b.onnx');
  const source = async (file: string, from: string) => {
    const proto = withMetadata((await readModel(fixture('models', from))).proto);
    await writeModel(proto, file);
    return proto;
  };

  it('llfc interpolate keeps the metadata of every node, value and initializer', async () => {
    const original = await source(a, 'mlp_a.onnx');
    await source(b, 'mlp_b.onnx');
    const out = join(tmp.dir, 'meta_mid.onnx');
    const r = await runCliInProcess('interpolate', a, b, '--alpha', '0.5', '-o', out, '--quiet');
    expect(r.status, r.stderr).toBe(0);
    const written = decodeModel(readFileSync(out), out);
    expect(metadataOf(written)).toEqual(metadataOf(original));
    expect(Object.values(metadataOf(written).nodes).flat()).toContain("pkg.torch.onnx.name_scopes=['', 'fc1', 'op_1']");
  });

  it('llfc permute --random keeps the metadata of every node, value and initializer', async () => {
    const original = await source(b, 'mlp_b.onnx');
    const out = join(tmp.dir, 'meta_perm.onnx');
    const r = await runCliInProcess('permute', b, '--random', '--seed', '5', '-o', out, '--quiet');
    expect(r.status, r.stderr).toBe(0);
    const written = decodeModel(readFileSync(out), out);
    expect(metadataOf(written)).toEqual(metadataOf(original));
    // The weights did change: the metadata is not there because nothing was written.
    expect(written.graph!.initializer.find((t) => t.name === 'fc1.weight')!.rawData).not.toEqual(original.graph!.initializer.find((t) => t.name === 'fc1.weight')!.rawData);
  });
});
