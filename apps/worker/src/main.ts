import { randomBytes } from 'node:crypto';
import {
  builtInModuleTypes,
  loadModuleTypePackages,
  ModuleTypeLoadError,
  ModuleTypeRegistry,
  registerUserModuleTypes,
} from '@plexus/module-runtime';
import { parseWorkerArgs, UsageError, WorkerOptions } from './cli';
import { lowerHelperThreadPriority } from './helper-threads';
import { createLogger } from './logger';
import { StatusReporter } from './reporting/status.reporter';
import { ControlPlaneClient } from './seeding/control-plane.client';
import { NodeSeedingService } from './seeding/node-seeding.service';
import { StartupError } from './startup.error';
import { WorkerService } from './worker.service';

/** A process ID nobody sets: 64 random bits, so unique across the cluster for all purposes. */
const newProcessId = () => `p-${randomBytes(8).toString('hex')}`;

async function main() {
  let options: WorkerOptions;
  try {
    options = parseWorkerArgs(process.argv.slice(2), process.env);
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    (err.exitCode === 0 ? process.stdout : process.stderr).write(`${err.message}\n`);
    process.exit(err.exitCode);
  }

  // First, while the only other threads are V8's helpers (see helper-threads.ts).
  lowerHelperThreadPriority(options.helperThreadNice);

  // Users' module types load before anything connects: a package that does not load, a bad
  // schema or a clashing name stops the start as any other start-up error does.
  let registry: ModuleTypeRegistry;
  try {
    registry = registerUserModuleTypes(
      builtInModuleTypes(),
      loadModuleTypePackages(options.moduleTypeSources, process.cwd()),
    );
  } catch (err) {
    if (!(err instanceof ModuleTypeLoadError)) throw err;
    process.stderr.write(`plexus-worker: ${err.message}\n`);
    process.exit(1);
  }

  const processId = newProcessId();
  const logger = createLogger(options.logLevel, { nodeId: options.nodeId, processId });
  // A module's stray error must not take the other modules (or the process) down.
  process.on('unhandledRejection', (reason) =>
    logger.error(
      { error: reason instanceof Error ? reason.stack : String(reason) },
      'unhandled rejection',
    ),
  );
  process.on('uncaughtException', (err) =>
    logger.error(
      { error: err.stack ?? err.message },
      'uncaught exception; the worker keeps running',
    ),
  );

  // Signals are handled from here on: before the worker exists there is nothing to stop.
  let stop: ((signal: NodeJS.Signals) => void) | null = null;
  let signalled = false;
  const onSignal = (signal: NodeJS.Signals) => {
    if (signalled) {
      logger.warn({ signal }, 'second signal while stopping; exiting at once');
      process.exit(1);
    }
    signalled = true;
    if (stop) stop(signal);
    else process.exit(0);
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);

  // Wired by hand, not by Nest: four objects need no container, and Nest with rxjs was about
  // a quarter of an idle worker's resident memory (bench:worker-cost).
  const seeding = new NodeSeedingService(
    options,
    logger,
    processId,
    registry,
    new ControlPlaneClient(options, logger),
  );
  const reporter = new StatusReporter(options, logger, processId);
  const worker = new WorkerService(options, logger, processId, registry, seeding, reporter);
  stop = (signal) =>
    void worker.shutdown(signal).then(
      () => process.exit(0),
      (err) => {
        logger.error({ error: String(err) }, 'shutdown failed');
        process.exit(1);
      },
    );

  try {
    await worker.start();
  } catch (err) {
    if (worker.isStopping) return;
    const message = err instanceof Error ? err.message : String(err);
    logger.fatal({ error: err instanceof StartupError ? message : (err as Error)?.stack }, message);
    process.stderr.write(`plexus-worker: ${message}\n`);
    await Promise.race([
      worker.shutdown('start-up failed'),
      new Promise((r) => setTimeout(r, 5000)),
    ]);
    process.exit(1);
  }
}

main().catch((err) => {
  process.stderr.write(`plexus-worker: ${err instanceof Error ? err.stack : String(err)}\n`);
  process.exit(1);
});
