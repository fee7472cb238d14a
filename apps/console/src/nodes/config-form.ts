import type { ConfigKey, ModuleSpec, ModuleType } from '../api/schema';

/** What the API answers in place of a secret's value. */
export const REDACTED = '******';

/** One row of the config editor: a key of the type's schema, or a free key/value. */
export interface ConfigField {
  key: string;
  /** From the type's JSON Schema; absent for keys the schema does not know. */
  schema?: ConfigKey;
  secret: boolean;
  /** The stored value (redacted for secrets); undefined when the key is not set. */
  stored: string | undefined;
  /** What the input shows: never a secret, which starts empty and stays stored until typed. */
  value: string;
  /** A free key the operator added in this edit. */
  added?: boolean;
  /** Marked for removal. */
  removed?: boolean;
}

// DESIGN.md: a key ending in password, secret or token is secret whatever its type says.
const SECRET_SUFFIX = /(password|secret|token)$/i;

export function isSecretKey(key: string, module: ModuleSpec, type?: ModuleType): boolean {
  return (
    SECRET_SUFFIX.test(key) ||
    !!type?.secretKeys.includes(key) ||
    !!module.secretKeys?.includes(key) ||
    module.config[key] === REDACTED
  );
}

/** The rows of a module: the schema's keys in its order, then the other stored keys by name. */
export function configFields(module: ModuleSpec, type?: ModuleType): ConfigField[] {
  const known = type?.config ?? [];
  const knownKeys = new Set(known.map((k) => k.key));
  const row = (key: string, schema?: ConfigKey): ConfigField => {
    const secret = (schema?.secret ?? false) || isSecretKey(key, module, type);
    const stored = module.config[key];
    return { key, schema, secret, stored, value: secret ? '' : (stored ?? '') };
  };
  return [
    ...known.map((k) => row(k.key, k)),
    ...Object.keys(module.config)
      .filter((key) => !knownKeys.has(key))
      .sort()
      .map((key) => row(key)),
  ];
}

/**
 * The PATCH body of an edit: only the keys that changed. A secret left empty is not sent, so
 * the stored secret stays; an emptied or removed key is `null`, which removes it.
 */
export function configPatch(fields: ConfigField[]): Record<string, string | null> {
  const patch: Record<string, string | null> = {};
  for (const f of fields) {
    const key = f.key.trim();
    if (!key) continue;
    if (f.removed) {
      if (f.stored !== undefined) patch[key] = null;
    } else if (f.secret) {
      if (f.value !== '') patch[key] = f.value;
    } else if (f.value !== (f.stored ?? '')) {
      patch[key] = f.value === '' ? null : f.value;
    } else if (f.added && f.stored === undefined && f.value !== '') {
      patch[key] = f.value;
    }
  }
  return patch;
}

/** The input a schema type asks for. */
export function inputKind(schema?: ConfigKey): 'number' | 'boolean' | 'text' {
  if (schema?.type === 'integer' || schema?.type === 'number') return 'number';
  if (schema?.type === 'boolean') return 'boolean';
  return 'text';
}
