import { Command, CommanderError } from 'commander';
import { UsageError } from './usage-error';

/**
 * Parses `argv` with a commander program without letting commander print or exit: its usage
 * text and errors come back as a UsageError (exit code 0 for --help), for main() to print.
 */
export function parseCommand(program: Command, argv: string[]): void {
  let output = '';
  program.exitOverride().configureOutput({
    writeOut: (text) => (output += text),
    writeErr: (text) => (output += text),
  });
  try {
    program.parse(argv, { from: 'user' });
  } catch (err) {
    if (err instanceof CommanderError)
      throw new UsageError(output.trim() || err.message, err.exitCode === 0 ? 0 : 2);
    throw err;
  }
}
