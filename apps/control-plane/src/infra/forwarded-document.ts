import { NodeDocument } from '@plexus/domain';
import { StoredNodeDocument } from '@plexus/event-store';

const decoder = new TextDecoder();

/**
 * The node document a standby replica sent in its relay hint (RelayService.committed): the JSON
 * it stored, secrets sealed, exactly as the relay would put it. Null when the hint carries
 * anything else. Only control-plane replicas may publish hints (examples/nats-auth.conf), and the
 * leader puts a document only over the version it knows is stored, with compare-and-set.
 */
export function forwardedDocument(data: Uint8Array): StoredNodeDocument | null {
  const json = decoder.decode(data);
  let document: NodeDocument;
  try {
    document = JSON.parse(json) as NodeDocument;
  } catch {
    return null;
  }
  const ok =
    typeof document === 'object' &&
    document !== null &&
    typeof document.nodeId === 'string' &&
    Number.isInteger(document.version) &&
    Array.isArray(document.modules);
  return ok ? { document, json } : null;
}
