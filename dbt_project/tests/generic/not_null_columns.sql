{#- Generic test: none of `columns` holds a null (failing rows: each column that does, with how
    many null rows it has).

    One test per model instead of dbt's `not_null` per column: every `dbt build` runs each test
    as its own node, and at this warehouse's size a node's fixed cost in dbt (context, compile,
    connection: tens of milliseconds) is far above the query's. One node also reads the table
    (or, inside a build, the rows the build wrote) once instead of once per column. -#}
{% test not_null_columns(model, columns) %}
with null_rows as (
    select
        {%- for column in columns %}
        coalesce(sum(case when {{ column }} is null then 1 else 0 end), 0) as {{ adapter.quote('nulls_' ~ loop.index) }}{{ ',' if not loop.last }}
        {%- endfor %}
    from {{ model }}
)
{%- for column in columns %}
select '{{ column }}' as column_name, {{ adapter.quote('nulls_' ~ loop.index) }} as null_rows
from null_rows where {{ adapter.quote('nulls_' ~ loop.index) }} > 0
{{ 'union all' if not loop.last }}
{%- endfor %}
{% endtest %}
