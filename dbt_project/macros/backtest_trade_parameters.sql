{# The backtest parameters a trade's window and outcome are computed with, as the `vars` of a per-trade model's rebuild_when_changed: ATR code, TP/SL multiples and lookahead, plus fee and slippage when `with_costs` (the PnL of fact_prediction_result). #}
{% macro backtest_trade_parameters(with_costs=false) %}
    {%- set names = ['atr_indicator_code', 'tp_atr_multiple', 'sl_atr_multiple',
                     'lookahead_candles'] -%}
    {%- if with_costs -%}
        {%- set names = names + ['fee_rate_per_side', 'slippage_rate_per_side'] -%}
    {%- endif -%}
    {%- set parameters = {} -%}
    {%- for name in names -%}
        {%- do parameters.update({name: backtest_parameter(name)}) -%}
    {%- endfor -%}
    {%- do return(parameters) -%}
{% endmacro %}
