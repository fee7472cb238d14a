import { LookupAddress, promises as dns } from 'node:dns';
import { isIP, LookupFunction } from 'node:net';
import { targetAddressProblem, WebhookTargetPolicy } from './target-policy';

/** Every address a host name resolves to. */
export type LookupAll = (hostname: string) => Promise<LookupAddress[]>;

/** The system resolver (getaddrinfo: /etc/hosts, then DNS), as fetch and http use it. */
export const systemLookup: LookupAll = (hostname) => dns.lookup(hostname, { all: true });

/**
 * Resolves a URL's host once and checks every address against the policy: the attempt is
 * refused when any of them is not allowed (a name cannot smuggle in a loopback address behind
 * a public one). A literal address is checked as it is, with no resolution. Resolution errors
 * (ENOTFOUND...) are thrown.
 */
export async function resolveTarget(
  policy: WebhookTargetPolicy,
  hostname: string,
  lookup: LookupAll,
): Promise<{ addresses: LookupAddress[] } | { refused: string }> {
  const host = hostname.replace(/^\[(.*)\]$/, '$1');
  const family = isIP(host);
  const addresses = family ? [{ address: host, family }] : await lookup(host);
  if (!addresses.length)
    throw Object.assign(new Error(`${host} resolved to no address`), { code: 'ENOTFOUND' });
  for (const { address } of addresses) {
    const refused = targetAddressProblem(policy, host, address);
    if (refused) return { refused };
  }
  return { addresses };
}

/**
 * A `lookup` for net/tls connect that answers with exactly the addresses already checked, so the
 * connection goes to one of them and a second resolution (which DNS rebinding would answer with
 * another address) never happens. The host name itself still goes into Host and TLS SNI.
 */
export function pinnedLookup(addresses: LookupAddress[]): LookupFunction {
  return (_hostname, options, callback) => {
    if (options.all) return callback(null, addresses);
    const pick = addresses.find((a) => !options.family || a.family === options.family);
    if (!pick)
      return callback(
        Object.assign(new Error(`no checked IPv${options.family} address`), { code: 'ENOTFOUND' }),
        '',
      );
    callback(null, pick.address, pick.family);
  };
}
