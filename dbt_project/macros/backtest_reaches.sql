{# True when `price` is at or beyond a trade's level: kind 'sl' (adverse side) or 'tp' (favourable side), mirrored for SHORT. #}
{% macro backtest_reaches(action, price, level, kind) %}
    {%- if kind == 'sl' -%}
    (case when {{ action }} = 'LONG' then {{ price }} <= {{ level }} else {{ price }} >= {{ level }} end)
    {%- elif kind == 'tp' -%}
    (case when {{ action }} = 'LONG' then {{ price }} >= {{ level }} else {{ price }} <= {{ level }} end)
    {%- else -%}
    {{ exceptions.raise_compiler_error("backtest_reaches: kind must be 'sl' or 'tp', got " ~ kind) }}
    {%- endif -%}
{% endmacro %}
