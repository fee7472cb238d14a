export * from './module-type';
export * from './registry';
export * from './config-schema';
export * from './config-validation';
export * from './built-in-types';
export * from './plan';
export * from './host';
export * from './types/local-security/security-provider';
export {
  hashPassword,
  verifyPassword,
  parsePasswordHash,
  parseUsers,
  formatUsers,
  DEFAULT_SCRYPT,
} from './types/local-security/passwords';
export type { SessionDroppedReport } from './types/local-security/local-security.module-type';
export * from './load-meter';
export type {
  BatchJobAccess,
  PersistenceModule,
} from './types/persistence/persistence.module-type';
export { isBatchJobAccess, ReadOnlyModuleError } from './types/persistence/persistence.module-type';
export {
  DEFAULT_MAX_CHUNKS_PER_JOB,
  IdempotencyKeyReused,
  JobSubmissionError,
} from '@plexus/batch-jobs';
export * from './user-types';
