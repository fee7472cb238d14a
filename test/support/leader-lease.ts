import { Client } from 'pg';
import { AdminApi } from './control-plane';
import { waitFor } from './ports';

/** The relay leader among the replicas, by their /health; waits until there is exactly one. */
export async function relayLeader(apis: AdminApi[]): Promise<{ api: AdminApi; term: bigint }> {
  return waitFor('exactly one relay leader', async () => {
    const health = await Promise.all(apis.map(async (api) => (await api.get('/health')).body));
    const leading = apis.filter((_, i) => health[i]?.relay === 'leader');
    if (leading.length !== 1) return null;
    const term = health[apis.indexOf(leading[0])].relayTerm as string;
    return { api: leading[0], term: BigInt(term) };
  });
}

/**
 * Keeps the relay leader from renewing its lease (its renewals wait on the lease row), as when it
 * is frozen or cut off from Postgres, until it has stepped down by itself; then lets go, so that
 * the lease lapses and a new term starts. Returns the term that ended.
 */
export async function starveRelayLeader(databaseUrl: string, apis: AdminApi[]): Promise<bigint> {
  const leader = await relayLeader(apis);
  const admin = new Client({ connectionString: databaseUrl });
  await admin.connect();
  try {
    await admin.query('BEGIN');
    await admin.query(`SELECT * FROM leader_leases WHERE name = 'relay' FOR UPDATE`);
    await waitFor(
      'the leader stepping down',
      async () => (await leader.api.get('/health')).body.relay === 'standby',
      15_000,
      50,
    );
  } finally {
    await admin.query('ROLLBACK').catch(() => undefined);
    await admin.end();
  }
  return leader.term;
}
