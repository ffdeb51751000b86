-- Feedback into the score: for every prediction, the significant FP-Growth WIN rules whose
-- antecedent its entry state contains (every item of the rule is an item of the prediction),
-- with the best of them by lift. Built after the Spark step; before the first mining run
-- (no rules table yet) every prediction shows zero matches instead of failing the build.
{%- set rules_source = source('fp_growth', 'fp_growth_win_rules') %}

with predictions as (

    select * from {{ ref('fact_prediction') }}

),

states as (

    select * from {{ ref('int_prediction_states_discretised') }}

),

{% if fp_relation_exists(rules_source) %}
significant_rules as (

    select rule_id, antecedent, confidence, lift, q_value, oos_lift
    from {{ rules_source }}
    where is_significant

),

prediction_item_sets as (

    select prediction_id, json_arrayagg(item) as items
    from states
    group by prediction_id

),

matches as (

    -- json_contains(array, subset): every antecedent item is one of the prediction's items
    select prediction_item_sets.prediction_id, significant_rules.rule_id
    from prediction_item_sets
    cross join significant_rules
    where json_contains(prediction_item_sets.items, significant_rules.antecedent)

),
{% else %}
significant_rules as (

    select
        cast(null as char(64)) as rule_id,
        cast(null as double) as confidence,
        cast(null as double) as lift,
        cast(null as double) as q_value,
        cast(null as double) as oos_lift
    from predictions
    where false

),

matches as (

    select cast(null as char(64)) as rule_id, prediction_id
    from predictions
    where false

),
{% endif %}

ranked as (

    select
        matches.prediction_id,
        significant_rules.rule_id,
        significant_rules.confidence,
        significant_rules.lift,
        significant_rules.oos_lift,
        count(*) over (partition by matches.prediction_id) as matched_rule_count,
        row_number() over (
            partition by matches.prediction_id
            order by significant_rules.lift desc, significant_rules.q_value, significant_rules.rule_id
        ) as lift_rank
    from matches
    inner join significant_rules on significant_rules.rule_id = matches.rule_id

),

best as (

    select * from ranked where lift_rank = 1

),

final as (

    select
        predictions.prediction_id,
        predictions.symbol_id,
        predictions.interval_id,
        best.rule_id as best_rule_id,
        predictions.action,
        coalesce(best.matched_rule_count, 0) as matched_rule_count,
        best.lift as best_rule_lift,
        best.confidence as best_rule_confidence,
        best.oos_lift as best_rule_oos_lift,
        if(best.rule_id is null, 0, 1) as has_significant_rule,
        predictions.open_time,
        predictions.predicting_at
    from predictions
    left join best on best.prediction_id = predictions.prediction_id

)

select * from final
