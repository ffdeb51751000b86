{# Predicate keeping the rows of `alias` (fact_indicator) whose type is in dim_indicator_type (only `codes` when given), with the ids listed as literals; true on full builds (`windows` none). #}
{#- For the incremental reads of fact_indicator by recompute windows: its primary key is
    (symbol_id, interval_id, indicator_type_id, open_time), so "this series from time T" alone
    is one range over every type's whole history (about 0.45 s for two series at the sample
    size), while with the types listed MariaDB reads one short range per type. -#}
{% macro in_indicator_types(alias, windows, codes=none) %}
    {%- if windows is none or not execute -%}
        1 = 1
    {%- else -%}
        {%- set sql = "select indicator_type_id from " ~ ref('dim_indicator_type') -%}
        {%- if codes -%}
            {%- set sql = sql ~ " where indicator_code in ('" ~ codes | join("', '") ~ "')" -%}
        {%- endif -%}
        {%- set ids = run_query(sql).columns[0].values() | map('int') | list -%}
        {{ alias }}.indicator_type_id in ({{ ids | join(', ') if ids else 'null' }})
    {%- endif -%}
{% endmacro %}
