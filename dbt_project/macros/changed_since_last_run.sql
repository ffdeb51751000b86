{# Incremental filter (fact_kline): rows whose `column` is newer than the newest one already in this model, minus a look-back window for late commits. #}
{% macro changed_since_last_run(column, lookback_minutes) %}
    {{ column }} > (
        select date_sub(max({{ column }}), interval {{ lookback_minutes }} minute)
        from {{ this }}
    )
{% endmacro %}
