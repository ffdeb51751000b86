{# Pre-hook: delete this model's stored rows from each tail's first changed position on (incremental runs; `do 0` otherwise), so a tail that got shorter leaves no stale rows. #}
{% macro backtest_delete_tails(tails, partition, position) %}
    {%- if tails is none or tails | length == 0 -%}
        do 0
    {%- else -%}
        delete from {{ this }} where {{ backtest_in_tails(this, tails, partition, position) }}
    {%- endif -%}
{% endmacro %}
