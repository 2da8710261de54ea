// An anomaly and its alert as channels get them, shared by the unit and integration tests.

import type { Anomaly } from '../../../../collector/types.js';
import type { Alert, AlertEvent } from '../../../../collector/sinks/alerts/channel.js';

export function anomaly(over: Partial<Anomaly> = {}): Anomaly {
  return {
    id: 'a1b2c3d4e5f60718',
    time: '2026-12-05T20:00:00.000Z',
    kind: 'protocol.plaintext',
    severity: 'high',
    device: 'plugs-a1b2c3',
    mac: '50:c7:bf:a1:b2:c3',
    ip: '192.168.50.23',
    segment: 'iot',
    profile: 'smart-plug',
    peer: '203.0.113.5',
    peerName: '',
    peerPort: 23,
    proto: 'tcp',
    bytes: 1234,
    packets: 12,
    count: 3,
    firstSeen: '2026-12-05T20:00:00.000Z',
    lastSeen: '2026-12-05T20:01:00.000Z',
    rule: 'profile smart-plug',
    message: 'plugs-a1b2c3 opened telnet (23/tcp) to 203.0.113.5, which its profile does not allow.',
    state: 'open',
    closeReason: '',
    suppressed: false,
    ...over,
  };
}

export function alert(over: Partial<Anomaly> = {}, event: AlertEvent = 'opened', key?: string): Alert {
  const a = anomaly(over);
  return { key: key ?? `${a.id}:${event}`, event, anomaly: a };
}
