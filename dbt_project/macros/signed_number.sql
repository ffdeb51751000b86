{# A number as readable text with an explicit sign and fixed decimals, e.g. +1.25 / -0.40. #}
{% macro signed_number(value, decimals=2) %}
    concat(case when ({{ value }}) >= 0 then '+' else '' end,
           cast(round({{ value }}, {{ decimals }}) as decimal(20, {{ decimals }})))
{% endmacro %}
