{# Incremental recompute of the per-candle metric chain (int_metric_inputs, fact_metric_value,
   int_prediction_components, fact_prediction). Every window of the chain looks back a fixed
   number of ROWS of the same series and never ahead, so when the earliest changed candle of
   a series is C, rows before C stay valid, and rows from C on are recomputed exactly from the
   input rows starting `lookback_candles` rows before C.

   series_recompute_windows: one row per (symbol_id, interval_id) with a change:
     first_changed_at  the earliest changed candle (rows from here on are merged),
     recompute_from    where the input read starts: first_changed_at minus
                       (lookback_candles + the series' missing candles before C) x interval
                       seconds (dim_interval). Windows count rows, not time, so a gap of M
                       missing candles (fact_kline_gap) would leave M rows short in a purely
                       time-based look-back; adding every missing candle of the series before C
                       is a cheap upper bound that always leaves >= lookback_candles rows.
   `changed_candles` is a query returning (symbol_id, interval_id, open_time) of changed
   candles, possibly repeated. #}
{% macro series_recompute_windows(changed_candles, lookback_candles, intervals=none, gaps=none) %}
    select
        changes.symbol_id,
        changes.interval_id,
        changes.first_changed_at,
        {%- if lookback_candles | int > 0 %}
        date_sub(changes.first_changed_at, interval
            ({{ lookback_candles }} + coalesce((
                select sum(gaps.missing_candles)
                from {{ gaps }} as gaps
                where gaps.symbol_id = changes.symbol_id
                  and gaps.interval_id = changes.interval_id
                  and gaps.gap_start_at < changes.first_changed_at), 0))
            * intervals.interval_seconds second) as recompute_from
        {%- else %}
        changes.first_changed_at as recompute_from
        {%- endif %}
    from (
        select symbol_id, interval_id, min(open_time) as first_changed_at
        from ({{ changed_candles }}) as changed_candles
        group by symbol_id, interval_id
    ) as changes
    {%- if lookback_candles | int > 0 %}
    inner join {{ intervals }} as intervals
        on intervals.interval_id = changes.interval_id
    {%- endif %}
{% endmacro %}


{# Rows of `relation` rewritten by a dbt run after this model's newest row was written: the
   change feed between models of the chain (symbol_id, interval_id, open_time). #}
{% macro rows_refreshed_since_this(relation) %}
    select symbol_id, interval_id, open_time
    from {{ relation }}
    where refreshed_at > {{ newest_refreshed_at_of_this() }}
{% endmacro %}


{# This model's newest refreshed_at: the threshold of the change feeds it reads. refreshed_at
   is the run_started_at of the dbt invocation that wrote the row; dbt invocations run one
   after another and a model always runs after its parents in the same invocation, so a
   parent row newer than this model's newest refreshed_at has not been read by it yet. Every
   write of this chain rewrites a series from some candle to its end, so the newest
   refreshed_at is on a series' last candle: reading only those rows (a loose scan of the
   primary key) finds it without a full scan. On incremental runs it is queried first (once
   per node, query_rows_once) and returned as a literal: MariaDB reads `refreshed_at > (that
   subquery)` by scanning the whole refreshed_at index (0.3 s per million rows, every build),
   a literal by a range. #}
{% macro newest_refreshed_at_of_this() %}
    {%- set newest = "(
        select coalesce(max(stored.refreshed_at), '1000-01-01')
        from " ~ this ~ " as stored
        inner join (
            select symbol_id, interval_id, max(open_time) as open_time
            from " ~ this ~ "
            group by symbol_id, interval_id
        ) as last_candles
            on last_candles.symbol_id = stored.symbol_id
            and last_candles.interval_id = stored.interval_id
            and last_candles.open_time = stored.open_time)" -%}
    {%- if execute and is_incremental() -%}
        {%- set rows = query_rows_once("select cast(" ~ newest ~ " as char)") -%}
        {%- set newest = "cast('" ~ rows[0][0] ~ "' as datetime(6))" -%}
    {%- endif -%}
    {{ return(newest) }}
{% endmacro %}


{# On incremental runs: the recompute windows (series_recompute_windows) as a list of rows
   (symbol_id, interval_id, first_changed_at, recompute_from), queried once when the model is
   compiled (query_rows_once: a pre-hook asking again gets the same rows), so the model's query filters every input by literal primary-key ranges (a join to
   a derived table made MariaDB rescan the change queries once per metric); none otherwise. #}
{% macro recompute_windows(changed_candles, lookback_candles, intervals=none, gaps=none) %}
    {%- if not execute or not is_incremental() -%}
        {{ return(none) }}
    {%- endif -%}
    {%- set rows = query_rows_once(series_recompute_windows(
        changed_candles, lookback_candles, intervals, gaps)) -%}
    {%- set windows = [] -%}
    {%- for row in rows -%}
        {%- do windows.append([row[0] | int, row[1] | int,
                               row[2].strftime('%Y-%m-%d %H:%M:%S'),
                               row[3].strftime('%Y-%m-%d %H:%M:%S')]) -%}
    {%- endfor -%}
    {%- do log(this.identifier ~ ": recompute windows " ~ windows, info=false) -%}
    {{ return(windows) }}
{% endmacro %}


{# A predicate keeping the rows of `alias` (per candle: symbol_id, interval_id, open_time)
   inside the windows: from recompute_from (the inputs, look-back included) or from
   first_changed_at (the rows to merge). True when `windows` is none (full build). #}
{% macro in_recompute_windows(alias, windows, since='recompute_from') %}
    {%- if windows is none -%}
        1 = 1
    {%- elif windows | length == 0 -%}
        1 = 0
    {%- else -%}
        ({% for w in windows %}({{ alias }}.symbol_id = {{ w[0] }} and {{ alias }}.interval_id = {{ w[1] }} and {{ alias }}.open_time >= '{{ w[3] if since == 'recompute_from' else w[2] }}'){{ ' or ' if not loop.last }}{% endfor %})
    {%- endif -%}
{% endmacro %}


{# The refreshed_at column: when this dbt invocation started (microseconds; the same for
   every row it writes). Differs between any two builds: compare tables without it. #}
{% macro refreshed_at() -%}
    cast('{{ run_started_at.strftime("%Y-%m-%d %H:%M:%S.%f") }}' as datetime(6))
{%- endmacro %}
