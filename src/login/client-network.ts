import ipaddr from 'ipaddr.js';

/**
 * The network a client counts as for throttling: an IPv4 address as it is
 * (an IPv4-mapped IPv6 address such as ::ffff:10.1.1.1 is that IPv4 address),
 * and an IPv6 address by its /64, the smallest block a subscriber is given:
 * one customer can rotate through 2^64 addresses inside it at will.
 * Anything that does not parse is counted as the text it is.
 */
export function clientNetwork(ip: string): string {
  let address: ipaddr.IPv4 | ipaddr.IPv6;
  try {
    // A zone index (fe80::1%eth0) names an interface of ours, not part of the client's address.
    address = ipaddr.parse(ip.replace(/%.*$/, ''));
  } catch {
    return ip;
  }
  if (address.kind() === 'ipv6') {
    const v6 = address as ipaddr.IPv6;
    if (v6.isIPv4MappedAddress()) return v6.toIPv4Address().toString();
    const prefix = new ipaddr.IPv6([...v6.parts.slice(0, 4), 0, 0, 0, 0]);
    return `${prefix.toNormalizedString()}/64`;
  }
  return address.toString();
}
