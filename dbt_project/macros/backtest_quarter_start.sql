{# The first day of the calendar quarter of a datetime expression, as a date. #}
{% macro backtest_quarter_start(column) -%}
    cast(concat(year({{ column }}), '-', lpad(3 * quarter({{ column }}) - 2, 2, '0'), '-01') as date)
{%- endmacro %}
