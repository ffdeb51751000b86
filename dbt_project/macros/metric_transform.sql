{# SQL for one metric transform of an input column, using only the current and earlier candles
   of the same series (window frames never look ahead). #}
{% macro metric_transform(input, transform, window_size) %}
    {%- set w = window_size | int -%}
    {%- set input = "cast(" ~ input ~ " as double)" -%}
    {%- set series = "partition by symbol_id, interval_id order by open_time" -%}
    {%- if transform == 'level' -%}
        {{ input }}
    {%- elif transform == 'change' -%}
        {{ input }} - lag({{ input }}, {{ w }}) over ({{ series }})
    {%- elif transform == 'change_pct' -%}
        {{ input }} / nullif(lag({{ input }}, {{ w }}) over ({{ series }}), 0) - 1
    {%- elif transform == 'zscore' -%}
        case
            when count({{ input }}) over ({{ series }} rows between {{ w - 1 }} preceding and current row) = {{ w }}
            then ({{ input }} - avg({{ input }}) over ({{ series }} rows between {{ w - 1 }} preceding and current row))
                / nullif(stddev_samp({{ input }}) over ({{ series }} rows between {{ w - 1 }} preceding and current row), 0)
        end
    {%- elif transform == 'ratio_to_mean' -%}
        case
            when count({{ input }}) over ({{ series }} rows between {{ w }} preceding and 1 preceding) = {{ w }}
            then {{ input }} / nullif(avg({{ input }}) over ({{ series }} rows between {{ w }} preceding and 1 preceding), 0)
        end
    {%- else -%}
        {{ exceptions.raise_compiler_error("unknown metric transform '" ~ transform ~ "'") }}
    {%- endif -%}
{% endmacro %}
