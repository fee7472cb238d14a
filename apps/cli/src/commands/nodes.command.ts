import { readFileSync } from 'node:fs';
import { Command } from 'commander';
import { answerOf, apiError, ifMatch, reasonHeader } from '../api/plexus-api.client';
import { usageError } from '../exit-codes';
import {
  desiredNodeProperties,
  isEmptyDiff,
  nodeFileFormat,
  parseNodeFile,
  planApply,
  renderDiff,
} from '../nodes/node-file';
import { renderFields } from '../output/output-format';
import { CliSession, integer, outputOption, print, printOutput, writeOptions } from './cli-session';

/** `plexus nodes ls|get|apply|rm`, and `diff` and `revert` of a node's history. */
export function nodesCommand(session: CliSession): Command {
  const nodes = new Command('nodes').description('nodes: their properties and modules');
  nodes
    .command('ls')
    .description('list live nodes')
    .addOption(outputOption())
    .action(async (opts) => {
      const list = await answerOf(session.client().GET('/nodes'));
      printOutput(list, opts.output, {
        rows: (l) => l,
        columns: [
          { header: 'node', value: (n) => n.nodeId },
          { header: 'version', value: (n) => n.version },
          { header: 'modules', value: (n) => n.moduleCount },
          { header: 'processes', value: (n) => n.liveProcessCount },
          { header: 'updated', value: (n) => n.updatedAt },
        ],
      });
    });
  nodes
    .command('get')
    .argument('<node>')
    .description("a node's document: properties and modules (secrets redacted)")
    .addOption(outputOption())
    .action(async (nodeId: string, opts) => {
      const doc = await answerOf(
        session.client().GET('/nodes/{nodeId}', { params: { path: { nodeId } } }),
      );
      if (opts.output !== 'table')
        return printOutput(doc, opts.output, { rows: () => [], columns: [] });
      print(renderFields({ node: doc.nodeId, version: doc.version, properties: doc.properties }));
      print('\n');
      printOutput(doc.modules, 'table', {
        rows: (m) => m,
        columns: [
          { header: 'module', value: (m) => m.moduleId },
          { header: 'type', value: (m) => m.type },
          { header: 'enabled', value: (m) => m.enabled },
          { header: 'activation', value: (m) => m.activation },
          { header: 'config', value: (m) => m.config },
        ],
      });
    });
  writeOptions(
    nodes
      .command('apply')
      .description(
        'make a node what FILE describes (properties, JSON or YAML; modules not in it are removed)',
      )
      .requiredOption('-f, --file <file>', 'node file: .properties, .json, .yaml/.yml')
      .option('--dry-run', 'print the diff it would make and change nothing'),
  ).action(async (opts: { file: string; dryRun?: boolean; ifMatch?: number; reason?: string }) => {
    let text: string;
    try {
      text = readFileSync(opts.file, 'utf8');
    } catch (err) {
      throw usageError(`cannot read ${opts.file}: ${(err as Error).message}`);
    }
    const desired = parseNodeFile(text, nodeFileFormat(opts.file), opts.file);
    const client = session.client();
    const got = await client.GET('/nodes/{nodeId}', {
      params: { path: { nodeId: desired.nodeId } },
    });
    if (!got.response.ok && got.response.status !== 404) throw apiError(got.response, got.error);
    const current = got.response.ok ? got.data! : null;
    const diff = planApply(current, desired);
    if (!current) print(`+ node ${desired.nodeId}\n`);
    if (current || !isEmptyDiff(diff)) print(renderDiff(diff));
    if (opts.dryRun || (current && isEmptyDiff(diff))) return;
    // One atomic write of the whole node, at the version the diff was made against.
    const answer = await answerOf(
      client.POST('/module-config/properties', {
        body: desiredNodeProperties(desired),
        bodySerializer: (body: string) => body,
        params: {
          header: {
            'Content-Type': 'text/plain',
            ...ifMatch(opts.ifMatch ?? current?.version),
            ...reasonHeader(opts.reason),
          } as Record<string, string>,
        },
      }),
    );
    const node = answer.nodes.find((n) => n.nodeId === desired.nodeId);
    print(
      `node ${desired.nodeId} ${node?.created ? 'created' : 'changed'}: version ${node?.version}\n`,
    );
    for (const w of answer.warnings ?? []) process.stderr.write(`warning: ${w}\n`);
  });
  writeOptions(nodes.command('rm').argument('<node>').description('archive a node')).action(
    async (nodeId: string, opts: { ifMatch?: number; reason?: string }) => {
      const answer = await answerOf(
        session.client().DELETE('/nodes/{nodeId}', {
          params: {
            path: { nodeId },
            header: { ...ifMatch(opts.ifMatch), ...reasonHeader(opts.reason) },
          },
        }),
      );
      print(`node ${nodeId} archived at version ${answer.version}\n`);
    },
  );
  return nodes;
}

export function diffCommand(session: CliSession): Command {
  return new Command('diff')
    .argument('<node>')
    .description('what changed in a node between two versions (secrets redacted)')
    .requiredOption('--from <version>', 'version to compare from', integer(1))
    .option('--to <version>', 'version to compare to (default: the latest)', integer(1))
    .addOption(outputOption())
    .action(async (nodeId: string, opts: { from: number; to?: number; output: 'table' }) => {
      const diff = await answerOf(
        session.client().GET('/nodes/{nodeId}/diff', {
          params: { path: { nodeId }, query: { from: opts.from, to: opts.to } },
        }),
      );
      if (opts.output !== 'table')
        return printOutput(diff, opts.output, { rows: () => [], columns: [] });
      print(`node ${diff.nodeId}: version ${diff.from} -> ${diff.to}\n`);
      print(renderDiff(diff));
    });
}

export function revertCommand(session: CliSession): Command {
  return new Command('revert')
    .argument('<node>')
    .description('restore the configuration a node had at an earlier version (a new version)')
    .requiredOption('--to <version>', 'the version whose configuration to restore', integer(1))
    .requiredOption('--reason <text>', 'why (recorded with the events)')
    .option('--if-match <version>', 'refuse (412) unless the node is at this version', integer(0))
    .action(async (nodeId: string, opts: { to: number; reason: string; ifMatch?: number }) => {
      const answer = await answerOf(
        session.client().POST('/nodes/{nodeId}/revert', {
          params: {
            path: { nodeId },
            header: { ...ifMatch(opts.ifMatch), ...reasonHeader(opts.reason) },
          },
          body: { toVersion: opts.to, reason: opts.reason },
        }),
      );
      print(
        answer.changed
          ? `node ${nodeId} reverted to the configuration of version ${opts.to}: now version ${answer.version}\n`
          : `node ${nodeId} already has the configuration of version ${opts.to}\n`,
      );
    });
}
