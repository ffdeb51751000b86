{# Incremental filter: rows whose `column` is newer than the newest `stored_column` (default: the
   same name) already in this model, minus `lookback_minutes` for late commits. An empty model
   takes every row. Used by fact_kline (landed_at, with a look-back) and by the incremental
   models that follow a parent's computed_at / refreshed_at (no look-back). #}
{% macro changed_since_last_run(column, lookback_minutes=0, stored_column=none) -%}
    {%- set stored = stored_column or column -%}
    {%- set newest = "max(" ~ stored ~ ")" -%}
    {%- if lookback_minutes | int > 0 -%}
        {%- set newest = "date_sub(" ~ newest ~ ", interval " ~ lookback_minutes ~ " minute)" -%}
    {%- endif -%}
    {{ column }} > (select coalesce({{ newest }}, '1000-01-01') from {{ this }})
{%- endmacro %}
