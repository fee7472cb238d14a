import { ModuleSpec, NodeDocument, NodeFromProperties, StringMap } from '@plexus/domain';

function mapDifferences(what: string, file: StringMap, stored: StringMap): string[] {
  const keys = [...new Set([...Object.keys(file), ...Object.keys(stored)])].sort();
  return keys.flatMap((key) => {
    if (!(key in stored)) return [`${what}${key} is only in the file`];
    if (!(key in file)) return [`${what}${key} is only in the stored node`];
    return file[key] === stored[key] ? [] : [`${what}${key} differs`];
  });
}

/**
 * How a node read from a properties file differs from the stored node, one line per
 * difference, naming keys but never values (they may be secrets). Empty when they agree.
 */
export function configDrift(file: NodeFromProperties, stored: NodeDocument): string[] {
  const out = mapDifferences('property ', file.properties, stored.properties);
  const storedById = new Map<string, ModuleSpec>(stored.modules.map((m) => [m.moduleId, m]));
  const fileIds = new Set(file.modules.map((m) => m.moduleId));
  for (const m of file.modules) {
    const s = storedById.get(m.moduleId);
    if (!s) {
      out.push(`module ${m.moduleId} is only in the file`);
      continue;
    }
    const prefix = `module ${m.moduleId}: `;
    if (m.type !== s.type) out.push(`${prefix}type differs`);
    if (m.enabled !== s.enabled) out.push(`${prefix}enabled differs`);
    if (m.activation !== s.activation) out.push(`${prefix}activation differs`);
    out.push(...mapDifferences(`${prefix}requires.`, m.requires, s.requires));
    out.push(...mapDifferences(`${prefix}config.`, m.config, s.config));
  }
  for (const s of stored.modules) {
    if (!fileIds.has(s.moduleId)) out.push(`module ${s.moduleId} is only in the stored node`);
  }
  return out;
}
