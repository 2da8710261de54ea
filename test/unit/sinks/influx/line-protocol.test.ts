import t from 'tap';
import {
  escapeMeasurement, escapeTag, escapeFieldKey, quoteString, formatInt, formatFloat, nsTimestamp, serializePoint,
} from '../../../../collector/sinks/influx/line-protocol.js';

t.test('escapers', async (t) => {
  t.equal(escapeMeasurement('a b,c=d'), 'a\\ b\\,c=d', 'measurement keeps =');
  t.equal(escapeTag('a b,c=d'), 'a\\ b\\,c\\=d');
  t.equal(escapeFieldKey('x=y z'), 'x\\=y\\ z');
  t.equal(escapeTag('plain'), 'plain', 'no copy needed');
  t.equal(escapeTag('DOMAIN\\host'), 'DOMAIN\\host', 'backslash before an ordinary char stays single');
  t.equal(escapeTag('trail\\'), 'trail', 'trailing backslashes removed: InfluxDB 1.x refuses them');
  t.equal(escapeTag('\\\\'), '', 'nothing left: the tag is then left out');
  t.equal(escapeTag('a\\,b'), 'a\\\\\\,b', 'backslash before comma');
  t.equal(escapeTag('a\\ b'), 'a\\\\\\ b');
  t.equal(escapeMeasurement('m\\=x'), 'm\\=x', '= is not special in measurements');
  t.equal(escapeTag('line1\nline2\r\t\f'), 'line1\\nline2\\r\\t\\f', 'control chars become visible escapes');
  t.equal(escapeTag('kamera-küche 📷'), 'kamera-küche\\ 📷', 'unicode passes through');
  t.equal(quoteString('say "hi" \\ now'), '"say \\"hi\\" \\\\ now"');
  t.equal(quoteString('two\nlines\r'), '"two\\nlines\\r"', 'no raw newline in a string field');
  t.equal(quoteString(''), '""');
  t.equal(quoteString('ünï €'), '"ünï €"');
});

t.test('numbers', async (t) => {
  t.equal(formatInt(123), '123i');
  t.equal(formatInt(-5.9), '-5i', 'truncated');
  t.equal(formatInt(0), '0i');
  t.equal(formatInt(-0), '0i');
  t.equal(formatInt(2 ** 60), '1152921504606846976i', 'exact beyond 2^53 via BigInt');
  t.equal(formatInt(9223372036854775807n), '9223372036854775807i');
  t.equal(formatInt(9223372036854775808n), null, 'beyond int64');
  t.equal(formatInt(1e20), null, 'beyond int64 as number');
  t.equal(formatInt(NaN), null);
  t.equal(formatInt(Infinity), null);
  t.equal(formatFloat(1.5), '1.5');
  t.equal(formatFloat(2), '2', 'float stays float (no i)');
  t.equal(formatFloat(NaN), null);
  t.equal(formatFloat(-Infinity), null);
});

t.test('timestamps without precision loss', async (t) => {
  t.equal(nsTimestamp(1700000000123), '1700000000123000000');
  t.equal(nsTimestamp(1700000000123, 456789), '1700000000123456789', 'exact: float math would round this');
  t.equal(nsTimestamp(0), '0');
  t.equal(nsTimestamp(-1), '-1000000');
  t.equal(nsTimestamp(1.5), '1500000', 'ms fraction kept');
  t.equal(nsTimestamp(NaN), null);
  // The float product is visibly wrong here; the string must not be.
  t.not(String(1700000000123 * 1e6 + 456789), '1700000000123456789');
});

t.test('serializePoint', async (t) => {
  t.equal(serializePoint({
    measurement: 'anomaly',
    tags: { severity: 'high', device: 'door bell', kind: 'policy.violation', empty: '' },
    fields: { peer: '1.2.3.4', message: 'said "no"', ratio: 0.5, ok: true },
    ints: { count: 3 },
    time: 1700000000000,
    timeNs: 7,
  }), 'anomaly,device=door\\ bell,kind=policy.violation,severity=high peer="1.2.3.4",message="said \\"no\\"",ratio=0.5,ok=true,count=3i 1700000000000000007',
  'tags sorted, empty tag left out, ints marked');
  t.equal(serializePoint({ measurement: 'm', fields: { a: NaN, b: Infinity } }), null, 'no field left: skipped');
  t.equal(serializePoint({ measurement: 'm', fields: {} }), null);
  t.equal(serializePoint({ measurement: '', fields: { a: 1 } }), null, 'no measurement');
  t.equal(serializePoint({ measurement: 'm', fields: { a: NaN, b: 2 } }), 'm b=2', 'NaN dropped, rest kept, no time');
  t.equal(serializePoint({ measurement: 'm', tags: { 'k,1': 'v=1' }, ints: { 'f k': 1 } }), 'm,k\\,1=v\\=1 f\\ k=1i');
  t.equal(serializePoint({ measurement: 'm', tags: { a: '\\' }, ints: { f: 1 } }), 'm f=1i', 'a tag value that escapes to nothing is left out');
  const hostile = serializePoint({ measurement: 'm', tags: { a: 'x\\', b: 'y' }, fields: { f: 'z\n' } })!;
  t.equal(hostile, 'm,a=x,b=y f="z\\n"');
  t.notOk(hostile.includes('\n'), 'one point is one line');
});
