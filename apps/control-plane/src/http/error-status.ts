import { DomainError } from '@plexus/domain';

const DOMAIN_ERROR_STATUS: Record<DomainError['kind'], number> = {
  invalid: 400,
  'not-found': 404,
  exists: 409,
  conflict: 409,
  'too-large': 413,
};

/** The HTTP status of a refused command: the admin API and the seeding reply use the same one. */
export const statusOfDomainError = (kind: DomainError['kind']): number => DOMAIN_ERROR_STATUS[kind];
