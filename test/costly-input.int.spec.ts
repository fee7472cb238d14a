import { createTestDatabase } from './support/databases';
import { AdminApi, RunningControlPlane, startControlPlane } from './support/control-plane';
import { sleep } from '@plexus/common';

jest.setTimeout(120_000);

/**
 * Input that costs too much to look at: a properties key of 300 KB built so that the module-key
 * pattern backtracks at every one of its dots (it holds a line separator, which `.` does not
 * match). It must be refused by its length before any pattern runs.
 */
describe('input that costs too much (real Postgres and NATS)', () => {
  let db: Awaited<ReturnType<typeof createTestDatabase>>;
  let cp: RunningControlPlane;
  let api: AdminApi;

  beforeAll(async () => {
    db = await createTestDatabase();
    cp = await startControlPlane({ databaseUrl: db.url });
    api = cp.api;
  });

  afterAll(async () => {
    await cp?.close();
    await db?.drop();
  });

  it('refuses an import with a 300 KB pathological key within a second, while /health stays fast', async () => {
    // given a file whose second key is 300 KB of ".config." with a line separator at its end
    const key = `module.${'.config.'.repeat(37_500)}\u2028`;
    const body = `node.id=costly\n${key}=x\n`;
    expect(Buffer.byteLength(body)).toBeGreaterThan(300_000);
    // when it is imported while /health is asked every 50 ms
    const health: number[] = [];
    let importing = true;
    const probe = (async () => {
      while (importing) {
        const res = await api.get('/health');
        expect(res.status).toBe(200);
        health.push(res.ms);
        await sleep(50); // the probe's pace, not a wait for anything
      }
    })();
    const res = await api.post('/module-config/properties', body, {
      'content-type': 'text/plain; charset=utf-8',
    });
    importing = false;
    await probe;
    // then it is refused with 400 naming the line and the length rule, well within a second
    // (generous bound for a loaded machine: it took ~15 s before keys were bounded)
    expect(res.status).toBe(400);
    expect(res.body.message).toContain('line 2');
    expect(res.body.message).toContain('is too long: a key may have at most 245 characters');
    expect(res.body.message.length).toBeLessThan(500);
    expect(res.ms).toBeLessThan(3000);
    // and /health answered quickly meanwhile (again generous)
    expect(health.length).toBeGreaterThan(0);
    expect(Math.max(...health)).toBeLessThan(1000);
  });
});
