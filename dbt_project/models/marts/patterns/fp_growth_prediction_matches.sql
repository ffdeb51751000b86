-- Feedback into the score: for every prediction, the significant FP-Growth WIN rules whose
-- antecedent its entry state contains (every item of the rule is an item of the prediction),
-- with the best of them by lift. Built after the Spark step; before the first mining run
-- (no rules table yet) every prediction shows zero matches instead of failing the build.
--
-- Matching by bit masks: every distinct string in a significant antecedent gets a bit (compared
-- byte for byte, as json_contains compares strings), each prediction the mask of the rule items
-- it carries, each rule the mask of its antecedent; a rule matches when its mask lies inside
-- the prediction's. A mask is mask_words words of 63 bits (bit_or of bit 63 overflows in
-- MariaDB 10.11). A rule the masks cannot express (an empty antecedent, an element that is not
-- a string, an item beyond the last bit) keeps the json_contains test of every prediction.
-- Rules are numbered once by lift (lift desc, q_value, rule_id: the order that picks the best
-- rule), so the matches are (prediction, number) integer pairs, counted and reduced to the
-- smallest number per prediction with a group by; a window over the 3.2M matches with the
-- char(64) rule_id took 90 s on the sample, json_contains over all 72k x 338 pairs 100-240 s.
--
-- Incremental per prediction: a prediction's row reads only its own fact_prediction row, its
-- own items (int_prediction_states_discretised) and the rules. With the rules unchanged, the
-- predictions to redo are those fact_prediction or the states rewrote after this model's newest
-- refreshed_at (both rewrite a series from its earliest changed candle to its end, so the
-- windows from that candle on cover them). The rules are part of the build fingerprint
-- (the columns read here, not run_id/mined_at; '<absent>' before the first mining run), so a
-- mining run that changes them, as well as a change of this SQL, makes the next run a full
-- rebuild by itself.
{%- set rules_source = source('fp_growth', 'fp_growth_win_rules') %}
{%- set mask_words = 3 %}
{%- set word_bits = 63 %}
{{
    config(
        materialized='incremental',
        unique_key=['prediction_id'],
        rebuild_when_changed={'sources': [['fp_growth', 'fp_growth_win_rules',
            ['rule_id', 'antecedent', 'confidence', 'lift', 'oos_lift', 'q_value',
             'is_significant']]]},
        post_hook=["{{ add_primary_key(['prediction_id']) }}",
                   "{{ add_index('ix_fp_growth_prediction_matches_refreshed_at', ['refreshed_at']) }}",
                   "{{ store_build_fingerprint() }}"]
    )
}}

{%- set windows = recompute_windows(
    "select symbol_id, interval_id, open_time from " ~ ref('fact_prediction') ~ "
    where " ~ changed_since_last_run('refreshed_at') ~ "
    union all
    select predictions.symbol_id, predictions.interval_id, predictions.open_time
    from " ~ ref('int_prediction_states_discretised') ~ " as states
    inner join " ~ ref('fact_prediction') ~ " as predictions
        on predictions.prediction_id = states.prediction_id
    where " ~ changed_since_last_run('states.refreshed_at', stored_column='refreshed_at'),
    0) %}

with predictions as (

    select * from {{ ref('fact_prediction') }} as fact_prediction
    where {{ in_recompute_windows('fact_prediction', windows, since='first_changed_at') }}

),

states as (

    {%- if windows is none %}
    select * from {{ ref('int_prediction_states_discretised') }}
    {%- else %}
    select states.*
    from predictions
    inner join {{ ref('int_prediction_states_discretised') }} as states
        on states.prediction_id = predictions.prediction_id
    {%- endif %}

),

{% if fp_relation_exists(rules_source) %}
significant_rules as (

    select
        rule_id,
        antecedent,
        confidence,
        lift,
        oos_lift,
        row_number() over (order by lift desc, q_value, rule_id) as lift_rank
    from {{ rules_source }}
    where is_significant

),

prediction_item_sets as (

    select prediction_id, json_arrayagg(item) as items
    from states
    group by prediction_id

),

