{# A dict kept for this node and this dbt invocation under `name`: what a node's SQL, macros and hooks compute once and share while it runs. #}
{#- It lives in `graph`, the one dict every context of an invocation shares; a new invocation
    (another `dbt build`, also in the pipeline's long-lived dbt process) parses a new graph. -#}
{% macro node_cache(name) %}
    {%- set caches = graph.setdefault('cryptoquant_node_cache', {}) -%}
    {{ return(caches.setdefault(invocation_id ~ '|' ~ model.unique_id ~ '|' ~ name, {})) }}
{% endmacro %}
