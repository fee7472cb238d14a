import { KV, NatsConnection } from 'nats';
import {
  connectNats,
  decodeNodeDocument,
  NatsRelaySink,
  nodeDocumentKey,
  openNodesBucket,
} from '@plexus/bus';
import { mapDocumentSecrets, ModuleTypeCatalog, NodeDocument } from '@plexus/domain';
import { Database, reencryptStoredSecrets, StoredSecretsCounts } from '@plexus/event-store';
import { builtInModuleTypes } from '@plexus/module-runtime';
import { ciphertextKeyId, SecretsCipher, secretsCipherFromEnv } from '@plexus/secrets-crypto';
import { SecretsRotationEnv } from '../env';

export interface SecretsRotationReport extends StoredSecretsCounts {
  /** The key every stored secret is now encrypted with. */
  keyId: string;
  /** Node documents put to the NATS nodes bucket again, sealed with that key. */
  published: number;
}

const BATCH = 500;
const PUT_ATTEMPTS = 3;

/** True when the document holds a secret value not encrypted with the current key. */
function needsNewCiphertexts(doc: NodeDocument, catalog: ModuleTypeCatalog, keyId: string) {
  let stale = false;
  mapDocumentSecrets(doc, catalog, (value) => {
    if (ciphertextKeyId(value) !== keyId) stale = true;
    return value;
  });
  return stale;
}

/**
 * Puts the stored document of every node whose copy in the nodes bucket still holds secrets
 * under an older key, so workers (and their restarts) read ciphertexts of the current key. Puts
 * go through the relay's compare-and-set (NatsRelaySink.putDocuments), so a copy newer than the
 * stored one read (the relay published a later write meanwhile) is never replaced; a put that the
 * relay overwrote with a document read before the rotation is repeated.
 */
async function republishDocuments(
  db: Database,
  kv: KV,
  sink: NatsRelaySink,
  catalog: ModuleTypeCatalog,
  keyId: string,
): Promise<number> {
  let published = 0;
  for (let after: string | null = null; ;) {
    const rows: { node_id: string; document: NodeDocument }[] = await db.query(
      `SELECT node_id, document FROM node_documents
       WHERE $1::text IS NULL OR node_id COLLATE "C" > $1::text
       ORDER BY node_id COLLATE "C" LIMIT $2`,
      [after, BATCH],
    );
    for (const { node_id: nodeId, document } of rows) {
      let stored = document;
      for (let attempt = 1; attempt <= PUT_ATTEMPTS; attempt++) {
        const copy = decodeNodeDocument(await kv.get(nodeDocumentKey(nodeId)));
        if (copy && copy.version > stored.version) break;
        if (copy && !needsNewCiphertexts(copy, catalog, keyId)) break;
        await sink.putDocuments([stored]);
        if (attempt === 1) published++;
        const [again] = await db.query<{ document: NodeDocument }>(
          'SELECT document FROM node_documents WHERE node_id = $1',
          [nodeId],
        );
        stored = again?.document ?? stored;
      }
    }
    if (rows.length < BATCH) return published;
    after = rows[rows.length - 1].node_id;
  }
}

/**
 * Re-encrypts every stored secret with the cipher's current key (Postgres: read model,
 * snapshots, events, webhook secrets), then republishes the node documents to NATS. Idempotent:
 * a second run finds nothing to do. Control planes and workers must already run with the new key
 * and the old one as PLEXUS_SECRETS_KEY_PREVIOUS; once it has run, the old key may go.
 */
export async function rotateSecrets(opts: {
  db: Database;
  nc: NatsConnection;
  cipher: SecretsCipher;
  catalog?: ModuleTypeCatalog;
  batchSize?: number;
}): Promise<SecretsRotationReport> {
  const catalog = opts.catalog ?? builtInModuleTypes();
  const counts = await reencryptStoredSecrets(opts.db, catalog, opts.cipher, opts.batchSize);
  const kv = await openNodesBucket(opts.nc);
  const sink = new NatsRelaySink(opts.nc);
  const published = await republishDocuments(opts.db, kv, sink, catalog, opts.cipher.keyId);
  return { keyId: opts.cipher.keyId, ...counts, published };
}

/** `node dist/apps/control-plane/main.js rotate-secrets`: connects, rotates, reports. */
export async function rotateSecretsCommand(
  env: SecretsRotationEnv,
): Promise<SecretsRotationReport> {
  const db = await Database.open(env.DATABASE_URL, { poolSize: 2 });
  try {
    const nc = await connectNats(env.NATS_URL, 'plexus-rotate-secrets', {}, env.NATS_CREDS);
    try {
      return await rotateSecrets({ db, nc, cipher: secretsCipherFromEnv(env)! });
    } finally {
      await nc.drain();
    }
  } finally {
    await db.close();
  }
}
