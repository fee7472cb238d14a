import { invalid } from './errors';
import { idProblem } from './ids';
import { entryLengthProblem } from './limits';
import { Activation, ModuleSpec, NodeDocument, StringMap } from './node-document';
import { fileTypeOf, fromSmileNames } from './smile-types';

export interface NodeFromProperties {
  nodeId: string | null;
  properties: StringMap;
  modules: Omit<ModuleSpec, 'generation'>[];
}

/**
 * `module.<id>.<part>`. The ID is the shortest prefix that leaves a valid part, so module IDs
 * with dots (`module.fhir.r4.config.port`: module `fhir.r4`) read back as they were written.
 * `[\s\S]`, not `.`: with `.`, a key holding a line separator made the tails fail at it and
 * backtrack at every dot before, quadratic in the key's length (an 80 KB key took a second).
 * Keys are also bounded in length before this runs (entryLengthProblem).
 */
const MODULE_KEY =
  /^module\.([\s\S]+?)\.(type|enabled|activation|requires\.([\s\S]+)|config\.([\s\S]+))$/;
const MODULE_KEY_RULE =
  'module.<id>.type, .enabled, .activation, .requires.<ROLE> or .config.<key>';

/**
 * Maps the flat keys of a Smile CDR node properties file (already parsed) to a node:
 * `node.id`, `node.<property>`, `module.<id>.type|enabled|activation|requires.<ROLE>|config.<key>`.
 */
export function nodeFromProperties(flat: StringMap): NodeFromProperties {
  const { untyped, ...node } = nodeFromFlatKeys(flat);
  if (untyped.length) throw invalid(`module "${untyped[0]}" has no module.${untyped[0]}.type`);
  return node;
}

/**
 * nodeFromProperties, with Smile's type names mapped (fromSmileNames) and the IDs of modules
 * that have no type line and are not the implicit cluster manager in `untyped`, for the caller
 * to refuse.
 */
function nodeFromFlatKeys(flat: StringMap): NodeFromProperties & { untyped: string[] } {
  let nodeId: string | null = null;
  const properties: StringMap = {};
  const modules = new Map<string, Omit<ModuleSpec, 'generation'>>();
  const moduleOf = (id: string) => {
    let m = modules.get(id);
    if (!m) {
      m = { moduleId: id, type: '', config: {}, requires: {}, enabled: true, activation: 'all' };
      modules.set(id, m);
    }
    return m;
  };
  for (const [key, value] of Object.entries(flat)) {
    const tooLong = entryLengthProblem(key, value);
    if (tooLong) throw invalid(tooLong);
    if (key === 'node.id') {
      nodeId = value;
      continue;
    }
    if (key.startsWith('module.')) {
      const match = MODULE_KEY.exec(key);
      if (!match) throw invalid(`key "${key}" must be ${MODULE_KEY_RULE}`);
      const [, id, part, role, configKey] = match;
      const m = moduleOf(id);
      if (part === 'type') m.type = value;
      else if (part === 'enabled') {
        if (value !== 'true' && value !== 'false')
          throw invalid(`key "${key}" must be true or false`);
        m.enabled = value === 'true';
      } else if (part === 'activation') {
        if (value !== 'all' && value !== 'single')
          throw invalid(`key "${key}" must be all or single`);
        m.activation = value as Activation;
      } else if (role !== undefined) m.requires[role] = value;
      else m.config[configKey] = value;
      continue;
    }
    properties[key.startsWith('node.') ? key.slice('node.'.length) : key] = value;
  }
  const written = [...modules.values()];
  const untyped: string[] = [];
  const mapped: Omit<ModuleSpec, 'generation'>[] = [];
  for (const m of written) {
    const module = fromSmileNames(m, written);
    if (module) mapped.push(module);
    else untyped.push(m.moduleId);
  }
  return { nodeId, properties, modules: mapped, untyped };
}

/** The inverse of nodeFromProperties: flat keys in a stable order, ready to write as a file. */
export function nodeToProperties(
  doc: Pick<NodeDocument, 'nodeId' | 'properties' | 'modules'>,
): [string, string][] {
  const out: [string, string][] = [['node.id', doc.nodeId]];
  // A property named "id" cannot be written: node.id names the node (and starts a new one in a file).
  for (const key of Object.keys(doc.properties).sort())
    if (key !== 'id') out.push([`node.${key}`, doc.properties[key]]);
  for (const m of doc.modules) {
    const prefix = `module.${m.moduleId}`;
    // A Smile name goes back as the file had it; the implicit cluster manager had no type line.
    const fileType = fileTypeOf(m);
    if (fileType !== '') out.push([`${prefix}.type`, fileType]);
    if (!m.enabled) out.push([`${prefix}.enabled`, 'false']);
    if (m.activation !== 'all') out.push([`${prefix}.activation`, m.activation]);
    for (const role of Object.keys(m.requires).sort())
      out.push([`${prefix}.requires.${role}`, m.requires[role]]);
    for (const key of Object.keys(m.config).sort())
      out.push([`${prefix}.config.${key}`, m.config[key]]);
  }
  return out;
}

