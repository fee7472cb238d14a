import { spawnSync } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseProperties } from '@plexus/properties';
import { committedOpenApi, OpenApiContract } from './support/openapi-contract';
import {
  composeValidator,
  dockerfileStages,
  K8sObject,
  readComposeFile,
  renderKustomization,
  REPO,
  requireKubectl,
  runtimeImports,
  runtimeSources,
  servicesOfProfile,
} from './support/manifests';

const byKind = (objects: K8sObject[], kind: string) => objects.filter((o) => o.kind === kind);
const one = (objects: K8sObject[], kind: string, name: string) => {
  const found = objects.find((o) => o.kind === kind && o.metadata.name === name);
  if (!found) throw new Error(`no ${kind} ${name} in the rendered manifests`);
  return found;
};
const selects = (selector: Record<string, string>, labels: Record<string, string>) =>
  Object.entries(selector).every(([k, v]) => labels[k] === v);
const flagValue = (args: string[], flag: string) => args[args.indexOf(flag) + 1];
const controlPlaneOf = (objects: K8sObject[]) =>
  byKind(objects, 'Deployment').find(
    (d) => d.spec.template.spec.containers[0].args[0] === 'control-plane',
  );

describe.each(['base', 'overlays/dev'])('Kubernetes manifests: kubectl kustomize %s', (dir) => {
  let objects: K8sObject[];
  beforeAll(() => {
    requireKubectl();
    objects = renderKustomization(dir);
  });

  it('runs two control-plane replicas, probed on /health port 9000, as a non-root user, behind a Service on 9000', () => {
    const cp = controlPlaneOf(objects)!;
    expect(cp).toBeDefined();
    expect(cp.spec.replicas).toBe(2);
    const pod = cp.spec.template.spec;
    const container = pod.containers[0];
    for (const probe of ['readinessProbe', 'livenessProbe'])
      expect(container[probe].httpGet).toEqual({ path: '/health', port: 9000 });
    expect(container.ports.map((p: any) => p.containerPort)).toContain(9000);
    expect(pod.securityContext.runAsNonRoot).toBe(true);
    expect(pod.securityContext.runAsUser).toBeGreaterThan(0);
    expect(container.securityContext.allowPrivilegeEscalation).toBe(false);
    expect(container.resources.requests).toBeDefined();
    expect(container.resources.limits).toBeDefined();

    const service = byKind(objects, 'Service').find((s) =>
      selects(s.spec.selector, cp.spec.template.metadata.labels),
    );
    expect(service?.spec.ports).toEqual([
      expect.objectContaining({ port: 9000, targetPort: 9000 }),
    ]);
  });

  it('takes the admin token, the database URL and the secrets key from a Secret it does not hold', () => {
    const env: any[] = controlPlaneOf(objects)!.spec.template.spec.containers[0].env;
    for (const name of ['PLEXUS_ADMIN_TOKEN', 'DATABASE_URL', 'PLEXUS_SECRETS_KEY']) {
      const entry = env.find((e) => e.name === name);
      expect(entry?.valueFrom?.secretKeyRef).toEqual(expect.objectContaining({ key: name }));
    }
    expect(byKind(objects, 'Secret')).toEqual([]);
    // No literal value of a secret-looking variable, and no URL with a password, anywhere.
    const text = JSON.stringify(objects);
    expect(text).not.toMatch(/[a-z][a-z0-9+.-]*:\/\/[^/\s"@:]+:[^/\s"@]+@/i);
    for (const d of byKind(objects, 'Deployment'))
      for (const c of d.spec.template.spec.containers)
        for (const e of c.env ?? [])
          if (/TOKEN|PASSWORD|SECRET|KEY|DATABASE_URL/.test(e.name))
            expect(e.value).toBeUndefined();
  });

  it("runs sample_node's workers, created from a mounted properties file for that node, as a non-root user", () => {
    const worker = one(objects, 'Deployment', 'plexus-worker-sample-node');
    const pod = worker.spec.template.spec;
    const args: string[] = pod.containers[0].args;
    expect(args[0]).toBe('worker');
    expect(flagValue(args, '--node-id')).toBe('sample_node');
    expect(pod.securityContext.runAsNonRoot).toBe(true);

    const file = flagValue(args, '--properties');
    const mount = pod.containers[0].volumeMounts.find((m: any) =>
      file.startsWith(`${m.mountPath}/`),
    );
    const volume = pod.volumes.find((v: any) => v.name === mount.name);
    const configMap = one(objects, 'ConfigMap', volume.configMap.name);
    const properties = parseProperties(configMap.data![file.slice(mount.mountPath.length + 1)]);
    expect(properties['node.id']).toBe('sample_node');
  });

  it("scales the worker Deployment by KEDA from a documented control-plane route answering the node's desired process count", () => {
    const [scaled] = byKind(objects, 'ScaledObject');
    const worker = one(objects, 'Deployment', scaled.spec.scaleTargetRef.name);
    const nodeId = flagValue(worker.spec.template.spec.containers[0].args, '--node-id');

    const [trigger] = scaled.spec.triggers;
    expect(trigger.type).toBe('metrics-api');
    const url = new URL(trigger.metadata.url);
    // KEDA asks from its own namespace: the host names the Service and this namespace.
    const cpService = byKind(objects, 'Service').find((s) =>
      selects(s.spec.selector, controlPlaneOf(objects)!.spec.template.metadata.labels),
    )!;
    expect(url.hostname).toBe(`${cpService.metadata.name}.${cpService.metadata.namespace}.svc`);
    expect(Number(url.port)).toBe(9000);
    expect(url.pathname).toBe(`/nodes/${nodeId}/scaling`);

    const openapi = committedOpenApi() as any;
    const route = new OpenApiContract(openapi).routeOf('GET', url.pathname);
    expect(route).toBe('/nodes/{nodeId}/scaling');
    const ref: string =
      openapi.paths[route!].get.responses['200'].content['application/json'].schema.$ref;
    const answer = openapi.components.schemas[ref.split('/').pop()!];
    expect(answer.properties[trigger.metadata.valueLocation]).toEqual(
      expect.objectContaining({ type: 'integer' }),
    );
    // One pod per desired process.
    expect(trigger.metadata.targetValue).toBe('1');
    expect(trigger.metricType ?? 'AverageValue').toBe('AverageValue');

    expect(trigger.metadata.authMode).toBe('bearer');
    const auth = one(objects, 'TriggerAuthentication', trigger.authenticationRef.name);
    expect(auth.spec.secretTargetRef).toEqual([expect.objectContaining({ parameter: 'token' })]);
  });

  it('lets workers reach NATS only, the control plane Postgres and NATS, and clients the control plane on 9000', () => {
    const policies = byKind(objects, 'NetworkPolicy');
    const policyOf = (d: K8sObject) =>
      policies.find((p) =>
        selects(p.spec.podSelector.matchLabels, d.spec.template.metadata.labels),
      )!;
    const reaches = (policy: K8sObject) =>
      policy.spec.egress
        .filter(
          (rule: any) =>
            !rule.to.some((peer: any) => peer.podSelector?.matchLabels?.['k8s-app'] === 'kube-dns'),
        )
        .map((rule: any) => ({
          to: rule.to.map(
            (peer: any) => peer.podSelector?.matchLabels?.['app.kubernetes.io/name'] ?? 'ipBlock',
          ),
          ports: rule.ports.map((p: any) => p.port),
        }));

    const worker = policyOf(one(objects, 'Deployment', 'plexus-worker-sample-node'));
    expect(worker.spec.policyTypes).toContain('Egress');
    expect(reaches(worker)).toEqual([{ to: ['nats'], ports: [4222] }]);

    const cp = policyOf(controlPlaneOf(objects)!);
    expect(cp.spec.policyTypes).toEqual(expect.arrayContaining(['Ingress', 'Egress']));
    expect(reaches(cp)).toEqual(
      expect.arrayContaining([
        { to: ['postgresql'], ports: [5432] },
        { to: ['nats'], ports: [4222] },
      ]),
    );
    expect(cp.spec.ingress.flatMap((r: any) => r.ports.map((p: any) => p.port))).toEqual([9000]);
  });
});

