import { isNodeDocument } from '@plexus/bus';
import { StoredNodeDocument } from '@plexus/event-store';

const decoder = new TextDecoder();

/**
 * The stored node document (secrets sealed) a NATS message carries: a standby's relay hint
 * (RelayService.committed) or a put into the nodes bucket. Null when it carries anything else.
 * Only control-plane replicas may publish either (examples/nats-auth.conf).
 */
export function storedDocumentOf(data: Uint8Array): StoredNodeDocument | null {
  const json = decoder.decode(data);
  let document: unknown;
  try {
    document = JSON.parse(json);
  } catch {
    return null;
  }
  return isNodeDocument(document) ? { document, json } : null;
}
