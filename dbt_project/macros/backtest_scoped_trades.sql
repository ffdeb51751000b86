{# A parenthesised query: the closed trades of fact_prediction_result, each in its symbol's scope and in scope ALL (int_backtest_trades_scoped's rows without trade_number). #}
{% macro backtest_scoped_trades() %}
    (select
        case when scopes.scope = 'ALL' then 'ALL' else symbols.symbol_code end as scope,
        results.prediction_id, results.symbol_id, results.interval_id, symbols.symbol_code,
        results.action, results.outcome, results.pnl_pct, results.pnl_r, results.bars_held,
        results.signal_open_time, results.entry_time, results.exit_time, results.closed_at
    from {{ ref('fact_prediction_result') }} as results
    inner join {{ ref('dim_symbol') }} as symbols
        on results.symbol_id = symbols.symbol_id
    cross join (select 'symbol' as scope union all select 'ALL') as scopes
    where results.is_closed = 1)
{% endmacro %}


{# SQL of (partition_value = scope, position = exit_time) where the closed trades of fact_prediction_result and int_backtest_trades_scoped's stored rows differ: a trade new, changed in `columns` (null-safe; at its old and at its new exit_time) or gone, in its symbol's scope and in ALL. #}
{#- Keyed by prediction_id, not by position as backtest_rows_differing: a trade's number is
    what this model computes. Compared in scope ALL only, which holds every trade once (its
    symbol-scope row carries the same columns), so both sides are read by primary key:
    closed trades looked up in the stored ALL rows by prediction_id, and the stored ALL rows
    (a range of the primary key) looked up in fact_prediction_result. -#}
{% macro backtest_scoped_trades_differing(columns) %}
    {%- set results = ref('fact_prediction_result') -%}
    {%- set symbols = ref('dim_symbol') -%}
    {%- set differs -%}
        {%- for column in columns -%}
        not (stored.{{ column }} <=> {{ 'symbols' if column == 'symbol_code' else 'results' }}.{{ column }})
        {{- ' or ' if not loop.last }}
        {%- endfor -%}
    {%- endset -%}
    select
        case when scopes.scope = 'ALL' then 'ALL' else changed.symbol_code end as partition_value,
        changed.exit_time as position
    from (
        select symbols.symbol_code, results.exit_time
        from {{ results }} as results
        inner join {{ symbols }} as symbols
            on symbols.symbol_id = results.symbol_id
        left join {{ this }} as stored
            on stored.prediction_id = results.prediction_id
            and stored.scope = 'ALL'
        where results.is_closed = 1
            and (stored.prediction_id is null or {{ differs }})
        union all
        select stored.symbol_code, stored.exit_time
        from {{ this }} as stored
        left join {{ results }} as results
            on results.prediction_id = stored.prediction_id
            and results.is_closed = 1
        left join {{ symbols }} as symbols
            on symbols.symbol_id = results.symbol_id
        where stored.scope = 'ALL'
            and (results.prediction_id is null or {{ differs }})
    ) as changed
    cross join (select 'symbol' as scope union all select 'ALL') as scopes
{% endmacro %}