describe('Kubernetes dev overlay', () => {
  it('runs Postgres and NATS with the labels the network policy lets Plexus reach', () => {
    requireKubectl();
    const objects = renderKustomization('overlays/dev');
    const names = byKind(objects, 'Deployment').map(
      (d) => d.spec.template.metadata.labels['app.kubernetes.io/name'],
    );
    expect(names).toEqual(expect.arrayContaining(['postgresql', 'nats']));
    expect(objects.every((o) => o.metadata.namespace === 'plexus-dev')).toBe(true);
  });
});

describe('Dockerfile', () => {
  const stages = dockerfileStages(readFileSync(join(REPO, 'Dockerfile'), 'utf8'));
  const runtime = stages[stages.length - 1];

  it('builds in one stage and runs from another that holds production dependencies only', () => {
    expect(stages.length).toBeGreaterThanOrEqual(2);
    const build = stages.find((s) => s.instructions.some((i) => /^RUN .*npm run build/.test(i)));
    expect(build).toBeDefined();
    expect(build).not.toBe(runtime);
    expect(runtime.instructions).toContainEqual(
      expect.stringMatching(new RegExp(`^COPY --from=${build!.name} \\S*dist`)),
    );
    // node_modules in the runtime come from an `npm ci --omit=dev`, not from the build stage.
    const copies = runtime.instructions.filter((i) => /node_modules/.test(i));
    const sources = copies.map((i) => /--from=(\S+)/.exec(i)?.[1] ?? runtime.name);
    expect(sources.length).toBeGreaterThan(0);
    for (const source of sources) {
      const stage = stages.find((s) => s.name === source)!;
      expect(stage.instructions).toContainEqual(expect.stringMatching(/^RUN npm ci .*--omit=dev/));
    }
  });

  it('runs as a non-root user, by number', () => {
    const user = runtime.instructions.filter((i) => /^USER /.test(i)).pop();
    expect(user).toMatch(/^USER [1-9]\d*(:\d+)?$/);
  });
});

