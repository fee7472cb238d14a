import { statusOfDomainError } from './error-status';

describe('statusOfDomainError', () => {
  it.each([
    ['invalid', 400],
    ['not-found', 404],
    ['exists', 409],
    ['conflict', 409],
    ['too-large', 413],
  ] as const)('answers %s with %i', (kind, status) => {
    expect(statusOfDomainError(kind)).toBe(status);
  });
});
