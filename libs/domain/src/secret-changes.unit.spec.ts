import { recordedSecretKeys, restoreSecrets, secretKeysAcross } from './secret-changes';
import { REDACTED } from './secrets';
import { fakeCatalog as catalog } from './testing/fake-catalog';

describe('secret keys across a change', () => {
  it('given a REDACTED secret, when restored, then the stored value is kept; other values pass', () => {
    const stored = { users: 'alice:hash', port: '80' };
    expect(
      restoreSecrets({ users: REDACTED, port: REDACTED, db_password: 'p' }, stored, ['users']),
    ).toEqual({ users: 'alice:hash', port: REDACTED, db_password: 'p' });
  });

  it('given a REDACTED secret with nothing stored, when restored, then it is refused naming the field', () =>
    expect(() => restoreSecrets({ api_token: REDACTED }, {}, [], 'properties')).toThrow(
      'properties.api_token is "******" but no value is stored to keep',
    ));

  it("the keys secret across a type change are the old and the new type's, and the record", () => {
    const before = { type: 'security', secretKeys: ['extra'] };
    expect(secretKeysAcross([before, undefined], 'web', catalog).sort()).toEqual([
      'extra',
      'users',
    ]);
  });

  it("records only the kept keys beyond the new type's, and nothing when there are none", () => {
    const before = [{ type: 'security' }];
    expect(recordedSecretKeys(before, 'web', { users: 'x' }, catalog)).toEqual(['users']);
    expect(recordedSecretKeys(before, 'web', { port: '80' }, catalog)).toBeUndefined();
    expect(recordedSecretKeys(before, 'security', { users: 'x' }, catalog)).toBeUndefined();
  });
});
