-- FP-Growth's input: one transaction per closed trade (WIN, LOSS or TIMEOUT; PENDING trades
-- are not closed), made of the trade's entry states plus its outcome item. The earliest
-- in_sample_fraction of the closed trades by entry_time are mined; the rest are out of sample.
-- A table (not this folder's view): Spark reads it over JDBC and the pattern tests recount it.
--
-- Incremental per trade. The split needs the whole history (a newly closed trade can move it
-- and flip older trades' is_in_sample), so every run computes it over all closed trades
-- (one window over fact_prediction_result, cheap), and the trades redone are those whose
-- (outcome, is_in_sample) differ from the stored outcome item and flag (new, newly closed, a
-- changed outcome or a flipped split) plus those whose states int_prediction_states_discretised
-- rewrote after this model's newest refreshed_at; unique_key prediction_id replaces all their
-- rows. A stored trade that is no longer closed (e.g. a re-landed candle turned its prediction
-- into NO_TRADE; is_closed is 1 exactly for WIN, LOSS and TIMEOUT) is deleted by the pre-hook. A change of this SQL or of the seed
-- fp_growth_parameters makes the next run a full rebuild by itself.
{%- set closed_outcomes = "('WIN', 'LOSS', 'TIMEOUT')" %}
{{
    config(
        materialized='incremental',
        unique_key=['prediction_id'],
        rebuild_when_changed={'relations': ['fp_growth_parameters']},
        pre_hook=["{{ delete_listed_keys('prediction_id',
            'select stored.prediction_id
             from (select distinct prediction_id from ' ~ this ~ ') as stored
             left join ' ~ ref('fact_prediction_result') ~ ' as results
                 on results.prediction_id = stored.prediction_id and results.is_closed = 1
             where results.prediction_id is null') }}"],
        post_hook=["{{ add_primary_key(['prediction_id', 'item']) }}",
                   "{{ add_index('ix_fp_growth_transactions_item', ['item']) }}",
                   "{{ add_index('ix_fp_growth_transactions_refreshed_at', ['refreshed_at']) }}",
                   "{{ store_build_fingerprint() }}"]
    )
}}

with results as (

    select * from {{ ref('fact_prediction_result') }}
    where outcome in {{ closed_outcomes }}

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

all_splits as (

    select
        prediction_id,
        outcome,
        if(trade_number <= floor(trade_count * {{ fp_parameter('in_sample_fraction') }}), 1, 0)
            as is_in_sample
    from closed_trades

),

split as (

    {%- if is_incremental() %}
    -- the trades whose stored outcome item and flag no longer hold (or that are not stored)
    select all_splits.*
    from all_splits
    left join {{ this }} as stored
        on stored.prediction_id = all_splits.prediction_id
        and stored.item = concat('outcome=', all_splits.outcome)
        and stored.is_in_sample = all_splits.is_in_sample
    where stored.prediction_id is null
    union
    -- the trades whose entry states were rewritten since this model's newest row
    select all_splits.*
    from all_splits
    inner join (
        select distinct prediction_id
        from {{ ref('int_prediction_states_discretised') }}
        where {{ changed_since_last_run('refreshed_at') }}
    ) as restated
        on restated.prediction_id = all_splits.prediction_id
    {%- else %}
    select * from all_splits
    {%- endif %}

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
        split.is_in_sample,
        {{ refreshed_at() }} as refreshed_at
    from items
    inner join split on split.prediction_id = items.prediction_id

)

select * from final
