-- One row per loaded eligibility extract file (one batch per month).
-- raw.load_batches is shared by every interface; this model keeps the
-- eligibility extract's batches only.

with

source as (

    select * from {{ source('eligibility', 'load_batches') }}

),

final as (

    select
        batch_id,
        interface,
        period,
        file_name,
        file_sha256,
        record_count,
        loaded_at

    from source
    where interface = 'eligibility_extract'

)

select * from final
