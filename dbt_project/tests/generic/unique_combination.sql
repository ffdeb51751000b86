{# Generic test: the combination of columns is unique (failing rows: duplicated keys). #}
{% test unique_combination(model, combination) %}
select {{ combination | join(', ') }}, count(*) as row_count
from {{ model }}
group by {{ combination | join(', ') }}
having count(*) > 1
{% endtest %}
