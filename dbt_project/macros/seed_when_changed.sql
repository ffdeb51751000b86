{# Seeds are reloaded only when they change. dbt's seed materialization truncates and reinserts
   every seed on every build; the pipeline builds after each new candle, and its 16 seeds
   (configuration: metrics, indicators, symbols, ...) almost never change. A seed's table keeps
   a fingerprint of what it was loaded from in its comment: the CSV file's checksum (dbt's, as
   in state:modified) and the configs that shape the table. When the table exists and carries
   the current fingerprint, and the build is not --full-refresh, the seed is reported
   UNCHANGED and left as it is; otherwise dbt's own seed materialization loads it and the new
   fingerprint is stored. Models that depend on a seed's contents (rebuild_when_changed) digest
   the rows themselves, so they see a reloaded seed either way. A hand-edited seed table is not
   repaired by a plain build: `dbt seed --full-refresh` reloads everything. #}
{% materialization seed, adapter='mysql' %}
    {%- set fingerprint = seed_fingerprint_comment() -%}
    {%- set existing = adapter.get_relation(database=database, schema=schema,
                                            identifier=model['alias']) -%}
    {%- if not should_full_refresh() and existing is not none and existing.is_table
          and stored_table_comment(existing) == fingerprint -%}
        {%- do store_result('agate_table', response='OK', agate_table=load_agate_table()) -%}
        {%- call noop_statement('main', 'UNCHANGED', 'UNCHANGED', 0) -%}
            -- {{ this }}: loaded from this file before ({{ fingerprint }})
        {%- endcall -%}
        {{ return({'relations': [existing]}) }}
    {%- endif -%}
    {%- set result = dbt.materialization_seed_default() -%}
    {%- do run_query("alter table " ~ this ~ " comment = '" ~ fingerprint ~ "'") -%}
    {{ return(result) }}
{% endmaterialization %}


{% macro seed_fingerprint_comment() %}
    {%- set parts = [model.checksum.checksum,
                     tojson(config.get('column_types') or {}),
                     config.get('delimiter') or ',',
                     config.get('quote_columns') | string] -%}
    {{ return('seed fingerprint ' ~ local_md5(parts | join('\n'))) }}
{% endmacro %}


{# The comment of `relation`'s table (where the build fingerprints are kept); none while the
   table does not exist. #}
{% macro stored_table_comment(relation) %}
    {%- set stored = run_query(
        "select table_comment from information_schema.tables where table_schema = '"
        ~ relation.schema ~ "' and table_name = '" ~ relation.identifier ~ "'") -%}
    {{ return(stored.rows[0][0] if stored.rows | length > 0 else none) }}
{% endmacro %}
