-- Every stored FP-Growth rule is internally consistent: consequent ["outcome=WIN"], counts
-- ordered, confidence/support/lift equal to their counts, probabilities in [0, 1], q >= p.
-- Skips (no rows) while the Spark step has not written the table yet.
{{ config(tags=['patterns']) }}
{%- set rules = source('fp_growth', 'fp_growth_win_rules') %}
{% if fp_relation_exists(rules) %}
select *
from {{ rules }}
where json_extract(consequent, '$[0]') <> 'outcome=WIN'
    or json_length(consequent) <> 1
    or json_length(antecedent) <> antecedent_size
    or win_count > antecedent_count
    or oos_win_count > oos_antecedent_count
    or abs(confidence - win_count / antecedent_count) > 1e-9
    or abs(lift - confidence / base_win_rate) > 1e-9
    or p_value < 0 or p_value > 1
    or q_value < p_value - 1e-12 or q_value > 1
    or (oos_antecedent_count > 0 and abs(oos_confidence - oos_win_count / oos_antecedent_count) > 1e-9)
{% else %}
select 1 as no_rules_yet from (select 1 as x) as nothing where false
{% endif %}