describe('the image entry point', () => {
  let appDir: string;
  const entrypoint = join(REPO, 'deploy', 'docker', 'entrypoint.sh');
  const run = (args: string[], env: Record<string, string> = {}) =>
    spawnSync('sh', [entrypoint, ...args], {
      encoding: 'utf8',
      env: { PATH: process.env.PATH, PLEXUS_APP_DIR: appDir, ...env },
    });

  beforeAll(() => {
    // Stand-in apps that say who they are, what they were given and whether they got the key.
    appDir = mkdtempSync(join(tmpdir(), 'plexus-entrypoint-'));
    for (const app of ['control-plane', 'worker', 'supervisor', 'cli']) {
      mkdirSync(join(appDir, 'dist', 'apps', app), { recursive: true });
      writeFileSync(
        join(appDir, 'dist', 'apps', app, 'main.js'),
        `console.log(JSON.stringify({ app: ${JSON.stringify(app)}, args: process.argv.slice(2), key: process.env.PLEXUS_SECRETS_KEY ?? null }))`,
      );
    }
  });
  afterAll(() => rmSync(appDir, { recursive: true, force: true }));

  it('starts the app its first argument names with the others, the control plane without one', () => {
    expect(JSON.parse(run(['worker', '--node-id', 'sample_node']).stdout)).toEqual({
      app: 'worker',
      args: ['--node-id', 'sample_node'],
      key: null,
    });
    expect(JSON.parse(run([]).stdout)).toEqual({ app: 'control-plane', args: [], key: null });
    expect(run(['sh', '-c', 'echo other command']).stdout).toBe('other command\n');
  });

  it('reads the secrets key from PLEXUS_SECRETS_KEY_FILE, and refuses a missing file by name', () => {
    const keyFile = join(appDir, 'secrets.key');
    writeFileSync(keyFile, 'a2V5LWZyb20tYS1maWxlLW9mLTMyLWJ5dGVzLTEyMzQ=\n');
    chmodSync(keyFile, 0o600);
    expect(JSON.parse(run(['cli'], { PLEXUS_SECRETS_KEY_FILE: keyFile }).stdout).key).toBe(
      'a2V5LWZyb20tYS1maWxlLW9mLTMyLWJ5dGVzLTEyMzQ=',
    );
    const missing = run(['control-plane'], { PLEXUS_SECRETS_KEY_FILE: join(appDir, 'nope.key') });
    expect(missing.status).not.toBe(0);
    expect(missing.stderr).toContain('PLEXUS_SECRETS_KEY_FILE');
  });
});

