-- Every LONG/SHORT prediction has exactly one result row and every result row is such a
-- prediction (failing rows: the mismatches).
select predictions.prediction_id, 'prediction without result' as problem
from {{ ref('fact_prediction') }} as predictions
left join {{ ref('fact_prediction_result') }} as results
    on predictions.prediction_id = results.prediction_id
where predictions.action in ('LONG', 'SHORT') and results.prediction_id is null
union all
select results.prediction_id, 'result without a LONG/SHORT prediction' as problem
from {{ ref('fact_prediction_result') }} as results
left join {{ ref('fact_prediction') }} as predictions
    on predictions.prediction_id = results.prediction_id
    and predictions.action = results.action
where predictions.prediction_id is null
