{# Expands each article of `articles` (symbol_id, article_id, source_weight, sentiment_compound,
   published_at) to every candle of its symbol whose close lies in [published_at,
   published_at + horizon): the candles it may influence. Candle grid and intervals come from
   `candles` (interval_id, open_time, close_at). An equality key for the per-candle join.
   `windows` (recompute_windows; none: everything): only the rows from each window's
   first_changed_at on, reading only the articles that can reach them. #}
{% macro news_article_candles(articles, candles, horizon_hours, windows=none) %}
with articles as (

    select * from {{ articles }} as articles
    {%- if windows is not none %}
    -- a candle from first_changed_at on closes after it, so its articles were published
    -- after first_changed_at - horizon
    where {% if windows | length == 0 %}1 = 0{% else %}({% for w in windows %}(articles.symbol_id = {{ w[0] }} and articles.published_at > date_sub('{{ w[2] }}', interval {{ horizon_hours }} hour)){{ ' or ' if not loop.last }}{% endfor %}){% endif %}
    {%- endif %}

),

candle_intervals as (

    select
        interval_id,
        max(timestampdiff(second, open_time, close_at)) as interval_seconds,
        min(open_time) as first_open_time,
        max(open_time) as last_open_time
    from {{ candles }}
    group by interval_id

),

digits as (

    select 0 as d union all select 1 union all select 2 union all select 3 union all select 4
    union all select 5 union all select 6 union all select 7 union all select 8 union all select 9

),

offsets as (

    select ones.d + 10 * tens.d + 100 * hundreds.d + 1000 * thousands.d as candle_offset
    from digits as ones
    cross join digits as tens
    cross join digits as hundreds
    cross join digits as thousands

),

interval_offsets as (

    -- distinct: materialised before the join with the articles (else MariaDB joins all
    -- 10,000 offsets to every article first)
    select distinct
        candle_intervals.interval_id,
        candle_intervals.interval_seconds,
        candle_intervals.first_open_time,
        candle_intervals.last_open_time,
        offsets.candle_offset
    from candle_intervals
    inner join offsets
        on offsets.candle_offset * candle_intervals.interval_seconds < {{ horizon_hours }} * 3600

),

article_epochs as (

    select
        articles.*,
        -- seconds since 1970 (UTC); timestampdiff ignores the session time zone
        timestampdiff(second, '1970-01-01', articles.published_at) as published_epoch
    from articles

),

expanded as (

    select
        article_epochs.symbol_id,
        interval_offsets.interval_id,
        article_epochs.article_id,
        article_epochs.source_weight,
        article_epochs.sentiment_compound,
        article_epochs.published_at,
        -- the first candle whose close is at or after the publication, then the next ones
        -- (a datetime: date_add on a string literal gives a string)
        cast(date_add('1970-01-01', interval
            ((article_epochs.published_epoch + interval_offsets.interval_seconds - 1)
                 div interval_offsets.interval_seconds
             - 1 + interval_offsets.candle_offset) * interval_offsets.interval_seconds second)
            as datetime) as open_time,
        interval_offsets.first_open_time,
        interval_offsets.last_open_time
    from article_epochs
    cross join interval_offsets

),

final as (

    -- only candles inside the span of `candles`
    select
        symbol_id,
        interval_id,
        article_id,
        source_weight,
        sentiment_compound,
        published_at,
        open_time
    from expanded
    where open_time between first_open_time and last_open_time
      and {{ in_recompute_windows('expanded', windows, since='first_changed_at') }}

)

select * from final
{% endmacro %}