describe('docker-compose.yml', () => {
  const { services } = readComposeFile();
  const env = (name: string) => services[name].environment ?? {};

  it('is valid compose (checked by compose itself where it is installed) and still starts only Postgres and NATS without a profile', () => {
    expect(servicesOfProfile(services, null).sort()).toEqual(['nats', 'postgres']);
    const validator = composeValidator();
    if (!validator) return;
    const result = spawnSync(
      validator[0],
      [...validator.slice(1), '-f', join(REPO, 'docker-compose.yml'), 'config', '-q'],
      { encoding: 'utf8', env: { ...process.env, PLEXUS_ADMIN_TOKEN: 'compose-validation-token' } },
    );
    expect(result.stderr).toBe('');
    expect(result.status).toBe(0);
  });

  it("demo: a control plane on Postgres and NATS, and a supervisor keeping sample_node's processes", () => {
    const demo = servicesOfProfile(services, 'demo');
    const cp = demo.find((s) => services[s].command?.[0] === 'control-plane')!;
    expect(new URL(env(cp).DATABASE_URL).hostname).toBe('postgres');
    expect(env(cp).NATS_URL).toBe('nats://nats:4222');
    expect(services.nats.command).toContain('-js');

    const supervisor = demo.find((s) => services[s].command?.[0] === 'supervisor')!;
    const args = services[supervisor].command!;
    expect(flagValue(args, '--node-id')).toBe('sample_node');
    // The properties file is mounted from the repository and describes that node.
    const mounted = services[supervisor]
      .volumes!.map((v) => v.split(':'))
      .find(([, inside]) => inside === flagValue(args, '--properties'));
    const properties = parseProperties(readFileSync(join(REPO, mounted![0]), 'utf8'));
    expect(properties['node.id']).toBe('sample_node');
    expect(properties['module.sample_endpoint.config.bind_address']).toBe('0.0.0.0');
  });

  it('ha: three NATS servers routed into one JetStream cluster, two control planes on all three and one Postgres', () => {
    const ha = servicesOfProfile(services, 'ha');
    const natsServers = ha.filter(
      (s) => services[s].image?.startsWith('nats') && services[s].profiles,
    );
    expect(natsServers).toHaveLength(3);
    const routes = new Set<string>();
    const names = new Set<string>();
    for (const s of natsServers) {
      const args = services[s].command!;
      expect(args).toContain('-js');
      expect(flagValue(args, '--cluster_name')).toBe('plexus');
      names.add(flagValue(args, '--server_name'));
      routes.add(flagValue(args, '--routes'));
    }
    expect(names.size).toBe(3);
    expect(routes.size).toBe(1);
    const routed = [...routes][0].split(',').map((r) => new URL(r).hostname);
    expect(routed.sort()).toEqual([...natsServers].sort());

    const cps = ha.filter((s) => services[s].command?.[0] === 'control-plane');
    expect(cps).toHaveLength(2);
    for (const cp of cps) {
      const servers = env(cp)
        .NATS_URL.split(',')
        .map((u) => new URL(u).hostname);
      expect(servers.sort()).toEqual([...natsServers].sort());
      expect(env(cp).NATS_REPLICAS).toBe('3');
    }
    expect(env(cps[0]).DATABASE_URL).toBe(env(cps[1]).DATABASE_URL);
  });
});

describe('the runtime image has what the apps require', () => {
  it('every package the apps and libraries import at run time is a production dependency', () => {
    const pkg = JSON.parse(readFileSync(join(REPO, 'package.json'), 'utf8'));
    const missing = new Map<string, string>();
    for (const file of runtimeSources()) {
      for (const specifier of runtimeImports(file)) {
        if (
          specifier.startsWith('.') ||
          specifier.startsWith('node:') ||
          specifier.startsWith('@plexus/')
        )
          continue;
        const name = specifier.startsWith('@')
          ? specifier.split('/').slice(0, 2).join('/')
          : specifier.split('/')[0];
        if (!pkg.dependencies[name]) missing.set(name, file.slice(REPO.length + 1));
      }
    }
    expect(Object.fromEntries(missing)).toEqual({});
  });
});
