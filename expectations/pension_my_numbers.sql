-- Gate checks for one pension-service file (NENKIN_<YYYYMMDD>.dat).
--
-- Runs in an in-memory DuckDB over the records the reader keeps in
-- memory: plugins/renkei/collection.py registers them as `staged` (the
-- numbers are never written to disk for the gate). One row per data
-- record, one boolean column per check (true = the record offends); the
-- gate counts each column and keeps the first record numbers, never
-- values, and Great Expectations evaluates pension_my_numbers.json over
-- the counts.
--
-- Relations: staged (record_no, member_token, insurer_number, birth_date,
-- birth_date_invalid, my_number); earlier_files (member_token of records
-- loaded from earlier pension files); members (member_token, birth_date
-- of the latest loaded eligibility month). Variable: file_date.
-- my_number_ok() and insurer_number_ok() come from _common.sql.

create or replace temp macro file_date() as
    cast(getvariable('file_date') as date);

create or replace temp view gate_flags as
with

records as (
    select * from staged
),

earlier as (
    select * from earlier_files
),

known as (
    select * from members
),

flagged as (
    select
        records.record_no,
        -- critical: the file is wrong and nothing of it may be loaded
        count(*) over (partition by records.member_token) > 1
            as duplicate_member_key,
        count(*) over (partition by records.my_number) > 1
            as duplicate_my_number,
        records.member_token in (select member_token from earlier)
            as loaded_from_earlier_file,
        not my_number_ok(records.my_number) as invalid_my_number,
        not insurer_number_ok(records.insurer_number)
            as invalid_insurer_number,
        records.birth_date_invalid as invalid_birth_date,
        records.birth_date > file_date() as born_after_file_date,
        -- warning: reported; such a record is not stored, the rest is
        known.member_token is null as not_a_current_member,
    from records
    left join known
        on records.member_token = known.member_token
        and records.birth_date = known.birth_date
),

final as (
    select * from flagged
)

select * from final;
