import { Command, CommanderError } from 'commander';
import { errorText } from '@plexus/common';
import { CliError, EXIT_CODES_HELP, ExitCode } from './exit-codes';
import { CliSession } from './commands/cli-session';
import { configCommand } from './commands/config.command';
import { eventsCommand } from './commands/events.command';
import { modulesCommand } from './commands/modules.command';
import { diffCommand, nodesCommand, revertCommand } from './commands/nodes.command';
import { processesCommand } from './commands/processes.command';
import { exportCommand, importCommand } from './commands/properties.command';
import { rolloutCommand } from './commands/rollout.command';
import { tokensCommand } from './commands/tokens.command';
import { hooksCommand } from './commands/hooks.command';
import { scalingCommand } from './commands/scaling.command';
import { batchJobsCommand } from './commands/batch-jobs.command';
import { bashCompletion } from './completion/bash-completion';

/** The `plexus` command tree. */
export function cliProgram(): Command {
  const program = new Command('plexus')
    .description('Operate a Plexus control plane: nodes, modules, rollouts, events')
    .option('--url <url>', 'control plane URL (env PLEXUS_URL; default: the current context)')
    .option('--token <token>', 'bearer token (env PLEXUS_TOKEN; default: the current context)')
    .option('--context <name>', 'use this context of the config file (env PLEXUS_CONTEXT)')
    .addHelpText('after', `\n${EXIT_CODES_HELP}\n`)
    .showHelpAfterError()
    .exitOverride()
    .configureOutput({ writeErr: (s) => process.stderr.write(s) });
  const session = new CliSession(program);
  for (const cmd of [
    configCommand(),
    nodesCommand(session),
    modulesCommand(session),
    processesCommand(session),
    rolloutCommand(session),
    eventsCommand(session),
    diffCommand(session),
    revertCommand(session),
    importCommand(session),
    exportCommand(session),
    tokensCommand(session),
    hooksCommand(session),
    scalingCommand(session),
    batchJobsCommand(session),
  ])
    program.addCommand(cmd);
  program
    .command('completion')
    .argument('<shell>', 'bash')
    .description('print a shell completion script: source <(plexus completion bash)')
    .action((shell: string) => {
      if (shell !== 'bash')
        throw new CliError(`completion: only bash is supported`, ExitCode.usage);
      process.stdout.write(bashCompletion(program));
    });
  applyExitOverride(program);
  return program;
}

/** Commands added with addCommand do not inherit exitOverride: set it on each. */
function applyExitOverride(cmd: Command) {
  for (const sub of cmd.commands) {
    sub.exitOverride().showHelpAfterError();
    applyExitOverride(sub);
  }
}

/** Runs the CLI; resolves to its exit code (see EXIT_CODES_HELP). */
export async function runCli(argv: string[]): Promise<number> {
  const program = cliProgram();
  try {
    await program.parseAsync(argv);
    return ExitCode.ok;
  } catch (err) {
    if (err instanceof CommanderError) {
      if (
        err.code === 'commander.helpDisplayed' ||
        err.code === 'commander.help' ||
        err.code === 'commander.version'
      )
        return ExitCode.ok;
      // commander printed the message already
      return ExitCode.usage;
    }
    if (err instanceof CliError) {
      process.stderr.write(`error: ${err.message}\n`);
      return err.code;
    }
    process.stderr.write(`error: ${errorText(err)}\n`);
    return ExitCode.failed;
  }
}
