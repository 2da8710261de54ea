// Which alerts a channel wants: the one place min_severity, kinds, devices and the opt-in
// closed and reminder events are applied.

import type { Anomaly } from '../../types.js';
import { globToRegExp } from '../../policy/glob.js';
import { compareSeverity, type AlertEvent } from './channel.js';
import type { ChannelConfig } from './config.js';

type Filter = Pick<ChannelConfig, 'minSeverity' | 'kinds' | 'devices' | 'closed' | 'remindEveryMs'>;

const globs = new WeakMap<readonly string[], RegExp[]>();

/**
 * true when the channel takes this event of this anomaly. A suppressed anomaly (a policy
 * exception accepts it) never alerts; a test always passes; a digest passes when its severity
 * does (it rolls up alerts the channel already accepted). `closed` and `reminder` are opt-in.
 */
export function matches(cfg: Filter, a: Anomaly, event: AlertEvent): boolean {
  if (event === 'test') return true;
  if (compareSeverity(a.severity, cfg.minSeverity) < 0) return false;
  if (event === 'digest') return true;
  if (a.suppressed) return false;
  if (event === 'closed' && !cfg.closed) return false;
  if (event === 'reminder' && cfg.remindEveryMs === undefined) return false;
  if (cfg.kinds && !cfg.kinds.includes(a.kind)) return false;
  if (cfg.devices) {
    let res = globs.get(cfg.devices);
    if (!res) globs.set(cfg.devices, (res = cfg.devices.map(globToRegExp)));
    if (!res.some((r) => r.test(a.device))) return false;
  }
  return true;
}
