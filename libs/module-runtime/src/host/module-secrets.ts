import { ModuleSpec, ModuleTypeCatalog, NodeDocument, StringMap } from '@plexus/domain';
import type { SecretsDecryptor } from '@plexus/secrets-crypto';
import { openModuleSecrets } from './open-secrets';

/**
 * Decrypts the secret values of the documents a host applies (they are stored and published
 * encrypted) before the plan compares them and modules get them, and remembers which module
 * specs could not be decrypted: those are never handed to a module.
 */
export class ModuleSecrets {
  /** Documents whose secrets are decrypted already (a reevaluation applies one again). */
  private readonly opened = new WeakSet<NodeDocument>();
  /** Specs whose secrets could not be decrypted, and why. */
  private readonly undecryptable = new WeakMap<ModuleSpec, string>();
  /**
   * Ciphertext -> plaintext of the document opened last: a value that did not change since is
   * not decrypted again (most documents change one module, and every document holds them all).
   */
  private plaintexts = new Map<string, string>();

  constructor(
    private readonly catalog: Pick<ModuleTypeCatalog, 'get'>,
    private readonly secrets?: SecretsDecryptor,
  ) {}

  /** The document with its modules' secrets decrypted, failures noted per module spec. */
  open(doc: NodeDocument): NodeDocument {
    const secrets = this.secrets;
    if (!secrets || this.opened.has(doc)) return doc;
    const known = this.plaintexts;
    const seen = new Map<string, string>();
    const decryptor: SecretsDecryptor = {
      decrypt: (value) => {
        let plain = known.get(value) ?? seen.get(value);
        if (plain === undefined) plain = secrets.decrypt(value);
        seen.set(value, plain);
        return plain;
      },
    };
    const { document, failures } = openModuleSecrets(doc, this.catalog, decryptor);
    this.plaintexts = seen;
    for (const [spec, error] of failures) this.undecryptable.set(spec, error);
    this.opened.add(document);
    return document;
  }

  /** What a module is handed: its config, unless its secrets could not be decrypted. */
  configOf(spec: ModuleSpec): StringMap {
    const problem = this.undecryptable.get(spec);
    if (problem) throw new Error(problem);
    return { ...spec.config };
  }
}
