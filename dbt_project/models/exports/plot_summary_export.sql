-- Delivered by the synthpipe plugin's store() to the profile's `exports` destination, replacing
-- the table there: how a dbt model reaches a warehouse through synthpipe connectors.
{{ config(
    materialized='external',
    plugin='synthpipe',
    meta={'synthpipe': {'destination': 'exports', 'table': 'plot_summary'}}
) }}
select * from {{ ref('plot_summary') }}
