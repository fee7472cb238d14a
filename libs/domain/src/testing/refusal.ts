import { DomainError } from '../errors';

/** The DomainError that `run` throws; fails the test when it throws none or something else. */
export function refusal(run: () => unknown): DomainError {
  try {
    run();
  } catch (err) {
    expect(err).toBeInstanceOf(DomainError);
    return err as DomainError;
  }
  throw new Error('expected a DomainError');
}
