{# A backtest parameter: the dbt var `backtest_<name>` when set (`--vars`), else its default. #}
{% macro backtest_parameter(name) %}
    {%- set defaults = {
        'atr_indicator_code': 'atr_14',
        'tp_atr_multiple': 2.0,
        'sl_atr_multiple': 1.0,
        'lookahead_candles': 24,
        'fee_rate_per_side': 0.001,
        'slippage_rate_per_side': 0.0002,
        'risk_fraction_per_trade': 0.01,
        'starting_equity': 10000,
        'rolling_window_trades': 50,
        'regression_window_candles': 48,
        'regime_adx_trend_min': 25,
        'regime_ema_code': 'ema_50',
        'regime_ema_slope_candles': 10,
        'regime_volatility_window_candles': 168,
        'regime_high_volatility_ratio': 1.25,
        'regime_low_volatility_ratio': 0.8,
    } -%}
    {%- if name not in defaults -%}
        {{ exceptions.raise_compiler_error("unknown backtest parameter: " ~ name) }}
    {%- endif -%}
    {{- var('backtest_' ~ name, defaults[name]) -}}
{% endmacro %}
