import { readFileSync } from 'node:fs';
import { Command } from 'commander';
import { answerOf, reasonHeader } from '../api/plexus-api.client';
import { usageError } from '../exit-codes';
import { CliSession, print } from './cli-session';

/** `plexus import FILE`: a properties file of one or more nodes, applied per node. */
export function importCommand(session: CliSession): Command {
  return new Command('import')
    .argument('<file>', 'properties file (Smile CDR node format)')
    .description('import a properties file of one or more nodes')
    .option('--reason <text>', 'why: recorded with the events')
    .action(async (file: string, opts: { reason?: string }) => {
      let text: string;
      try {
        text = readFileSync(file, 'utf8');
      } catch (err) {
        throw usageError(`cannot read ${file}: ${(err as Error).message}`);
      }
      const answer = await answerOf(
        session.client().POST('/module-config/properties', {
          body: text,
          bodySerializer: (body: string) => body,
          params: {
            header: { 'Content-Type': 'text/plain', ...reasonHeader(opts.reason) } as Record<
              string,
              string
            >,
          },
        }),
      );
      for (const n of answer.nodes)
        print(
          `${n.nodeId}: ${n.created ? 'created' : n.changed ? 'changed' : 'unchanged'}, version ${n.version}\n`,
        );
      for (const w of answer.warnings ?? []) process.stderr.write(`warning: ${w}\n`);
    });
}

/** `plexus export [NODE]`: the properties file of one node or all (secrets masked). */
export function exportCommand(session: CliSession): Command {
  return new Command('export')
    .argument('[node]')
    .description('print the properties file of a node, or of every node (secrets masked)')
    .action(async (nodeId: string | undefined) => {
      const text = await answerOf(
        session.client().GET('/module-config/properties', {
          params: { query: nodeId ? { nodeId } : {} },
          parseAs: 'text',
        }),
      );
      print(text);
    });
}
