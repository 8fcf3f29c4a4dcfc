select
    plot_id,
    plot_type
from {{ source('ratdat', 'plots') }}
