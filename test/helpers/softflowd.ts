// softflowd as a real NetFlow/IPFIX exporter in tests and the bench.

import { connect } from 'node:net';
import { createSocket } from 'node:dgram';

/**
 * Asks softflowd's control socket for its statistics until done(). In -r mode softflowd stops
 * between batches of packets until its control socket is used, so a run from a file needs this.
 */
export async function pokeSoftflowd(ctl: string, done: () => boolean): Promise<void> {
  while (!done()) {
    await new Promise<void>((res) => {
      const s = connect(ctl);
      s.on('connect', () => s.end('statistics\n'));
      s.on('data', () => {});
      s.on('close', () => res());
      s.on('error', () => setTimeout(res, 5));
    });
  }
}

/** A UDP port free on 127.0.0.1 now (bound and released). */
export async function freeUdpPort(): Promise<number> {
  const s = createSocket('udp4');
  await new Promise<void>((r) => s.bind(0, '127.0.0.1', () => r()));
  const port = s.address().port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}
