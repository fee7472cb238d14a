import { randomBytes } from 'node:crypto';
import { createTestDatabase } from './support/databases';
import { AdminApi, RunningControlPlane, startControlPlane } from './support/control-plane';
import { waitFor } from './support/ports';
import { WebhookReceiver } from './support/webhook-receiver';

const newSecret = () => `hook-secret-${randomBytes(12).toString('hex')}`;
const FAST = {
  WEBHOOK_POLL_MS: '50',
  WEBHOOK_RETRY_BASE_MS: '100',
  WEBHOOK_RETRY_CAP_MS: '400',
  WEBHOOK_MAX_ATTEMPTS: '100',
};

/**
 * Which addresses a webhook may target (WEBHOOK_ALLOWED_HOSTS): two control planes, each on a
 * database of its own, one with the default policy (public addresses only) and one that allows
 * loopback, and a receiver on 127.0.0.1.
 */
describe('webhook targets (real Postgres and NATS)', () => {
  const dbs: Awaited<ReturnType<typeof createTestDatabase>>[] = [];
  let strict: RunningControlPlane;
  let loopback: RunningControlPlane;
  let receiver: WebhookReceiver;

  const start = async (env: Record<string, string>) => {
    const db = await createTestDatabase();
    dbs.push(db);
    return startControlPlane({ databaseUrl: db.url, env: { ...FAST, ...env } });
  };
  const hook = (api: AdminApi, url: string) =>
    api.post('/hooks', { url, events: ['NodePropertiesChanged'], secret: newSecret() });
  const touchNode = async (api: AdminApi) => {
    const nodeId = `tgt-${randomBytes(4).toString('hex')}`;
    await api.put(`/nodes/${nodeId}`, { properties: {} });
    await api.put(`/nodes/${nodeId}`, { properties: { zone: 'b' } });
    return nodeId;
  };

  beforeAll(async () => {
    receiver = await WebhookReceiver.start();
    strict = await start({}); // WEBHOOK_ALLOWED_HOSTS unset: external only
    loopback = await start({ WEBHOOK_ALLOWED_HOSTS: 'loopback' });
  });

  afterAll(async () => {
    await strict?.close();
    await loopback?.close();
    await receiver?.close();
    for (const db of dbs) await db.drop();
  });

  it('refuses literal loopback, link-local, metadata, private, unspecified and mapped addresses at creation by default: 400 naming the rule and WEBHOOK_ALLOWED_HOSTS, nothing stored', async () => {
    const marker = randomBytes(4).toString('hex');
    const cases: [string, string][] = [
      ['127.0.0.1:9', 'a loopback address'],
      ['127.1.2.3', 'a loopback address'],
      ['2130706433', 'a loopback address'], // 127.0.0.1 as one decimal number
      ['[::1]:9', 'a loopback address'],
      ['[::ffff:127.0.0.1]', 'a loopback address'],
      ['169.254.169.254', 'a cloud metadata address'],
      ['[fd00:ec2::254]', 'a cloud metadata address'],
      ['[::ffff:169.254.169.254]', 'a cloud metadata address'],
      ['169.254.10.1', 'a link-local address'],
      ['[fe80::1]', 'a link-local address'],
      ['10.0.0.1', 'a private address'],
      ['172.16.5.4', 'a private address'],
      ['192.168.1.1', 'a private address'],
      ['100.64.0.1', 'a private address'],
      ['[fc00::1]', 'a private address'],
      ['0.0.0.0', 'an unspecified address'],
      ['[::]', 'an unspecified address'],
      ['224.0.0.1', 'a multicast address'],
      ['255.255.255.255', 'a broadcast address'],
    ];
    for (const [host, rule] of cases) {
      const res = await hook(strict.api, `http://${host}/${marker}`);
      expect({ host, status: res.status }).toEqual({ host, status: 400 });
      expect(res.body.message).toMatch(
        new RegExp(`^url host \\S+ is ${rule}: refused unless WEBHOOK_ALLOWED_HOSTS allows it`),
      );
    }
    const stored = (await strict.api.get('/hooks')).body as any[];
    expect(stored.filter((h) => h.url.includes(marker))).toEqual([]);

    // A public address and any host name are accepted (names are checked when delivering).
    for (const url of [`https://93.184.215.14/${marker}`, `http://localhost:9/${marker}`]) {
      const res = await hook(strict.api, url);
      expect({ url, status: res.status }).toEqual({ url, status: 201 });
      await strict.api.delete(`/hooks/${res.body.id}`);
    }
  });

  it('takes the list as what is allowed: with loopback, 127.0.0.1 is accepted and private or public addresses are not', async () => {
    const ok = await hook(loopback.api, receiver.url);
    expect(ok.status).toBe(201);
    await loopback.api.delete(`/hooks/${ok.body.id}`);
    const priv = await hook(loopback.api, 'http://10.0.0.1/x');
    expect(priv.status).toBe(400);
    expect(priv.body.message).toMatch(/a private address: .*\(add private, or a CIDR/);
    const pub = await hook(loopback.api, 'https://93.184.215.14/x');
    expect(pub.status).toBe(400);
    expect(pub.body.message).toMatch(/a public address: .*\(add external, or a CIDR/);
  });

  it('creates a hook to a host name that resolves to loopback, refuses its delivery after resolution (the attempt names the rule) and sends nothing', async () => {
    const url = `http://localhost:${receiver.port}/hook`;
    const created = await hook(strict.api, url);
    expect(created.status).toBe(201);
    const nodeId = await touchNode(strict.api);
    const refused = await waitFor(
      'a refused attempt',
      async () => {
        const [d] = (await strict.api.get(`/hooks/${created.body.id}/deliveries`)).body as any[];
        return d?.attempts >= 2 && d;
      },
      15_000,
      50,
    );
    expect(refused.status).toBe('pending'); // retried like any failed attempt
    expect(refused.outcomes[0]).toMatchObject({
      attempt: 1,
      outcome: 'target-refused',
      error: expect.stringMatching(
        /^localhost resolved to (127\.0\.0\.1|::1), a loopback address: refused unless WEBHOOK_ALLOWED_HOSTS allows it \(add loopback, or a CIDR that contains it\)$/,
      ),
    });
    expect(receiver.received.filter((r) => r.body?.event?.nodeId === nodeId)).toEqual([]);
    expect((await strict.api.get('/health')).status).toBe(200);
    await strict.api.delete(`/hooks/${created.body.id}`);
  });

  it('delivers to that host name when WEBHOOK_ALLOWED_HOSTS allows loopback', async () => {
    const created = await hook(loopback.api, `http://localhost:${receiver.port}/hook`);
    expect(created.status).toBe(201);
    const nodeId = await touchNode(loopback.api);
    await waitFor('the delivery', async () =>
      receiver.accepted.some((r) => r.body?.event?.nodeId === nodeId),
    );
    // The delivery is recorded once the receiver's answer is back, a moment after it received it.
    const d = await waitFor('the delivery recorded', async () => {
      const [row] = (await loopback.api.get(`/hooks/${created.body.id}/deliveries`)).body as any[];
      return row?.status !== 'pending' && row;
    });
    expect(d).toMatchObject({ status: 'succeeded', attempts: 1 });
    await loopback.api.delete(`/hooks/${created.body.id}`);
  });
});
