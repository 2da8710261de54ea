// The Device dashboard: one device (the $device variable) — its inventory record, traffic in and
// out, peers and flows per interval, and its anomalies.

import * as dashboard from '@grafana/grafana-foundation-sdk/dashboard';
import * as common from '@grafana/grafana-foundation-sdk/common';
import { agg, as, select } from './influxql.js';
import {
  ANOMALY_COLUMNS, DATASOURCE, UIDS, baseDashboard, countBars, idCounter, stat, table, target, timeseries,
} from './common.js';

/** The variable's own query: every device the inventory ever wrote. */
export const DEVICE_VARIABLE_QUERY = 'SHOW TAG VALUES FROM "device" WITH KEY = "device"';

/** device_traffic is written once per device per 60 s: a finer bucket would show gaps, not detail. */
const TRAFFIC_MIN_INTERVAL = '1m';

/** Per-interval totals turned into per-second rates; $__interval_ms is the bucket width. */
function perSecond(field: string): string {
  return `${agg('sum', field)} * 1000 / $__interval_ms`;
}

export function deviceDashboard(): dashboard.DashboardBuilder {
  const id = idCounter();
  const traffic = () => select().from('device_traffic').whereVariable('device', 'device');
  const anomalies = () => select().from('anomaly').whereVariable('device', 'device');

  return baseDashboard('segwatch / Device', UIDS.device, 'One device of the watched segment: traffic, peers, anomalies.')
    .withVariable(
      new dashboard.QueryVariableBuilder('device')
        .label('Device')
        .description('Device id: the MAC address when known, else the IP address.')
        .datasource(DATASOURCE)
        .query(DEVICE_VARIABLE_QUERY)
        .definition(DEVICE_VARIABLE_QUERY)
        .refresh(dashboard.VariableRefresh.OnTimeRangeChanged)
        .sort(dashboard.VariableSort.AlphabeticalAsc)
        .multi(false)
        .includeAll(false),
    )
    .withPanel(
      table(id(), 'Inventory', 'Latest inventory record of the device (written on change, so the time range does not apply).')
        .height(4)
        .withTarget(target('A', select(
          as(agg('last', 'ip'), 'ip'), as(agg('last', 'hostname'), 'hostname'),
          as(agg('last', 'profile'), 'profile'), as(agg('last', 'known'), 'known'),
        ).from('device').whereVariable('device', 'device').noTimeFilter().groupBy('mac', 'vendor'), 'table')),
    )
    .withPanel(
      stat(id(), 'Bytes out', 'Bytes the device sent in the range.')
        .withTarget(target('A', traffic().select(as(agg('sum', 'bytes_out'), 'bytes_out'))))
        .unit('decbytes').noValue('0'),
    )
    .withPanel(
      stat(id(), 'Bytes in', 'Bytes the device received in the range.')
        .withTarget(target('A', traffic().select(as(agg('sum', 'bytes_in'), 'bytes_in'))))
        .unit('decbytes').noValue('0'),
    )
    .withPanel(
      stat(id(), 'Flows', 'Flows of the device in the range.')
        .withTarget(target('A', traffic().select(as(agg('sum', 'flows'), 'flows'))))
        .unit('short').noValue('0'),
    )
    .withPanel(
      stat(id(), 'Anomalies', 'Anomaly records of the device in the range.')
        .withTarget(target('A', anomalies().select(as(agg('count', 'message'), 'anomalies'))))
        .unit('short').noValue('0')
        .colorScheme(new dashboard.FieldColorBuilder().mode(dashboard.FieldColorModeId.Fixed).fixedColor('orange')),
    )
    .withPanel(
      timeseries(id(), 'Traffic', 'Bytes per second out (up) and in (down), from 60 s device_traffic totals.')
        .interval(TRAFFIC_MIN_INTERVAL)
        .withTarget(target('A', traffic().select(as(perSecond('bytes_out'), 'out')).groupByTime().fill(0)))
        .withTarget(target('B', traffic().select(as(perSecond('bytes_in'), 'in')).groupByTime().fill(0)))
        .overrideByName('in', [{ id: 'custom.transform', value: common.GraphTransform.NegativeY }])
        .unit('Bps'),
    )
    .withPanel(
      timeseries(id(), 'Packets', 'Packets per second out (up) and in (down).')
        .interval(TRAFFIC_MIN_INTERVAL)
        .withTarget(target('A', traffic().select(as(perSecond('packets_out'), 'out')).groupByTime().fill(0)))
        .withTarget(target('B', traffic().select(as(perSecond('packets_in'), 'in')).groupByTime().fill(0)))
        .overrideByName('in', [{ id: 'custom.transform', value: common.GraphTransform.NegativeY }])
        .unit('pps'),
    )
    .withPanel(
      timeseries(id(), 'Peers and flows', 'Distinct peers (most in any 60 s interval of the bucket) and flows opened per interval.')
        .interval(TRAFFIC_MIN_INTERVAL)
        .withTarget(target('A', traffic().select(as(agg('max', 'peers'), 'peers')).groupByTime().fill(0)))
        .withTarget(target('B', traffic().select(as(agg('sum', 'flows'), 'flows')).groupByTime().fill(0)))
        .unit('short')
        .min(0),
    )
    .withPanel(
      countBars(
        timeseries(id(), 'Anomalies by kind', 'Anomaly records of the device per interval.')
          .withTarget(target('A', anomalies().select(as(agg('count', 'message'), 'anomalies'))
            .groupByTime().groupBy('kind').fill(0), 'time_series', '$tag_kind')),
      ),
    )
    .withPanel(
      table(id(), 'Anomalies and their peers', 'The device\'s latest anomalies: which peer, port and protocol, and what to do.')
        .withTarget(target('A', anomalies().select(...ANOMALY_COLUMNS).orderByTime('DESC').limit(100), 'table')),
    );
}
