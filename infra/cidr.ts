// IPv4 CIDR arithmetic, just enough to check a configuration before it reaches AWS.

export interface Cidr {
  base: number;
  prefix: number;
}

export function parseCidr(text: string): Cidr {
  const match = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})\/(\d{1,2})$/.exec(text ?? '');
  if (match === null) throw new Error(`not an IPv4 CIDR: ${text}`);
  const octets = match.slice(1, 5).map(Number);
  const prefix = Number(match[5]);
  if (octets.some((o) => o > 255) || prefix > 32) throw new Error(`not an IPv4 CIDR: ${text}`);
  const address = octets.reduce((acc, o) => acc * 256 + o, 0);
  const size = 2 ** (32 - prefix);
  // AWS rejects a CIDR with host bits set (10.1.1.5/24); so do we, with the same message a person would need.
  if (address % size !== 0) throw new Error(`host bits set in ${text}`);
  return { base: address, prefix };
}

function range(text: string): [number, number] {
  const { base, prefix } = parseCidr(text);
  return [base, base + 2 ** (32 - prefix) - 1];
}

export function cidrContains(outer: string, inner: string): boolean {
  const [a0, a1] = range(outer);
  const [b0, b1] = range(inner);
  return a0 <= b0 && b1 <= a1;
}

export function cidrsOverlap(a: string, b: string): boolean {
  const [a0, a1] = range(a);
  const [b0, b1] = range(b);
  return a0 <= b1 && b0 <= a1;
}
