{# CTEs `<name>_steps`, `<name>_block_peaks` and `<name>`: the rows of `relation` (with pnl_r) plus their fixed-fractional equity path per partition in trade order: equity, peak_equity, drawdown_pct. #}
{#- MariaDB evaluates a running MAX() window in quadratic time (60 s for 40,000 rows), so the
    running peak is taken in blocks of 256 trades: the running max inside the block, and the max
    of all earlier blocks' maxima (both windows stay small). -#}
{% macro backtest_equity_path(relation, partition_by, order_by, name) %}
    {%- set start = backtest_parameter('starting_equity') -%}
    {%- set risk = backtest_parameter('risk_fraction_per_trade') -%}
    {%- set partition = partition_by | join(', ') -%}
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
            -- equity after the trade: start x product of (1 + risk x R), as a sum of logs (a
            -- loss of 100% of equity or more floors the factor at 1e-12, i.e. ruin)
            {{ start }} * exp(sum(ln(greatest(1 + {{ risk }} * trades.pnl_r, 1e-12))) over (
                partition by {{ partition }} order by {{ order_by }}
                rows between unbounded preceding and current row
            )) as equity,
            floor((row_number() over (partition by {{ partition }} order by {{ order_by }}) - 1)
                / 256) as equity_block
        from {{ relation }} as trades
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
                     coalesce(block_peaks.earlier_peak, {{ start }})) as peak_equity
        from {{ name }}_steps as steps
        left join {{ name }}_block_peaks as block_peaks
            on {% for column in partition_by %}steps.{{ column }} = block_peaks.{{ column }} and {% endfor %}steps.equity_block = block_peaks.equity_block
    ) as with_peak

)
{%- endmacro %}
