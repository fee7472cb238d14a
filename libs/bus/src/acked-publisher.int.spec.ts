import { NatsConnection } from 'nats';
import { AckedPublisher } from './acked-publisher';
import { connectNats, DEFAULT_NATS_URL } from './nats-connection';
import { sleep } from '@plexus/common';

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
});
