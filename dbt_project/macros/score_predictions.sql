{# The market score, guards and action from per-candle component scores (one row per candle of
   `components`) and the guard thresholds in `settings` (setting_code, setting_value). Shared by
   fact_prediction and the fixture tests of the scoring logic. On incremental runs `windows`
   (see recompute_windows) limits it to the changed series' candles from the first change on
   (nothing here reads other rows). Every row carries refreshed_at. #}
{% macro score_predictions(components, settings, windows=none) %}
with components as (

    select * from {{ components }} as components
    where {{ in_recompute_windows('components', windows) }}

),

settings as (

    select
        max(case when setting_code = 'conflict_threshold' then setting_value end) as conflict_threshold,
        max(case when setting_code = 'weak_edge_threshold' then setting_value end) as weak_edge_threshold,
        max(case when setting_code = 'confidence_band_min' then setting_value end) as confidence_band_min,
        max(case when setting_code = 'confidence_band_max' then setting_value end) as confidence_band_max,
        max(case when setting_code = 'squeeze_width_ratio_max' then setting_value end) as squeeze_width_ratio_max,
        max(case when setting_code = 'extreme_atr_pct_min' then setting_value end) as extreme_atr_pct_min
    from {{ settings }}

),

scored as (

    select
        components.*,
        components.trend_score + components.momentum_score + components.volume_score
            + components.volatility_score as market_score,
        greatest(components.trend_score, components.momentum_score,
                 components.volume_score, components.volatility_score) as strongest_bullish_score,
        least(components.trend_score, components.momentum_score,
              components.volume_score, components.volatility_score) as strongest_bearish_score,
        settings.conflict_threshold,
        settings.weak_edge_threshold,
        settings.confidence_band_min,
        settings.confidence_band_max,
        settings.squeeze_width_ratio_max,
        settings.extreme_atr_pct_min
    from components
    cross join settings

),

confidence as (

    select
        scored.*,
        case
            when market_score > 0 then 'bullish'
            when market_score < 0 then 'bearish'
            else 'neutral'
        end as direction,
        case when market_score >= 0 then max_bullish_score else max_bearish_score end
            as max_possible_score,
        coalesce(abs(market_score)
            / nullif(case when market_score >= 0 then max_bullish_score else max_bearish_score end, 0),
            0) as confidence_score,
        case strongest_bullish_score
            when trend_score then 'trend' when momentum_score then 'momentum'
            when volume_score then 'volume' else 'volatility'
        end as strongest_bullish_component,
        case strongest_bearish_score
            when trend_score then 'trend' when momentum_score then 'momentum'
            when volume_score then 'volume' else 'volatility'
        end as strongest_bearish_component
    from scored

),

guards as (

    select
        confidence.*,
        case when strongest_bullish_score >= conflict_threshold
                  and strongest_bearish_score <= -conflict_threshold then 1 else 0 end as is_conflict,
        case when abs(market_score) < weak_edge_threshold then 1 else 0 end as is_weak_edge,
        case when confidence_score < confidence_band_min
                  or confidence_score > confidence_band_max then 1 else 0 end
            as is_outside_confidence_band,
        case when bb_width_ratio < squeeze_width_ratio_max then 1 else 0 end as is_squeeze,
        case when atr_pct > extreme_atr_pct_min then 1 else 0 end as is_extreme_volatility,
        case when is_placeholder_candle = 1 or has_recent_gap = 1 or missing_metric_count > 0
                  or bb_width_ratio is null or atr_pct is null then 1 else 0 end as is_incomplete_data
    from confidence

),

reasons as (

    select
        guards.*,
        case when is_squeeze = 1 or is_extreme_volatility = 1 or is_incomplete_data = 1
             then 1 else 0 end as is_no_trade,
        case when is_conflict = 1 then concat(
            'components disagree: ', strongest_bullish_component, ' ', {{ signed_number('strongest_bullish_score') }},
            ' vs ', strongest_bearish_component, ' ', {{ signed_number('strongest_bearish_score') }},
            ' (conflict threshold ', {{ plain_number('conflict_threshold') }}, ')') end as conflict_reason,
        case when is_weak_edge = 1 then concat(
            'weak edge: |market score| ', {{ plain_number('abs(market_score)') }},
            ' is below ', {{ plain_number('weak_edge_threshold') }}) end as weak_edge_reason,
        case when is_outside_confidence_band = 1 then concat(
            'confidence ', {{ plain_number('confidence_score') }}, ' is outside the band ',
            {{ plain_number('confidence_band_min') }}, '..', {{ plain_number('confidence_band_max') }})
            end as confidence_band_reason,
        nullif(concat_ws('; ',
            case when is_squeeze = 1 then concat(
                'Bollinger squeeze: band width at ', {{ plain_number('bb_width_ratio') }},
                ' of its average (below ', {{ plain_number('squeeze_width_ratio_max') }}, ')') end,
            case when is_extreme_volatility = 1 then concat(
                'extreme volatility: ATR is ', {{ plain_number('100 * atr_pct') }},
                '% of the price (above ', {{ plain_number('100 * extreme_atr_pct_min') }}, '%)') end,
            case when is_placeholder_candle = 1 then 'placeholder candle (zero volume, exchange outage)' end,
            case when has_recent_gap = 1 then 'missing candles (exchange outage) in the look-back window' end,
            case when missing_metric_count > 0 or bb_width_ratio is null or atr_pct is null
                 then 'indicators still warming up (not enough history)' end
        ), '') as no_trade_reason
    from guards

),

final as (

    select
        md5(concat_ws('|', symbol_code, interval_code, date_format(open_time, '%Y-%m-%d %H:%i:%s')))
            as prediction_id,
        symbol_id,
        interval_id,
        cast(direction as char(8)) as direction,
        cast(case
            when is_conflict + is_weak_edge + is_outside_confidence_band + is_no_trade > 0
                then 'NO_TRADE'
            when market_score > 0 then 'LONG'
            when market_score < 0 then 'SHORT'
            else 'NO_TRADE'
        end as char(8)) as action,
        concat(
            case
                when is_conflict + is_weak_edge + is_outside_confidence_band + is_no_trade > 0
                    then 'NO_TRADE'
                when market_score > 0 then 'LONG'
                when market_score < 0 then 'SHORT'
                else 'NO_TRADE'
            end,
            ': market score ', {{ signed_number('market_score') }},
            ' (trend ', {{ signed_number('trend_score') }},
            ', momentum ', {{ signed_number('momentum_score') }},
            ', volume ', {{ signed_number('volume_score') }},
            ', volatility ', {{ signed_number('volatility_score') }},
            '), ', direction, ', confidence ', {{ plain_number('confidence_score') }},
            case when is_conflict + is_weak_edge + is_outside_confidence_band + is_no_trade > 0
                 then concat('. Blocked by ', concat_ws('; ', conflict_reason, weak_edge_reason,
                                                      confidence_band_reason, no_trade_reason))
                 else '' end
        ) as action_reason,
        conflict_reason,
        weak_edge_reason,
        confidence_band_reason,
        no_trade_reason,
        cast(trend_score as double) as trend_score,
        cast(momentum_score as double) as momentum_score,
        cast(volume_score as double) as volume_score,
        cast(volatility_score as double) as volatility_score,
        cast(market_score as double) as market_score,
        cast(max_possible_score as double) as max_possible_score,
        cast(confidence_score as double) as confidence_score,
        is_conflict,
        is_weak_edge,
        is_outside_confidence_band,
        is_no_trade,
        open_time,
        predicting_at,
        {{ refreshed_at() }} as refreshed_at
    from reasons

)

select * from final
{% endmacro %}
