-- The metric configuration (seed metrics.csv): what each metric reads, its window, thresholds,
-- direction, weight and score component. fact_metric_value is generated from this table.
with metrics as (

    select * from {{ ref('metrics') }}

),

final as (

    select
        cast(metric_id as unsigned) as metric_id,
        cast(metric_code as char(64)) as metric_code,
        cast(metric_name as char(128)) as metric_name,
        cast(description as char(512)) as description,
        cast(component as char(16)) as component,
        cast(input_code as char(64)) as input_code,
        cast(transform as char(16)) as transform,
        cast(direction as char(8)) as direction,
        cast(window_size as unsigned) as window_size,
        cast(threshold_start as double) as threshold_start,
        cast(threshold_end as double) as threshold_end,
        case when direction = 'bullish' then 1 else -1 end as direction_sign,
        cast(metric_weight as double) as metric_weight,
        cast(is_active as unsigned) as is_active
    from metrics

)

select * from final
