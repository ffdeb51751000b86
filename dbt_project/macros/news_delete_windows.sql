{# Pre-hook of an incremental per-candle model that rewrites whole recompute windows: delete
   its stored rows from each window's first_changed_at on (rows that no new row replaces, such
   as those of an article no longer tagged, would otherwise survive dbt's delete+insert by
   key); `do 0` on full builds or without windows. #}
{% macro news_delete_windows(windows) %}
    {%- if windows is none or windows | length == 0 -%}
        do 0
    {%- else -%}
        delete from {{ this }}
        where {{ in_recompute_windows(this, windows, since='first_changed_at') }}
    {%- endif -%}
{% endmacro %}
