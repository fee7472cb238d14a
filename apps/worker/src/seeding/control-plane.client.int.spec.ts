import pino from 'pino';
import { OwnNatsServer } from '../../../../test/support/nats-server';
import { WorkerOptions } from '../cli';
import { ControlPlaneClient } from './control-plane.client';

jest.setTimeout(30_000);

describe('ControlPlaneClient (own NATS with a small max_payload)', () => {
  let nats: OwnNatsServer;
  beforeAll(async () => {
    nats = await OwnNatsServer.start('max_payload: 4096');
  });
  afterAll(async () => {
    await nats?.dispose();
  });

  it('gives up at once, with 413, on a first-start request larger than NATS carries', async () => {
    // given a worker whose properties file is larger than the server's max_payload
    const options = { natsUrl: nats.url, natsCredsFile: null } as WorkerOptions;
    const client = new ControlPlaneClient(options, pino({ level: 'silent' }));
    const properties = { 'node.id': 'big', 'node.blob': 'x'.repeat(10_000) };
    // when it asks to create its node (for at most 5 s, as a worker would retry forever)
    const deadline = Date.now() + 5000;
    const reply = await client.seedNode(
      { nodeId: 'big', processId: 'p1', properties },
      () => Date.now() > deadline,
    );
    // then it is told at once why, rather than retrying a request that can never be sent
    expect(reply).toMatchObject({ ok: false, statusCode: 413 });
    expect((reply as { message: string }).message).toMatch(
      /the request with the properties file is 10\d{3} bytes, more than the NATS server's max_payload/,
    );
    expect(Date.now()).toBeLessThan(deadline);
  });
});
