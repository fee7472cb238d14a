import { Command, Option } from 'commander';
import { answerOf } from '../api/plexus-api.client';
import { CliSession, outputOption, print, printOutput } from './cli-session';

/** `plexus tokens ls|create|revoke` (admin). */
export function tokensCommand(session: CliSession): Command {
  const tokens = new Command('tokens').description('named API tokens (admin)');
  tokens
    .command('ls')
    .addOption(outputOption())
    .action(async (opts) => {
      const list = await answerOf(session.client().GET('/tokens'));
      printOutput(list, opts.output, {
        rows: (l) => l,
        columns: [
          { header: 'id', value: (t) => t.id },
          { header: 'name', value: (t) => t.name },
          { header: 'role', value: (t) => t.role },
          { header: 'created', value: (t) => t.createdAt },
          { header: 'revoked', value: (t) => t.revokedAt },
        ],
      });
    });
  tokens
    .command('create')
    .argument('<name>', 'the actor recorded in every event the token causes')
    .addOption(
      new Option('--role <role>', 'what it may do')
        .choices(['admin', 'operator', 'auditor'])
        .makeOptionMandatory(),
    )
    .description('create a token; it is printed this once')
    .action(async (name: string, opts: { role: 'admin' | 'operator' | 'auditor' }) => {
      const created = await answerOf(
        session.client().POST('/tokens', { body: { name, role: opts.role } }),
      );
      process.stderr.write(`token ${created.id} (${created.role}); it is shown this once:\n`);
      print(`${created.token}\n`);
    });
  tokens
    .command('revoke')
    .argument('<id>')
    .action(async (id: string) => {
      await answerOf(session.client().DELETE('/tokens/{id}', { params: { path: { id } } }));
      print(`token ${id} revoked\n`);
    });
  return tokens;
}
