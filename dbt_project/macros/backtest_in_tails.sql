{# A predicate keeping the rows of `alias` from each tail's first changed position on (`op` '>='; with `lookback` N, a numeric position, from N positions before it), or this model's stored row just before it (op 'prior'); true resp. false on full builds (tails none), false when nothing changed. #}
{% macro backtest_in_tails(alias, tails, partition, position, op='>=', lookback=0) %}
    {%- if tails is none -%}
        {{ '1 = 1' if op == '>=' else '1 = 0' }}
    {%- elif tails | length == 0 -%}
        1 = 0
    {%- elif op == 'prior' -%}
        ({% for tail in tails %}({{ alias }}.{{ partition }} = '{{ tail[0] }}' and {{ alias }}.{{ position }} = (select max(prior.{{ position }}) from {{ this }} as prior where prior.{{ partition }} = '{{ tail[0] }}' and prior.{{ position }} < '{{ tail[1] }}')){{ ' or ' if not loop.last }}{% endfor %})
    {%- elif lookback | int > 0 -%}
        ({% for tail in tails %}({{ alias }}.{{ partition }} = '{{ tail[0] }}' and {{ alias }}.{{ position }} >= {{ tail[1] | int - lookback | int }}){{ ' or ' if not loop.last }}{% endfor %})
    {%- else -%}
        ({% for tail in tails %}({{ alias }}.{{ partition }} = '{{ tail[0] }}' and {{ alias }}.{{ position }} {{ op }} '{{ tail[1] }}'){{ ' or ' if not loop.last }}{% endfor %})
    {%- endif -%}
{% endmacro %}
