{# Pre-hook of the per-trade backtest models: delete the stored rows whose prediction_id is no longer in `relation` (with traded_only: no longer a LONG or SHORT row of it), e.g. a prediction turned NO_TRADE; `do 0` on full builds. #}
{% macro backtest_delete_vanished_trades(relation, traded_only=false) %}
    {%- if not (execute and is_incremental()) -%}
        do 0
    {%- else -%}
        delete {{ this }}
        from {{ this }}
        left join {{ relation }} as kept
            on kept.prediction_id = {{ this }}.prediction_id
            {%- if traded_only %}
            and kept.action in ('LONG', 'SHORT')
            {%- endif %}
        where kept.prediction_id is null
    {%- endif -%}
{% endmacro %}
