-- Per plot: how many animals of how many species were caught, over which period.
select
    p.plot_id,
    p.plot_type,
    count(c.record_id) as captures,
    count(distinct c.species_id) as species_caught,
    min(c.survey_date) as first_survey,
    max(c.survey_date) as last_survey,
    avg(c.weight) as mean_weight
from {{ ref('stg_plots') }} as p
left join {{ ref('fct_captures') }} as c on c.plot_id = p.plot_id
group by p.plot_id, p.plot_type
