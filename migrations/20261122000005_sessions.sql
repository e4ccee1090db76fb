-- Server-side sessions for tower-sessions' PostgresStore (its default schema
-- and table, so the store finds them without running its own migration).
create schema if not exists tower_sessions;

create table if not exists tower_sessions.session (
    id          text primary key not null,
    data        bytea not null,
    expiry_date timestamptz not null
);

create index if not exists session_expiry_idx on tower_sessions.session (expiry_date);
