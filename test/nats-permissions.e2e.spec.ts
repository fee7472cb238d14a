import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { ClientProxyFactory, Transport } from '@nestjs/microservices';
import { firstValueFrom, timeout } from 'rxjs';
import { connect, NatsConnection, NatsError } from 'nats';
import { hashPassword } from '@plexus/module-runtime';
import { createModuleDatabase } from './support/module-database';
import { retryingAdminApi } from './support/control-plane';
import { Cluster, SpawnedControlPlane, startCluster } from './support/cluster-fixture';
import { OwnNatsServer } from './support/nats-server';
import { freePort, freePortBlock, waitFor } from './support/ports';
import { ROOT, SpawnedProcess, stopProcess } from './support/processes';

const PASSWORDS = {
  PLEXUS_NATS_CONTROL_PLANE_PASSWORD: `cp-${randomBytes(8).toString('hex')}`,
  PLEXUS_NATS_SAMPLE_NODE_PASSWORD: `a-${randomBytes(8).toString('hex')}`,
  PLEXUS_NATS_OTHER_NODE_PASSWORD: `b-${randomBytes(8).toString('hex')}`,
};
/** The two nodes of examples/nats-auth.conf: A runs here, B only exists. */
const A = 'sample_node';
const B = 'other_node';
const A_INBOX = '_INBOX_sample_node';
/** What nats-server 2.9 logs for a refused publish or subscription (the client sees "Permissions Violation"). */
const VIOLATION = /(Publish|Subscription) Violation/;

/**
 * Each node gets a NATS user of its own (examples/nats-auth.conf, used here as it is). With node
 * A's user a worker runs A normally: it creates its node, applies changes, runs a `single`
 * module, answers batch-job requests, keeps login sessions and failed-login counters, and the
 * server logs no violation. With the same user nobody can read B's document, touch a session of
 * a realm A does not serve, answer B's batch-job requests or seed B: each attempt fails, and the
 * server logs the violation.
 */
