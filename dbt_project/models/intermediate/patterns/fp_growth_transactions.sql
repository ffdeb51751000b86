-- FP-Growth's input: one transaction per closed trade (WIN, LOSS or TIMEOUT; PENDING trades
-- are not closed), made of the trade's entry states plus its outcome item. The earliest
-- in_sample_fraction of the closed trades by entry_time are mined; the rest are out of sample.
-- A table (not this folder's view): Spark reads it over JDBC and the pattern tests recount it.
{{
    config(
        materialized='table',
        post_hook=["{{ add_primary_key(['prediction_id', 'item']) }}",
                   "{{ add_index('ix_fp_growth_transactions_item', ['item']) }}"]
    )
}}

with results as (

    select * from {{ ref('fact_prediction_result') }}
    where outcome in ('WIN', 'LOSS', 'TIMEOUT')

),

states as (

    select * from {{ ref('int_prediction_states_discretised') }}

),

closed_trades as (

    select
        prediction_id,
        outcome,
        entry_time,
        row_number() over (order by entry_time, prediction_id) as trade_number,
        count(*) over () as trade_count
    from results

),

split as (

    select
        prediction_id,
        outcome,
        if(trade_number <= floor(trade_count * {{ fp_parameter('in_sample_fraction') }}), 1, 0)
            as is_in_sample
    from closed_trades

),

items as (

    select states.prediction_id, states.item
    from states
    inner join split on split.prediction_id = states.prediction_id
    union all
    select prediction_id, concat('outcome=', outcome) as item
    from split

),

final as (

    select
        items.prediction_id,
        cast(items.item as char(255)) as item,
        split.is_in_sample
    from items
    inner join split on split.prediction_id = items.prediction_id

)

select * from final
