{# On incremental runs: this model's newest refreshed_at as a literal string (the epoch 1000-01-01 for an empty table); none on full builds. Taken when the model compiles and again when its pre-hook renders, both before the pre-hook deletes rows. #}
{% macro backtest_newest_refreshed_at() %}
    {%- if not execute or not is_incremental() -%}
        {{ return(none) }}
    {%- endif -%}
    {%- set result = run_query("select coalesce(cast(max(refreshed_at) as char), '1000-01-01') from " ~ this) -%}
    {{ return(result.rows[0][0]) }}
{% endmacro %}
