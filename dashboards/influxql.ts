// A small typed InfluxQL SELECT builder and the Grafana target (Dataquery) that carries it:
// the foundation SDK ships no InfluxDB query type, so this follows its `custom-query` pattern.

import type * as cog from '@grafana/grafana-foundation-sdk/cog';
import type * as common from '@grafana/grafana-foundation-sdk/common';

/** A double-quoted InfluxQL identifier (measurement, field, tag or alias). */
export function ident(name: string): string {
  return `"${name.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;
}

/** A single-quoted InfluxQL string literal. */
export function literal(value: string): string {
  return `'${value.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
}

export type Aggregate =
  | 'count' | 'distinct' | 'first' | 'last' | 'max' | 'mean' | 'median' | 'min' | 'spread' | 'sum';

/** `fn("field")`, e.g. agg('max', 'packets') -> max("packets"). */
export function agg(fn: Aggregate, field: string): string {
  return `${fn}(${ident(field)})`;
}

/** Counters that only grow (collector totals since start): per-second rate, resets ignored. */
export function ratePerSecond(fieldExpr: string): string {
  return `non_negative_derivative(${fieldExpr}, 1s)`;
}

/** `expr AS "alias"`. */
export function as(expr: string, alias: string): string {
  return `${expr} AS ${ident(alias)}`;
}

/** A tag read alongside fields in a raw (non-aggregated) select. */
export function tag(name: string): string {
  return `${ident(name)}::tag`;
}

export type TagOp = '=' | '!=' | '=~' | '!~';
export type Fill = 'none' | 'null' | 'previous' | 'linear' | 0;
export type ResultFormat = 'time_series' | 'table';

/**
 * One InfluxQL SELECT statement. Expressions passed to select() are used as written (build them with
 * ident/agg/as); names and literals passed to the other methods are quoted here.
 */
export class InfluxQLSelect {
  private readonly fields: string[] = [];
  private source = '';
  private readonly conditions: string[] = [];
  private withTimeFilter = true;
  private timeBucket: string | undefined;
  private readonly groupTags: string[] = [];
  private fillMode: Fill | undefined;
  private order: 'ASC' | 'DESC' | undefined;
  private limitRows: number | undefined;
  private limitSeries: number | undefined;

  select(...exprs: string[]): this {
    this.fields.push(...exprs);
    return this;
  }

  /** A measurement name, or a subquery (whose own WHERE carries the time range). */
  from(source: string | InfluxQLSelect): this {
    this.source = typeof source === 'string' ? ident(source) : `(${source.toString()})`;
    return this;
  }

  /** `"tag" op 'value'` for = and !=; for =~ and !~ the value is a regex body, written /value/. */
  where(tagName: string, op: TagOp, value: string): this {
    const rhs = op === '=~' || op === '!~' ? `/${value}/` : literal(value);
    this.conditions.push(`${ident(tagName)} ${op} ${rhs}`);
    return this;
  }

  /**
   * The tag equals a dashboard variable's value. Written as the anchored regex /^$var$/ because
   * that is the form Grafana's InfluxDB datasource escapes (and turns into (a|b) for multi-value).
   */
  whereVariable(tagName: string, variable: string): this {
    return this.where(tagName, '=~', `^$${variable}$`);
  }

  /** Subqueries and inventory queries leave the time range to someone else. */
  noTimeFilter(): this {
    this.withTimeFilter = false;
    return this;
  }

  /** GROUP BY time(interval); the default is Grafana's $__interval. */
  groupByTime(interval = '$__interval'): this {
    this.timeBucket = interval;
    return this;
  }

  groupBy(...tags: string[]): this {
    this.groupTags.push(...tags);
    return this;
  }

  fill(mode: Fill): this {
    this.fillMode = mode;
    return this;
  }

  orderByTime(direction: 'ASC' | 'DESC'): this {
    this.order = direction;
    return this;
  }

  limit(rows: number): this {
    this.limitRows = rows;
    return this;
  }

  slimit(series: number): this {
    this.limitSeries = series;
    return this;
  }

  toString(): string {
    if (this.fields.length === 0) throw new Error('InfluxQL select: no fields');
    if (this.source === '') throw new Error('InfluxQL select: no measurement');
    const where = [...this.conditions];
    if (this.withTimeFilter) where.push('$timeFilter');
    const group: string[] = [];
    if (this.timeBucket !== undefined) group.push(`time(${this.timeBucket})`);
    group.push(...this.groupTags.map(ident));
    let q = `SELECT ${this.fields.join(', ')} FROM ${this.source}`;
    if (where.length > 0) q += ` WHERE ${where.join(' AND ')}`;
    if (group.length > 0) q += ` GROUP BY ${group.join(', ')}`;
    if (this.fillMode !== undefined) q += ` fill(${this.fillMode})`;
    if (this.order !== undefined) q += ` ORDER BY time ${this.order}`;
    if (this.limitRows !== undefined) q += ` LIMIT ${this.limitRows}`;
    if (this.limitSeries !== undefined) q += ` SLIMIT ${this.limitSeries}`;
    return q;
  }
}

export function select(...exprs: string[]): InfluxQLSelect {
  return new InfluxQLSelect().select(...exprs);
}

/** A Grafana InfluxDB (InfluxQL mode) panel target, as the datasource stores it with a raw query. */
export interface InfluxQLTarget extends cog.Dataquery {
  refId?: string;
  hide?: boolean;
  datasource?: common.DataSourceRef;
  query: string;
  rawQuery: true;
  resultFormat: ResultFormat;
  alias?: string;
}

export class InfluxQLTargetBuilder implements cog.Builder<cog.Dataquery> {
  private readonly internal: InfluxQLTarget;

  constructor(query: InfluxQLSelect | string) {
    this.internal = {
      query: query.toString(),
      rawQuery: true,
      resultFormat: 'time_series',
      _implementsDataqueryVariant() {},
    };
  }

  build(): InfluxQLTarget {
    return this.internal;
  }

  refId(refId: string): this {
    this.internal.refId = refId;
    return this;
  }

  hide(hide: boolean): this {
    this.internal.hide = hide;
    return this;
  }

  datasource(ref: common.DataSourceRef): this {
    this.internal.datasource = ref;
    return this;
  }

  resultFormat(format: ResultFormat): this {
    this.internal.resultFormat = format;
    return this;
  }

  /** Legend alias; Grafana expands $tag_NAME and $col in it. */
  alias(alias: string): this {
    this.internal.alias = alias;
    return this;
  }
}
