{# A number as readable text with fixed decimals, e.g. 0.25. #}
{% macro plain_number(value, decimals=2) %}
    cast(round({{ value }}, {{ decimals }}) as decimal(20, {{ decimals }}))
{% endmacro %}