/** One key of a properties file where it was written (as parsePropertiesDetailed gives it). */
export interface PropertyFileEntry {
  key: string;
  value: string;
  /** 1-based line the entry starts on. */
  line: number;
}

/** One node of a properties file: its keys run from its `node.id` entry to the next one. */
export interface NodeFileSection {
  nodeId: string;
  /** Line of the section's `node.id` entry. */
  line: number;
  /** The section's entries in file order, `node.id` first. */
  entries: PropertyFileEntry[];
  properties: StringMap;
  modules: Omit<ModuleSpec, 'generation'>[];
}

const atLine = (line: number, message: string) => invalid(`line ${line}: ${message}`);

/** Why `entry` cannot be a key of a node section (naming nothing of the line), or null. */
function entryProblem({ key, value }: PropertyFileEntry): string | null {
  if (key.startsWith('node.'))
    return key.length > 'node.'.length ? null : 'the key "node." names no property';
  const match = MODULE_KEY.exec(key);
  if (!match)
    return `key "${key}" must be node.<property> or ${MODULE_KEY_RULE} (node.id starts a node)`;
  const [, id, part] = match;
  const problem = idProblem(`module ID "${id}" in key "${key}"`, id);
  if (problem) return problem;
  if (part === 'enabled' && value !== 'true' && value !== 'false')
    return `key "${key}" must be true or false, got "${value}"`;
  if (part === 'activation' && value !== 'all' && value !== 'single')
    return `key "${key}" must be all or single, got "${value}"`;
  if (part === 'type' && value === '') return `key "${key}" names no module type`;
  return null;
}

/**
 * Splits the entries of a properties file with one or more nodes at each `node.id` entry and maps
 * each section to a node (nodeFromProperties). A key before the first `node.id`, a key that is
 * not `node.<property>` or `module.<id>.(type|enabled|activation|requires.<ROLE>|config.<key>)`,
 * a node given twice or a module without a type is refused naming its line. Within a section a
 * repeated key keeps its last value, as in Java.
 */
export function nodesFromPropertyEntries(entries: readonly PropertyFileEntry[]): NodeFileSection[] {
  const sections: NodeFileSection[] = [];
  const firstLine = new Map<string, number>();
  for (const entry of entries) {
    const tooLong = entryLengthProblem(entry.key, entry.value);
    if (tooLong) throw atLine(entry.line, tooLong);
    if (entry.key === 'node.id') {
      const problem = idProblem('node.id', entry.value);
      if (problem) throw atLine(entry.line, `${problem}, got "${entry.value}"`);
      const earlier = firstLine.get(entry.value);
      if (earlier !== undefined)
        throw atLine(entry.line, `node "${entry.value}" is given twice (first at line ${earlier})`);
      firstLine.set(entry.value, entry.line);
      sections.push({
        nodeId: entry.value,
        line: entry.line,
        entries: [entry],
        properties: {},
        modules: [],
      });
      continue;
    }
    const section = sections.at(-1);
    if (!section)
      throw atLine(
        entry.line,
        `key "${entry.key}" comes before the first node.id; a node's keys follow its node.id=<ID> line`,
      );
    const problem = entryProblem(entry);
    if (problem) throw atLine(entry.line, problem);
    section.entries.push(entry);
  }
  if (!sections.length) throw invalid('the file names no node: it has no node.id=<ID> line');

  for (const section of sections) {
    const flat: StringMap = {};
    const moduleLines = new Map<string, number>();
    for (const e of section.entries) {
      flat[e.key] = e.value;
      const id = MODULE_KEY.exec(e.key)?.[1];
      if (id !== undefined && !moduleLines.has(id)) moduleLines.set(id, e.line);
    }
    const { untyped, ...node } = nodeFromFlatKeys(flat);
    for (const [id, line] of moduleLines)
      if (untyped.includes(id))
        throw atLine(line, `module "${id}" of node "${section.nodeId}" has no module.${id}.type`);
    section.properties = node.properties;
    section.modules = node.modules;
  }
  return sections;
}

/** The line where a section writes `module.<moduleId>.…` first, or its `node.id` line. */
export function lineOfModule(section: NodeFileSection, moduleId: string): number {
  const prefix = `module.${moduleId}.`;
  return section.entries.find((e) => e.key.startsWith(prefix))?.line ?? section.line;
}
