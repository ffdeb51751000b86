-- Technical indicator values per candle from the Spark job, keyed by symbol, interval,
-- indicator type and open_time (Spark's wide rows unpivoted by stg_spark__indicator_values).
-- Incremental on Spark's computed_at, which is per candle row: a run reads only the rows
-- computed after the newest computed_at already here, every value of such a row. Spark's
-- indicator job stamps all rows of one run with one computed_at, newer than any stored one,
-- moves it only for rows with a changed value, and a dbt run reads indicator_values after
-- Spark's run has committed (the pipeline and the live loop run them one after the other,
-- under the writer lock), so every row written after the previous dbt run has a newer
-- computed_at than anything already loaded: no look-back needed.
-- The computed_at index serves int_metric_inputs, which finds Spark's changes the same way.
-- refreshed_at marks the rows a build wrote, for its tests (macro get_where_subquery); an edit
-- of this SQL rebuilds the table in full by itself (macro rebuild_when_changed).
{{
    config(
        materialized='incremental',
        unique_key=['symbol_id', 'interval_id', 'indicator_type_id', 'open_time'],
        on_schema_change='fail',
        rebuild_when_changed={},
        post_hook=["{{ add_primary_key(['symbol_id', 'interval_id', 'indicator_type_id', 'open_time']) }}",
                   "{{ add_index('ix_fact_indicator_computed_at', ['computed_at']) }}",
                   "{{ add_index('ix_fact_indicator_refreshed_at', ['refreshed_at']) }}",
                   "{{ store_build_fingerprint() }}"]
    )
}}

with indicator_values as (

    select * from {{ ref('stg_spark__indicator_values') }}
    where indicator_value is not null
    {% if is_incremental() %}
      and {{ changed_since_last_run('computed_at') }}
    {% endif %}

),

symbols as (

    select * from {{ ref('dim_symbol') }}

),

intervals as (

    select * from {{ ref('dim_interval') }}

),

indicator_types as (

    select * from {{ ref('dim_indicator_type') }}

),

final as (

    select
        symbols.symbol_id,
        intervals.interval_id,
        indicator_types.indicator_type_id,
        indicator_values.indicator_value,
        indicator_values.open_time,
        indicator_values.computed_at,
        {{ refreshed_at() }} as refreshed_at
    from indicator_values
    inner join symbols
        on indicator_values.symbol_code = symbols.symbol_code
    inner join intervals
        on indicator_values.interval_code = intervals.interval_code
    inner join indicator_types
        on indicator_values.indicator_code = indicator_types.indicator_code

)

select * from final
