import { randomUUID } from 'node:crypto';
import {
  mapDocumentSecrets,
  mapEventSecrets,
  ModuleTypeCatalog,
  NodeDocument,
  NodeEvent,
  redactEvent,
} from '@plexus/domain';
import { SecretsCipher, SecretsDecryptor, SecretsKeyError } from '@plexus/secrets-crypto';
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

/** The document as stored: its secret values encrypted. */
export function sealDocument(
  doc: NodeDocument,
  catalog: ModuleTypeCatalog,
  cipher: SecretsCipher,
): NodeDocument {
  return mapDocumentSecrets(doc, catalog, (value) => cipher.encrypt(value));
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
    secretData: sealed?.data as Record<string, unknown> | undefined,
    metadata,
  };
}

/** A node's write as appended: events and the document after them, sealed. */
export function sealNodeWrite(
  write: { nodeId: string; expectedVersion: number; events: NodeEvent[]; document: NodeDocument },
  metadata: EventMetadata,
  catalog: ModuleTypeCatalog,
  cipher: SecretsCipher,
): NodeWrite {
  return {
    nodeId: write.nodeId,
    expectedVersion: write.expectedVersion,
    events: write.events.map((e) => toNewEvent(e, catalog, metadata, cipher)),
    document: sealDocument(write.document, catalog, cipher),
  };
}
