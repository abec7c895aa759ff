/** PyTorch module paths recovered from the node names torch.onnx.export writes. */

/**
 * The module path of a node: "/layer1/0/conv1/Conv" → "layer1.0.conv1". The legacy exporter
 * prefixes a child with its parent's last segment ("/layer2/layer2.0/downsample/downsample.0/Conv"
 * → "layer2.0.downsample.0"), so a segment that extends the previous one replaces it.
 * Returns null for names that carry no scope (no leading "/" or nothing before the op).
 */
export function modulePath(nodeName: string): string | null {
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
