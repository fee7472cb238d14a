/** The exit codes of `plexus`, as `--help` and the README document them. */
export const ExitCode = {
  ok: 0,
  /** The API refused the call (4xx/5xx), or what was waited for failed (a process failed). */
  failed: 1,
  /** Bad usage: unknown command or option, missing or malformed argument, unreadable file. */
  usage: 2,
  /** `--timeout` ran out before what was waited for happened. */
  timeout: 3,
  /** The control plane could not be reached (refused, unresolvable, no answer in time). */
  unreachable: 4,
} as const;
export type ExitCode = (typeof ExitCode)[keyof typeof ExitCode];

export const EXIT_CODES_HELP = [
  'Exit codes:',
  '  0  ok',
  '  1  the API answered an error, or a process failed to apply the config',
  '  2  bad usage (unknown command or option, bad argument, unreadable file)',
  '  3  --timeout ran out',
  '  4  the control plane could not be reached',
].join('\n');

/** An error that ends the command with `code` after printing `message` to stderr. */
export class CliError extends Error {
  constructor(
    message: string,
    readonly code: ExitCode,
  ) {
    super(message);
    this.name = 'CliError';
  }
}

export const usageError = (message: string) => new CliError(message, ExitCode.usage);
