import {
  classifyAddress,
  parseWebhookTargetPolicy,
  targetAddressProblem,
  targetHostProblem,
} from './target-policy';

const policy = parseWebhookTargetPolicy;
/** Whether `address` (reached through host name `host`) may be a webhook target under `list`. */
const allowed = (list: string, address: string, host = 'hooks.example.com') =>
  targetAddressProblem(policy(list), host, address) === null;

describe('webhook target policy', () => {
  describe('address classes', () => {
    it.each([
      ['8.8.8.8', 'external'],
      ['93.184.215.14', 'external'],
      ['172.32.0.1', 'external'],
      ['100.128.0.1', 'external'],
      ['2606:4700:4700::1111', 'external'],
      ['127.0.0.1', 'loopback'],
      ['127.255.255.254', 'loopback'],
      ['::1', 'loopback'],
      ['169.254.0.1', 'link-local'],
      ['fe80::1', 'link-local'],
      ['febf:ffff::1', 'link-local'],
      ['169.254.169.254', 'cloud-metadata'],
      ['169.254.170.2', 'cloud-metadata'],
      ['100.100.100.200', 'cloud-metadata'],
      ['168.63.129.16', 'cloud-metadata'],
      ['fd00:ec2::254', 'cloud-metadata'],
      ['10.0.0.1', 'private'],
      ['10.255.255.255', 'private'],
      ['172.16.0.1', 'private'],
      ['172.31.255.255', 'private'],
      ['192.168.1.1', 'private'],
      ['100.64.0.1', 'private'],
      ['100.127.255.255', 'private'],
      ['fc00::1', 'private'],
      ['fd12:3456::1', 'private'],
      ['fec0::1', 'private'],
      ['64:ff9b:1::a00:1', 'private'],
      ['0.0.0.0', 'unspecified'],
      ['0.1.2.3', 'unspecified'],
      ['::', 'unspecified'],
      ['224.0.0.1', 'non-routable'],
      ['239.255.255.250', 'non-routable'],
      ['255.255.255.255', 'non-routable'],
      ['240.0.0.1', 'non-routable'],
      ['192.0.2.1', 'non-routable'],
      ['198.18.0.1', 'non-routable'],
      ['ff02::1', 'non-routable'],
      ['2001:db8::1', 'non-routable'],
      ['100::1', 'non-routable'],
      ['2001::1', 'non-routable'], // Teredo: its IPv4 end is hidden
      ['::7f00:1', 'non-routable'], // IPv4-compatible (deprecated): never a real destination
      // IPv4 inside IPv6: mapped (both notations), translated, NAT64 and 6to4 are judged by the IPv4
      ['::ffff:127.0.0.1', 'loopback'],
      ['::ffff:7f00:1', 'loopback'],
      ['::ffff:169.254.169.254', 'cloud-metadata'],
      ['::ffff:10.0.0.1', 'private'],
      ['::ffff:0.0.0.0', 'unspecified'],
      ['::ffff:224.0.0.1', 'non-routable'],
      ['::ffff:8.8.8.8', 'external'],
      ['::ffff:0:7f00:1', 'loopback'],
      ['64:ff9b::7f00:1', 'loopback'],
      ['64:ff9b::808:808', 'external'],
      ['2002:7f00:1::1', 'loopback'],
      ['2002:a9fe:a9fe::1', 'cloud-metadata'],
      ['2002:808:808::1', 'external'],
    ])('%s is %s', (address, category) => {
      expect(classifyAddress(address).category).toBe(category);
    });

    it('names the range of a non-routable address', () => {
      expect(classifyAddress('224.0.0.1').description).toBe('a multicast address');
      expect(classifyAddress('255.255.255.255').description).toBe('a broadcast address');
      expect(classifyAddress('240.0.0.1').description).toBe('a reserved address');
      expect(classifyAddress('fd00:ec2::254').description).toBe('a cloud metadata address');
      expect(classifyAddress('::ffff:127.0.0.1').description).toBe('a loopback address');
    });
  });

  describe('the default (external): public addresses only', () => {
    it.each([
      '127.0.0.1',
      '::1',
      '169.254.169.254',
      'fd00:ec2::254',
      'fe80::1',
      '10.0.0.1',
      '172.16.0.1',
      '192.168.0.1',
      '100.64.0.1',
      'fc00::1',
      '0.0.0.0',
      '::',
      '224.0.0.1',
      '255.255.255.255',
      '::ffff:127.0.0.1',
      '::ffff:10.0.0.1',
    ])('refuses %s', (address) => {
      expect(allowed('external', address)).toBe(false);
    });

    it.each(['8.8.8.8', '2606:4700:4700::1111', '::ffff:8.8.8.8'])('allows %s', (address) => {
      expect(allowed('external', address)).toBe(true);
    });

    it('names the host, the address, the rule and how to allow it', () => {
      expect(targetAddressProblem(policy('external'), 'localhost', '127.0.0.1')).toBe(
        'localhost resolved to 127.0.0.1, a loopback address: refused unless WEBHOOK_ALLOWED_HOSTS allows it (add loopback, or a CIDR that contains it)',
      );
      expect(
        targetAddressProblem(policy('external'), 'metadata.google.internal', '169.254.169.254'),
      ).toBe(
        'metadata.google.internal resolved to 169.254.169.254, a cloud metadata address: refused unless WEBHOOK_ALLOWED_HOSTS allows it (add a CIDR that contains it)',
      );
      // A literal address is not "resolved".
      expect(targetAddressProblem(policy('external'), '10.0.0.1', '10.0.0.1')).toBe(
        '10.0.0.1 is a private address: refused unless WEBHOOK_ALLOWED_HOSTS allows it (add private, or a CIDR that contains it)',
      );
    });
  });

  describe('keywords', () => {
    it('loopback allows IPv4, IPv6 and mapped loopback, and nothing else unless listed', () => {
      for (const a of ['127.0.0.1', '127.9.9.9', '::1', '::ffff:127.0.0.1'])
        expect(allowed('loopback', a)).toBe(true);
      for (const a of ['8.8.8.8', '10.0.0.1', '169.254.1.1', '0.0.0.0', '::'])
        expect(allowed('loopback', a)).toBe(false);
      // The list replaces the default: public addresses only with `external` in it.
      expect(targetAddressProblem(policy('loopback'), 'example.com', '8.8.8.8')).toMatch(
        /^example\.com resolved to 8\.8\.8\.8, a public address: .* \(add external, or a CIDR that contains it\)$/,
      );
      expect(allowed('external,loopback', '8.8.8.8')).toBe(true);
    });

    it('private allows RFC 1918, carrier-grade NAT and unique local addresses, but no metadata address in them', () => {
      for (const a of ['10.0.0.1', '172.20.1.1', '192.168.7.7', '100.64.0.1', 'fd00::1', 'fc00::1'])
        expect(allowed('private', a)).toBe(true);
      for (const a of ['fd00:ec2::254', '100.100.100.200', '127.0.0.1', '169.254.1.1'])
        expect(allowed('private', a)).toBe(false);
    });

    it('link-local allows 169.254/16 and fe80::/10 but not the metadata addresses in them', () => {
      for (const a of ['169.254.1.1', 'fe80::1', '::ffff:169.254.1.1'])
        expect(allowed('link-local', a)).toBe(true);
      for (const a of ['169.254.169.254', '169.254.170.2', '::ffff:169.254.169.254'])
        expect(allowed('link-local', a)).toBe(false);
    });

    it('no keyword allows unspecified, multicast, broadcast or reserved addresses', () => {
      const all = 'external,loopback,private,link-local';
      for (const a of ['0.0.0.0', '::', '224.0.0.1', '255.255.255.255', '240.0.0.1', 'ff02::1'])
        expect(allowed(all, a)).toBe(false);
    });

    it('are case-insensitive and ignore blanks around entries', () => {
      expect(allowed(' Loopback , PRIVATE ', '127.0.0.1')).toBe(true);
      expect(allowed(' Loopback , PRIVATE ', '10.1.1.1')).toBe(true);
    });
  });

  describe('CIDRs and single addresses', () => {
    it('allow exactly the addresses they contain, in IPv4 and in mapped form', () => {
      expect(allowed('10.1.0.0/16', '10.1.2.3')).toBe(true);
      expect(allowed('10.1.0.0/16', '::ffff:10.1.2.3')).toBe(true);
      expect(allowed('10.1.0.0/16', '10.2.0.1')).toBe(false);
      expect(allowed('10.1.0.0/16', '8.8.8.8')).toBe(false);
    });

    it('IPv6 CIDRs', () => {
      expect(allowed('fd00::/8', 'fd00::1')).toBe(true);
      expect(allowed('fd00::/8', 'fdff:1::1')).toBe(true);
      expect(allowed('fd00::/8', 'fc00::1')).toBe(false);
      expect(allowed('fd00::/8', '10.0.0.1')).toBe(false);
    });

    it('are the only way to allow a metadata, unspecified or reserved address', () => {
      expect(allowed('169.254.169.254/32', '169.254.169.254')).toBe(true);
      expect(allowed('169.254.169.254', '169.254.169.254')).toBe(true);
      expect(allowed('fd00::/8', 'fd00:ec2::254')).toBe(true);
      expect(allowed('192.0.2.0/24', '192.0.2.10')).toBe(true);
      expect(allowed('0.0.0.0/32', '0.0.0.0')).toBe(true);
      expect(allowed('::1', '::1')).toBe(true);
    });
  });

  describe('host names', () => {
    const list = 'external,*.internal.example.com,hooks.local';

    it('a wildcard stands for one or more whole labels', () => {
      expect(allowed(list, '10.0.0.5', 'ci.internal.example.com')).toBe(true);
      expect(allowed(list, '10.0.0.5', 'a.b.internal.example.com')).toBe(true);
      expect(allowed(list, '127.0.0.1', 'CI.Internal.Example.COM')).toBe(true);
      expect(allowed(list, '10.0.0.5', 'ci.internal.example.com.')).toBe(true);
      expect(allowed(list, '10.0.0.5', 'internal.example.com')).toBe(false);
      expect(allowed(list, '10.0.0.5', 'evilinternal.example.com')).toBe(false);
      expect(allowed(list, '10.0.0.5', 'ci.internal.example.com.evil.net')).toBe(false);
    });

    it('an exact name matches only itself', () => {
      expect(allowed(list, '192.168.0.9', 'hooks.local')).toBe(true);
      expect(allowed(list, '192.168.0.9', 'x.hooks.local')).toBe(false);
      expect(allowed(list, '192.168.0.9', 'hooks.local.evil.net')).toBe(false);
    });

    it('a listed name still never reaches a metadata, unspecified or reserved address', () => {
      expect(allowed(list, '169.254.169.254', 'ci.internal.example.com')).toBe(false);
      expect(allowed(list, '0.0.0.0', 'ci.internal.example.com')).toBe(false);
      expect(allowed(list, '224.0.0.1', 'hooks.local')).toBe(false);
    });
  });

  describe('at creation: the URL host', () => {
    it('refuses a literal address the policy does not allow, naming the url field, the rule and the variable', () => {
      expect(targetHostProblem(policy('external'), '127.0.0.1')).toBe(
        'url host 127.0.0.1 is a loopback address: refused unless WEBHOOK_ALLOWED_HOSTS allows it (add loopback, or a CIDR that contains it)',
      );
      expect(targetHostProblem(policy('external'), '[::1]')).toMatch(/^url host ::1 is a loopback/);
      expect(targetHostProblem(policy('external'), '[::ffff:7f00:1]')).toMatch(
        /^url host ::ffff:7f00:1 is a loopback address/,
      );
      expect(targetHostProblem(policy('external'), '169.254.169.254')).toMatch(
        /cloud metadata address: .*WEBHOOK_ALLOWED_HOSTS/,
      );
      expect(targetHostProblem(policy('external'), '10.0.0.1')).toMatch(/a private address/);
      expect(targetHostProblem(policy('external'), '0.0.0.0')).toMatch(/an unspecified address/);
    });

    it('allows public literals, allowed literals, and every host name (checked after resolution)', () => {
      expect(targetHostProblem(policy('external'), '93.184.215.14')).toBeNull();
      expect(targetHostProblem(policy('external'), '[2606:4700:4700::1111]')).toBeNull();
      expect(targetHostProblem(policy('loopback'), '127.0.0.1')).toBeNull();
      expect(targetHostProblem(policy('external'), 'localhost')).toBeNull();
      expect(targetHostProblem(policy('external'), 'hooks.example.com')).toBeNull();
    });
  });

  describe('WEBHOOK_ALLOWED_HOSTS itself', () => {
    it.each([
      ['', /WEBHOOK_ALLOWED_HOSTS must name at least one entry/],
      [' , ', /WEBHOOK_ALLOWED_HOSTS must name at least one entry/],
      ['external,bogus!', /WEBHOOK_ALLOWED_HOSTS entry "bogus!" is not/],
      ['10.0.0.0/33', /WEBHOOK_ALLOWED_HOSTS entry "10.0.0.0\/33" is not/],
      ['fd00::/129', /entry "fd00::\/129"/],
      ['10.0.0.300', /entry "10.0.0.300"/],
      ['*', /entry "\*"/],
      ['*.*', /entry "\*\.\*"/],
      ['foo*.example.com', /entry "foo\*\.example\.com"/],
      ['http://hooks.example.com', /entry "http:\/\/hooks\.example\.com"/],
    ])('%j fails naming the bad entry', (list, message) => {
      expect(() => policy(list)).toThrow(message);
    });

    it('accepts keywords, CIDRs, addresses and host names together', () => {
      expect(() =>
        policy(
          'external,loopback,private,link-local,10.1.0.0/16,fd00::/8,192.0.2.7,::1,*.a.example,b.example',
        ),
      ).not.toThrow();
    });
  });
});
