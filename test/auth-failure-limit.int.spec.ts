import { request } from 'node:http';
import { createTestDatabase } from './support/databases';
import {
  AdminApi,
  RunningControlPlane,
  startControlPlane,
  TEST_ADMIN_TOKEN,
} from './support/control-plane';
import { committedOpenApi, OpenApiContract } from './support/openapi-contract';
import { waitFor } from './support/ports';

const LIMIT = 3;
/** Short, so the test sees it end; long enough that four calls fit in it on a loaded machine. */
const WINDOW_S = 6;

interface Answer {
  status: number;
  retryAfter: string | undefined;
  body: string;
}

/** A GET with the admin token sent from another loopback address (Linux routes all of 127/8 to lo). */
function getFrom(localAddress: string, url: string, token = TEST_ADMIN_TOKEN): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = request(url, { localAddress, headers: { authorization: `Bearer ${token}` } });
    req.on('response', (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () =>
        resolve({ status: res.statusCode!, retryAfter: res.headers['retry-after'], body }),
      );
    });
    req.on('error', reject);
    req.end();
  });
}

describe('limit on refused tokens per client address (real Postgres and NATS)', () => {
  let db: Awaited<ReturnType<typeof createTestDatabase>>;
  let cp: RunningControlPlane;
  let good: AdminApi;
  let wrong: AdminApi;

  beforeAll(async () => {
    db = await createTestDatabase();
    cp = await startControlPlane({
      databaseUrl: db.url,
      env: {
        PLEXUS_AUTH_FAILURE_LIMIT: String(LIMIT),
        PLEXUS_AUTH_FAILURE_WINDOW_SECONDS: String(WINDOW_S),
      },
    });
    // Every answer from 127.0.0.1, the 429s included, is checked against the committed document.
    const contract = new OpenApiContract(committedOpenApi());
    good = cp.api.validateAgainst(contract);
    wrong = new AdminApi(cp.url, 'plx_not-a-token-of-this-cluster').validateAgainst(contract);
  });

  afterAll(async () => {
    await cp?.close();
    await db?.drop();
  });

  it('answers 429 with Retry-After to every call from an address after N refused tokens, good tokens included, until the window ends; other addresses are unaffected', async () => {
    // Fewer refusals than the limit, and calls without a token (nothing looked up), refuse nothing.
    for (let i = 0; i < LIMIT - 1; i++) expect((await wrong.get('/nodes')).status).toBe(401);
    expect((await new AdminApi(cp.url, null).get('/nodes')).status).toBe(401);
    expect((await good.get('/nodes')).status).toBe(200);

    expect((await wrong.get('/nodes')).status).toBe(401);
    const refused = await good.get('/nodes');
    expect(refused.status).toBe(429);
    expect(refused.body).toEqual({
      statusCode: 429,
      error: 'Too Many Requests',
      message: expect.stringContaining(
        `${LIMIT} refused tokens within ${WINDOW_S} s from 127.0.0.1`,
      ),
    });
    const retryAfter = Number(refused.headers.get('retry-after'));
    expect(retryAfter).toBeGreaterThanOrEqual(1);
    expect(retryAfter).toBeLessThanOrEqual(WINDOW_S);
    // The token is not even looked at: a wrong one gets the same 429, a write too.
    expect((await wrong.get('/nodes')).status).toBe(429);
    expect((await good.put('/nodes/limited', { properties: {} })).status).toBe(429);

    const other = await getFrom('127.0.0.2', `${cp.url}/nodes`);
    expect([other.status, other.retryAfter]).toEqual([200, undefined]);
    const metrics = await getFrom('127.0.0.2', `${cp.url}/metrics`);
    expect(metrics.status).toBe(200);
    expect(metrics.body).toMatch(/^plexus_auth_rate_limited_total 3$/m);

    // The refusals did not extend the window: the good token works again once it ends.
    await waitFor(
      'the good token to work again after the window',
      async () => (await good.get('/nodes')).status === 200,
      WINDOW_S * 1000 + 20_000,
      250,
    );
    expect((await good.get('/nodes/limited')).status).toBe(404);
    // A fresh window: one refusal refuses nothing.
    expect((await wrong.get('/nodes')).status).toBe(401);
    expect((await good.get('/nodes')).status).toBe(200);
  });
});
