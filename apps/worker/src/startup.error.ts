/** The worker cannot start; main prints the message and exits 1. */
export class StartupError extends Error {
  name = 'StartupError';
}
