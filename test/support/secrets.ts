import { SecretsCipher, secretsCipherFromEnv } from '@plexus/secrets-crypto';

/**
 * The PLEXUS_SECRETS_KEY every test and benchmark control plane and worker runs with, unless a
 * test sets its own (32 bytes, base64). For tests only: never use a key that is in a repository.
 */
export const TEST_SECRETS_KEY = Buffer.from('plexus-test-secrets-key-32-bytes').toString('base64');

/** What the processes started with TEST_SECRETS_KEY encrypt with: tests read stored values with it. */
export const testSecretsCipher = (): SecretsCipher =>
  secretsCipherFromEnv({ PLEXUS_SECRETS_KEY: TEST_SECRETS_KEY })!;
