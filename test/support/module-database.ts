import { Client } from 'pg';
import { createTestDatabase, SHARED_POSTGRES } from './databases';

/** An empty database of its own (created now) for a persistence module; drop() removes it. */
export async function createModuleDatabase(prefix = 'plexus_mod') {
  const db = await createTestDatabase(prefix);
  const admin = new Client({ connectionString: `${SHARED_POSTGRES}/postgres` });
  await admin.connect();
  try {
    await admin.query(`CREATE DATABASE "${db.name}"`);
  } finally {
    await admin.end();
  }
  return db;
}