describe('per-node NATS users (examples/nats-auth.conf)', () => {
  let cluster: Cluster;
  let nats: OwnNatsServer;
  let moduleDb: Awaited<ReturnType<typeof createModuleDatabase>>;
  let cp: SpawnedControlPlane;
  let worker: SpawnedProcess;
  let propertiesFile: string;
  let port: number;
  let soloPort: number;
  let appPort: number;

  const natsUrl = (user: string, password: string) =>
    `nats://${user}:${password}@127.0.0.1:${nats.port}`;
  const asA = () => ({
    NATS_URL: natsUrl(A, PASSWORDS.PLEXUS_NATS_SAMPLE_NODE_PASSWORD),
    NATS_INBOX_PREFIX: A_INBOX,
  });
  const connectAsA = () =>
    connect({
      servers: nats.url,
      user: A,
      pass: PASSWORDS.PLEXUS_NATS_SAMPLE_NODE_PASSWORD,
      inboxPrefix: A_INBOX,
    });
  const serverLog = () => readFileSync(nats.logFile, 'utf8');

  beforeAll(async () => {
    Object.assign(process.env, PASSWORDS); // nats-server reads $VARs from its environment
    cluster = await startCluster({
      nats: { config: readFileSync(join(ROOT, 'examples', 'nats-auth.conf'), 'utf8') },
      controlPlane: false,
    });
    nats = cluster.nats!;
    moduleDb = await createModuleDatabase('plexus_perm');
    cp = await cluster.startControlPlane({
      natsUrl: natsUrl('controlplane', PASSWORDS.PLEXUS_NATS_CONTROL_PLANE_PASSWORD),
    });
    port = await freePortBlock([0, 100]); // a supervisor's second process listens at +100
    soloPort = await freePort();
    appPort = await freePortBlock([0, 100]);
    const users = `alice:${await hashPassword('alice-pw', { N: 1024 })}`;
    propertiesFile = cluster.writeFile(
      'node.properties',
      `node.id=${A}\nmodule.web.type=http-endpoint\nmodule.web.config.port=${port}\nmodule.web.config.message=hello\n` +
        // an activation: single module: the worker takes, renews and releases its lease
        `module.solo.type=http-endpoint\nmodule.solo.activation=single\nmodule.solo.config.port=${soloPort}\n` +
        // a persistence module: the worker answers batch-job requests for it
        `module.db.type=persistence\nmodule.db.config.db.url=${moduleDb.url}\n` +
        // logins: sessions and failed-login counters of realm sample_node/local_security
        `module.local_security.type=local-security\nmodule.local_security.config.users=${users}\n` +
        `module.app.type=http-endpoint\nmodule.app.requires.SECURITY_IN_UP=local_security\nmodule.app.config.port=${appPort}\n`,
    );
    // Node B exists (document in NATS, a persistence module) but no process of it runs here.
    const api = retryingAdminApi(cp.url);
    expect((await api.put(`/nodes/${B}`, { properties: { secret_ish: 'b-only' } })).status).toBe(
      201,
    );
    expect(
      (
        await api.put(`/nodes/${B}/modules/db`, {
          type: 'persistence',
          config: { 'db.url': 'postgres://127.0.0.1:1/other', 'read_only_mode.enabled': 'true' },
        })
      ).status,
    ).toBe(201);
  }, 90_000);

  afterAll(async () => {
    await cluster?.stop();
    await moduleDb?.drop();
  }, 60_000);

  it("runs node A with A's user: creates it, applies a change, logs in, leaves, never trips a permission", async () => {
    worker = cluster.spawn('worker', ['--node-id', A, '--properties', propertiesFile], {
      ...asA(),
      LOG_LEVEL: 'info',
      // a user's module type: the process publishes it in the catalogue under its node's keys
      PLEXUS_MODULE_TYPES: join(ROOT, 'test', 'fixtures', 'module-types', 'tiny-echo'),
    });
    const served = async (message: string) =>
      waitFor(
        `"${message}" served`,
        async () => {
          const res = await fetch(`http://127.0.0.1:${port}/`).catch(() => null);
          return res?.status === 200 && (await res.json()).message === message;
        },
        30_000,
        50,
      );
    await served('hello');
    const api = retryingAdminApi(cp.url);
    expect((await api.patch(`/nodes/${A}/modules/web/config`, { message: 'changed' })).status).toBe(
      200,
    );
    await served('changed');
    expect((await fetch(`http://127.0.0.1:${soloPort}/`)).status).toBe(200);
    // a failed login (counted in the realm's failed-login counters), a login, a session, a logout
    const login = (password: string) =>
      fetch(`http://127.0.0.1:${appPort}/login`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ username: 'alice', password }),
      });
    expect((await login('wrong')).status).toBe(401);
    const ok = await login('alice-pw');
    expect(ok.status).toBe(200);
    const { token } = await ok.json();
    const auth = { authorization: `Bearer ${token}` };
    expect((await fetch(`http://127.0.0.1:${appPort}/`, { headers: auth })).status).toBe(200);
    expect(
      (await fetch(`http://127.0.0.1:${appPort}/logout`, { method: 'POST', headers: auth })).status,
    ).toBe(204);
    // it answers batch-job requests for its persistence module (subscribe and reply allowed)
    const submitted = await waitFor('a batch job accepted', async () => {
      const res = await api.post(`/nodes/${A}/modules/db/batch-jobs`, {
        jobType: 'analyze-tables',
        params: {},
      });
      return res.status === 202 && res;
    });
    const listed = await api.get(`/batch-jobs?nodeId=${A}`);
    expect(listed.body.unanswered).toEqual([]);
    expect(listed.body.jobs.map((j: any) => j.jobId)).toEqual([submitted.body.jobId]);
    await waitFor(
      'the process listed up',
      async () => (await api.get(`/processes?nodeId=${A}`)).body[0]?.status === 'up',
    );
    // it answers the control plane's runtime-status requests for its process (subscribe and reply)
    const [{ processId }] = (await api.get(`/processes?nodeId=${A}`)).body;
    const runtime = await api.get(`/processes/${processId}/runtime-status`);
    expect(runtime.status).toBe(200);
    expect(runtime.body.modules.web).toMatchObject({ state: 'running', health: { status: 'UP' } });
    const tinyEcho = async () =>
      ((await api.get('/module-types')).body as any[]).find((t) => t.type === 'tiny-echo');
    await waitFor('its module type in the catalogue', async () => {
      const providers = (await tinyEcho())?.providers ?? [];
      return providers.length === 1 && providers[0].nodeId === A;
    });
    expect(await stopProcess(worker, 5000)).toBe(0);
    expect(await tinyEcho()).toBeUndefined(); // it deleted its entries before it left
    await waitFor(
      'the process listed as left',
      async () => (await api.get(`/processes?nodeId=${A}`)).body[0]?.status === 'left',
    );
    expect(serverLog()).not.toMatch(VIOLATION);
  }, 90_000);

  it("is enough for A's supervisor, which runs the count the scaling policy asks for", async () => {
    const api = retryingAdminApi(cp.url);
    expect(
      (await api.put(`/nodes/${A}/scaling`, { min: 2, max: 2, target: 50 })).body.desired,
    ).toBe(2);
    const supervisor = cluster.spawn('supervisor', ['--node-id', A], {
      ...asA(),
      LOG_LEVEL: 'info',
    });
    try {
      await waitFor(
        'two processes up',
        async () => (await api.get(`/processes?nodeId=${A}&status=up`)).body.length === 2,
        30_000,
        200,
      );
    } finally {
      expect(await stopProcess(supervisor, 30_000)).toBe(0);
    }
    expect(serverLog()).not.toMatch(VIOLATION);
  }, 60_000);

  describe("with A's user, a client", () => {
    let nc: NatsConnection;
    const violations = () =>
      serverLog()
        .split('\n')
        .filter((line) => VIOLATION.test(line) && line.includes(`User "${A}"`));

    beforeAll(async () => {
      nc = await connectAsA();
    });
    afterAll(async () => {
      await nc?.close();
    });

    it('cannot write node documents, not even its own', async () => {
      const kv = await nc.jetstream().views.kv('plexus-nodes');
      await expect(kv.put(A, new TextEncoder().encode('{}'))).rejects.toThrow(/permission/i);
    });

    it("reads its own document but cannot read or watch B's", async () => {
      const kv = await nc.jetstream().views.kv('plexus-nodes');
      expect(JSON.parse((await kv.get(A))!.string()).nodeId).toBe(A);
      await expect(kv.get(B)).rejects.toThrow(/permission/i);
      await expect(kv.watch({ key: B })).rejects.toThrow(/permission/i);
      await expect(kv.watch({ key: '>' })).rejects.toThrow(/permission/i);
      // nor by the request that names the key in its body rather than in its subject
      const jsm = await nc.jetstreamManager();
      await expect(
        jsm.streams.getMessage('KV_plexus-nodes', { last_by_subj: `$KV.plexus-nodes.${B}` }),
      ).rejects.toThrow(/permission/i);
      // nor by a consumer whose subject names A's key but whose body asks for every key
      const crafted = await nc.request(
        `$JS.API.CONSUMER.CREATE.KV_plexus-nodes.sneaky.$KV.plexus-nodes.${A}`,
        JSON.stringify({
          stream_name: 'KV_plexus-nodes',
          config: {
            name: 'sneaky',
            filter_subject: '$KV.plexus-nodes.>',
            deliver_subject: `${A_INBOX}.sneaky`,
            ack_policy: 'none',
          },
        }),
      );
      expect(JSON.parse(new TextDecoder().decode(crafted.data)).error?.err_code).toBe(10131);
      // nor by listening to others' inboxes, where their answers arrive
      const sniff = nc.subscribe('_INBOX.>');
      await expect(
        (async () => {
          for await (const m of sniff) return m;
        })(),
      ).rejects.toThrow(/permission/i);
      expect(violations().join('\n')).toMatch(
        /Publish Violation - User "sample_node", Subject "\$JS.API.DIRECT.GET.KV_plexus-nodes.\$KV.plexus-nodes.other_node"/,
      );
      expect(violations().join('\n')).toMatch(
        /Subscription Violation - User "sample_node", Subject "_INBOX.>"/,
      );
    });

    it('cannot read or write a session or a failed-login counter of a realm A does not serve', async () => {
      const sessions = await nc.jetstream().views.kv('plexus-sessions');
      const theirs = `${B}/local_security.${randomBytes(32).toString('base64url').slice(0, 43)}`;
      const forged = JSON.stringify({
        v: 1,
        user: 'admin',
        createdAt: Date.now(),
        activeAt: Date.now(),
        attributes: {},
      });
      await expect(sessions.put(theirs, forged)).rejects.toThrow(/permission/i);
      await expect(sessions.get(theirs)).rejects.toThrow(/permission/i);
      await expect(sessions.watch({ key: `${B}/local_security.*` })).rejects.toThrow(/permission/i);
      // its own realm is open to it
      const ours = `${A}/local_security.${randomBytes(32).toString('base64url').slice(0, 43)}`;
      await expect(sessions.put(ours, forged)).resolves.toBeGreaterThan(0);
      await sessions.delete(ours);
      const failures = await nc.jetstream().views.kv('plexus-login-failures');
      await expect(failures.put(`${B}/local_security.somebody`, '{}')).rejects.toThrow(
        /permission/i,
      );
      await expect(failures.get(`${B}/local_security.somebody`)).rejects.toThrow(/permission/i);
      expect(violations().join('\n')).toMatch(
        /Publish Violation - User "sample_node", Subject "\$KV.plexus-sessions.other_node\/local_security\./,
      );
    });

    it("cannot publish, read or delete module types under B's keys", async () => {
      const kv = await nc.jetstream().views.kv('plexus-module-types');
      await expect(kv.put(`${B}.p-forged.tiny-echo`, '{}')).rejects.toThrow(/permission/i);
      await expect(kv.get(`${B}.p-forged.tiny-echo`)).rejects.toThrow(/permission/i);
      await expect(kv.delete(`${B}.p-forged.tiny-echo`)).rejects.toThrow(/permission/i);
      // its own node's keys are open to it
      await expect(kv.put(`${A}.p-test.tiny-echo`, '{}')).resolves.toBeGreaterThan(0);
      await kv.delete(`${A}.p-test.tiny-echo`);
      expect(violations().join('\n')).toMatch(
        /Publish Violation - User "sample_node", Subject "\$KV.plexus-module-types.other_node.p-forged.tiny-echo"/,
      );
    });

    it("cannot answer B's batch-job requests: the subscription fails and B's caller gets no answer", async () => {
      const refused = new Promise<NatsError | null>((resolve) => {
        nc.subscribe(`plexus.rpc.batch-jobs.${B}.db`, {
          queue: 'plexus-batch-jobs',
          callback: (err, msg) => {
            if (err) return resolve(err);
            msg.respond(JSON.stringify({ ok: true, jobs: [{ jobId: 'forged' }] }));
            resolve(null);
          },
        });
        setTimeout(() => resolve(null), 10_000).unref();
      });
      const api = retryingAdminApi(cp.url);
      const call = api.get(`/batch-jobs?nodeId=${B}`);
      expect((await refused)?.message).toMatch(/permission/i);
      const listed = await call;
      expect(listed.body.jobs).toEqual([]);
      expect(listed.body.unanswered).toEqual([
        expect.objectContaining({ nodeId: B, moduleId: 'db' }),
      ]);
      expect(violations().join('\n')).toMatch(
        /Subscription Violation - User "sample_node", Subject "plexus.rpc.batch-jobs.other_node.db"/,
      );
    });

    it("cannot answer for B's processes: a runtime-status subscription on B's subject fails", async () => {
      const refused = new Promise<NatsError | null>((resolve) => {
        nc.subscribe(`plexus.rpc.status.${B}.p-forged`, {
          callback: (err, msg) => {
            if (err) return resolve(err);
            msg.respond(JSON.stringify({ processId: 'p-forged', modules: {} }));
            resolve(null);
          },
        });
        setTimeout(() => resolve(null), 10_000).unref();
      });
      expect((await refused)?.message).toMatch(/permission/i);
      expect(violations().join('\n')).toMatch(
        /Subscription Violation - User "sample_node", Subject "plexus.rpc.status.other_node.p-forged"/,
      );
    });

    it('cannot seed B, and a seed request on its own subject must name A', async () => {
      const client = ClientProxyFactory.create({
        transport: Transport.NATS,
        options: {
          servers: nats.url,
          user: A,
          pass: PASSWORDS.PLEXUS_NATS_SAMPLE_NODE_PASSWORD,
          inboxPrefix: A_INBOX,
        },
      });
      const request = { nodeId: B, processId: 'p-forged', properties: { 'node.id': B } };
      try {
        // as @nestjs/microservices would send it
        const packet = JSON.stringify({
          pattern: `plexus.rpc.nodes.seed.${B}`,
          data: request,
          id: '1',
        });
        await expect(nc.request(`plexus.rpc.nodes.seed.${B}`, packet)).rejects.toThrow(
          /permission/i,
        );
        const reply = await firstValueFrom(
          client.send(`plexus.rpc.nodes.seed.${A}`, request).pipe(timeout(10_000)),
        );
        expect(reply).toMatchObject({ ok: false, statusCode: 400 });
        expect(reply.message).toMatch(/nodeId "other_node" does not match/);
      } finally {
        await client.close();
      }
      expect(violations().join('\n')).toMatch(
        /Publish Violation - User "sample_node", Subject "plexus.rpc.nodes.seed.other_node"/,
      );
    });
  });
});
