import { connect } from 'nats';
import { nodeDocumentKey, openNodesBucket } from '@plexus/bus';

/**
 * Removes nodes' documents from the shared NATS nodes bucket. Most tests give their nodes unique
 * IDs; one whose IDs are fixed (a real Smile CDR file names its nodes) calls this first, because
 * the relay never replaces a document with an older version, and an earlier run of the same test
 * against another database may have left a newer one.
 */
export async function forgetNodeDocuments(nodeIds: string[]): Promise<void> {
  const nc = await connect({ servers: process.env.NATS_URL ?? 'nats://127.0.0.1:4222' });
  try {
    const kv = await openNodesBucket(nc);
    for (const id of nodeIds) await kv.purge(nodeDocumentKey(id));
  } finally {
    await nc.close();
  }
}
