-- Tax information per member and fiscal year as delivered; every delivery
-- is kept (int_tax_information_latest picks the one in force).

with

source as (

    select * from {{ source('tax', 'tax_information') }}

),

final as (

    select
        -- keys
        member_token,
        fiscal_year,

        -- facts
        is_taxable,
        income_yen,
        revenue_yen,
        public_pension_revenue_yen,
        pension_income_yen,

        -- provenance
        source,
        received_at,
        batch_id,
        record_no

    from source

)

select * from final
