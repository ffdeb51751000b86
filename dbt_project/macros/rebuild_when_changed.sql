{# Automatic full rebuild of an incremental model when what its stored rows were computed WITH
   has changed, not only what they were computed FROM. An incremental run recomputes only the
   tail, so after an edit of the model's SQL, of a seed it reads (dim_metric, score_settings)
   or of a var its windows use, the older rows would silently keep the old logic; and dbt-mysql
   merges by key, so rows of a switched-off metric would even survive. A dbt user expects
   "edit the seed, run the pipeline" to give the new numbers everywhere, so such a model
   rebuilds itself in full instead.

   Opt-in per model with config(rebuild_when_changed={'relations': [model names it refs],
   'vars': {name: value}, 'sources': [[source name, table name, [columns]]]}): the fingerprint
   is md5 of the model's SQL (raw_code), the given vars, the contents of the given relations
   and the given columns of the given sources (a table written outside dbt, e.g. by Spark, whose
   bookkeeping columns such as a run's timestamp should not count; '<absent>' while the table
   does not exist); it is kept in the table comment (post-hook store_build_fingerprint).
   A missing or different fingerprint makes should_full_refresh() true for that run. Edits of
   the macros a model calls are not part of it: after those, run `dbt run --full-refresh`. #}

{% macro should_full_refresh() %}
    {%- set configured = config.get('full_refresh') -%}
    {%- if configured is none -%}
        {%- set configured = flags.FULL_REFRESH -%}
    {%- endif -%}
    {%- if configured or not execute or config.get('rebuild_when_changed') is none -%}
        {{ return(configured) }}
    {%- endif -%}
    {#- asked by every is_incremental() of the node (its SQL, macros and each hook): answered
        once per node and invocation. Up to the last post-hook the answer cannot change: the
        fingerprint's inputs are this node's SQL and its parents, and the comment is written
        last (store_build_fingerprint); a table just rebuilt has an empty comment, which
        differs as the old one did. Not kept while the table does not exist yet. -#}
    {%- set answer = node_cache('should_full_refresh') -%}
    {%- if 'changed' in answer -%}
        {{ return(answer['changed']) }}
    {%- endif -%}
    {%- set stored = stored_table_comment(this) -%}
    {%- if stored is none -%}
        {{ return(configured) }}  {#- no table yet: the materialization creates it anyway #}
    {%- endif -%}
    {%- set changed = stored != build_fingerprint_comment() -%}
    {%- if changed -%}
        {{ log(this.identifier ~ ": SQL, seeds or vars changed since its last build: full rebuild",
               info=true) }}
    {%- endif -%}
    {%- do answer.update({'changed': changed}) -%}
    {{ return(changed) }}
{% endmacro %}


{% macro build_fingerprint_comment() %}
    {%- if not execute -%}
        {{ return('') }}
    {%- endif -%}
    {#- computed once per node and invocation (should_full_refresh, then the post-hook): its
        inputs do not change while the node runs -#}
    {%- set fingerprint = node_cache('build_fingerprint') -%}
    {%- if 'comment' not in fingerprint -%}
        {%- do fingerprint.update({'comment': compute_build_fingerprint()}) -%}
    {%- endif -%}
    {{ return(fingerprint['comment']) }}
{% endmacro %}


{% macro compute_build_fingerprint() %}
    {%- set spec = config.get('rebuild_when_changed') -%}
    {%- set parts = [model.raw_code] -%}
    {%- for name, value in (spec.get('vars') or {}).items() | sort -%}
        {%- do parts.append(name ~ '=' ~ value) -%}
    {%- endfor -%}
    {%- for name in spec.get('relations') or [] -%}
        {%- set relation = ref(name) -%}
        {%- set columns = adapter.get_columns_in_relation(relation) | map(attribute='name') | list -%}
        {%- do parts.append(relation.identifier ~ ':' ~ rows_digest(relation, columns)) -%}
    {%- endfor -%}
    {%- for source_name, table_name, columns in spec.get('sources') or [] -%}
        {%- set relation = source(source_name, table_name) -%}
        {%- if not fp_relation_exists(relation) -%}
            {%- do parts.append(relation.identifier ~ ':<absent>') -%}
        {%- else -%}
            {%- do parts.append(relation.identifier ~ ':' ~ rows_digest(relation, columns)) -%}
        {%- endif -%}
    {%- endfor -%}
    {{ return('build fingerprint ' ~ local_md5(parts | join('\n'))) }}
{% endmacro %}


{# An order-independent digest of the rows of `relation` over `columns`: the row count and the
   sum and xor of 60-bit slices of each row's md5. Aggregates, not a group_concat of the row
   digests, which group_concat_max_len (1 MB by default) would cut short past ~32k rows. #}
{% macro rows_digest(relation, columns) %}
    {%- set values = [] -%}
    {%- for column in columns -%}
        {%- do values.append("coalesce(cast(`" ~ column ~ "` as char), '<null>')") -%}
    {%- endfor -%}
    {%- set row = "md5(concat_ws('|', " ~ values | join(', ') ~ "))" -%}
    {%- set result = run_query(
        "select concat(count(*), ':', "
        ~ "coalesce(sum(cast(conv(left(" ~ row ~ ", 15), 16, 10) as unsigned)), 0), ':', "
        ~ "coalesce(bit_xor(cast(conv(right(" ~ row ~ ", 15), 16, 10) as unsigned)), 0)) "
        ~ "from " ~ relation) -%}
    {{ return(result.rows[0][0]) }}
{% endmacro %}


{# Post-hook of a model with rebuild_when_changed: remember the fingerprint of this build. #}
{% macro store_build_fingerprint() %}
    {%- if is_incremental() -%}
        do 0  {#- an incremental run: the stored fingerprint is this one (should_full_refresh) #}
    {%- else -%}
        alter table {{ this }} comment = '{{ build_fingerprint_comment() }}'
    {%- endif -%}
{% endmacro %}
