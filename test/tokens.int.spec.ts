import { randomBytes } from 'node:crypto';
import { createTestDatabase } from './support/databases';
import { AdminApi, RunningControlPlane, startControlPlane } from './support/control-plane';
import { waitFor } from './support/ports';

const tokenName = (label: string) => `${label}-${randomBytes(4).toString('hex')}`;

/** Named admin tokens across two control-plane replicas on one database and one NATS. */
describe('named tokens (real Postgres and NATS, two replicas)', () => {
  let db: Awaited<ReturnType<typeof createTestDatabase>>;
  let a: RunningControlPlane;
  let b: RunningControlPlane;

  beforeAll(async () => {
    db = await createTestDatabase();
    a = await startControlPlane({ databaseUrl: db.url });
    b = await startControlPlane({ databaseUrl: db.url });
  });

  afterAll(async () => {
    await a?.close();
    await b?.close();
    await db?.drop();
  });

  it('refuses the names of the audit log’s own actors, in any case, with 400 naming the rule, storing nothing', async () => {
    for (const name of ['admin', 'Admin', 'ADMIN', 'control-plane', 'Control-Plane', 'anonymous']) {
      const res = await a.api.post('/tokens', { name, role: 'auditor' });
      expect({ name, status: res.status }).toEqual({ name, status: 400 });
      expect(res.body.message).toBe(
        'name must not be admin, control-plane or anonymous (in any case): they are actors the audit log records for the bootstrap token, the control plane itself and unauthenticated calls',
      );
    }
    const names = ((await a.api.get('/tokens')).body as any[]).map((t) => t.name.toLowerCase());
    expect(names.filter((n) => ['admin', 'control-plane', 'anonymous'].includes(n))).toEqual([]);
    // Names that merely contain them are fine.
    const ok = await a.api.post('/tokens', { name: tokenName('admin-ci'), role: 'auditor' });
    expect(ok.status).toBe(201);
  });

  it('a token revoked through one replica is refused by the other within a second', async () => {
    const created = await a.api.post('/tokens', { name: tokenName('revoke-me'), role: 'auditor' });
    expect(created.status).toBe(201);
    const onA = new AdminApi(a.url, created.body.token);
    const onB = new AdminApi(b.url, created.body.token);
    // Both replicas resolve it, and so remember it.
    expect((await onA.get('/nodes')).status).toBe(200);
    expect((await onB.get('/nodes')).status).toBe(200);
    expect((await onB.get('/nodes')).status).toBe(200);

    expect((await a.api.delete(`/tokens/${created.body.id}`)).status).toBe(200);
    const revokedAt = Date.now();
    expect((await onA.get('/nodes')).status).toBe(401);
    const refused = await waitFor(
      'the revoked token refused on the other replica within 1 s',
      async () => (await onB.get('/nodes')).status === 401,
      1000 - (Date.now() - revokedAt),
      20,
    );
    expect(refused).toBe(true);
    expect((await onB.get('/nodes')).body.message).toBe('token is not valid');
  });
});
