import { NatsConnection } from 'nats';
import { OwnNatsCluster } from '../../../test/support/nats-cluster';
import { EVENTS_STREAM, eventSubject, NODES_BUCKET, SESSIONS_BUCKET } from './names';
import { connectNats } from './nats-connection';
import { clusterReplicas } from './replicas';
import { ensureTopology, PLEXUS_STREAMS } from './topology';

jest.setTimeout(120_000);

/** What ensureTopology makes: every stream but the sessions bucket's (libs/sessions makes that). */
const STREAMS = PLEXUS_STREAMS.filter((s) => s !== `KV_${SESSIONS_BUCKET}`);

describe('stream replicas on a three-server JetStream cluster (its own)', () => {
  let nats: OwnNatsCluster;
  let nc: NatsConnection;

  beforeAll(async () => {
    nats = await OwnNatsCluster.start(3);
    nc = await connectNats(nats.url, 'replicas-int-spec');
  });
  afterAll(async () => {
    await nc?.close();
    await nats?.dispose();
  });

  it('raises streams and buckets made with one replica to the cluster size, keeping their data, and sets NATS_REPLICAS when given', async () => {
    const jsm = await nc.jetstreamManager();
    // given an events stream and a nodes bucket made with one replica (by an older version), holding data
    await jsm.streams.add({ name: EVENTS_STREAM, subjects: ['plexus.events.>'], num_replicas: 1 });
    const js = nc.jetstream();
    for (let i = 0; i < 5; i++) await js.publish(eventSubject('n', 'NodeCreated'), `{"i":${i}}`);
    const kv = await js.views.kv(NODES_BUCKET, { history: 5, replicas: 1 });
    await kv.put('n', '{"version":1}');
    expect(clusterReplicas(nc)).toBe(3);

    // when the topology is ensured with the default
    await ensureTopology(nc);

    // then every stream has three replicas and the data is all there
    const replicas = async () =>
      Object.fromEntries(
        await Promise.all(
          STREAMS.map(async (s) => [s, (await jsm.streams.info(s)).config.num_replicas]),
        ),
      );
    expect(await replicas()).toEqual(Object.fromEntries(STREAMS.map((s) => [s, 3])));
    expect((await jsm.streams.info(EVENTS_STREAM)).state.messages).toBe(5);
    expect((await kv.get('n'))?.string()).toBe('{"version":1}');

    // and NATS_REPLICAS, when given, is what every stream gets, lower or not
    await ensureTopology(nc, { replicas: 2 });
    expect(await replicas()).toEqual(Object.fromEntries(STREAMS.map((s) => [s, 2])));
    expect((await jsm.streams.info(EVENTS_STREAM)).state.messages).toBe(5);
  });
});
