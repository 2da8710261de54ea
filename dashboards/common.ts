// Defaults every segwatch dashboard shares: the datasource, uids, tags, and small panel factories
// so each dashboard file only says what it shows.

import * as dashboard from '@grafana/grafana-foundation-sdk/dashboard';
import * as common from '@grafana/grafana-foundation-sdk/common';
import { PanelBuilder as TimeseriesPanel } from '@grafana/grafana-foundation-sdk/timeseries';
import { PanelBuilder as TablePanel } from '@grafana/grafana-foundation-sdk/table';
import { PanelBuilder as StatPanel } from '@grafana/grafana-foundation-sdk/stat';
import { PanelBuilder as BarGaugePanel } from '@grafana/grafana-foundation-sdk/bargauge';
import { InfluxQLSelect, InfluxQLTargetBuilder, ident, tag, type ResultFormat } from './influxql.js';

/** Provisioned under this uid (deploy/grafana/provisioning/datasources/segwatch.yaml). */
export const DATASOURCE: common.DataSourceRef = { type: 'influxdb', uid: 'segwatch-influxdb' };
export const DATABASE = 'segwatch';

/** Stable uids: links and bookmarks survive rebuilds. */
export const UIDS = {
  overview: 'segwatch-overview',
  device: 'segwatch-device',
  collectorHealth: 'segwatch-collector-health',
} as const;

export const TAGS = ['segwatch', 'iot', 'segmentation'];

export function baseDashboard(title: string, uid: string, description: string): dashboard.DashboardBuilder {
  return new dashboard.DashboardBuilder(title)
    .uid(uid)
    .description(description)
    .tags(TAGS)
    .editable()
    .refresh('1m')
    .time({ from: 'now-6h', to: 'now' })
    .timezone('browser')
    .tooltip(dashboard.DashboardCursorSync.Crosshair)
    .link(
      new dashboard.DashboardLinkBuilder('segwatch')
        .type(dashboard.DashboardLinkType.Dashboards)
        .tags(['segwatch'])
        .asDropdown(true)
        .keepTime(true)
        .includeVars(true),
    );
}

/** A query target bound to the segwatch datasource. */
export function target(
  refId: string,
  query: InfluxQLSelect | string,
  format: ResultFormat = 'time_series',
  alias?: string,
): InfluxQLTargetBuilder {
  const t = new InfluxQLTargetBuilder(query).refId(refId).datasource(DATASOURCE).resultFormat(format);
  return alias === undefined ? t : t.alias(alias);
}

/** Panel ids are per dashboard; a fresh counter per dashboard keeps them stable. */
export function idCounter(): () => number {
  let next = 1;
  return () => next++;
}

/** Counts per interval drawn as bars, stacked by series unless told otherwise. */
export function countBars(panel: TimeseriesPanel, stacked = true): TimeseriesPanel {
  panel.drawStyle(common.GraphDrawStyle.Bars);
  if (stacked) panel.stacking(new common.StackingConfigBuilder().mode(common.StackingMode.Normal));
  return panel.unit('short').min(0);
}

export function timeseries(id: number, title: string, description: string): TimeseriesPanel {
  return new TimeseriesPanel()
    .id(id)
    .title(title)
    .description(description)
    .datasource(DATASOURCE)
    .span(12)
    .height(8)
    .fillOpacity(10)
    .lineWidth(1)
    .showPoints(common.VisibilityMode.Never)
    .legend(
      new common.VizLegendOptionsBuilder()
        .showLegend(true)
        .displayMode(common.LegendDisplayMode.List)
        .placement(common.LegendPlacement.Bottom),
    )
    .tooltip(new common.VizTooltipOptionsBuilder().mode(common.TooltipDisplayMode.Multi).sort(common.SortOrder.Descending));
}

export function table(id: number, title: string, description: string): TablePanel {
  return new TablePanel()
    .id(id)
    .title(title)
    .description(description)
    .datasource(DATASOURCE)
    .span(24)
    .height(9)
    .cellHeight(common.TableCellHeight.Sm)
    .filterable(true)
    // an anomaly row's last_seen is integer ms: shown as a time
    .overrides([{ matcher: { id: 'byName', options: 'last_seen' }, properties: [{ id: 'unit', value: 'dateTimeAsIso' }] }]);
}

export function stat(id: number, title: string, description: string): StatPanel {
  return new StatPanel()
    .id(id)
    .title(title)
    .description(description)
    .datasource(DATASOURCE)
    .span(6)
    .height(4)
    .reduceOptions(new common.ReduceDataOptionsBuilder().calcs(['lastNotNull']).values(false))
    .colorMode(common.BigValueColorMode.Value)
    .graphMode(common.BigValueGraphMode.None);
}

export function barGauge(id: number, title: string, description: string): BarGaugePanel {
  return new BarGaugePanel()
    .id(id)
    .title(title)
    .description(description)
    .datasource(DATASOURCE)
    .span(12)
    .height(8)
    .orientation(common.VizOrientation.Horizontal)
    .displayMode(common.BarGaugeDisplayMode.Basic)
    .reduceOptions(new common.ReduceDataOptionsBuilder().calcs(['lastNotNull']).values(false));
}

/** Severity colours, shared so every panel paints `critical` the same red. */
export const SEVERITY_COLOURS: Record<string, string> = {
  info: 'blue',
  low: 'green',
  medium: 'yellow',
  high: 'orange',
  critical: 'red',
};

/**
 * Columns of an anomaly row, in the order a person reads them. The collector rewrites an
 * anomaly's one point as it goes (same time and tags), so a row is one anomaly with its
 * current count and state; last_seen (ms) tells whether it is still active.
 */
export const ANOMALY_COLUMNS = [
  tag('severity'), tag('kind'), ident('state'), tag('device'), tag('segment'), tag('profile'),
  ident('peer'), ident('peer_name'), ident('peer_port'), ident('proto'),
  ident('count'), ident('last_seen'), ident('bytes'), ident('message'), ident('rule'), ident('id'),
];
