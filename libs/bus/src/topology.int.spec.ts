import { connect, NatsConnection } from 'nats';
import { OwnNatsServer } from '../../../test/support/nats-server';
import { EVENTS_STREAM, NODES_BUCKET, SESSIONS_BUCKET, WORKER_BUCKETS } from './names';
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

  it('makes every bucket workers read serve direct gets, upgrading buckets made without them', async () => {
    const jsm = await nc.jetstreamManager();
    // made by an older version (or by hand) without direct gets, with a value in it
    const old = await nc.jetstream().views.kv(SESSIONS_BUCKET, { history: 1, allow_direct: false });
    await old.put('realm.session', 'kept');
    expect((await jsm.streams.info(`KV_${SESSIONS_BUCKET}`)).config.allow_direct).toBe(false);

    await ensureTopology(nc);

    for (const bucket of [NODES_BUCKET, SESSIONS_BUCKET])
      expect((await jsm.streams.info(`KV_${bucket}`)).config.allow_direct).toBe(true);
    // every worker bucket that exists now serves direct gets, through the subject naming the key
    for (const bucket of WORKER_BUCKETS) {
      const info = await jsm.streams.info(`KV_${bucket}`).catch(() => null);
      if (info) expect(info.config.allow_direct).toBe(true);
    }
    const reopened = await nc.jetstream().views.kv(SESSIONS_BUCKET);
    expect((await reopened.get('realm.session'))?.string()).toBe('kept');
    // the subject names the key, so a NATS permission can match it
    const direct = await nc.request(
      `$JS.API.DIRECT.GET.KV_${SESSIONS_BUCKET}.$KV.${SESSIONS_BUCKET}.realm.session`,
    );
    expect(new TextDecoder().decode(direct.data)).toBe('kept');
  });

  it('creates the leases and failed-login buckets, so a worker that may not create streams finds them', async () => {
    await ensureTopology(nc);
    const jsm = await nc.jetstreamManager();
    for (const bucket of ['plexus-leases', 'plexus-login-failures'])
      expect((await jsm.streams.info(`KV_${bucket}`)).config.allow_direct).toBe(true);
  });
});
