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

-- Tax information per member and fiscal year: the contract the tier engine
-- reads (stg_tax__information). Filled from TAX_FY<YYYY>.csv until tax
-- linkage lands; the tax-linkage DAG writes the same columns.
create table if not exists raw.tax_information (
    batch_id varchar not null,
    record_no integer not null,
    member_token varchar not null,
    fiscal_year integer not null,        -- 住民税 課税年度 (assessed on year N-1)
    is_taxable boolean not null,         -- 課税 true / 非課税 false
    income_yen bigint not null,          -- 所得 (総所得金額等)
    revenue_yen bigint not null,         -- 収入 (gross)
    public_pension_revenue_yen bigint,   -- 公的年金等収入
    pension_income_yen bigint,           -- 公的年金等に係る雑所得
    source varchar not null,             -- which interface delivered it
    received_at timestamp not null       -- Asia/Tokyo wall-clock time
);

-- 基準収入額適用申請 (income threshold applications, 70-74).
create table if not exists raw.income_threshold_applications (
    batch_id varchar not null,
    record_no integer not null,
    member_token varchar not null,       -- the insured person's token
    applied_on date not null
);
