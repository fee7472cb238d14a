import type { JetStreamManager, NatsConnection } from 'nats';
import { natsAuthOptions, safeNatsUrl } from './nats-connection';
import { alignReplicas, clusterReplicas } from './replicas';

describe('NATS_URL with several servers', () => {
  it('gives the client every server, and the credentials of the URLs without them in clear', () => {
    expect(natsAuthOptions('nats://plexus:s%40cret@a:4222, nats://b:4223')).toEqual({
      servers: ['nats://a:4222', 'nats://b:4223'],
      user: 'plexus',
      pass: 's@cret',
    });
    expect(natsAuthOptions('nats://a:4222')).toEqual({ servers: 'nats://a:4222' });
  });

  it('hides every password in what is logged', () => {
    expect(safeNatsUrl('nats://u:p@a:4222,nats://u:p@b:4222')).toBe(
      'nats://u:***@a:4222,nats://u:***@b:4222',
    );
  });
});

describe('clusterReplicas', () => {
  const on = (info: Partial<NatsConnection['info']>) => ({ info }) as unknown as NatsConnection;

  it('is the number of servers in the cluster, at most 3, and 1 outside a cluster', () => {
    expect(clusterReplicas(on({}))).toBe(1);
    expect(clusterReplicas(on({ cluster: 'c', connect_urls: ['a:1', 'b:1'] }))).toBe(2);
    expect(
      clusterReplicas(on({ cluster: 'c', connect_urls: ['a:1', 'b:1', 'c:1', 'd:1', 'e:1'] })),
    ).toBe(3);
    expect(clusterReplicas(on({ cluster: 'c' }))).toBe(1);
  });
});

describe('alignReplicas', () => {
  /** A stream manager of streams with these replica counts; records the updates asked. */
  const manager = (streams: Record<string, number>) => {
    const updates: [string, number][] = [];
    const jsm = {
      streams: {
        info: async (name: string) => {
          if (!(name in streams)) throw new Error('stream not found');
          return { config: { name, num_replicas: streams[name] } };
        },
        update: async (name: string, config: { num_replicas: number }) => {
          updates.push([name, config.num_replicas]);
          return {};
        },
      },
    } as unknown as JetStreamManager;
    return { jsm, updates };
  };

  it('raises and lowers to an asked count, raises only to a guessed one, and skips missing streams', async () => {
    const asked = manager({ A: 1, B: 3, C: 2 });
    await alignReplicas(asked.jsm, ['A', 'B', 'C', 'missing'], 2);
    expect(asked.updates).toEqual([
      ['A', 2],
      ['B', 2],
    ]);
    const guessed = manager({ A: 1, B: 3 });
    await alignReplicas(guessed.jsm, ['A', 'B'], 2, { raiseOnly: true });
    expect(guessed.updates).toEqual([['A', 2]]);
  });
});
