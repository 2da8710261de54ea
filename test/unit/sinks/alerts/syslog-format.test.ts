import t from 'tap';
import { formatSyslog, octetFrame, sdEscape, isSdName, headerField, SD_ID } from '../../../../collector/sinks/alerts/syslog-format.js';
import { ANOMALY_FIELDS } from '../../../../collector/sinks/anomaly-fields.js';
import { alert } from './fixture.js';

const H = { facility: 16, hostname: 'box', appName: 'segwatch', procId: '42', time: Date.UTC(2026, 11, 5, 20, 0, 1, 5) };

t.test('RFC 5424 header: PRI, version, timestamp, MSGID', async (t) => {
  const m = formatSyslog(alert(), H);
  // local0 (16) * 8 + err (3) for high
  t.match(m, /^<131>1 2026-12-05T20:00:01\.005Z box segwatch 42 opened \[segwatch@32473 /);
  t.match(formatSyslog(alert({ severity: 'critical' }), H), /^<130>1 /, 'critical -> crit (2)');
  t.match(formatSyslog(alert({ severity: 'medium' }), H), /^<132>1 /, 'medium -> warning (4)');
  t.match(formatSyslog(alert({ severity: 'low' }), H), /^<133>1 /, 'low -> notice (5)');
  t.match(formatSyslog(alert({ severity: 'info' }), { ...H, facility: 4 }), /^<38>1 /, 'auth (4) * 8 + info (6)');
  t.match(formatSyslog(alert({}, 'closed'), H), /^<131>1 \S+ box segwatch 42 closed /);
  t.match(m, / HIGH protocol\.plaintext: plugs-a1b2c3 -> 203\.0\.113\.5:23: plugs-a1b2c3 opened telnet/, 'readable MSG after the SD');
});

t.test('structured data: every field, the key and the event, escaped', async (t) => {
  const m = formatSyslog(alert({ message: 'a "quoted" \\ back]slash\nnewline', peerName: 'x]y' }), H);
  const sd = m.slice(m.indexOf('['));
  for (const k of ['key', 'event', ...ANOMALY_FIELDS]) t.ok(sd.includes(` ${k}="`), `param ${k}`);
  t.ok(sd.includes('key="a1b2c3d4e5f60718:opened"'));
  t.ok(sd.includes('message="a \\"quoted\\" \\\\ back\\]slash newline"'), 'escaped per §6.3.3, control char to space');
  t.ok(sd.includes('peerName="x\\]y"'));
  t.notOk(m.includes('\n'), 'one line');
  t.equal(sdEscape('a"b\\c]d'), 'a\\"b\\\\c\\]d');
  for (const k of ['key', 'event', ...ANOMALY_FIELDS]) t.ok(isSdName(k), `${k} is a valid PARAM-NAME (<= 32 printable, no = SP ] ")`);
  t.ok(isSdName(SD_ID));
  t.notOk(isSdName('a b'));
  t.notOk(isSdName('x'.repeat(33)));
});

t.test('header fields are printable ASCII and bounded', async (t) => {
  t.equal(headerField('', 48), '-', 'NILVALUE');
  t.equal(headerField('my host', 255), 'my_host');
  t.equal(headerField('x'.repeat(60), 48).length, 48);
  t.equal(headerField('küche', 48), 'k_che');
});

t.test('octet-counting frame counts bytes', async (t) => {
  t.equal(octetFrame('abc').toString(), '3 abc');
  t.equal(octetFrame('küche').toString(), '6 küche', 'ü is two bytes');
});
