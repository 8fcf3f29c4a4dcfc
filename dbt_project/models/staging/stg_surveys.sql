select
    record_id,
    plot_id,
    survey_date,
    species_id,
    sex,
    hindfoot_length,
    weight
from {{ source('ratdat', 'surveys') }}
