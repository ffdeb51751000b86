-- Every active metric evaluated for every candle: generated from dim_metric by the
-- metric_values macro (no per-metric SQL).
{{ config(post_hook=["{{ add_primary_key(['symbol_id', 'interval_id', 'open_time', 'metric_id']) }}"]) }}

{{ metric_values(ref('int_metric_inputs'), ref('dim_metric')) }}
