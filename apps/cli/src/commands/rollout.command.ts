import { Command } from 'commander';
import { sleep } from '@plexus/common';
import { answerOf } from '../api/plexus-api.client';
import { CliError, ExitCode } from '../exit-codes';
import { rolloutProgress, rolloutVerdict } from '../rollout/rollout-verdict';
import { CliSession, integer, print } from './cli-session';

/** `plexus rollout status NODE`: live until every process runs the latest version. */
export function rolloutCommand(session: CliSession): Command {
  const rollout = new Command('rollout').description("a node's rollout over its processes");
  rollout
    .command('status')
    .argument('<node>')
    .description(
      'wait until every live process applied the latest version (exit 0), a process failed (1) or --timeout ran out (3)',
    )
    .option('--timeout <seconds>', 'give up after this long (default: wait forever)', integer(1))
    .option('--interval <ms>', 'how often to ask', integer(50), 500)
    .action(async (nodeId: string, opts: { timeout?: number; interval: number }) => {
      const client = session.client();
      const deadline = opts.timeout ? Date.now() + opts.timeout * 1000 : Infinity;
      let last = '';
      for (;;) {
        const r = await answerOf(
          client.GET('/nodes/{nodeId}/rollout', { params: { path: { nodeId } } }),
        );
        const line = rolloutProgress(r);
        if (line !== last) print(`${line}\n`);
        last = line;
        const verdict = rolloutVerdict(r);
        if (verdict.state === 'converged') {
          const ms = r.lastChange.convergeMs;
          print(`converged${ms !== null && ms !== undefined ? ` in ${ms} ms` : ''}\n`);
          return;
        }
        if (verdict.state === 'failed')
          throw new CliError(
            `rollout failed:\n  ${verdict.failures.join('\n  ')}`,
            ExitCode.failed,
          );
        if (Date.now() + opts.interval > deadline)
          throw new CliError(`timed out after ${opts.timeout} s: ${verdict.why}`, ExitCode.timeout);
        await sleep(opts.interval);
      }
    });
  return rollout;
}
