-- One prediction per (symbol, interval, candle), made at the candle's close from its own and
-- earlier data: component scores, market score, confidence, guards and the action.
{{ config(post_hook=["{{ add_primary_key(['prediction_id']) }}",
                     "{{ add_index('ix_fact_prediction_candle', ['symbol_id', 'interval_id', 'open_time']) }}"]) }}

{{ score_predictions(ref('int_prediction_components'), ref('score_settings')) }}
