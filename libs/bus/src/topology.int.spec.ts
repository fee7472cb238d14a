import { connect, NatsConnection } from 'nats';
import { OwnNatsServer } from '../../../test/support/nats-server';
import { EVENTS_STREAM } from './names';
import { DEFAULT_EVENTS_MAX_AGE_MS, ensureTopology } from './topology';

const NS_PER_MS = 1_000_000;

describe('ensureTopology (a NATS this test owns)', () => {
  let nats: OwnNatsServer;
  let nc: NatsConnection;

  beforeAll(async () => {
    nats = await OwnNatsServer.start();
    nc = await connect({ servers: nats.url });
  });
  afterAll(async () => {
    await nc?.close();
    await nats?.dispose();
  });

  it('bounds the events stream to a week by default, and applies a new limit to the existing stream', async () => {
    const jsm = await nc.jetstreamManager();
    await ensureTopology(nc);
    expect((await jsm.streams.info(EVENTS_STREAM)).config.max_age).toBe(
      DEFAULT_EVENTS_MAX_AGE_MS * NS_PER_MS,
    );
    await ensureTopology(nc, { eventsMaxAgeMs: 3_600_000 });
    const info = await jsm.streams.info(EVENTS_STREAM);
    expect(info.config.max_age).toBe(3_600_000 * NS_PER_MS);
    expect(info.config.duplicate_window).toBe(120_000 * NS_PER_MS); // dedup kept
  });
});
