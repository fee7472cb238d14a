import { ChildProcess, spawn } from 'node:child_process';
import { join } from 'node:path';
import { waitFor } from './ports';
import { TEST_SECRETS_KEY } from './secrets';

export const ROOT = join(__dirname, '..', '..');

export interface SpawnedProcess {
  child: ChildProcess;
  output: () => string;
  exited: Promise<number | null>;
  kill(signal?: NodeJS.Signals): Promise<number | null>;
}

/**
 * Runs a built app (`dist/apps/<app>/main.js`) as its own OS process, keeping its output. It has
 * the test secrets key (control planes need one; workers decrypt with it) unless `env` sets
 * PLEXUS_SECRETS_KEY; an empty value leaves it out.
 */
export function spawnApp(
  app: 'control-plane' | 'worker' | 'supervisor',
  args: string[],
  env: Record<string, string>,
  /** Flags for node itself (`--cpu-prof`, ...), which NODE_OPTIONS does not all accept. */
  nodeArgs: string[] = [],
): SpawnedProcess {
  const merged: NodeJS.ProcessEnv = {
    ...process.env,
    PLEXUS_SECRETS_KEY: TEST_SECRETS_KEY,
    ...env,
  };
  for (const name of ['PLEXUS_SECRETS_KEY', 'PLEXUS_SECRETS_KEY_PREVIOUS'])
    if (merged[name] === '') delete merged[name];
  return spawnNode([...nodeArgs, join(ROOT, 'dist', 'apps', app, 'main.js'), ...args], merged);
}

/** Runs `node <args>` as its own OS process with exactly `env`, keeping its output. */
export function spawnNode(args: string[], env: NodeJS.ProcessEnv): SpawnedProcess {
  const child = spawn(process.execPath, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout!.on('data', (d) => (out += d));
  child.stderr!.on('data', (d) => (out += d));
  const exited = new Promise<number | null>((resolve) =>
    child.once('exit', (code) => resolve(code)),
  );
  return {
    child,
    output: () => out,
    exited,
    async kill(signal: NodeJS.Signals = 'SIGTERM') {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      return exited;
    },
  };
}

export async function spawnControlPlane(env: {
  DATABASE_URL: string;
  NATS_URL?: string;
  PORT: number;
  PLEXUS_ADMIN_TOKEN: string;
  LOG_LEVEL?: string;
  LOST_AFTER_MS?: number;
  SCALE_EVALUATE_MS?: number;
  /** Any other variables (WEBHOOK_RETRY_BASE_MS, ...). */
  more?: Record<string, string>;
  /** Flags for node itself (`--cpu-prof`, ...). */
  nodeArgs?: string[];
}) {
  const proc = spawnApp(
    'control-plane',
    [],
    {
      ...env.more,
      ...(env.LOST_AFTER_MS ? { LOST_AFTER_MS: String(env.LOST_AFTER_MS) } : {}),
      ...(env.SCALE_EVALUATE_MS ? { SCALE_EVALUATE_MS: String(env.SCALE_EVALUATE_MS) } : {}),
      DATABASE_URL: env.DATABASE_URL,
      NATS_URL: env.NATS_URL ?? process.env.NATS_URL ?? 'nats://127.0.0.1:4222',
      PORT: String(env.PORT),
      PLEXUS_ADMIN_TOKEN: env.PLEXUS_ADMIN_TOKEN,
      LOG_LEVEL: env.LOG_LEVEL ?? 'warn',
    },
    env.nodeArgs,
  );
  const url = `http://127.0.0.1:${env.PORT}`;
  await waitFor(
    `control plane on ${url}`,
    async () => {
      if (proc.child.exitCode !== null) throw new Error(`control plane exited: ${proc.output()}`);
      return (await fetch(`${url}/health`)).status === 200;
    },
    30_000,
    100,
  );
  return { ...proc, url };
}

/**
 * A process of one node: `dist/apps/worker/main.js --node-id ID [--properties FILE]
 * [--port-offset N]`, with NATS_URL (default the shared NATS) and LOG_LEVEL (default info).
 */
export function spawnWorker(opts: {
  nodeId: string;
  propertiesFile?: string;
  portOffset?: number;
  natsUrl?: string;
  logLevel?: string;
  /** More environment variables (PLEXUS_SECRETS_KEY: '' starts it without a key). */
  env?: Record<string, string>;
  /** More flags (`--management-port`, ...). */
  args?: string[];
  /** Flags for node itself (`--cpu-prof`, ...). */
  nodeArgs?: string[];
}): SpawnedProcess {
  const args = ['--node-id', opts.nodeId, ...(opts.args ?? [])];
  if (opts.propertiesFile !== undefined) args.push('--properties', opts.propertiesFile);
  if (opts.portOffset !== undefined) args.push('--port-offset', String(opts.portOffset));
  return spawnApp(
    'worker',
    args,
    {
      ...opts.env,
      NATS_URL: opts.natsUrl ?? process.env.NATS_URL ?? 'nats://127.0.0.1:4222',
      LOG_LEVEL: opts.logLevel ?? 'info',
    },
    opts.nodeArgs,
  );
}

/** SIGTERM, then SIGKILL when the process has not exited after `graceMs`; resolves with its exit code. */
export async function stopProcess(proc: SpawnedProcess, graceMs = 10_000): Promise<number | null> {
  if (proc.child.exitCode !== null || proc.child.signalCode !== null) return proc.exited;
  let timer: NodeJS.Timeout | undefined;
  const killLater = new Promise<void>((resolve) => {
    timer = setTimeout(() => {
      if (proc.child.exitCode === null && proc.child.signalCode === null)
        proc.child.kill('SIGKILL');
      resolve();
    }, graceMs);
  });
  try {
    return await Promise.race([proc.kill('SIGTERM'), killLater.then(() => proc.exited)]);
  } finally {
    clearTimeout(timer);
  }
}
