{# Pre-hook of the per-trade backtest models: delete the stored rows whose prediction_id is no
   longer in `relation` (with traded_only: no longer a LONG or SHORT row of it), e.g. a
   prediction turned NO_TRADE; `do 0` on full builds and when none vanished. The stored ids are
   read by a loose scan of the primary key (prediction_id leads it) and looked up in
   `relation` one by one, then deleted by a literal list (delete_listed_keys): a delete joined
   to `relation` scanned every stored row, 770k window rows of int_backtest_trade_candles at
   the sample size, on every build. #}
{% macro backtest_delete_vanished_trades(relation, traded_only=false) %}
    {{ delete_listed_keys('prediction_id',
        'select stored.prediction_id
         from (select distinct prediction_id from ' ~ this ~ ') as stored
         left join ' ~ relation ~ ' as kept
             on kept.prediction_id = stored.prediction_id'
             ~ (" and kept.action in ('LONG', 'SHORT')" if traded_only else '') ~ '
         where kept.prediction_id is null') }}
{% endmacro %}
