import { mapModuleSecrets, ModuleSpec, ModuleTypeCatalog, NodeDocument } from '@plexus/domain';
import type { SecretsDecryptor } from '@plexus/secrets-crypto';
import { errorText } from '@plexus/common';

/**
 * A node document with its modules' secret values decrypted (they are stored and published
 * encrypted). A module whose secrets cannot be decrypted (no key, another key, a damaged value)
 * is kept as it came, and `failures` says why, naming the key, never the value.
 */
export function openModuleSecrets(
  doc: NodeDocument,
  catalog: Pick<ModuleTypeCatalog, 'get'>,
  secrets: SecretsDecryptor,
): { document: NodeDocument; failures: Map<ModuleSpec, string> } {
  const failures = new Map<ModuleSpec, string>();
  let modules: ModuleSpec[] | null = null;
  doc.modules.forEach((m, i) => {
    let opened: ModuleSpec;
    try {
      opened = mapModuleSecrets(m, catalog, (value, key) => {
        try {
          return secrets.decrypt(value);
        } catch (err) {
          throw new Error(`config.${key} is ${errorText(err)}`);
        }
      });
    } catch (err) {
      failures.set(m, errorText(err));
      return;
    }
    if (opened === m) return;
    modules ??= [...doc.modules];
    modules[i] = opened;
  });
  return { document: modules ? { ...doc, modules } : doc, failures };
}
