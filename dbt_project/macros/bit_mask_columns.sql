{# Aggregate columns mask_0 .. mask_{words-1}: the bit_or of 1 << bit_no split into words of word_bits bits each (MariaDB 10.11's bit_or overflows on bit 63, so a word holds 63). #}
{% macro bit_mask_columns(bit_no, words, word_bits) %}
    {%- for word in range(words) %}
        bit_or(if({{ bit_no }} div {{ word_bits }} = {{ word }},
                  1 << ({{ bit_no }} mod {{ word_bits }}), 0)) as mask_{{ word }}
        {%- if not loop.last %},{% endif %}
    {%- endfor %}
{% endmacro %}
