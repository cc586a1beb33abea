-- One row per branch (支部) seen in any eligibility extract. The branch is
-- identified by its 保険者番号; digits 3-4 are the prefecture code.

with

members as (

    select * from {{ ref('stg_eligibility__members') }}

),

prefectures as (

    select * from {{ ref('prefectures') }}

),

insurer_numbers as (

    select distinct
        insurer_number,
        substr(insurer_number, 3, 2) as prefecture_code

    from members

),

final as (

    select
        insurer_numbers.insurer_number,
        insurer_numbers.prefecture_code,
        prefectures.name_ja as prefecture_name_ja,
        prefectures.name_en as prefecture_name_en,
        -- 協会けんぽ names a branch after its prefecture without the
        -- 都/府/県 suffix (東京支部, 大阪支部); 北海道 keeps its full name.
        case
            when prefectures.name_ja = '北海道' then prefectures.name_ja
            else regexp_replace(prefectures.name_ja, '[都府県]$', '')
        end || '支部' as branch_name_ja,
        prefectures.name_en || ' branch' as branch_name_en

    from insurer_numbers
    left join prefectures
        on insurer_numbers.prefecture_code = prefectures.prefecture_code

)

select * from final
