import ipaddr from 'ipaddr.js';

type Address = ipaddr.IPv4 | ipaddr.IPv6;

/**
 * What kind of place an address is, for the webhook target policy. `external` is a public
 * unicast address. `loopback`, `private` and `link-local` may be allowed by their keyword in
 * WEBHOOK_ALLOWED_HOSTS; `cloud-metadata`, `unspecified` and `non-routable` only by a CIDR (or
 * address) entry that contains them, since no real webhook receiver lives there.
 */
export type AddressCategory =
  | 'external'
  | 'loopback'
  | 'private'
  | 'link-local'
  | 'cloud-metadata'
  | 'unspecified'
  | 'non-routable';

/** The keywords of WEBHOOK_ALLOWED_HOSTS, each allowing the category of the same name. */
export const TARGET_KEYWORDS = ['external', 'loopback', 'private', 'link-local'] as const;
type TargetKeyword = (typeof TARGET_KEYWORDS)[number];

export interface AddressClass {
  category: AddressCategory;
  /** For messages: "a loopback address", "a multicast address", ... */
  description: string;
}

/**
 * Instance metadata services: they hand out cloud credentials to whoever asks from the host, so
 * they are refused even where their surrounding range (link-local, private, or public for
 * Azure's WireServer) is allowed.
 */
const CLOUD_METADATA: [Address, number][] = [
  '169.254.169.254/32', // AWS, GCP, Azure, Oracle, OpenStack, DigitalOcean
  '169.254.170.2/32', // AWS ECS task metadata
  '100.100.100.200/32', // Alibaba Cloud
  '168.63.129.16/32', // Azure WireServer
  'fd00:ec2::254/128', // AWS (IPv6)
].map((cidr) => ipaddr.parseCIDR(cidr));

const IPV4_CATEGORY: Record<string, AddressCategory> = {
  unicast: 'external',
  as112: 'external',
  amt: 'external',
  loopback: 'loopback',
  private: 'private',
  carrierGradeNat: 'private',
  linkLocal: 'link-local',
  unspecified: 'unspecified',
};

const IPV6_CATEGORY: Record<string, AddressCategory> = {
  unicast: 'external',
  amt: 'external',
  as112v6: 'external',
  loopback: 'loopback',
  uniqueLocal: 'private',
  deprecatedSiteLocal: 'private',
  rfc6052: 'private', // 64:ff9b:1::/48, local-use NAT64 (64:ff9b::/96 is judged by its IPv4)
  linkLocal: 'link-local',
  unspecified: 'unspecified',
};

const NAT64_WELL_KNOWN = ipaddr.parseCIDR('64:ff9b::/96');
const IPV4_TRANSLATED = ipaddr.parseCIDR('::ffff:0:0:0/96');
const SIX_TO_FOUR = ipaddr.parseCIDR('2002::/16');
const IPV6_RESERVED_ZERO = ipaddr.parseCIDR('::/8'); // IPv4-compatible and other retired forms

/** The IPv4 address an IPv6 address stands for (mapped, translated, NAT64, 6to4), if any. */
function embeddedIPv4(v6: ipaddr.IPv6): ipaddr.IPv4 | null {
  const p = v6.parts;
  const fromParts = (hi: number, lo: number) =>
    new ipaddr.IPv4([hi >> 8, hi & 0xff, lo >> 8, lo & 0xff]);
  if (v6.isIPv4MappedAddress()) return v6.toIPv4Address();
  if (v6.match(IPV4_TRANSLATED) || v6.match(NAT64_WELL_KNOWN)) return fromParts(p[6], p[7]);
  if (v6.match(SIX_TO_FOUR)) return fromParts(p[1], p[2]);
  return null;
}

const descriptionOf = (category: AddressCategory, range: string): string => {
  switch (category) {
    case 'external':
      return 'a public address';
    case 'cloud-metadata':
      return 'a cloud metadata address';
    case 'unspecified':
      return 'an unspecified address';
    case 'non-routable':
      return ['multicast', 'broadcast'].includes(range)
        ? `a ${range} address`
        : 'a reserved address';
    default:
      return `a ${category} address`;
  }
};

const sameKind = (address: Address, [net]: [Address, number]) => address.kind() === net.kind();

function classify(address: Address): AddressClass {
  if (address.kind() === 'ipv6') {
    const v4 = embeddedIPv4(address as ipaddr.IPv6);
    if (v4) return classify(v4);
  }
  if (CLOUD_METADATA.some((cidr) => sameKind(address, cidr) && address.match(cidr)))
    return { category: 'cloud-metadata', description: descriptionOf('cloud-metadata', '') };
  const range = address.range();
  let category =
    (address.kind() === 'ipv4' ? IPV4_CATEGORY : IPV6_CATEGORY)[range] ?? 'non-routable';
  if (category === 'external' && address.kind() === 'ipv6' && address.match(IPV6_RESERVED_ZERO))
    category = 'non-routable';
  return { category, description: descriptionOf(category, range) };
}

const parseAddress = (text: string): Address => ipaddr.parse(text);

/** The class of an IP address (IPv4, or IPv6 in any notation). */
export function classifyAddress(address: string): AddressClass {
  return classify(parseAddress(address));
}

/** An IP literal as the policy reads it: four-part decimal IPv4, or IPv6 (no odd IPv4 forms). */
const isIpLiteral = (text: string) =>
  ipaddr.IPv4.isValidFourPartDecimal(text) || ipaddr.IPv6.isValid(text);

/** WEBHOOK_ALLOWED_HOSTS, parsed: what a webhook may target. */
export interface WebhookTargetPolicy {
  readonly keywords: ReadonlySet<TargetKeyword>;
  readonly cidrs: readonly [Address, number][];
  /** Host-name entries as anchored, case-insensitive patterns. */
  readonly hosts: readonly RegExp[];
}

