-- The market score, confidence, guards, action and reasons on hand-made component scores
-- (fixture seeds fixture_prediction_components, fixture_score_settings). Each row is one case;
-- the test fails on any case whose outcome differs from the expected columns.
with cases as (

    select * from {{ ref('fixture_prediction_components') }}

),

predicted as (

    {{ score_predictions(ref('fixture_prediction_components'), ref('fixture_score_settings')) }}

),

compared as (

    select
        cases.case_name,
        cases.expected_action,
        predicted.action,
        predicted.action_reason,
        predicted.direction,
        predicted.is_conflict,
        predicted.is_weak_edge,
        predicted.is_outside_confidence_band,
        predicted.is_no_trade,
        predicted.confidence_score
    from cases
    left join predicted
        on cases.symbol_id = predicted.symbol_id
        and cases.interval_id = predicted.interval_id
        and cases.open_time = predicted.open_time
    where predicted.action is null
       or predicted.action <> cases.expected_action
       or predicted.direction <> cases.expected_direction
       or predicted.is_conflict <> cases.expected_is_conflict
       or predicted.is_weak_edge <> cases.expected_is_weak_edge
       or predicted.is_outside_confidence_band <> cases.expected_is_outside_confidence_band
       or predicted.is_no_trade <> cases.expected_is_no_trade
       or abs(predicted.confidence_score - cases.expected_confidence_score) > 1e-9
       or locate(cases.expected_reason_fragment, predicted.action_reason) = 0

)

select * from compared
