/** Why a command was refused; the HTTP layer maps each kind to a status code. */
export type DomainErrorKind = 'invalid' | 'not-found' | 'exists' | 'conflict' | 'too-large';

export class DomainError extends Error {
  constructor(
    readonly kind: DomainErrorKind,
    message: string,
  ) {
    super(message);
    this.name = 'DomainError';
  }
}

export const invalid = (message: string) => new DomainError('invalid', message);
export const notFound = (message: string) => new DomainError('not-found', message);
export const exists = (message: string) => new DomainError('exists', message);
export const conflict = (message: string) => new DomainError('conflict', message);
