{# A scalar subquery reading one value of the seed fp_growth_parameters. #}
{% macro fp_parameter(parameter_code) %}
    (select parameter_value from {{ ref('fp_growth_parameters') }}
     where parameter_code = '{{ parameter_code }}')
{% endmacro %}
