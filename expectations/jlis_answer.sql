-- Gate checks for one J-LIS answer (JLIS_A_<run>.dat).
--
-- Runs in an in-memory DuckDB over the answer records the reader keeps in
-- memory (registered as `staged` by plugins/renkei/collection.py); one
-- row per answer record, one boolean column per check (true = offends).
-- Great Expectations evaluates jlis_answer.json over the counts.
--
-- Relations: staged (record_no, inquiry_id, result, candidate_count,
-- my_number); sent (inquiry_id of every inquiry of this run).
-- The view gate_totals adds file-level counts to the metrics.
-- my_number_ok() comes from _common.sql.

create or replace temp view gate_flags as
with

answers as (
    select * from staged
),

inquiries as (
    select * from sent
),

flagged as (
    select
        answers.record_no,
        -- critical: the answer cannot be trusted; nothing of it is taken
        count(*) over (partition by answers.inquiry_id) > 1
            as duplicate_inquiry_id,
        answers.inquiry_id not in (select inquiry_id from inquiries)
            as unknown_inquiry_id,
        answers.result not in ('1', '2', '3') as unknown_result_code,
        answers.result = '1' and answers.my_number is null
            as match_without_number,
        answers.result <> '1' and answers.my_number is not null
            as number_without_single_match,
        (answers.result = '1' and answers.candidate_count <> 1)
            or (answers.result = '2' and answers.candidate_count < 2)
            or (answers.result = '3' and answers.candidate_count <> 0)
            as candidate_count_disagrees,
        answers.my_number is not null
            and count(*) over (partition by answers.my_number) > 1
            as duplicate_my_number,
        -- warning: the member is listed as invalid; the other answers are
        -- taken
        answers.my_number is not null
            and not my_number_ok(answers.my_number)
            as invalid_my_number,
    from answers
),

final as (
    select * from flagged
)

select * from final;

create or replace temp view gate_totals as
with

answers as (
    select * from staged
),

inquiries as (
    select * from sent
),

unanswered as (
    select count(*) as unanswered_inquiries
    from inquiries
    anti join answers
        on inquiries.inquiry_id = answers.inquiry_id
),

final as (
    select * from unanswered
)

select * from final;
