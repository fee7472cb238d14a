import { NodeFromProperties, nodeFromProperties, StringMap } from '@plexus/domain';
import { parsePropertiesDetailed } from '@plexus/properties';
import { errorText } from '@plexus/common';
import { StartupError } from '../startup.error';

/** A node's --properties file, as the worker seeds the node from it. */
export interface NodePropertiesFile {
  /** The file's keys, with node.id set to --node-id when the file has none. */
  flat: StringMap;
  node: NodeFromProperties;
}

/**
 * Parses a node properties file for the node `nodeId`. Pure: the caller reads the file, and
 * hears of keys given more than once (the last one counts). Throws StartupError naming the
 * file, and the line of the key the domain complains about when there is one.
 */
export function parseNodePropertiesFile(
  bytes: Buffer,
  path: string,
  nodeId: string,
  onDuplicate: (key: string, lines: number[]) => void = () => undefined,
): NodePropertiesFile {
  try {
    const parsed = parsePropertiesDetailed(bytes);
    for (const d of parsed.duplicates) onDuplicate(d.key, d.lines);
    const flat = { ...parsed.values };
    let node: NodeFromProperties;
    try {
      node = nodeFromProperties(flat);
    } catch (err) {
      const message = errorText(err);
      const key = /key "([^"]+)"/.exec(message)?.[1];
      const moduleId = /module "([^"]+)"/.exec(message)?.[1];
      const entry = parsed.entries.find((e) =>
        key ? e.key === key : moduleId ? e.key.startsWith(`module.${moduleId}.`) : false,
      );
      throw new StartupError(
        `${path} is not a valid node properties file: ${entry ? `line ${entry.line}: ` : ''}${message}`,
      );
    }
    if (node.nodeId !== null && node.nodeId !== nodeId)
      throw new StartupError(`node.id in ${path} is "${node.nodeId}" but --node-id is "${nodeId}"`);
    flat['node.id'] ??= nodeId;
    return { flat, node };
  } catch (err) {
    if (err instanceof StartupError) throw err;
    throw new StartupError(`${path} is not a valid node properties file: ${errorText(err)}`);
  }
}
