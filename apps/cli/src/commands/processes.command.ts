import { Command, Option } from 'commander';
import { answerOf } from '../api/plexus-api.client';
import { CliSession, outputOption, printOutput } from './cli-session';

const moduleStates = (modules: Record<string, { state: string }> | undefined) =>
  Object.entries(modules ?? {})
    .map(([id, m]) => `${id}=${m.state}`)
    .join(',');

/** `plexus processes ls`. */
export function processesCommand(session: CliSession): Command {
  const processes = new Command('processes').description('worker processes');
  processes
    .command('ls')
    .description('list processes with their applied version and module states')
    .option('--node <node>', 'processes of this node')
    .addOption(new Option('--status <status>', 'up, left or lost').choices(['up', 'left', 'lost']))
    .option('--archived', 'the archived processes instead')
    .addOption(outputOption())
    .action(async (opts) => {
      const list = await answerOf(
        session.client().GET('/processes', {
          params: {
            query: {
              nodeId: opts.node,
              status: opts.status,
              ...(opts.archived ? { archived: 'true' as const } : {}),
            },
          },
        }),
      );
      printOutput(list, opts.output, {
        rows: (l) => l,
        columns: [
          { header: 'process', value: (p) => p.processId },
          { header: 'node', value: (p) => p.nodeId },
          { header: 'status', value: (p) => p.status },
          { header: 'host', value: (p) => p.host },
          { header: 'pid', value: (p) => p.pid },
          { header: 'applied', value: (p) => p.appliedVersion },
          { header: 'modules', value: (p) => moduleStates(p.modules) },
        ],
      });
    });
  return processes;
}
