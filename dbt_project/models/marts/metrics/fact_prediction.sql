-- One prediction per (symbol, interval, candle), made at the candle's close from its own and
-- earlier data: component scores, market score, confidence, guards and the action.
--
-- Incremental per series: a prediction reads only its own candle's components, so the
-- candles int_prediction_components rewrote since this model's newest row are rescored.
-- prediction_id is md5(symbol, interval, open_time): the same on incremental and full builds.
-- A change of score_settings or of this SQL makes the next run a full rebuild by itself; after
-- editing macro score_predictions run `dbt run --full-refresh`.
{{
    config(
        materialized='incremental',
        unique_key=['prediction_id'],
        rebuild_when_changed={'relations': ['score_settings']},
        post_hook=["{{ add_primary_key(['prediction_id']) }}",
                   "{{ add_index('ix_fact_prediction_candle', ['symbol_id', 'interval_id', 'open_time']) }}",
                   "{{ add_index('ix_fact_prediction_refreshed_at', ['refreshed_at']) }}",
                   "{{ store_build_fingerprint() }}"]
    )
}}

{{ score_predictions(ref('int_prediction_components'), ref('score_settings'),
                     windows=recompute_windows(
                         rows_refreshed_since_this(ref('int_prediction_components')), 0)) }}
