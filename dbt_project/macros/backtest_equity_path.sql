{# CTEs `<name>_logs`, `<name>_steps`, `<name>_block_peaks` and `<name>`: the rows of `relation` (with pnl_r) plus their fixed-fractional equity path per partition in trade order: log_equity, equity, peak_equity and drawdown_pct; optionally continued from stored `seeds`. #}
{#- MariaDB evaluates a running MAX() window in quadratic time (60 s for 40,000 rows), so the
    running peak is taken in blocks of 256 trades: the running max inside the block, and the max
    of all earlier blocks' maxima (both windows stay small).
    `seeds` (optional): a CTE or relation with one row per partition to continue, holding the
    partition columns, the order column (the last kept trade, before every row of `relation`),
    log_equity and peak_equity as stored after that trade. Its log_equity enters the running
    sum as the first row, so the sum goes on by the same additions, in the same order, as a
    build from the partition's start: MariaDB's running sum adds row by row, so the continued
    log_equity (and the equity, peak and drawdown made from it) equal the full build's
    bit for bit (tests/dbt/test_incremental_backtest.py compares them exactly). -#}
{% macro backtest_equity_path(relation, partition_by, order_by, name, seeds=none) %}
    {%- set start = backtest_parameter('starting_equity') -%}
    {%- set risk = backtest_parameter('risk_fraction_per_trade') -%}
    {%- set partition = partition_by | join(', ') -%}
{{ name }}_logs as (

    -- ln of equity / starting equity after each trade: the running sum of ln(1 + risk x R)
    -- (a loss of 100% of equity or more floors the factor at 1e-12, i.e. ruin)
    select
        {{ partition }},
        {{ order_by }},
        sum(log_step) over (
            partition by {{ partition }} order by {{ order_by }}
            rows between unbounded preceding and current row
        ) as log_equity
    from (
        {%- if seeds is not none %}
        select {{ partition }}, {{ order_by }}, log_equity as log_step
        from {{ seeds }}
        union all
        {%- endif %}
        select {{ partition }}, {{ order_by }},
               ln(greatest(1 + {{ risk }} * pnl_r, 1e-12)) as log_step
        from {{ relation }}
    ) as log_steps

),

{{ name }}_steps as (

    select
        with_equity.*,
        max(with_equity.equity) over (
            partition by {{ partition }}, with_equity.equity_block order by {{ order_by }}
            rows between unbounded preceding and current row
        ) as block_running_peak
    from (
        select
            trades.*,
            logs.log_equity,
            {{ start }} * exp(logs.log_equity) as equity,
            floor((row_number() over (partition by {% for column in partition_by %}trades.{{ column }}{{ ', ' if not loop.last }}{% endfor %} order by trades.{{ order_by }}) - 1)
                / 256) as equity_block
        from {{ relation }} as trades
        inner join {{ name }}_logs as logs
            on {% for column in partition_by %}logs.{{ column }} = trades.{{ column }} and {% endfor %}logs.{{ order_by }} = trades.{{ order_by }}
    ) as with_equity

),

{{ name }}_block_peaks as (

    select
        {{ partition }},
        equity_block,
        max(block_peak) over (
            partition by {{ partition }} order by equity_block
            rows between unbounded preceding and 1 preceding
        ) as earlier_peak
    from (
        select {{ partition }}, equity_block, max(equity) as block_peak
        from {{ name }}_steps
        group by {{ partition }}, equity_block
    ) as blocks

),

{{ name }} as (

    select
        with_peak.*,
        100 * (with_peak.equity / with_peak.peak_equity - 1) as drawdown_pct
    from (
        select
            steps.*,
            greatest({{ start }}, steps.block_running_peak,
                     coalesce(block_peaks.earlier_peak, {{ start }})
                     {%- if seeds is not none %},
                     coalesce(seeds.peak_equity, {{ start }}){% endif %}) as peak_equity
        from {{ name }}_steps as steps
        left join {{ name }}_block_peaks as block_peaks
            on {% for column in partition_by %}steps.{{ column }} = block_peaks.{{ column }} and {% endfor %}steps.equity_block = block_peaks.equity_block
        {%- if seeds is not none %}
        left join {{ seeds }} as seeds
            on {% for column in partition_by %}steps.{{ column }} = seeds.{{ column }}{{ ' and ' if not loop.last }}{% endfor %}
        {%- endif %}
    ) as with_peak

)
{%- endmacro %}
