import { extname } from 'node:path';
import { parse as parseYaml } from 'yaml';
import {
  Activation,
  diffDocuments,
  ModuleSpec,
  ModuleTypeCatalog,
  NodeDiff,
  NodeDocument,
  nodesFromPropertyEntries,
  nodeToProperties,
  REDACTED,
  StringMap,
} from '@plexus/domain';
import { parsePropertiesDetailed, serializeProperties } from '@plexus/properties';
import { usageError } from '../exit-codes';

/** The node a file describes: what `nodes apply` makes the node hold (modules not in it go). */
export interface DesiredNode {
  nodeId: string;
  properties: StringMap;
  modules: Omit<ModuleSpec, 'generation'>[];
}

export type NodeFileFormat = 'properties' | 'json' | 'yaml';

/** By extension: .json, .yaml/.yml, anything else is a properties file. */
export function nodeFileFormat(path: string): NodeFileFormat {
  const ext = extname(path).toLowerCase();
  if (ext === '.json') return 'json';
  if (ext === '.yaml' || ext === '.yml') return 'yaml';
  return 'properties';
}

/**
 * Reads a node file: a properties file of one node (Smile CDR's format), or JSON/YAML shaped like
 * `nodes get -o json` prints a node (`modules` a list with `moduleId`, or a map by module ID).
 */
export function parseNodeFile(text: string, format: NodeFileFormat, source: string): DesiredNode {
  try {
    if (format === 'properties') {
      const sections = nodesFromPropertyEntries(parsePropertiesDetailed(text, { source }).entries);
      if (sections.length !== 1)
        throw new Error(
          `it describes ${sections.length} nodes; apply takes one (see plexus import)`,
        );
      const [s] = sections;
      return { nodeId: s.nodeId, properties: s.properties, modules: s.modules };
    }
    const data = format === 'json' ? JSON.parse(text) : parseYaml(text);
    return nodeFromObject(data);
  } catch (err) {
    throw usageError(`${source}: ${(err as Error).message}`);
  }
}

const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

/** Values as strings (YAML reads `port: 8000` as a number); a nested object is refused. */
function stringMap(v: unknown, field: string): StringMap {
  if (v === undefined || v === null) return {};
  if (!isObject(v)) throw new Error(`${field} must be an object of key: value`);
  const out: StringMap = {};
  for (const [k, value] of Object.entries(v)) {
    if (isObject(value) || Array.isArray(value) || value === null)
      throw new Error(`${field}.${k} must be a string, number or boolean`);
    out[k] = String(value);
  }
  return out;
}

function moduleFromObject(id: string, m: unknown): Omit<ModuleSpec, 'generation'> {
  const at = `modules.${id}`;
  if (!isObject(m)) throw new Error(`${at} must be an object`);
  if (typeof m.type !== 'string' || !m.type) throw new Error(`${at}.type is required`);
  const activation = m.activation ?? 'all';
  if (activation !== 'all' && activation !== 'single')
    throw new Error(`${at}.activation must be all or single`);
  if (m.enabled !== undefined && typeof m.enabled !== 'boolean')
    throw new Error(`${at}.enabled must be true or false`);
  return {
    moduleId: id,
    type: m.type,
    config: stringMap(m.config, `${at}.config`),
    requires: stringMap(m.requires, `${at}.requires`),
    enabled: m.enabled ?? true,
    activation: activation as Activation,
    ...(typeof m.smileType === 'string' ? { smileType: m.smileType } : {}),
  };
}

export function nodeFromObject(data: unknown): DesiredNode {
  if (!isObject(data)) throw new Error('the file must hold an object with nodeId');
  if (typeof data.nodeId !== 'string' || !data.nodeId) throw new Error('nodeId is required');
  const raw = data.modules ?? [];
  const entries: [string, unknown][] = Array.isArray(raw)
    ? raw.map((m, i) => {
        if (!isObject(m) || typeof m.moduleId !== 'string')
          throw new Error(`modules[${i}].moduleId is required`);
        return [m.moduleId, m];
      })
    : isObject(raw)
      ? Object.entries(raw)
      : (() => {
          throw new Error('modules must be a list or a map by module ID');
        })();
  const seen = new Set<string>();
  for (const [id] of entries) {
    if (seen.has(id)) throw new Error(`module "${id}" is given twice`);
    seen.add(id);
  }
  return {
    nodeId: data.nodeId,
    properties: stringMap(data.properties, 'properties'),
    modules: entries.map(([id, m]) => moduleFromObject(id, m)),
  };
}

