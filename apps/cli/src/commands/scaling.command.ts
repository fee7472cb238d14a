import { Command, Option } from 'commander';
import { answerOf, ifMatch, reasonHeader } from '../api/plexus-api.client';
import { renderFields } from '../output/output-format';
import { CliSession, integer, outputOption, print, printOutput, writeOptions } from './cli-session';

interface SetOpts {
  min: number;
  max: number;
  target: number;
  metric: 'eventLoopUtilization' | 'requestsPerSec';
  scaleUpStabilization: number;
  scaleDownStabilization: number;
  ifMatch?: number;
  reason?: string;
}

/** `plexus scaling get|set NODE`: a node's autoscaling policy and recommendation. */
export function scalingCommand(session: CliSession): Command {
  const scaling = new Command('scaling').description("a node's scaling policy and recommendation");
  scaling
    .command('get')
    .argument('<node>')
    .addOption(outputOption())
    .action(async (nodeId: string, opts) => {
      const state = await answerOf(
        session.client().GET('/nodes/{nodeId}/scaling', { params: { path: { nodeId } } }),
      );
      if (opts.output !== 'table')
        return printOutput(state, opts.output, { rows: () => [], columns: [] });
      const r = state.lastRecommendation;
      print(
        renderFields({
          node: state.nodeId,
          policy: state.policy,
          desired: state.desired,
          recommendation: r ? `${r.from} -> ${r.to}: ${r.reason}` : null,
        }),
      );
    });
  writeOptions(
    scaling
      .command('set')
      .argument('<node>')
      .requiredOption('--min <n>', 'fewest processes', integer(0))
      .requiredOption('--max <n>', 'most processes', integer(1))
      .requiredOption('--target <n>', 'per process: utilisation percent, or requests/s', integer(1))
      .addOption(
        new Option('--metric <metric>')
          .choices(['eventLoopUtilization', 'requestsPerSec'])
          .default('eventLoopUtilization'),
      )
      .option('--scale-up-stabilization <s>', 'seconds', integer(0), 0)
      .option('--scale-down-stabilization <s>', 'seconds', integer(0), 300),
  ).action(async (nodeId: string, opts: SetOpts) => {
    await answerOf(
      session.client().PUT('/nodes/{nodeId}/scaling', {
        params: {
          path: { nodeId },
          header: { ...ifMatch(opts.ifMatch), ...reasonHeader(opts.reason) },
        },
        body: {
          min: opts.min,
          max: opts.max,
          target: opts.target,
          metric: opts.metric,
          scaleUpStabilization: opts.scaleUpStabilization,
          scaleDownStabilization: opts.scaleDownStabilization,
        },
      }),
    );
    print(`scaling policy of ${nodeId} set\n`);
  });
  return scaling;
}
