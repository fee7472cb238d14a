import { randomUUID } from 'node:crypto';
import {
  mapDocumentSecrets,
  mapEventSecrets,
  ModuleTypeCatalog,
  NodeDocument,
  NodeEvent,
  redactEvent,
  StringMap,
} from '@plexus/domain';
import {
  ciphertextKeyId,
  SecretsCipher,
  SecretsDecryptor,
  SecretsKeyError,
} from '@plexus/secrets-crypto';
import { NodeWrite } from './appendNodeWrites';
import { EventMetadata, NewEvent } from './stored-event';

/*
 * Secrets at rest: the secret values of a node (see moduleSecretKeys and the suffix rule) are
 * stored encrypted wherever they are kept: the node document of the read model and of its
 * snapshots (which the relay publishes as they are, so workers get ciphertexts too) and the
 * events' secret-only payload. Everything in between works in clear: what the event store reads
 * is opened (decrypted) first, and a write is sealed (encrypted) right before its append.
 */

/** Decrypts one value, naming the secret (never its value) when that fails. */
const opener = (nodeId: string, cipher: SecretsDecryptor) => (value: string, key: string) => {
  try {
    return cipher.decrypt(value);
  } catch (err) {
    if (!(err instanceof SecretsKeyError)) throw err;
    throw new SecretsKeyError(`secret "${key}" of node "${nodeId}" is ${err.message}`);
  }
};

/** A stored document with its secret values in clear (values stored before encryption pass). */
export function openDocument(
  doc: NodeDocument,
  catalog: ModuleTypeCatalog,
  cipher: SecretsDecryptor,
): NodeDocument {
  return mapDocumentSecrets(doc, catalog, opener(doc.nodeId, cipher));
}

/** A version of a node's document in clear, and as it is stored. */
export interface DocumentInClearAndStored {
  plain: NodeDocument;
  stored: NodeDocument;
}

/** Per module (null: the node's properties), its values in clear and as stored. */
function valuesByModule(previous: DocumentInClearAndStored) {
  const byModule = new Map<string | null, { plain: StringMap; stored: StringMap }>([
    [null, { plain: previous.plain.properties, stored: previous.stored.properties }],
  ]);
  const storedModules = new Map(previous.stored.modules.map((m) => [m.moduleId, m.config]));
  for (const m of previous.plain.modules) {
    const stored = storedModules.get(m.moduleId);
    if (stored) byModule.set(m.moduleId, { plain: m.config, stored });
  }
  return byModule;
}

/**
 * The document as stored: its secret values encrypted. A value equal to the one `previous` (the
 * version it follows) holds keeps that version's ciphertext when it is under the current key, so
 * a write encrypts only the secrets it changes and an unchanged secret's ciphertext stays put.
 */
export function sealDocument(
  doc: NodeDocument,
  catalog: ModuleTypeCatalog,
  cipher: SecretsCipher,
  previous: DocumentInClearAndStored | null = null,
): NodeDocument {
  let before: ReturnType<typeof valuesByModule> | null = null;
  return mapDocumentSecrets(doc, catalog, (value, key, moduleId) => {
    if (previous) {
      before ??= valuesByModule(previous);
      const values = before.get(moduleId);
      const kept = values?.stored[key];
      // kept !== value: it was stored encrypted (not in clear, from before it was secret)
      if (
        kept !== undefined &&
        kept !== value &&
        values!.plain[key] === value &&
        ciphertextKeyId(kept) === cipher.keyId
      )
        return kept;
    }
    return cipher.encrypt(value);
  });
}

/**
 * An event as stored: its payload redacted (what others may see), and, when it carries secrets,
 * its secret-only payload with them encrypted (never shown or published; time travel and revert
 * read it).
 */
export function toNewEvent(
  event: NodeEvent,
  catalog: ModuleTypeCatalog,
  metadata: EventMetadata,
  cipher: SecretsCipher,
): NewEvent {
  const redacted = redactEvent(event, catalog);
  const sealed =
    redacted === event ? undefined : mapEventSecrets(event, catalog, (v) => cipher.encrypt(v));
  return {
    eventId: randomUUID(),
    type: event.type,
    data: redacted.data as Record<string, unknown>,
    // Serialized once: the bus-size check measures it and the append stores it.
    dataJson: JSON.stringify(redacted.data),
    secretData: sealed?.data as Record<string, unknown> | undefined,
    metadata,
  };
}

/**
 * A node's write as appended: events and the document after them, sealed. `previous`: the
 * version the write follows, in clear and as stored (see sealDocument), when known.
 */
export function sealNodeWrite(
  write: { nodeId: string; expectedVersion: number; events: NodeEvent[]; document: NodeDocument },
  metadata: EventMetadata,
  catalog: ModuleTypeCatalog,
  cipher: SecretsCipher,
  previous: DocumentInClearAndStored | null = null,
): NodeWrite {
  return {
    nodeId: write.nodeId,
    expectedVersion: write.expectedVersion,
    events: write.events.map((e) => toNewEvent(e, catalog, metadata, cipher)),
    document: sealDocument(write.document, catalog, cipher, previous),
  };
}
