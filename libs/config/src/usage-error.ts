/** A bad flag or variable: print the message and exit with `exitCode` (0 for --help). */
export class UsageError extends Error {
  constructor(
    message: string,
    readonly exitCode = 2,
  ) {
    super(message);
    this.name = 'UsageError';
  }
}
