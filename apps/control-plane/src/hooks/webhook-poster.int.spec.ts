import { createServer, Server } from 'node:tls';
import { AddressInfo } from 'node:net';
import { WebhookReceiver } from '../../../../test/support/webhook-receiver';
import { LookupAll, parseWebhookTargetPolicy } from './targets';
import { WebhookPoster } from './webhook-poster';

/**
 * One delivery attempt against a real HTTP receiver on 127.0.0.1, with the name resolution
 * replaced: the names used here (`*.test`, `*.invalid`) resolve nowhere else, so a request that
 * arrives proves the connection went to the address this resolution gave and was checked.
 */
describe('a delivery attempt connects to the address it checked', () => {
  let receiver: WebhookReceiver;
  const posters: WebhookPoster[] = [];
  const poster = (list: string, lookup: LookupAll) => {
    const p = new WebhookPoster(parseWebhookTargetPolicy(list), lookup);
    posters.push(p);
    return p;
  };
  const send = (p: WebhookPoster, url: string) =>
    p.post(url, '{"hello":1}', { 'X-Plexus-Delivery': 'd-1' }, 2000);

  beforeAll(async () => {
    receiver = await WebhookReceiver.start();
  });
  afterAll(async () => {
    posters.forEach((p) => p.close());
    await receiver.close();
  });

  it('resolves once per attempt and connects to that address, even when a second resolution would answer otherwise (no rebinding)', async () => {
    const asked: string[] = [];
    // First answer: the receiver; any later answer: an address that does not answer.
    const rebinding: LookupAll = async (hostname) => {
      asked.push(hostname);
      return [{ address: asked.length === 1 ? '127.0.0.1' : '192.0.2.1', family: 4 }];
    };
    const p = poster('loopback', rebinding);
    const result = await send(p, `http://rebind.invalid:${receiver.port}/hook`);
    expect(result).toMatchObject({ ok: true, outcome: 'succeeded', httpStatus: 200 });
    expect(asked).toEqual(['rebind.invalid']);
    const got = receiver.received.at(-1)!;
    expect(got.headers.host).toBe(`rebind.invalid:${receiver.port}`);
    expect(got.headers['x-plexus-delivery']).toBe('d-1');
    expect(got.body).toEqual({ hello: 1 });
  });

  it('checks every address a name resolves to: one loopback address among public ones refuses the attempt, and nothing is sent', async () => {
    const before = receiver.received.length;
    const p = poster('external', async () => [
      { address: '93.184.215.14', family: 4 },
      { address: '127.0.0.1', family: 4 },
    ]);
    const result = await send(p, `http://mixed.invalid:${receiver.port}/hook`);
    expect(result).toMatchObject({
      ok: false,
      outcome: 'target-refused',
      error:
        'mixed.invalid resolved to 127.0.0.1, a loopback address: refused unless WEBHOOK_ALLOWED_HOSTS allows it (add loopback, or a CIDR that contains it)',
    });
    expect(receiver.received.length).toBe(before);
  });

  it('refuses a literal address without resolving anything', async () => {
    const asked: string[] = [];
    const p = poster('external', async (h) => {
      asked.push(h);
      return [{ address: '127.0.0.1', family: 4 }];
    });
    for (const host of ['127.0.0.1', '[::1]', '[::ffff:127.0.0.1]'])
      expect(await send(p, `http://${host}:${receiver.port}/hook`)).toMatchObject({
        ok: false,
        outcome: 'target-refused',
        error: expect.stringMatching(/is a loopback address: .*WEBHOOK_ALLOWED_HOSTS/),
      });
    expect(asked).toEqual([]);
  });

  it('a name that does not resolve is a connection error naming the code', async () => {
    const p = poster('loopback', async () => {
      throw Object.assign(new Error('getaddrinfo ENOTFOUND nowhere.invalid'), {
        code: 'ENOTFOUND',
      });
    });
    expect(await send(p, 'http://nowhere.invalid/hook')).toMatchObject({
      ok: false,
      outcome: 'connection-error',
      error: 'ENOTFOUND',
    });
  });

  it('a resolution slower than the attempt time limit is a timeout', async () => {
    const p = poster('loopback', () => new Promise(() => undefined));
    const started = Date.now();
    const result = await p.post('http://slow.invalid/hook', '{}', {}, 200);
    expect(result).toMatchObject({ ok: false, outcome: 'timeout' });
    expect(Date.now() - started).toBeLessThan(2000);
  });

  it('keeps the URL host as the TLS server name (SNI) while connecting to the checked address', async () => {
    const names: string[] = [];
    // No certificate needed: the server name arrives in the ClientHello, then the handshake fails.
    const tls: Server = createServer({
      SNICallback: (name, cb) => {
        names.push(name);
        cb(new Error('no certificate here'), undefined);
      },
    });
    tls.on('tlsClientError', () => undefined);
    await new Promise<void>((r) => tls.listen(0, '127.0.0.1', r));
    try {
      const { port } = tls.address() as AddressInfo;
      const p = poster('loopback', async () => [{ address: '127.0.0.1', family: 4 }]);
      const result = await send(p, `https://hooks.test:${port}/hook`);
      expect(result).toMatchObject({ ok: false, outcome: 'connection-error' });
      expect(names).toEqual(['hooks.test']);
    } finally {
      await new Promise((r) => tls.close(r));
    }
  });
});
