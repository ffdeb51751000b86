{#- Tests of the rows written by this build.

    Inside a `dbt build`, a test of an incremental model needs to check only the rows the build
    wrote: every incremental model stamps the rows it writes with the build's start (macro
    refreshed_at). Rows kept from earlier builds passed the same tests when they were written,
    and the seeds and SQL they depend on cannot change under them without a full rebuild
    (macro rebuild_when_changed), so re-checking them on every build costs time that grows
    with history while finding nothing new.

    Anywhere else the tests read the whole table: a separate `dbt test` (its start is not the
    build's, so a filter on it would match nothing), or any command given
    `--vars '{test_all_rows: true}'` (the scheduled whole-table check). A --full-refresh build
    rewrites every row, so there the filter covers the whole table anyway. -#}

{#- SQL condition: `column` was written by this build (`1 = 1` outside a build). For singular
    tests; generic tests say `where: "<column> >= __this_build__"` instead. -#}
{% macro tests_see_this_build_only() -%}
    {%- do return(flags.WHICH == 'build' and not var('test_all_rows', false)) -%}
{%- endmacro %}

{% macro written_by_this_build(column) -%}
    {%- if tests_see_this_build_only() -%}
        {{ column }} >= {{ refreshed_at() }}
    {%- else -%}
        1 = 1
    {%- endif -%}
{%- endmacro %}

{#- dbt's hook for a generic test's `where` config. A model whose config has
    `meta: {tests_check_rows_of_this_build: <column>}` gets `<column> >= __this_build__` on each
    of its generic tests that sets no `where` of its own, except tests that compare a row with
    others (config meta check_all_rows: no_kline_gaps, strictly_increasing); the marker `__this_build__` is the
    build's start inside a build, and anywhere else drops the filter. Other `where` configs
    work as in dbt. -#}
{% macro get_where_subquery(relation) -%}
    {%- set where = config.get('where', '') -%}
    {%- set all_rows = (config.get('meta') or {}).get('check_all_rows') -%}
    {%- if not where and not all_rows and execute and model.attached_node -%}
        {%- set tested = graph.nodes.get(model.attached_node) -%}
        {%- set column = tested.config.meta.get('tests_check_rows_of_this_build') if tested else none -%}
        {%- if column -%}
            {%- set where = column ~ ' >= __this_build__' -%}
        {%- endif -%}
    {%- endif -%}
    {%- if where and '__this_build__' in where -%}
        {%- if tests_see_this_build_only() -%}
            {%- set where = where | replace('__this_build__', refreshed_at()) -%}
        {%- else -%}
            {%- set where = '' -%}
        {%- endif -%}
    {%- endif -%}
    {%- if where -%}
        {%- do return('(select * from ' ~ relation ~ ' where ' ~ where ~ ') dbt_subquery') -%}
    {%- else -%}
        {%- do return(relation) -%}
    {%- endif -%}
{%- endmacro %}
