import { validateEnv } from './env';

const base = { PLEXUS_ADMIN_TOKEN: 'a-bootstrap-token-of-16+' };

describe('control-plane environment', () => {
  it('binds the admin API where it always did, and allows public webhook targets only, by default', () => {
    const env = validateEnv(base);
    expect(env.BIND_ADDRESS).toBe('0.0.0.0');
    expect(env.WEBHOOK_ALLOWED_HOSTS).toBe('external');
  });

  it.each(['127.0.0.1', '::1', '::', '10.1.2.3', 'fd00::2'])('takes BIND_ADDRESS %s', (address) => {
    expect(validateEnv({ ...base, BIND_ADDRESS: address }).BIND_ADDRESS).toBe(address);
  });

  it.each(['localhost', '127.0.0.256', '', '0.0.0.0:9000'])(
    'refuses BIND_ADDRESS %j naming it',
    (address) => {
      expect(() => validateEnv({ ...base, BIND_ADDRESS: address })).toThrow(
        'BIND_ADDRESS must be an IP address (IPv4 or IPv6) of this host, e.g. 127.0.0.1 or 0.0.0.0',
      );
    },
  );

  it('takes a WEBHOOK_ALLOWED_HOSTS list and fails fast naming a bad entry', () => {
    expect(
      validateEnv({ ...base, WEBHOOK_ALLOWED_HOSTS: 'external,private,*.corp.example' })
        .WEBHOOK_ALLOWED_HOSTS,
    ).toBe('external,private,*.corp.example');
    expect(() => validateEnv({ ...base, WEBHOOK_ALLOWED_HOSTS: 'external,10.0.0.0/40' })).toThrow(
      /WEBHOOK_ALLOWED_HOSTS entry "10.0.0.0\/40" is not/,
    );
  });
});
