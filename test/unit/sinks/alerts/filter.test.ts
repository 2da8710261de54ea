import t from 'tap';
import { matches } from '../../../../collector/sinks/alerts/filter.js';
import { anomaly } from './fixture.js';

const base = { minSeverity: 'medium' as const, closed: false };

t.test('severity, kinds and device globs', async (t) => {
  t.ok(matches(base, anomaly({ severity: 'medium' }), 'opened'), 'at min_severity');
  t.notOk(matches(base, anomaly({ severity: 'low' }), 'opened'), 'below min_severity');
  t.ok(matches({ ...base, minSeverity: 'high' }, anomaly({ severity: 'critical' }), 'opened'));
  t.notOk(matches({ ...base, kinds: ['scan.hosts'] }, anomaly(), 'opened'), 'kind not listed');
  t.ok(matches({ ...base, kinds: ['scan.hosts', 'protocol.plaintext'] }, anomaly(), 'opened'));
  t.ok(matches({ ...base, devices: ['plugs-*'] }, anomaly(), 'opened'), 'glob');
  t.ok(matches({ ...base, devices: ['PLUGS-A1B2C?'] }, anomaly(), 'opened'), 'case-insensitive, ?');
  t.notOk(matches({ ...base, devices: ['cam*'] }, anomaly(), 'opened'));
});

t.test('closed and reminders are opt-in; suppressed never alerts', async (t) => {
  t.notOk(matches(base, anomaly(), 'closed'));
  t.ok(matches({ ...base, closed: true }, anomaly(), 'closed'));
  t.notOk(matches(base, anomaly(), 'reminder'));
  t.ok(matches({ ...base, remindEveryMs: 3600_000 }, anomaly(), 'reminder'));
  t.notOk(matches(base, anomaly({ suppressed: true }), 'opened'));
});

t.test('tests always pass; digests by severity only', async (t) => {
  t.ok(matches({ ...base, minSeverity: 'critical', kinds: ['x'] }, anomaly({ severity: 'info', kind: 'test' }), 'test'));
  t.ok(matches({ ...base, kinds: ['x'] }, anomaly({ kind: 'digest' }), 'digest'));
  t.notOk(matches({ ...base, minSeverity: 'critical' }, anomaly({ kind: 'digest' }), 'digest'));
});
