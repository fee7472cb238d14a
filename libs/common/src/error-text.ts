/** The message of anything thrown, for logs and answers. */
export const errorText = (err: unknown): string =>
  err instanceof Error ? err.message : String(err);
