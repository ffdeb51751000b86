{# A metric's signal in -1..1: 0 at threshold_start, full strength (1) at threshold_end,
   clamped, signed by the metric's direction (+1 bullish, -1 bearish); null when value is null. #}
{% macro metric_signal(value, threshold_start, threshold_end, direction_sign) %}
    ({{ direction_sign }}) * least(greatest(
        (({{ value }}) - ({{ threshold_start }})) / (({{ threshold_end }}) - ({{ threshold_start }})),
        0), 1)
{% endmacro %}
