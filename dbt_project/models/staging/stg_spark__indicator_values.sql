-- Spark indicator output, unpivoted to one row per defined value. Spark writes one wide row per
-- candle (spark/indicators/_store.py): a column named by each indicator code holding its value
-- (null where undefined) and a gap flag per code, which nothing downstream reads. The codes
-- come from one place, the indicator_types seed the job computes from: every stored row is
-- paired with every code of the seed (a cross join, one scan of indicator_values) and a CASE
-- picks that code's column; codes without a column yet (never computed) give null, and nulls
-- are dropped. Ephemeral: the table appears only after the spark_indicators step, which runs
-- after the base stage.
{{ config(materialized='ephemeral') }}

{#- The CASE needs the column names when the SQL is written: the seed's codes that are columns
    of the table (none while parsing, or before Spark has run). #}
{%- set value_columns = [] %}
{%- if execute %}
    {%- set values_table = load_relation(source('staging', 'indicator_values')) %}
    {%- set types_table = load_relation(ref('indicator_types')) %}
    {%- if values_table is not none and types_table is not none %}
        {%- set stored = adapter.get_columns_in_relation(values_table)
                         | map(attribute='name') | map('lower') | list %}
        {%- if 'indicator_code' in stored %}
            {{ exceptions.raise_compiler_error(
                values_table ~ " still has the long layout (one row per value); run the Spark "
                ~ "indicator job (`cryptoquant spark indicators`), which migrates it to one row "
                ~ "per candle, before dbt") }}
        {%- endif %}
        {%- set codes = run_query("select indicator_code from " ~ types_table
                                  ~ " order by indicator_code").columns[0].values() %}
        {%- for code in codes if code | lower in stored %}
            {%- do value_columns.append(code | lower) %}
        {%- endfor %}
    {%- endif %}
{%- endif %}

with source as (

    select * from {{ source('staging', 'indicator_values') }}

),

indicator_types as (

    select indicator_code from {{ ref('indicator_types') }}

),

unpivoted as (

    select
        source.symbol as symbol_code,
        source.interval_code,
        cast(indicator_types.indicator_code as char(32)) as indicator_code,
        {%- if value_columns %}
        cast(case indicator_types.indicator_code
            {%- for column in value_columns %}
            when '{{ column }}' then source.`{{ column }}`
            {%- endfor %}
        end as double) as indicator_value,
        {%- else %}
        cast(null as double) as indicator_value,
        {%- endif %}
        cast(source.open_time as datetime) as open_time,
        source.computed_at
    from source
    cross join indicator_types

),

final as (

    select * from unpivoted
    where indicator_value is not null

)

select * from final
