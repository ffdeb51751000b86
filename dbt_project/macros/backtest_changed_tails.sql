{# Incremental runs: the first changed position per partition, [[partition value, position], ...] from `changes_sql`; none on full builds. #}
{#- The backtest marts that walk a sequence per partition (scope in trade order, or scope in
    quarter order) are rewritten from the first position whose inputs changed to the end: a
    running product, peak or sum after it depends on every earlier row. `changes_sql` returns
    (partition value, position) of the changed rows, possibly repeated (see
    backtest_rows_differing); queried once when the model compiles; its pre-hook
    (backtest_delete_tails), which runs before the model's query against the same tables,
    gets the same rows (query_rows_once). -#}
{% macro backtest_changed_tails(changes_sql) %}
    {%- if not execute or not is_incremental() -%}
        {{ return(none) }}
    {%- endif -%}
    {%- set rows = query_rows_once('select changes.partition_value, min(changes.position) from ('
                                   ~ changes_sql ~ ') as changes group by changes.partition_value') -%}
    {%- set tails = [] -%}
    {%- for row in rows -%}
        {%- do tails.append([row[0] | string, row[1] | string]) -%}
    {%- endfor -%}
    {%- do log(this.identifier ~ ": rewritten from " ~ tails, info=false) -%}
    {{ return(tails) }}
{% endmacro %}
