import { desiredProcessesFromEvents, NatsRelaySink } from '@plexus/bus';
import { Database, readLatestScalingEvents, readNodeDocumentsPage } from '@plexus/event-store';

export interface RepublishResult {
  /** Node documents put. */
  documents: number;
  /** Node documents left alone because NATS already held a newer version. */
  skipped: number;
  /** Desired process counts put (or already current). */
  scaling: number;
}

/**
 * Puts every node's current document, and every node's desired process count, from Postgres (the
 * source of truth) into NATS: what rebuilds buckets a NATS server lost, and what a change to how
 * documents are encoded (re-encrypted secrets) needs. Safe while the relay runs: puts are
 * compare-and-set and never replace a newer version (NatsRelaySink.putDocuments).
 */
export async function republishCurrentState(
  db: Database,
  sink: NatsRelaySink,
  pageSize = 500,
): Promise<RepublishResult> {
  const result: RepublishResult = { documents: 0, skipped: 0, scaling: 0 };
  for (let after: string | null = null; ;) {
    const page = await readNodeDocumentsPage(db, after, pageSize);
    if (!page.length) break;
    const { put, skipped } = await sink.putDocuments(page);
    result.documents += put;
    result.skipped += skipped;
    after = page[page.length - 1].nodeId;
  }
  const desired = desiredProcessesFromEvents(await readLatestScalingEvents(db));
  await sink.putDesired(desired);
  result.scaling = desired.length;
  return result;
}
