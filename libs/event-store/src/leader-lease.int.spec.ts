import { randomBytes } from 'node:crypto';
import { Client } from 'pg';
import { migratedTestDatabase } from '../../../test/support/migrated-database';
import { waitFor } from '../../../test/support/ports';
import { readCheckpoint, storeCheckpoint } from './checkpoints';
import { LeaderLease, LeaseFence, LeaseLost } from './leader-lease';

const LEASE_MS = 1500;

/** A lease with a log of what happened to it. */
function lease(url: string, name: string, label: string) {
  const log: string[] = [];
  const l = new LeaderLease(url, {
    name,
    leaseMs: LEASE_MS,
    holder: label,
    onAcquired: (fence) => log.push(`acquired ${fence.term}`),
    onLost: (reason) => void log.push(`lost: ${reason}`),
  });
  return { lease: l, log, label };
}

describe('leader lease (real Postgres)', () => {
  const store = migratedTestDatabase();
  const started: LeaderLease[] = [];
  afterEach(async () => {
    await Promise.all(started.splice(0).map((l) => l.stop()));
  });

  const startBoth = async (name: string) => {
    const pair = [lease(store.url, name, 'a'), lease(store.url, name, 'b')];
    for (const p of pair) {
      started.push(p.lease);
      p.lease.start();
    }
    const leader = await waitFor('a leader', async () => pair.find((p) => p.lease.isLeader));
    return { leader, standby: pair.find((p) => p !== leader)! };
  };

  it('gives the lease to one holder; stopping it hands over at once, with the next term', async () => {
    const name = `l-${randomBytes(3).toString('hex')}`;
    const { leader, standby } = await startBoth(name);
    expect(leader.lease.term).toBe('1');
    // renewals keep it where it is, well past the lease time (a fixed wait: that nothing changes
    // through it is what is tested)
    await new Promise((r) => setTimeout(r, LEASE_MS * 2));
    expect(leader.lease.isLeader).toBe(true);
    expect(standby.lease.isLeader).toBe(false);
    expect(leader.log).toEqual(['acquired 1']);

    const stoppedAt = performance.now();
    await leader.lease.stop();
    await waitFor('the standby leading', async () => standby.lease.isLeader);
    expect(performance.now() - stoppedAt).toBeLessThan(LEASE_MS); // not after the lease ran out
    expect(standby.lease.term).toBe('2');
    expect(leader.log).toEqual(['acquired 1', 'lost: stopping']);
  });

  it('a holder whose renewals do not get through steps down by itself before anyone can take over', async () => {
    const name = `l-${randomBytes(3).toString('hex')}`;
    const { leader, standby } = await startBoth(name);
    const term = BigInt(leader.lease.term!);

    // Hold the lease row: renewals (and takeovers) wait, as if Postgres stopped answering.
    const blocker = new Client({ connectionString: store.url });
    await blocker.connect();
    await blocker.query('BEGIN');
    await blocker.query('SELECT * FROM leader_leases WHERE name = $1 FOR UPDATE', [name]);
    const blockedAt = performance.now();
    await waitFor('the leader stepping down', async () => !leader.lease.isLeader, LEASE_MS * 3);
    const [{ expires_in_ms }] = (
      await blocker.query(
        `SELECT extract(epoch FROM expires_at - clock_timestamp()) * 1000 AS expires_in_ms
         FROM leader_leases WHERE name = $1`,
        [name],
      )
    ).rows;
    // It stopped acting while the database still counted it as holder: no overlap.
    expect(Number(expires_in_ms)).toBeGreaterThan(0);
    expect(performance.now() - blockedAt).toBeLessThan(LEASE_MS);
    expect(leader.log[leader.log.length - 1]).toMatch(/^lost: (renewal late|renewal failed)/);
    expect(standby.lease.isLeader).toBe(false);
    await blocker.query('ROLLBACK');
    await blocker.end();

    const next = await waitFor(
      'a new term',
      async () => [leader, standby].find((p) => p.lease.isLeader),
      LEASE_MS * 3,
    );
    expect(BigInt(next.lease.term!)).toBeGreaterThan(term);
  });

  it('a lease that lapsed in the database is not renewed: its holder learns it lost, and a new term starts', async () => {
    const name = `l-${randomBytes(3).toString('hex')}`;
    const { leader, standby } = await startBoth(name);
    await store.db.query(`UPDATE leader_leases SET expires_at = now() WHERE name = $1`, [name]);
    await waitFor('the old term given up', async () =>
      leader.log.some((l) => l === 'lost: the lease expired or was taken over'),
    );
    const next = await waitFor('a new term', async () =>
      [leader, standby].find((p) => p.lease.isLeader),
    );
    expect(next.lease.term).toBe('2');
  });

  it('fences the cursor: a write under an ended term is refused in the same statement', async () => {
    const name = `l-${randomBytes(3).toString('hex')}`;
    const checkpoint = `cp-${name}`;
    const { leader, standby } = await startBoth(name);
    const oldFence = leader.lease.fence as LeaseFence;
    await storeCheckpoint(store.db, checkpoint, { transactionId: '10', position: '10' }, oldFence);

    await leader.lease.stop();
    await waitFor('the standby leading', async () => standby.lease.isLeader);
    const newFence = standby.lease.fence as LeaseFence;

    await expect(
      storeCheckpoint(store.db, checkpoint, { transactionId: '99', position: '99' }, oldFence),
    ).rejects.toBeInstanceOf(LeaseLost);
    expect(await readCheckpoint(store.db, checkpoint)).toEqual({
      transactionId: '10',
      position: '10',
    });
    await storeCheckpoint(store.db, checkpoint, { transactionId: '20', position: '20' }, newFence);
    expect(await readCheckpoint(store.db, checkpoint)).toEqual({
      transactionId: '20',
      position: '20',
    });

    // an expired term is refused too, even before anyone took over
    await store.db.query(`UPDATE leader_leases SET expires_at = now() WHERE name = $1`, [name]);
    await expect(
      storeCheckpoint(store.db, checkpoint, { transactionId: '30', position: '30' }, newFence),
    ).rejects.toBeInstanceOf(LeaseLost);
  });
});
