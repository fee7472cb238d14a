import { evolveAll, emptyNode, ModuleTypeCatalog, NodeDocument, NodeEvent } from '@plexus/domain';
import { SecretsCipher } from '@plexus/secrets-crypto';
import { NodeWrite } from './appendNodeWrites';
import { limitedNodeWrite, WriteLimits } from './bus-size';
import { sealNodeWrite } from './secrets-at-rest';
import { EventMetadata } from './stored-event';

/** What every node write is checked and sealed with. */
export interface NodeWriteRules {
  catalog: ModuleTypeCatalog;
  /** Encrypts secrets before they are stored (see secrets-at-rest). */
  secrets: SecretsCipher;
  limits: WriteLimits;
}

/**
 * The write that takes a node from `current` (in clear; null: a new node) by `events`: `next`,
 * the node after them in clear, and `write`, what is appended. Secrets leave the process only
 * encrypted: they are sealed here, before the size check (413 over the limits), so that what is
 * measured, appended and relayed holds ciphertexts. `stored`: `current` as stored, so that the
 * secrets the events leave alone keep their ciphertexts (else every secret is encrypted afresh).
 */
export function prepareNodeWrite(
  nodeId: string,
  current: NodeDocument | null,
  events: NodeEvent[],
  metadata: EventMetadata,
  rules: NodeWriteRules,
  stored?: NodeDocument,
): { next: NodeDocument; write: NodeWrite } {
  const next = evolveAll(current ?? emptyNode(nodeId), events);
  const sealed = sealNodeWrite(
    { nodeId, expectedVersion: current?.version ?? 0, events, document: next },
    metadata,
    rules.catalog,
    rules.secrets,
    current && stored ? { plain: current, stored } : null,
  );
  const write = limitedNodeWrite(current, sealed.document, sealed.events, rules.limits);
  return { next, write };
}
