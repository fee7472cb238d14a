import { invalid } from './errors';
import { ModuleTypeCatalog } from './module-type-catalog';
import { ModuleSpec, StringMap } from './node-document';
import { isSecretKey, moduleSecretKeys, REDACTED } from './secrets';

/** Which keys stay secret while a module changes, and what a REDACTED value sent back means. */

/** A REDACTED value sent back means "keep the stored secret" (the client never saw it). */
export function restoreSecrets(
  config: StringMap,
  stored: StringMap,
  secretKeys: readonly string[],
  field = 'config',
) {
  const out: StringMap = {};
  for (const [key, value] of Object.entries(config)) {
    if (value === REDACTED && isSecretKey(key, secretKeys)) {
      if (stored[key] === undefined)
        throw invalid(`${field}.${key} is "${REDACTED}" but no value is stored to keep`);
      out[key] = stored[key];
    } else out[key] = value;
  }
  return out;
}

export type SecretKeyed = Pick<ModuleSpec, 'type' | 'secretKeys'> | undefined;

/**
 * The keys secret for a module that changes from `before` (what it is now, and for a revert what
 * it was then) to a module of `type`: secret under the old type or the new one, or recorded.
 * Its changes are marked secret and a REDACTED value for them keeps the stored one.
 */
export function secretKeysAcross(before: SecretKeyed[], type: string, catalog: ModuleTypeCatalog) {
  const keys = new Set(catalog.get(type)?.secretKeys ?? []);
  for (const m of before) if (m) moduleSecretKeys(m, catalog).forEach((k) => keys.add(k));
  return [...keys];
}

/**
 * ModuleSpec.secretKeys after such a change: the new type's keys and every key secret before that
 * the module keeps, so that a PUT under another type cannot turn a secret into a shown value.
 * Undefined when that is just the type's keys (nothing to record).
 */
export function recordedSecretKeys(
  before: SecretKeyed[],
  type: string,
  config: StringMap,
  catalog: ModuleTypeCatalog,
): string[] | undefined {
  const typeKeys = catalog.get(type)?.secretKeys ?? [];
  const kept = secretKeysAcross(before, type, catalog).filter(
    (k) => !typeKeys.includes(k) && Object.hasOwn(config, k),
  );
  return kept.length ? [...typeKeys, ...kept].sort() : undefined;
}
