-- Raw tables the platform loads (dbt reads them as sources; see dbt_project/models/staging).
-- Only tokens, codes, dates and amounts: no names, addresses, 記号・番号 or My Numbers.
create schema if not exists raw;

create table if not exists raw.load_batches (
    batch_id varchar primary key,        -- '<interface>/<YYYY-MM>'
    interface varchar not null,
    period date not null,                -- first day of the month the file is for
    file_name varchar not null,
    file_sha256 varchar not null,
    record_count integer not null,
    loaded_at timestamptz not null
);

create table if not exists raw.eligibility_members (
    batch_id varchar not null,
    period date not null,
    record_no integer not null,
    member_token varchar not null,
    insured_token varchar not null,
    insurer_number varchar not null,
    branch_number varchar not null,
    relationship_code varchar not null,
    sex_code varchar not null,
    birth_date date not null,
    acquired_date date not null,
    lost_date date,
    standard_monthly_remuneration integer,
    grade_code varchar
);
