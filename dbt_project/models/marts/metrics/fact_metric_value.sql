-- Every active metric evaluated for every candle: generated from dim_metric by the
-- metric_values macro (no per-metric SQL).
--
-- Incremental per series: the candles int_metric_inputs rewrote since this model's newest row
-- (refreshed_at) are the change; its earliest candle C is recomputed from the inputs starting
-- the longest active window (max window_size of dim_metric: lag() and the z-score/mean frames
-- read at most that many earlier rows) before C, and the rows from C on replace the stored
-- ones. A change of dim_metric (the metrics seed) or of this SQL makes the next run a full
-- rebuild by itself (rebuild_when_changed: the merge replaces rows by key, so a switched-off
-- metric's rows would otherwise stay); after editing macro metric_values or metric_transform
-- run `dbt run --full-refresh`.
{{
    config(
        materialized='incremental',
        unique_key=['symbol_id', 'interval_id', 'open_time', 'metric_id'],
        rebuild_when_changed={'relations': ['dim_metric']},
        post_hook=["{{ add_primary_key(['symbol_id', 'interval_id', 'open_time', 'metric_id']) }}",
                   "{{ add_index('ix_fact_metric_value_refreshed_at', ['refreshed_at']) }}",
                   "{{ store_build_fingerprint() }}"]
    )
}}
-- depends_on: {{ ref('dim_interval') }}, {{ ref('fact_kline_gap') }} (the look-back, incremental runs)

{%- set lookback_candles = 0 %}
{%- if execute and is_incremental() %}
{%- set lookback_candles = run_query(
    "select coalesce(max(window_size), 0) from " ~ ref('dim_metric') ~ " where is_active = 1"
    ).columns[0].values()[0] | int %}
{%- endif %}
{{ metric_values(ref('int_metric_inputs'), ref('dim_metric'),
                 windows=recompute_windows(rows_refreshed_since_this(ref('int_metric_inputs')),
                                           lookback_candles, ref('dim_interval'),
                                           ref('fact_kline_gap'))) }}
