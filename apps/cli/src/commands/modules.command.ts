import { Command } from 'commander';
import { answerOf, ifMatch, reasonHeader } from '../api/plexus-api.client';
import { usageError } from '../exit-codes';
import { CliSession, collect, keyValue, print, writeOptions } from './cli-session';

interface WriteOpts {
  ifMatch?: number;
  reason?: string;
}

interface SetOpts extends WriteOpts {
  type: string;
  config: Record<string, string>;
  requires: Record<string, string>;
  activation?: 'all' | 'single';
  disabled?: boolean;
}

const headers = (opts: WriteOpts) => ({ ...ifMatch(opts.ifMatch), ...reasonHeader(opts.reason) });

/** `plexus modules set|patch|start|stop|restart|rm NODE MODULE`. */
export function modulesCommand(session: CliSession): Command {
  const modules = new Command('modules').description("a node's modules");
  const written = (what: string, a: { version: number; changed: boolean; warnings?: string[] }) => {
    print(
      a.changed
        ? `${what}: node version ${a.version}\n`
        : `${what}: unchanged (version ${a.version})\n`,
    );
    for (const w of a.warnings ?? []) process.stderr.write(`warning: ${w}\n`);
  };

  writeOptions(
    modules
      .command('set')
      .argument('<node>')
      .argument('<module>')
      .description('add a module or replace its whole configuration')
      .requiredOption('--type <type>', 'module type, e.g. http-endpoint')
      .option('-c, --config <key=value>', 'a config key (repeatable)', keyValue, {})
      .option('--requires <role=module>', 'a module it needs (repeatable)', keyValue, {})
      .option('--activation <mode>', 'all (default) or single')
      .option('--disabled', 'added stopped'),
  ).action(async (nodeId: string, moduleId: string, opts: SetOpts) => {
    if (opts.activation && !['all', 'single'].includes(opts.activation))
      throw usageError('--activation must be all or single');
    const answer = await answerOf(
      session.client().PUT('/nodes/{nodeId}/modules/{moduleId}', {
        params: { path: { nodeId, moduleId }, header: headers(opts) },
        body: {
          type: opts.type,
          config: opts.config,
          requires: opts.requires,
          enabled: !opts.disabled,
          activation: opts.activation ?? 'all',
        },
      }),
    );
    written(`module ${moduleId} set`, answer);
  });

  writeOptions(
    modules
      .command('patch')
      .argument('<node>')
      .argument('<module>')
      .argument('[key=value...]', 'config keys to set')
      .description('change some config keys of a module')
      .option('--unset <key>', 'remove a config key (repeatable)', collect, []),
  ).action(
    async (
      nodeId: string,
      moduleId: string,
      pairs: string[],
      opts: WriteOpts & { unset: string[] },
    ) => {
      const changes: Record<string, string | null> = pairs.reduce(
        (acc, pair) => keyValue(pair, acc),
        {} as Record<string, string>,
      );
      for (const key of opts.unset) changes[key] = null;
      if (!Object.keys(changes).length)
        throw usageError('give at least one KEY=VALUE or --unset KEY');
      const answer = await answerOf(
        session.client().PATCH('/nodes/{nodeId}/modules/{moduleId}/config', {
          params: { path: { nodeId, moduleId }, header: headers(opts) },
          body: changes,
        }),
      );
      written(`module ${moduleId} patched`, answer);
    },
  );

  for (const verb of ['start', 'stop', 'restart'] as const) {
    writeOptions(
      modules.command(verb).argument('<node>').argument('<module>').description(`${verb} a module`),
    ).action(async (nodeId: string, moduleId: string, opts: WriteOpts) => {
      const answer = await answerOf(
        session.client().POST(`/nodes/{nodeId}/modules/{moduleId}/${verb}`, {
          params: { path: { nodeId, moduleId }, header: headers(opts) },
        }),
      );
      written(`module ${moduleId} ${verb}`, answer);
    });
  }

  writeOptions(
    modules.command('rm').argument('<node>').argument('<module>').description('remove a module'),
  ).action(async (nodeId: string, moduleId: string, opts: WriteOpts) => {
    const answer = await answerOf(
      session.client().DELETE('/nodes/{nodeId}/modules/{moduleId}', {
        params: { path: { nodeId, moduleId }, header: headers(opts) },
      }),
    );
    written(`module ${moduleId} removed`, answer);
  });
  return modules;
}
