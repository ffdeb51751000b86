{# On incremental runs of int_news_articles_expanded_to_candles: the recompute windows
   (recompute_windows, no look-back) per (symbol, interval) from the earliest candle whose
   article rows may differ from the stored ones, to the end of the series; none on full builds.
   Two causes: a candle of `candles` (fact_kline) rewritten since this model last wrote (a new
   candle can widen the candle span of its interval, which bounds every symbol's rows, so it
   opens a window for every symbol from that candle), and an article of `articles` new, changed
   (weight, score, publication) or gone (untagged, unscored): the stored distinct article rows
   against the current ones, EXCEPT both ways, so a window opens one interval before the old
   and before the new publication. Only articles that can have a candle in the span of
   `candles` are compared (published after the first candle's close minus the horizon, by the
   last candle's close; per series, read by a loose scan of the primary key): the others have
   no stored rows, and would otherwise look new on every run. With several intervals the bounds
   are the widest over them, so a few articles without rows may still open a window (more work,
   same rows). Called by the model and by its pre-hook (news_delete_windows), both before the
   model writes, so they agree. #}
{% macro news_article_candle_windows(articles, candles, intervals, horizon_hours) %}
    {%- set articles_in_span = "(
        select articles.symbol_id, articles.article_id, articles.source_weight,
            articles.sentiment_compound, articles.published_at
        from " ~ articles ~ " as articles
        inner join (
            select
                date_sub(min(date_add(series.first_open_time,
                                      interval intervals.interval_seconds second)),
                         interval " ~ horizon_hours ~ " hour) as published_after,
                max(date_add(series.last_open_time,
                             interval intervals.interval_seconds second)) as published_by
            from (
                select symbol_id, interval_id, min(open_time) as first_open_time,
                    max(open_time) as last_open_time
                from " ~ candles ~ "
                group by symbol_id, interval_id
            ) as series
            inner join " ~ intervals ~ " as intervals
                on intervals.interval_id = series.interval_id
        ) as span
            on articles.published_at > span.published_after
            and articles.published_at <= span.published_by
    ) as articles_in_span" -%}
    {{ return(recompute_windows(
        "select symbols.symbol_id, changed_candles.interval_id, changed_candles.open_time
        from (" ~ rows_refreshed_since_this(candles) ~ ") as changed_candles
        cross join (
            select distinct symbol_id from " ~ articles ~ "
        ) as symbols
        union all
        select changed_articles.symbol_id, intervals.interval_id,
            date_sub(changed_articles.published_at,
                     interval intervals.interval_seconds second) as open_time
        from (
            select * from (
                select * from " ~ articles_in_span ~ "
                except
                select distinct symbol_id, article_id, source_weight, sentiment_compound,
                    published_at
                from " ~ this ~ "
            ) as new_values
            union all
            select * from (
                select distinct symbol_id, article_id, source_weight, sentiment_compound,
                    published_at
                from " ~ this ~ "
                except
                select * from " ~ articles_in_span ~ "
            ) as old_values
        ) as changed_articles
        cross join " ~ intervals ~ " as intervals",
        0)) }}
{% endmacro %}