/** The desired node as the properties file POST /module-config/properties imports atomically. */
export const desiredNodeProperties = (node: DesiredNode): string =>
  serializeProperties(nodeToProperties({ ...node, modules: node.modules.map(withGeneration) }));

const withGeneration = (m: Omit<ModuleSpec, 'generation'>): ModuleSpec => ({ ...m, generation: 0 });

/** No type information on the client: secrets are known by their name and by redacted values. */
const NO_CATALOG: ModuleTypeCatalog = { get: () => undefined, list: () => [] };

/** `diff` with every change whose old or new value is redacted marked secret (shown redacted). */
function markRedacted(diff: NodeDiff): NodeDiff {
  const mark = (c: NodeDiff['properties'][number]) =>
    c.old === REDACTED || c.new === REDACTED
      ? { ...c, secret: true, old: c.old && REDACTED, new: c.new && REDACTED }
      : c;
  return {
    ...diff,
    properties: diff.properties.map(mark),
    modulesChanged: diff.modulesChanged.map((m) => ({ ...m, config: m.config.map(mark) })),
  };
}

/**
 * What applying `desired` would change on `current` (null: the node does not exist). A value
 * written as REDACTED keeps the stored one, as the import does.
 */
export function planApply(current: NodeDocument | null, desired: DesiredNode): NodeDiff {
  const before: NodeDocument = current ?? {
    nodeId: desired.nodeId,
    version: 0,
    archived: false,
    properties: {},
    modules: [],
  };
  const keep = (want: StringMap, stored: StringMap) =>
    Object.fromEntries(
      Object.entries(want).map(([k, v]) => [k, v === REDACTED && k in stored ? stored[k] : v]),
    );
  const after: NodeDocument = {
    nodeId: desired.nodeId,
    version: before.version + 1,
    archived: false,
    properties: keep(desired.properties, before.properties),
    modules: desired.modules.map((m) => {
      const stored = before.modules.find((s) => s.moduleId === m.moduleId);
      return {
        ...withGeneration(m),
        generation: stored?.generation ?? 0,
        secretKeys: stored?.secretKeys,
        smileType: m.smileType ?? stored?.smileType,
        config: keep(m.config, stored?.config ?? {}),
      };
    }),
  };
  return markRedacted(diffDocuments(before, after, NO_CATALOG));
}

export const isEmptyDiff = (d: NodeDiff) =>
  !d.properties.length &&
  !d.modulesAdded.length &&
  !d.modulesRemoved.length &&
  !d.modulesChanged.length;

const shown = (v: string | null) => (v === null ? '(none)' : JSON.stringify(v));

/** A NodeDiff (from planApply or GET /nodes/:id/diff) as `+`/`-`/`~` lines; secrets never shown. */
export function renderDiff(d: NodeDiff): string {
  const lines: string[] = [];
  const change = (prefix: string, c: NodeDiff['properties'][number]) => {
    if (c.old === null) lines.push(`+ ${prefix}${c.key} = ${shown(c.new)}`);
    else if (c.new === null) lines.push(`- ${prefix}${c.key} = ${shown(c.old)}`);
    else if (c.secret) lines.push(`~ ${prefix}${c.key}: (secret; changed if it differs)`);
    else lines.push(`~ ${prefix}${c.key}: ${shown(c.old)} -> ${shown(c.new)}`);
  };
  for (const c of d.properties) change('property ', c);
  for (const m of d.modulesAdded) {
    lines.push(`+ module ${m.moduleId} (${m.type})`);
    for (const [key, value] of Object.entries(m.config)) lines.push(`+   ${key} = ${shown(value)}`);
  }
  for (const m of d.modulesRemoved) lines.push(`- module ${m.moduleId} (${m.type})`);
  for (const m of d.modulesChanged) {
    lines.push(`~ module ${m.moduleId}`);
    if (m.type) lines.push(`~   type: ${m.type.old} -> ${m.type.new}`);
    if (m.enabled) lines.push(`~   enabled: ${m.enabled.old} -> ${m.enabled.new}`);
    if (m.activation) lines.push(`~   activation: ${m.activation.old} -> ${m.activation.new}`);
    if (m.requires)
      lines.push(
        `~   requires: ${JSON.stringify(m.requires.old)} -> ${JSON.stringify(m.requires.new)}`,
      );
    for (const c of m.config) change('  ', c);
  }
  return lines.length ? `${lines.join('\n')}\n` : 'no changes\n';
}
