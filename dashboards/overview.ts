// The Overview dashboard: what the IoT segment did in the chosen range — anomalies by kind and
// severity, the latest anomalies, devices seen, top talkers and segment crossings.

import * as dashboard from '@grafana/grafana-foundation-sdk/dashboard';
import * as common from '@grafana/grafana-foundation-sdk/common';
import { agg, as, ident, select } from './influxql.js';
import {
  ANOMALY_COLUMNS, SEVERITY_COLOURS, UIDS, barGauge, baseDashboard, countBars, idCounter, stat, table, target, timeseries,
} from './common.js';

/** Bytes both ways per device over the range; the subquery top talkers and device counts build on. */
function bytesPerDevice() {
  return select(as(`${agg('sum', 'bytes_out')} + ${agg('sum', 'bytes_in')}`, 'bytes'))
    .from('device_traffic')
    .groupBy('device');
}

const COUNT_ANOMALIES = agg('count', 'message');

export function overviewDashboard(): dashboard.DashboardBuilder {
  const id = idCounter();
  const severityOverrides = Object.entries(SEVERITY_COLOURS).map(([name, colour]) => ({
    matcher: { id: 'byName', options: name },
    properties: [{ id: 'color', value: { mode: 'fixed', fixedColor: colour } }],
  }));

  return baseDashboard('segwatch / Overview', UIDS.overview,
    'Anomalies, devices and traffic of the watched IoT segment.')
    .withRow(new dashboard.RowBuilder('Summary').id(id()))
    .withPanel(
      stat(id(), 'Anomalies', 'Anomalies that began in the range (repeats while one is open raise its count, not this).')
        .withTarget(target('A', select(as(COUNT_ANOMALIES, 'anomalies')).from('anomaly')))
        .reduceOptions(new common.ReduceDataOptionsBuilder().calcs(['sum']).values(false))
        .noValue('0'),
    )
    .withPanel(
      stat(id(), 'High and critical', 'Anomalies of severity high or critical in the range.')
        .withTarget(target('A', select(as(COUNT_ANOMALIES, 'anomalies')).from('anomaly')
          .where('severity', '=~', '^(critical|high)$')))
        .reduceOptions(new common.ReduceDataOptionsBuilder().calcs(['sum']).values(false))
        .colorScheme(new dashboard.FieldColorBuilder().mode(dashboard.FieldColorModeId.Fixed).fixedColor('red'))
        .noValue('0'),
    )
    .withPanel(
      stat(id(), 'Devices seen', 'Distinct devices with traffic in the range (device_traffic).')
        .withTarget(target('A', select(as(agg('count', 'bytes'), 'devices')).from(bytesPerDevice()).noTimeFilter()))
        .noValue('0'),
    )
    .withPanel(
      stat(id(), 'Segment crossings', 'Flows a watched device opened into a protected segment.')
        .withTarget(target('A', select(as(COUNT_ANOMALIES, 'crossings')).from('anomaly')
          .where('kind', '=', 'segment.crossing')))
        .reduceOptions(new common.ReduceDataOptionsBuilder().calcs(['sum']).values(false))
        .colorScheme(new dashboard.FieldColorBuilder().mode(dashboard.FieldColorModeId.Fixed).fixedColor('red'))
        .noValue('0'),
    )
    .withRow(new dashboard.RowBuilder('Anomalies').id(id()))
    .withPanel(
      countBars(
        timeseries(id(), 'Anomalies by kind', 'Anomaly records per interval, one series per kind.')
          .withTarget(target('A', select(as(COUNT_ANOMALIES, 'anomalies')).from('anomaly')
            .groupByTime().groupBy('kind').fill(0), 'time_series', '$tag_kind')),
      ),
    )
    .withPanel(
      countBars(
        timeseries(id(), 'Anomalies by severity', 'Anomaly records per interval, one series per severity.')
          .withTarget(target('A', select(as(COUNT_ANOMALIES, 'anomalies')).from('anomaly')
            .groupByTime().groupBy('severity').fill(0), 'time_series', '$tag_severity')),
      ).overrides(severityOverrides),
    )
    .withPanel(
      table(id(), 'Latest anomalies', 'The 100 most recent anomalies, one row each with its current count and state (open or closed); message says what to do.')
        .withTarget(target('A', select(...ANOMALY_COLUMNS).from('anomaly').orderByTime('DESC').limit(100), 'table')),
    )
    .withRow(new dashboard.RowBuilder('Devices and traffic').id(id()))
    .withPanel(
      barGauge(id(), 'Top talkers', 'The 10 devices that moved the most bytes (in + out) in the range.')
        .withTarget(target('A', select(as(`top(${ident('bytes')}, ${ident('device')}, 10)`, 'bytes'))
          .from(bytesPerDevice()).noTimeFilter(), 'table'))
        .reduceOptions(new common.ReduceDataOptionsBuilder().calcs(['lastNotNull']).values(true).fields('/^bytes$/'))
        .unit('decbytes'),
    )
    .withPanel(
      table(id(), 'Device inventory', 'Latest inventory record of every device: address, name, vendor, profile, whether the policy lists it.')
        .span(12).height(8)
        .withTarget(target('A', select(
          as(agg('last', 'ip'), 'ip'), as(agg('last', 'hostname'), 'hostname'),
          as(agg('last', 'profile'), 'profile'), as(agg('last', 'known'), 'known'),
        ).from('device').noTimeFilter().groupBy('device', 'mac', 'vendor'), 'table')),
    )
    .withRow(new dashboard.RowBuilder('Segment crossings').id(id()))
    .withPanel(
      timeseries(id(), 'Segment crossings over time', 'segment.crossing anomalies per interval by device and target segment.')
        .withTarget(target('A', select(as(COUNT_ANOMALIES, 'crossings')).from('anomaly')
          .where('kind', '=', 'segment.crossing').groupByTime().groupBy('device', 'segment').fill(0),
        'time_series', '$tag_device -> $tag_segment'))
        .drawStyle(common.GraphDrawStyle.Bars)
        .unit('short')
        .min(0),
    )
    .withPanel(
      table(id(), 'Latest segment crossings', 'Who crossed into which protected segment, to which peer and port.')
        .span(12).height(8)
        .withTarget(target('A', select(...ANOMALY_COLUMNS).from('anomaly')
          .where('kind', '=', 'segment.crossing').orderByTime('DESC').limit(50), 'table')),
    );
}
