import { NatsConnection } from 'nats';
import { AckedPublisher } from './acked-publisher';
import { connectNats, DEFAULT_NATS_URL } from './nats-connection';
import { sleep } from '@plexus/common';
import { OwnNatsServer } from '../../../test/support/nats-server';

jest.setTimeout(30_000);

describe('AckedPublisher (real NATS)', () => {
  let nc: NatsConnection;
  beforeAll(async () => {
    nc = await connectNats(process.env.NATS_URL ?? DEFAULT_NATS_URL, 'acked-publisher-int-spec');
  });
  afterAll(async () => {
    await nc?.drain();
  });

  it('keeps no pending ack behind when a message of the batch cannot be published', async () => {
    // given a publisher, and a batch whose second message is larger than the server accepts
    const publisher = new AckedPublisher(nc);
    const small = new TextEncoder().encode('{"small":true}');
    const oversized = new Uint8Array(nc.info!.max_payload + 1);
    const subject = `plexus.test.acked.${Math.random().toString(36).slice(2)}`;
    // when the batch is published (again and again, as a relay retrying would)
    for (let i = 0; i < 3; i++)
      await expect(
        publisher.publishAll(
          [
            { subject, data: small, msgId: `a${i}` },
            { subject, data: oversized, msgId: `b${i}` },
          ],
          1000,
        ),
      ).rejects.toThrow(/payload/i);
    // then it fails at once each time and waits for no acknowledgement afterwards
    await sleep(300); // any reply to the small messages has arrived by now
    expect(publisher.pendingAcks).toBe(0);
  });

  it('fails a batch in flight at once when the connection drops, instead of waiting out the timeout', async () => {
    // given a server of this test's own, and a subject something listens on but never acknowledges
    const server = await OwnNatsServer.start();
    const own = await connectNats(server.url, 'acked-publisher-int-spec-own', {
      reconnectTimeWait: 100,
    });
    const silent = await connectNats(server.url, 'acked-publisher-int-spec-silent');
    const subject = `plexus.test.acked.${Math.random().toString(36).slice(2)}`;
    silent.subscribe(subject);
    await silent.flush();
    try {
      const publisher = new AckedPublisher(own);
      const batch = publisher.publishAll(
        [{ subject, data: new TextEncoder().encode('{}'), msgId: 'x' }],
        20_000,
      );
      const failed = expect(batch).rejects.toThrow(/connection to .* lost before JetStream/);
      // when the server dies with the ack outstanding
      await sleep(100);
      await server.stopProcess();
      // then the batch fails for that (not for its 20 s timeout), and nothing stays pending
      await failed;
      expect(publisher.pendingAcks).toBe(0);
    } finally {
      await Promise.all([own.close(), silent.close()]);
      await server.dispose();
    }
  });
});
