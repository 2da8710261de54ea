// The Collector health dashboard: is segwatch itself keeping up — packets/s, drops, decode errors,
// flow table, queue and spool, per collector host and source.

import * as dashboard from '@grafana/grafana-foundation-sdk/dashboard';
import { agg, as, ratePerSecond, select } from './influxql.js';
import { UIDS, baseDashboard, idCounter, stat, target, timeseries } from './common.js';

/** The collector writes its measurement every 10 s; finer buckets would only be empty. */
const COLLECTOR_MIN_INTERVAL = '10s';

/**
 * packets, bytes, drops, decode_errors and flows_evicted are cumulative counters since the
 * collector started, so rates are non_negative_derivative(max(x), 1s): a restart (counter back to
 * zero) gives one missing point instead of a negative spike.
 */
const COUNTER_NOTE = 'Counters are cumulative since collector start; rate = non_negative_derivative(max(counter), 1s), restarts ignored.';

function rate(field: string, alias: string) {
  return select(as(ratePerSecond(agg('max', field)), alias))
    .from('collector').groupByTime().groupBy('host', 'source').fill('null');
}

function gauge(field: string, alias: string) {
  return select(as(agg('max', field), alias))
    .from('collector').groupByTime().groupBy('host', 'source').fill('null');
}

/** Growth of a cumulative counter over the range (max - min), per host and source. */
function growth(field: string, alias: string) {
  return select(as(agg('spread', field), alias)).from('collector').groupBy('host', 'source');
}

function latest(field: string, alias: string) {
  return select(as(agg('last', field), alias)).from('collector').groupBy('host', 'source');
}

const LEGEND = '$tag_host/$tag_source $col';

export function collectorHealthDashboard(): dashboard.DashboardBuilder {
  const id = idCounter();
  return baseDashboard('segwatch / Collector health', UIDS.collectorHealth,
    'Whether the segwatch collector keeps up: capture rates, drops, decode errors, flow table, spool.')
    .refresh('30s')
    .time({ from: 'now-1h', to: 'now' })
    .withPanel(
      stat(id(), 'Packets in range', `Packets the collector read in the range. ${COUNTER_NOTE}`)
        .withTarget(target('A', growth('packets', 'packets'), 'time_series', LEGEND))
        .unit('short').noValue('0'),
    )
    .withPanel(
      stat(id(), 'Drops in range', `Packets the kernel or the collector dropped in the range. ${COUNTER_NOTE}`)
        .withTarget(target('A', growth('drops', 'drops'), 'time_series', LEGEND))
        .unit('short').noValue('0')
        .thresholds(new dashboard.ThresholdsConfigBuilder()
          .mode(dashboard.ThresholdsMode.Absolute)
          .steps([{ value: null, color: 'green' }, { value: 1, color: 'red' }])),
    )
    .withPanel(
      stat(id(), 'Decode errors in range', `Malformed packets counted and skipped in the range. ${COUNTER_NOTE}`)
        .withTarget(target('A', growth('decode_errors', 'decode_errors'), 'time_series', LEGEND))
        .unit('short').noValue('0')
        .thresholds(new dashboard.ThresholdsConfigBuilder()
          .mode(dashboard.ThresholdsMode.Absolute)
          .steps([{ value: null, color: 'green' }, { value: 1, color: 'orange' }])),
    )
    .withPanel(
      stat(id(), 'Spool now', 'Bytes waiting in the on-disk spool because InfluxDB was unreachable (0 when healthy).')
        .withTarget(target('A', latest('spool_bytes', 'spool_bytes'), 'time_series', LEGEND))
        .unit('decbytes').noValue('0')
        .thresholds(new dashboard.ThresholdsConfigBuilder()
          .mode(dashboard.ThresholdsMode.Absolute)
          .steps([{ value: null, color: 'green' }, { value: 1, color: 'orange' }])),
    )
    .withPanel(
      timeseries(id(), 'Packets/s', `Packets read per second. ${COUNTER_NOTE}`)
        .interval(COLLECTOR_MIN_INTERVAL)
        .withTarget(target('A', rate('packets', 'packets'), 'time_series', LEGEND))
        .unit('pps').min(0),
    )
    .withPanel(
      timeseries(id(), 'Bytes/s', `Bytes read per second. ${COUNTER_NOTE}`)
        .interval(COLLECTOR_MIN_INTERVAL)
        .withTarget(target('A', rate('bytes', 'bytes'), 'time_series', LEGEND))
        .unit('Bps').min(0),
    )
    .withPanel(
      timeseries(id(), 'Drops and decode errors/s', `Dropped and undecodable packets per second. ${COUNTER_NOTE}`)
        .interval(COLLECTOR_MIN_INTERVAL)
        .withTarget(target('A', rate('drops', 'drops'), 'time_series', LEGEND))
        .withTarget(target('B', rate('decode_errors', 'decode_errors'), 'time_series', LEGEND))
        .unit('pps').min(0),
    )
    .withPanel(
      timeseries(id(), 'Capture drops/s by where',
        'A live capture\'s losses per second, apart: kernel (its capture buffer was full: raise buffer_size_mb, or narrow the capture with bpf: auto), ' +
        'interface (the NIC or its driver dropped them) and ring (the capture thread outran the pipeline: the collector\'s CPU is the limit). ' +
        `Their sum is the drops above. ${COUNTER_NOTE}`)
        .interval(COLLECTOR_MIN_INTERVAL)
        .withTarget(target('A', rate('kernel_drops', 'kernel'), 'time_series', LEGEND))
        .withTarget(target('B', rate('if_drops', 'interface'), 'time_series', LEGEND))
        .withTarget(target('C', rate('ring_drops', 'ring'), 'time_series', LEGEND))
        .unit('pps').min(0),
    )
    .withPanel(
      timeseries(id(), 'Flows', `Flows in the table (gauge) and flows evicted per second (counter). ${COUNTER_NOTE}`)
        .interval(COLLECTOR_MIN_INTERVAL)
        .withTarget(target('A', gauge('flows_active', 'flows_active'), 'time_series', LEGEND))
        .withTarget(target('B', rate('flows_evicted', 'evicted_per_s'), 'time_series', LEGEND))
        .unit('short').min(0),
    )
    .withPanel(
      timeseries(id(), 'Queue', 'Items waiting between pipeline stages (gauge, highest in the bucket).')
        .interval(COLLECTOR_MIN_INTERVAL)
        .withTarget(target('A', gauge('queue', 'queue'), 'time_series', LEGEND))
        .unit('short').min(0),
    )
    .withPanel(
      timeseries(id(), 'Spool', 'Bytes in the on-disk spool (gauge, highest in the bucket); it drains when InfluxDB is back.')
        .interval(COLLECTOR_MIN_INTERVAL)
        .withTarget(target('A', gauge('spool_bytes', 'spool_bytes'), 'time_series', LEGEND))
        .unit('decbytes').min(0),
    );
}