const LABEL = /^[a-z0-9_]([a-z0-9_-]*[a-z0-9_])?$/;

/** A host-name entry as a pattern, or null when it is not one (`*` = one or more whole labels). */
function hostPattern(entry: string): RegExp | null {
  const labels = entry.replace(/\.$/, '').split('.');
  if (!labels.every((l) => l === '*' || LABEL.test(l))) return null;
  if (labels.every((l) => l === '*')) return null; // would trust every name
  if (/^\d+$/.test(labels[labels.length - 1])) return null; // a malformed IP address, not a name
  const source = labels
    .map((l) => (l === '*' ? '[^.]+(?:\\.[^.]+)*' : l.replace(/-/g, '\\-')))
    .join('\\.');
  return new RegExp(`^${source}$`);
}

function parseCidrEntry(entry: string): [Address, number] | null {
  const [address, bits, ...rest] = entry.split('/');
  if (rest.length || !isIpLiteral(address)) return null;
  if (bits === undefined) {
    const parsed = parseAddress(address);
    return [parsed, parsed.kind() === 'ipv4' ? 32 : 128];
  }
  return ipaddr.isValidCIDR(entry) && /^\d{1,3}$/.test(bits) ? ipaddr.parseCIDR(entry) : null;
}

/**
 * Parses WEBHOOK_ALLOWED_HOSTS: a comma list of keywords (external, loopback, private,
 * link-local), CIDRs or single addresses, and host names where `*` stands for one or more
 * labels. The list replaces the default (`external`). Throws naming the first bad entry.
 */
export function parseWebhookTargetPolicy(list: string): WebhookTargetPolicy {
  const entries = list
    .split(',')
    .map((e) => e.trim().toLowerCase())
    .filter(Boolean);
  if (!entries.length)
    throw new Error(
      `WEBHOOK_ALLOWED_HOSTS must name at least one entry (${TARGET_KEYWORDS.join(', ')}, a CIDR or a host name)`,
    );
  const keywords = new Set<TargetKeyword>();
  const cidrs: [Address, number][] = [];
  const hosts: RegExp[] = [];
  for (const entry of entries) {
    if ((TARGET_KEYWORDS as readonly string[]).includes(entry)) {
      keywords.add(entry as TargetKeyword);
      continue;
    }
    const cidr = /[/:]/.test(entry) || isIpLiteral(entry) ? parseCidrEntry(entry) : null;
    const host = cidr ? null : hostPattern(entry);
    if (cidr) cidrs.push(cidr);
    else if (host) hosts.push(host);
    else
      throw new Error(
        `WEBHOOK_ALLOWED_HOSTS entry "${entry}" is not ${TARGET_KEYWORDS.join(', ')}, a CIDR (10.1.0.0/16, fd00::/8), an IP address or a host name (* for whole labels: *.internal.example.com)`,
      );
  }
  return { keywords, cidrs, hosts };
}

const normalHost = (host: string) =>
  host
    .replace(/^\[(.*)\]$/, '$1')
    .replace(/\.$/, '')
    .toLowerCase();

/** Categories a keyword or a listed host name can allow; the rest need a CIDR. */
const NAMEABLE: ReadonlySet<AddressCategory> = new Set<AddressCategory>(TARGET_KEYWORDS);

/**
 * Why the policy refuses `address` (a resolved address of `host`, or `host` itself when it is a
 * literal), or null when it allows it: a CIDR entry containing the address (or the IPv4 it
 * stands for), or, outside metadata, unspecified and non-routable addresses, the address's
 * keyword or a host-name entry matching `host`.
 */
function refusal(policy: WebhookTargetPolicy, host: string, address: Address): string | null {
  const v4 = address.kind() === 'ipv6' ? embeddedIPv4(address as ipaddr.IPv6) : null;
  const inCidr = (a: Address) => policy.cidrs.some((c) => sameKind(a, c) && a.match(c));
  if (inCidr(address) || (v4 && inCidr(v4))) return null;
  const { category, description } = classify(address);
  if (NAMEABLE.has(category)) {
    if (policy.keywords.has(category as TargetKeyword)) return null;
    const name = normalHost(host);
    if (!isIpLiteral(name) && policy.hosts.some((h) => h.test(name))) return null;
  }
  const how = NAMEABLE.has(category)
    ? `add ${category}, or a CIDR that contains it`
    : 'add a CIDR that contains it';
  return `${description}: refused unless WEBHOOK_ALLOWED_HOSTS allows it (${how})`;
}

/**
 * At creation: why a hook may not target the URL host `hostname` (as `URL.hostname` gives it,
 * IPv6 in brackets), or null. Only IP literals are judged here; a host name is judged at each
 * delivery, against the addresses it resolves to then.
 */
export function targetHostProblem(policy: WebhookTargetPolicy, hostname: string): string | null {
  const host = normalHost(hostname);
  if (!isIpLiteral(host)) return null;
  const address = parseAddress(host);
  const why = refusal(policy, host, address);
  return why && `url host ${address.toString()} is ${why}`;
}

/**
 * At delivery: why the attempt may not connect to `address`, which `hostname` resolved to (or
 * is, for a literal), or null.
 */
export function targetAddressProblem(
  policy: WebhookTargetPolicy,
  hostname: string,
  address: string,
): string | null {
  const host = normalHost(hostname);
  const parsed = parseAddress(address);
  const why = refusal(policy, host, parsed);
  if (!why) return null;
  return isIpLiteral(host) ? `${host} is ${why}` : `${host} resolved to ${address}, ${why}`;
}
