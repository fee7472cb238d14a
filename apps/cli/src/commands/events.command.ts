import { Command } from 'commander';
import { stringify as printYaml } from 'yaml';
import { answerOf, apiError, unreachable } from '../api/plexus-api.client';
import { CliError, ExitCode } from '../exit-codes';
import { Column, OutputFormat, renderTable } from '../output/output-format';
import { sseMessages } from '../watch/event-stream';
import { CliSession, collect, integer, outputOption, print, printOutput } from './cli-session';

interface EventRow {
  position: string;
  recordedAt: string;
  type: string;
  nodeId: string;
  metadata: { actor: string; reason?: string };
  data: Record<string, unknown>;
}

export const EVENT_COLUMNS: Column<EventRow>[] = [
  { header: 'position', value: (e) => e.position },
  { header: 'time', value: (e) => e.recordedAt },
  { header: 'type', value: (e) => e.type },
  { header: 'node', value: (e) => e.nodeId },
  { header: 'actor', value: (e) => e.metadata.actor },
  { header: 'module', value: (e) => e.data.moduleId ?? e.data.processId },
];

/** One event as `--follow` prints it: a table row (no header), or one JSON/YAML document. */
export function followLine(e: EventRow, format: OutputFormat): string {
  if (format === 'json') return `${JSON.stringify(e)}\n`;
  if (format === 'yaml') return `---\n${printYaml(e)}`;
  return renderTable([e], EVENT_COLUMNS).split('\n')[1] + '\n';
}

interface EventsOpts {
  node?: string;
  module?: string;
  type: string[];
  actor?: string;
  correlationId?: string;
  after?: string;
  limit: number;
  follow?: boolean;
  output: OutputFormat;
}

/** `plexus events ls [--follow]`: the event log, and what is recorded next (GET /watch). */
export function eventsCommand(session: CliSession): Command {
  const events = new Command('events').description('the event log (secrets redacted)');
  events
    .command('ls')
    .description('list events; with --follow, then print each new one as it is recorded')
    .option('--node <node>', 'events of this node')
    .option('--module <module>', 'events of this module ID')
    .option('--type <type>', 'event type (repeatable or comma-separated)', collect, [])
    .option('--actor <name>', 'events caused by this token name')
    .option('--correlation-id <id>', 'events of one call')
    .option('--after <position>', 'events after this global position')
    .option('--limit <n>', 'at most this many (1-1000)', integer(1), 100)
    .option('-f, --follow', 'keep printing new events (Ctrl-C to stop)')
    .addOption(outputOption())
    .action(async (opts: EventsOpts) => {
      const filters = {
        ...(opts.node ? { nodeId: opts.node } : {}),
        ...(opts.module ? { moduleId: opts.module } : {}),
        ...(opts.actor ? { actor: opts.actor } : {}),
        ...(opts.correlationId ? { correlationId: opts.correlationId } : {}),
      };
      const types = opts.type.flatMap((t) => t.split(',')).filter(Boolean);
      if (!opts.follow) {
        const page = await answerOf(
          session.client().GET('/events', {
            params: {
              query: {
                ...filters,
                ...(types.length ? { type: types as any } : {}),
                ...(opts.after ? { after: opts.after } : {}),
                limit: opts.limit,
              },
            },
          }),
        );
        printOutput(page, opts.output, {
          rows: (p) => (typeof p === 'string' ? [] : (p.events as EventRow[])),
          columns: EVENT_COLUMNS,
        });
        return;
      }
      await follow(
        session,
        { ...filters, ...(types.length ? { type: types.join(',') } : {}) },
        opts,
      );
    });
  return events;
}

async function follow(session: CliSession, query: Record<string, string>, opts: EventsOpts) {
  const params = new URLSearchParams({ ...query, ...(opts.after ? { after: opts.after } : {}) });
  const url = session.connection().url;
  const res = await session
    .fetch(`/watch?${params}`, { headers: { Accept: 'text/event-stream' } })
    .catch((err) => {
      throw unreachable(url, err);
    });
  if (!res.ok || !res.body) throw apiError(res, await res.json().catch(() => undefined));
  // The header says the stream is open: every event recorded from now on is printed.
  if (opts.output === 'table') print(renderTable([], EVENT_COLUMNS));
  for await (const message of sseMessages(res.body)) {
    if (message.event === 'error')
      throw new CliError(`the watch ended: ${message.data}`, ExitCode.failed);
    print(followLine(JSON.parse(message.data) as EventRow, opts.output));
  }
  throw new CliError('the control plane closed the watch', ExitCode.unreachable);
}
