// Jest maps @plexus/* for test files only, not for global hooks.
import 'tsconfig-paths/register';
import { DEFAULT_NATS_URL, natsAuthOptions } from '@plexus/bus';
import { takeRecordedLeftovers } from './leftover-nodes';
import { purgeNodesFromNats } from './shared-nats-cleanup';

/**
 * Jest's global teardown: purges from the shared NATS what the run's control planes left there
 * for the nodes of the test databases they dropped. A failure is reported, never a failed run:
 * the tests have passed or failed by now.
 */
export default async function globalTeardown(): Promise<void> {
  const nodeIds = takeRecordedLeftovers();
  try {
    await purgeNodesFromNats(natsAuthOptions(process.env.NATS_URL ?? DEFAULT_NATS_URL), nodeIds);
  } catch (err) {
    process.stderr.write(
      `could not purge the test run's leftovers from NATS: ${(err as Error).message}\n`,
    );
  }
}
