import { join } from 'node:path';
import type { KV } from 'nats';
import { connectNats, openNodesBucket, readNodeDocument, watchDesiredProcesses } from '@plexus/bus';
import { parseSupervisorArgs, SupervisorOptions, UsageError } from './cli';
import { createLogger } from './logger';
import { DEFAULT_PORT_STEP, Supervisor } from './supervisor';
import { errorText, sleep } from '@plexus/common';

async function main() {
  let options: SupervisorOptions;
  try {
    options = parseSupervisorArgs(process.argv.slice(2), process.env);
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    (err.exitCode === 0 ? process.stdout : process.stderr).write(`${err.message}\n`);
    process.exit(err.exitCode);
  }
  const { nodeId } = options;
  const logger = createLogger(options.logLevel, { nodeId });

  let stopping = false;
  let stop: (() => Promise<void>) | null = null;
  const onSignal = (signal: NodeJS.Signals) => {
    if (stopping) return; // the workers are being stopped already
    stopping = true;
    logger.info({ signal }, 'supervisor stopping its workers');
    if (!stop) process.exit(0);
    stop().then(
      () => {
        logger.info('supervisor stopped');
        process.exit(0);
      },
      (err) => {
        logger.error({ error: errorText(err) }, 'stopping failed');
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);

  logger.info(
    { maxProcesses: options.maxProcesses, propertiesFile: options.propertiesFile },
    'supervisor starting; connecting to NATS (waits until it is reachable)',
  );
  const nc = await connectNats(
    options.natsUrl,
    `plexus-supervisor ${nodeId}`,
    { waitOnFirstConnect: true, inboxPrefix: options.natsInboxPrefix },
    options.natsCredsFile ?? undefined,
  );
  let nodes: KV | null = null;
  let lastStep = DEFAULT_PORT_STEP;
  // server_port_offset from the node's document in NATS KV (what the workers read too).
  const portStep = async () => {
    try {
      nodes ??= await openNodesBucket(nc);
      const doc = await Promise.race([
        readNodeDocument(nodes, nodeId),
        sleep(2000).then(() => Promise.reject(new Error('no answer from NATS within 2 s'))),
      ]);
      const raw = doc?.properties.server_port_offset;
      if (raw === undefined) return (lastStep = DEFAULT_PORT_STEP);
      if (/^\d{1,5}$/.test(raw.trim()) && Number(raw) > 0) return (lastStep = Number(raw));
      logger.warn(
        { server_port_offset: raw, using: DEFAULT_PORT_STEP },
        'server_port_offset is not a positive integer',
      );
      return DEFAULT_PORT_STEP;
    } catch (err) {
      logger.warn(
        { error: errorText(err), using: lastStep },
        'could not read the node document for server_port_offset',
      );
      return lastStep;
    }
  };

  const supervisor = new Supervisor({
    nodeId,
    propertiesFile: options.propertiesFile,
    maxProcesses: options.maxProcesses,
    workerScript: join(__dirname, '..', 'worker', 'main.js'),
    logger,
    portStep,
  });
  const watch = watchDesiredProcesses(
    nc,
    nodeId,
    (d) => supervisor.setDesired(d.desired, `recorded at ${d.recordedAt}`),
    {
      logger: {
        log: (m, f) => logger.info(f ?? {}, m),
        warn: (m, f) => logger.warn(f ?? {}, m),
        error: (m, f) => logger.error(f ?? {}, m),
      },
    },
  );
  stop = async () => {
    await watch.stop();
    await supervisor.shutdown();
    await Promise.race([nc.drain().catch(() => nc.close()), sleep(2000)]);
  };
  // Before any policy (no count in the scaling bucket) one process runs.
  void supervisor.reconcile();
  logger.info('supervisor running');
}

main().catch((err) => {
  process.stderr.write(`plexus-supervisor: ${err instanceof Error ? err.stack : String(err)}\n`);
  process.exit(1);
});
