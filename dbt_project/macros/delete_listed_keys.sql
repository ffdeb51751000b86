{# Pre-hook of an incremental model: delete the stored rows whose `key` is among the values
   `stale_keys_sql` returns (run when the hook runs, on incremental runs only), as one delete
   by a literal list; `do 0` when there are none. For keys whose rows must disappear although
   no new row replaces them (dbt's delete+insert only deletes keys it inserts again), e.g. a
   trade that is no longer closed. A literal list, because MariaDB runs
   `in (select ... from the same table)` as a dependent subquery. #}
{% macro delete_listed_keys(key, stale_keys_sql) %}
    {%- set keys = [] -%}
    {%- if execute and is_incremental() -%}
        {%- set keys = run_query(stale_keys_sql).columns[0].values() -%}
        {%- do log(this.identifier ~ ": " ~ keys | length ~ " stale " ~ key ~ " deleted", info=false) -%}
    {%- endif -%}
    {%- if keys | length == 0 -%}
        do 0
    {%- else -%}
        delete from {{ this }} where {{ key }} in ({% for k in keys %}'{{ k }}'{{ ', ' if not loop.last }}{% endfor %})
    {%- endif -%}
{% endmacro %}
