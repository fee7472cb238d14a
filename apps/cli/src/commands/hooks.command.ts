import { Command } from 'commander';
import { answerOf } from '../api/plexus-api.client';
import { usageError } from '../exit-codes';
import { CliSession, collect, outputOption, print, printOutput } from './cli-session';

type HookEvent = '*' | 'NodeCreated';

/** `plexus hooks ls|get|create|rm|deliveries` (webhooks, admin). */
export function hooksCommand(session: CliSession): Command {
  const hooks = new Command('hooks').description('webhooks: events POSTed to your URL');
  hooks
    .command('ls')
    .addOption(outputOption())
    .action(async (opts) => {
      const list = await answerOf(session.client().GET('/hooks'));
      printOutput(list, opts.output, {
        rows: (l) => l,
        columns: [
          { header: 'id', value: (h) => h.id },
          { header: 'url', value: (h) => h.url },
          { header: 'events', value: (h) => h.events.join(',') },
          { header: 'created', value: (h) => h.createdAt },
        ],
      });
    });
  hooks
    .command('create')
    .argument('<url>')
    .description('create a hook; the secret signs every delivery and is never shown again')
    .option('--event <type>', 'an event type, or * (repeatable or comma-separated)', collect, [])
    .option(
      '--secret-env <name>',
      'read the signing secret from this environment variable',
      'PLEXUS_HOOK_SECRET',
    )
    .action(async (url: string, opts: { event: string[]; secretEnv: string }) => {
      const events = opts.event.flatMap((e) => e.split(',')).filter(Boolean);
      if (!events.length) throw usageError('give at least one --event (or --event "*")');
      // From the environment, not a flag: a flag's value shows in ps and shell history.
      const secret = process.env[opts.secretEnv];
      if (!secret) throw usageError(`set ${opts.secretEnv} to the signing secret (16+ characters)`);
      const hook = await answerOf(
        session.client().POST('/hooks', {
          body: { url, events: events as HookEvent[], secret },
        }),
      );
      print(`hook ${hook.id} created\n`);
    });
  hooks
    .command('rm')
    .argument('<id>')
    .action(async (id: string) => {
      await answerOf(session.client().DELETE('/hooks/{id}', { params: { path: { id } } }));
      print(`hook ${id} deleted\n`);
    });
  hooks
    .command('deliveries')
    .argument('<id>')
    .addOption(outputOption())
    .action(async (id: string, opts) => {
      const list = await answerOf(
        session.client().GET('/hooks/{id}/deliveries', { params: { path: { id } } }),
      );
      printOutput(list, opts.output, {
        rows: (l) => l,
        columns: [
          { header: 'delivery', value: (d) => d.deliveryId },
          { header: 'event', value: (d) => d.eventType },
          { header: 'status', value: (d) => d.status },
          { header: 'attempts', value: (d) => d.attempts },
          { header: 'next', value: (d) => d.nextAttemptAt },
        ],
      });
    });
  return hooks;
}
