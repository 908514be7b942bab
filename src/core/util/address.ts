// Host names and addresses as the servers see them.

/** True for a host that only this machine can reach: `localhost`, `::1`, `127.x.x.x` (also IPv4-mapped). */
export function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || /^(::ffff:)?127\.\d+\.\d+\.\d+$/.test(host);
}