antecedent_element_paths as (

    -- one row per element of each antecedent (none for an empty array or a scalar)
    select
        significant_rules.lift_rank,
        significant_rules.antecedent,
        concat('$[', antecedent_element.element_no - 1, ']') as element_path
    from significant_rules
    cross join json_table(
        significant_rules.antecedent, '$[*]' columns (element_no for ordinality)
    ) as antecedent_element

),

antecedent_elements as (

    -- the element's string as bytes; null for an element that is not a string
    select
        lift_rank,
        if(
            json_type(json_extract(antecedent, element_path)) = 'STRING',
            cast(json_unquote(json_extract(antecedent, element_path)) as binary),
            null
        ) as item_bytes
    from antecedent_element_paths

),

rule_items as (

    select distinct item_bytes
    from antecedent_elements
    where item_bytes is not null

),

rule_item_bits as (

    select
        item_bytes,
        convert(item_bytes using utf8mb4) as item,
        dense_rank() over (order by item_bytes) - 1 as bit_no
    from rule_items

),

prediction_masks as (

    -- states.item = item finds the rows through the item index; the bytes decide
    select
        states.prediction_id,
        {{ bit_mask_columns('rule_item_bits.bit_no', mask_words, word_bits) }}
    from rule_item_bits
    inner join states
        on states.item = rule_item_bits.item
        and cast(states.item as binary) = rule_item_bits.item_bytes
    group by states.prediction_id

),

rule_masks as (

    -- only rules whose every element is a string with a bit inside the mask
    select
        antecedent_elements.lift_rank,
        {{ bit_mask_columns('rule_item_bits.bit_no', mask_words, word_bits) }}
    from antecedent_elements
    left join rule_item_bits on rule_item_bits.item_bytes = antecedent_elements.item_bytes
    group by antecedent_elements.lift_rank
    having count(rule_item_bits.bit_no) = count(*)
        and max(rule_item_bits.bit_no) < {{ mask_words * word_bits }}

),

unmasked_rules as (

    select significant_rules.lift_rank, significant_rules.antecedent
    from significant_rules
    left join rule_masks on rule_masks.lift_rank = significant_rules.lift_rank
    where rule_masks.lift_rank is null

),

matches as (

    select prediction_masks.prediction_id, rule_masks.lift_rank
    from prediction_masks
    cross join rule_masks
    where
        {%- for word in range(mask_words) %}
        prediction_masks.mask_{{ word }} & rule_masks.mask_{{ word }} = rule_masks.mask_{{ word }}
        {%- if not loop.last %} and{% endif %}
        {%- endfor %}

    union all

    -- json_contains(array, subset): every antecedent item is one of the prediction's items
    select prediction_item_sets.prediction_id, unmasked_rules.lift_rank
    from unmasked_rules
    cross join prediction_item_sets
    where json_contains(prediction_item_sets.items, unmasked_rules.antecedent)

),
{% else %}
significant_rules as (

    select
        cast(null as char(64)) as rule_id,
        cast(null as double) as confidence,
        cast(null as double) as lift,
        cast(null as double) as oos_lift,
        cast(null as unsigned) as lift_rank
    from predictions
    where false

),

matches as (

    select prediction_id, cast(null as unsigned) as lift_rank
    from predictions
    where false

),
{% endif %}

prediction_matches as (

    -- the best match is the one with the smallest lift_rank
    select prediction_id, count(*) as matched_rule_count, min(lift_rank) as best_lift_rank
    from matches
    group by prediction_id

),

best as (

    select
        prediction_matches.prediction_id,
        prediction_matches.matched_rule_count,
        -- the column types of the window version it replaced: varchar(64), no column comments
        -- on confidence and lift (oos_lift kept its comment there too)
        cast(significant_rules.rule_id as char(64)) as rule_id,
        significant_rules.confidence + 0 as confidence,
        significant_rules.lift + 0 as lift,
        significant_rules.oos_lift
    from prediction_matches
    inner join significant_rules on significant_rules.lift_rank = prediction_matches.best_lift_rank

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
        predictions.predicting_at,
        {{ refreshed_at() }} as refreshed_at
    from predictions
    left join best on best.prediction_id = predictions.prediction_id

)

select * from final
