/**
 * PyTorch module paths of ONNX nodes: from the node metadata the dynamo exporter writes, or else
 * recovered from the node names the legacy exporter writes.
 */
import { metadataValue, type StringStringEntryProto } from './proto.js';

/**
 * The module path in a node's dynamo metadata. `pkg.torch.onnx.name_scopes` is the repr of a
 * Python list of cumulative module paths, the root '' first and the node's own name last
 * (`['', 'layer1', 'layer1.0', 'layer1.0.conv1', 'convolution']`); `namespace` holds the same
 * as "path: class" segments joined by '/' (`: Net/layer1: …Sequential/…/convolution: aten.convolution.default`).
 * Returns null for a node at the root, undefined when the metadata says nothing.
 */
function metadataPath(metadata: readonly StringStringEntryProto[]): string | null | undefined {
  const scopes = metadataValue(metadata, 'pkg.torch.onnx.name_scopes');
  const list = scopes === undefined ? undefined : pythonStrings(scopes);
  const segments = metadataValue(metadata, 'namespace')?.split('/');
  const namespace = segments?.every((s) => s.includes(': ')) ? segments.map((s) => s.slice(0, s.indexOf(': '))) : undefined;
  const paths = list ?? namespace;
  if (paths === undefined || paths.length < 2) return undefined;
  const module = paths[paths.length - 2]!;
  return module.length > 0 ? module : null;
}

/** The items of a Python repr of a list of strings ("['', 'fc1', 'addmm']"), or undefined if it is not one. */
function pythonStrings(repr: string): string[] | undefined {
  const text = repr.trim();
  if (!text.startsWith('[') || !text.endsWith(']')) return undefined;
  const items: string[] = [];
  const item = /\s*(?:'((?:[^'\\]|\\.)*)'|"((?:[^"\\]|\\.)*)")\s*(,|$)/y;
  const body = text.slice(1, -1);
  item.lastIndex = 0;
  while (item.lastIndex < body.length) {
    const match = item.exec(body);
    if (!match) return undefined;
    items.push((match[1] ?? match[2]!).replace(/\\(.)/g, '$1'));
    if (match[3] !== ',') break;
  }
  return items;
}

/**
 * The module path of a node. Dynamo metadata (`pkg.torch.onnx.name_scopes`, `namespace`) wins
 * where the node carries it. Otherwise from a legacy node name: "/layer1/0/conv1/Conv" →
 * "layer1.0.conv1"; the legacy exporter prefixes a child with its parent's last segment
 * ("/layer2/layer2.0/downsample/downsample.0/Conv" → "layer2.0.downsample.0"), so a segment
 * that extends the previous one replaces it.
 * Returns null for nodes that carry no scope (no leading "/" or nothing before the op, or at the root).
 */
export function modulePath(nodeName: string, metadata: readonly StringStringEntryProto[] = []): string | null {
  const fromMetadata = metadataPath(metadata);
  if (fromMetadata !== undefined) return fromMetadata;
  if (!nodeName.startsWith('/')) return null;
  const segments = nodeName.split('/').filter((s) => s.length > 0);
  segments.pop();
  const path: string[] = [];
  for (const segment of segments) {
    const last = path[path.length - 1];
    if (last !== undefined && segment.startsWith(`${last}.`)) path[path.length - 1] = segment;
    else path.push(segment);
  }
  const joined = path.join('.');
  return joined.length > 0 ? joined : null;
}
