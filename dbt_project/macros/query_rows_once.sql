{# The rows of `sql`, queried at most once per node and dbt invocation. A model's change query
   is rendered twice: when the model compiles (its SQL filters by the result) and again in its
   pre-hook (which deletes what the model rewrites). Both run before the model writes and
   against the same tables, so the second answer is the first: it is kept per node and
   invocation (node_cache), by the query text. #}
{% macro query_rows_once(sql) %}
    {%- if not execute -%}
        {{ return([]) }}  {#- parsing: nothing is queried #}
    {%- endif -%}
    {%- set cache = node_cache('query_rows_once') -%}
    {%- set key = local_md5(sql) -%}
    {%- if key not in cache -%}
        {%- set rows = [] -%}
        {%- for row in run_query(sql).rows -%}
            {%- do rows.append(row.values() | list) -%}
        {%- endfor -%}
        {%- do cache.update({key: rows}) -%}
    {%- else -%}
        {%- do log(this.identifier ~ ": change query answered from this node's first run", info=false) -%}
    {%- endif -%}
    {{ return(cache[key]) }}
{% endmacro %}
