import {
  assertOneWriterPerDatabase,
  NodeDocument,
  PERSISTENCE_MODULE_TYPE,
  persistenceModulesOf,
} from '@plexus/domain';
import { Sql } from './database';
import { listModulesOfType } from './modules-of-type';

/** Any 64-bit number no other lock uses: "one writer per persistence database". */
const GUARD_LOCK = '7312904611200402';

/**
 * In the write's transaction: refuses (409) new node documents that would make two nodes write to
 * one database. Writers that touch persistence modules take turns on an advisory lock, so two
 * concurrent writes on different nodes cannot both pass.
 */
export async function guardPersistenceDatabases(sql: Sql, next: NodeDocument[]) {
  await sql.query('SELECT pg_advisory_xact_lock($1)', [GUARD_LOCK]);
  const written = new Set(next.map((d) => d.nodeId));
  const others = (await listModulesOfType(sql, PERSISTENCE_MODULE_TYPE)).filter(
    (m) => !written.has(m.nodeId),
  );
  assertOneWriterPerDatabase([...others, ...next.flatMap(persistenceModulesOf)]);
}
