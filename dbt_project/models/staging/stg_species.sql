select
    species_id,
    genus,
    species,
    taxa
from {{ source('ratdat', 'species') }}
