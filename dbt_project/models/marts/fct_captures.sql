-- One row per capture with its plot and species attributes: the table analyses start from.
select
    s.record_id,
    s.survey_date,
    s.plot_id,
    p.plot_type,
    s.species_id,
    sp.genus,
    sp.species,
    sp.taxa,
    s.sex,
    s.hindfoot_length,
    s.weight
from {{ ref('stg_surveys') }} as s
inner join {{ ref('stg_plots') }} as p on p.plot_id = s.plot_id
left join {{ ref('stg_species') }} as sp on sp.species_id = s.species_id
