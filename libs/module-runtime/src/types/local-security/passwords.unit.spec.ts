import {
  credentialFingerprint,
  formatUsers,
  hashPassword,
  parsePasswordHash,
  parseUsers,
  verifyPassword,
} from './passwords';

// Cheap parameters keep the tests fast; the format and the code path are the same.
const cheap = { N: 1024, r: 8, p: 1 };

describe('password hashes (scrypt)', () => {
  it('are written scrypt$N$r$p$salt$hash with a fresh salt every time', async () => {
    const a = await hashPassword('correct horse', cheap);
    const b = await hashPassword('correct horse', cheap);
    expect(a).toMatch(/^scrypt\$1024\$8\$1\$[A-Za-z0-9_-]{22}\$[A-Za-z0-9_-]{43}$/);
    expect(a).not.toBe(b);
    expect(a).not.toContain('correct');
  });

  it('use N=16384, r=8, p=1, a 16-byte salt and a 32-byte hash by default', async () => {
    const h = parsePasswordHash(await hashPassword('x'));
    expect(h).toMatchObject({ N: 16384, r: 8, p: 1 });
    expect(typeof h !== 'string' && [h.salt.length, h.hash.length]).toEqual([16, 32]);
  });

  it('verify the right password and nothing else', async () => {
    const h = await hashPassword('pa$$w0rd', cheap);
    expect(await verifyPassword('pa$$w0rd', h)).toBe(true);
    expect(await verifyPassword('pa$$w0rd ', h)).toBe(false);
    expect(await verifyPassword('Pa$$w0rd', h)).toBe(false);
    expect(await verifyPassword('', h)).toBe(false);
    expect(await verifyPassword('pa$$w0rd', 'scrypt$1024$8$1$bad')).toBe(false);
  });

  it.each([
    ['bcrypt$12$x', /must be scrypt\$N\$r\$p\$salt\$hash/],
    ['scrypt$1000$8$1$AAAAAAAAAAA$AAAAAAAAAAAAAAAAAAAAAA', /power of 2/],
    ['scrypt$1024$0$1$AAAAAAAAAAA$AAAAAAAAAAAAAAAAAAAAAA', /r must be/],
    ['scrypt$1024$8$99$AAAAAAAAAAA$AAAAAAAAAAAAAAAAAAAAAA', /p must be/],
    ['scrypt$1048576$8$4$AAAAAAAAAAA$AAAAAAAAAAAAAAAAAAAAAA', /256 MiB/],
    ['scrypt$1024$8$1$AAAA$AAAAAAAAAAAAAAAAAAAAAA', /salt must be at least 8 bytes/],
    ['scrypt$1024$8$1$AAAAAAAAAAA$AAAA', /hash must be 16 to 64 bytes/],
    ['scrypt$1024$8$1$AAA+AAAAAAA$AAAAAAAAAAAAAAAAAAAAAA', /base64url/],
  ])('refuses %s', (encoded, problem) => {
    expect(parsePasswordHash(encoded)).toMatch(problem);
  });

  it('fingerprint a configured hash without revealing it', async () => {
    const h = await hashPassword('x', cheap);
    const f = credentialFingerprint(h);
    expect(f).toHaveLength(16);
    expect(h).not.toContain(f);
    expect(credentialFingerprint(await hashPassword('x', cheap))).not.toBe(f);
  });
});

describe('the users config', () => {
  it('lists name:hash entries separated by ";", white space and empty entries ignored', async () => {
    const alice = await hashPassword('a', cheap);
    const bob = await hashPassword('b', cheap);
    const { users, problems } = parseUsers(` alice:${alice} ;\n bob.smith@corp:${bob};`);
    expect(problems).toEqual([]);
    expect([...users.keys()]).toEqual(['alice', 'bob.smith@corp']);
    expect(users.get('alice')?.encoded).toBe(alice);
    expect(parseUsers(formatUsers([['alice', alice]])).users.get('alice')?.encoded).toBe(alice);
    expect(parseUsers('').users.size).toBe(0);
  });

  it('names bad entries by position only, never by their content', async () => {
    const good = await hashPassword('a', cheap);
    const { problems } = parseUsers(
      `alice:${good};s3cret-no-colon;b@d name:${good};alice:${good};carol:plain-s3cret`,
    );
    expect(problems).toEqual([
      'users entry 2 must be name:hash',
      'users entry 3: a user name must be 1-64 characters of A-Z a-z 0-9 _ . @ + -',
      'users entry 4: the user name is given more than once',
      'users entry 5: a password hash must be scrypt$N$r$p$salt$hash (salt and hash base64url)',
    ]);
    expect(problems.join(' ')).not.toMatch(/s3cret|carol|alice/);
  });
});
