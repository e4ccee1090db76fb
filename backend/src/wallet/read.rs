//! Reading a wallet: the balance's breakdown and the activity list.

use chrono::{DateTime, Utc};
use domain::{
    ids::{GrantId, HoldId, UserId},
    wallet::GrantKind,
};
use serde::{Deserialize, Serialize};
use sqlx::{PgPool, types::Json};

use super::{Funding, HoldStatus, WalletError};

/// Credits of one grant that expire soon.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Expiring {
    pub grant_id: GrantId,
    pub kind: GrantKind,
    pub amount: i64,
    pub expires_at: DateTime<Utc>,
}

/// A balance and where it stands.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Breakdown {
    /// The ledger's sum (negative while in debt).
    pub balance: i64,
    /// What can be spent now: unexpired grants less open holds and debt.
    pub available: i64,
    /// Reserved by open holds.
    pub held: i64,
    /// Bought credits still unspent.
    pub paid: i64,
    /// Allowance, promotional and adjustment credits still unspent.
    pub granted: i64,
    /// Taken back beyond the credits left (a refund of spent credits):
    /// repaid by the next grants; spending waits until then.
    pub debt: i64,
    /// Credits that expire within [`EXPIRING_WITHIN_DAYS`], soonest first.
    pub expiring: Vec<Expiring>,
}

impl Breakdown {
    pub fn expiring_soon(&self) -> i64 {
        self.expiring.iter().map(|e| e.amount).sum()
    }
}

pub const EXPIRING_WITHIN_DAYS: i64 = 30;

#[derive(sqlx::FromRow)]
pub(crate) struct BreakdownRow {
    balance: i64,
    available: i64,
    held: i64,
    paid: i64,
    granted: i64,
    debt: i64,
    expiring: Json<Vec<Expiring>>,
}

impl From<BreakdownRow> for Breakdown {
    fn from(row: BreakdownRow) -> Self {
        Breakdown {
            balance: row.balance,
            available: row.available,
            held: row.held,
            paid: row.paid,
            granted: row.granted,
            debt: row.debt,
            expiring: row.expiring.0,
        }
    }
}

/// The breakdown's one row, for `$1` the user and `$2`
/// [`EXPIRING_WITHIN_DAYS`]: what [`breakdown`] runs, and what
/// [`crate::account::glance`] reads beside the plan.
pub(crate) const BREAKDOWN_SQL: &str = "\
    select b.balance, greatest(g.unexpired - h.held - d.debt, 0) as available, h.held, \
           g.paid, g.granted, d.debt, g.expiring \
    from (select coalesce((select balance from credit_balances where user_id = $1), 0) as balance) b, \
         (select coalesce(sum(amount), 0)::bigint as held from credit_holds \
           where user_id = $1 and status = 'open' and expires_at > now()) h, \
         (select coalesce(sum(outstanding), 0)::bigint as debt from credit_debts \
           where user_id = $1 and outstanding > 0) d, \
         (select coalesce(sum(remaining) filter (where expires_at is null or expires_at > now()), 0)::bigint \
                     as unexpired, \
                 coalesce(sum(remaining) filter (where kind = 'paid'), 0)::bigint as paid, \
                 coalesce(sum(remaining) filter (where kind <> 'paid'), 0)::bigint as granted, \
                 coalesce(jsonb_agg(jsonb_build_object('grant_id', id, 'kind', kind, \
                                    'amount', remaining, 'expires_at', expires_at) \
                                    order by expires_at, (kind = 'paid'), created_at) \
                          filter (where expires_at > now() \
                                    and expires_at <= now() + make_interval(days => $2)), '[]') as expiring \
           from credit_grants where user_id = $1 and remaining > 0) g";

/// The user's balance and its parts, in one query. `available` is
/// `wallet_available` (unexpired grants, less open holds, less open debt)
/// taken from the same sums, so the grants are read once.
pub async fn breakdown(pool: &PgPool, user: UserId) -> Result<Breakdown, WalletError> {
    let row: BreakdownRow = sqlx::query_as(BREAKDOWN_SQL)
        .bind(user)
        .bind(EXPIRING_WITHIN_DAYS as i32)
        .fetch_one(pool)
        .await?;
    Ok(row.into())
}

/// What a transaction was, for filtering and display.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TransactionKind {
    /// Credits in: a purchase, an allowance, promotional credits, a
    /// positive adjustment, a won dispute.
    Grant,
    /// Credits spent (a spend or a captured hold), or removed by an admin.
    Debit,
    /// Credits reserved for work in progress (no balance change).
    Hold,
    /// A grant's unused credits that expired.
    Expiry,
    /// Credits taken back by a refund or a dispute.
    Refund,
}

impl TransactionKind {
    pub const ALL: [TransactionKind; 5] = [
        TransactionKind::Grant,
        TransactionKind::Debit,
        TransactionKind::Hold,
        TransactionKind::Expiry,
        TransactionKind::Refund,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            TransactionKind::Grant => "grant",
            TransactionKind::Debit => "debit",
            TransactionKind::Hold => "hold",
            TransactionKind::Expiry => "expiry",
            TransactionKind::Refund => "refund",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        TransactionKind::ALL
            .into_iter()
            .find(|k| k.as_str() == text)
    }
}

/// One line of a wallet's activity.
#[derive(Debug, Clone, PartialEq)]
pub struct Transaction {
    /// `txn_<ledger id>` or `hold_<uuid>`.
    pub id: String,
    pub kind: TransactionKind,
    /// The ledger source (`purchase`, `usage`, …) or `hold`.
    pub source: String,
    /// Signed credits moved (a hold: minus what it reserves).
    pub amount: i64,
    /// The ledger balance after it (not for holds).
    pub balance_after: Option<i64>,
    pub description: String,
    pub service: Option<String>,
    pub model: Option<String>,
    pub metadata: Option<serde_json::Value>,
    /// A grant's kind and expiry.
    pub grant_kind: Option<GrantKind>,
    pub expires_at: Option<DateTime<Utc>>,
    /// A hold's state, or the hold a capture settled.
    pub hold_status: Option<HoldStatus>,
    pub hold_id: Option<HoldId>,
    /// A debit's grants.
    pub funded_by: Vec<Funding>,
    pub created_at: DateTime<Utc>,
    /// Where the next page starts when this is the last one shown.
    pub cursor: Cursor,
}

/// A keyset position: (time, id) of the last transaction shown.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cursor {
    at: DateTime<Utc>,
    key: String,
}

impl Cursor {
    /// `<unix micros>.<key>`: opaque to callers.
    pub fn encode(&self) -> String {
        format!("{}.{}", self.at.timestamp_micros(), self.key)
    }

    pub fn decode(text: &str) -> Option<Cursor> {
        let (micros, key) = text.split_once('.')?;
        let at = DateTime::from_timestamp_micros(micros.parse().ok()?)?;
        let valid = (key.len() == 20
            && key.starts_with('l')
            && key[1..].bytes().all(|b| b.is_ascii_digit()))
            || (key.starts_with('h') && uuid::Uuid::parse_str(&key[1..]).is_ok());
        valid.then(|| Cursor {
            at,
            key: key.to_owned(),
        })
    }
}

/// Which transactions to list.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TransactionFilter {
    pub kind: Option<TransactionKind>,
    pub service: Option<String>,
    /// After this position (the previous page's last cursor).
    pub after: Option<Cursor>,
    /// 1 to [`TransactionFilter::MAX_LIMIT`].
    pub limit: i64,
}

impl TransactionFilter {
    pub const MAX_LIMIT: i64 = 200;
    pub const DEFAULT_LIMIT: i64 = 50;
}

#[derive(sqlx::FromRow)]
struct TransactionRow {
    sort_key: String,
    kind: String,
    source: String,
    amount: i64,
    balance_after: Option<i64>,
    description: String,
    service: Option<String>,
    metadata: Option<serde_json::Value>,
    grant_kind: Option<String>,
    expires_at: Option<DateTime<Utc>>,
    hold_status: Option<String>,
    hold_id: Option<uuid::Uuid>,
    funded_by: Option<Json<Vec<Funding>>>,
    created_at: DateTime<Utc>,
}

/// The SQL kind of a ledger row `l` (matches [`TransactionKind`]).
const LEDGER_KIND: &str = "case when l.source = 'expiry' then 'expiry' \
     when l.source in ('refund', 'dispute') and l.amount < 0 then 'refund' \
     when l.amount > 0 then 'grant' else 'debit' end";

/// The user's transactions, newest first: ledger rows and holds, with the
/// grants that funded each debit.
pub async fn transactions(
    pool: &PgPool,
    user: UserId,
    filter: &TransactionFilter,
) -> Result<Vec<Transaction>, WalletError> {
    let limit = filter.limit.clamp(1, TransactionFilter::MAX_LIMIT);
    let kind = filter.kind.map(TransactionKind::as_str);
    let (after_at, after_key) = match &filter.after {
        Some(cursor) => (Some(cursor.at), Some(cursor.key.as_str())),
        None => (None, None),
    };
    let sql = format!(
        "select * from ( \
           (select 'l' || lpad(l.id::text, 19, '0') as sort_key, {LEDGER_KIND} as kind, l.source, \
                   l.amount, l.balance_after, l.description, l.service, l.metadata, \
                   g.kind as grant_kind, g.expires_at, h.status as hold_status, l.hold_id, \
                   case when l.amount < 0 then wallet_funding(l.id) end as funded_by, l.created_at \
            from credit_ledger l \
            left join credit_grants g on g.ledger_id = l.id \
            left join credit_holds h on h.id = l.hold_id \
            where l.user_id = $1 \
              and ($2::text is null or {LEDGER_KIND} = $2) \
              and ($3::text is null or l.service = $3) \
              and ($4::timestamptz is null or (l.created_at, 'l' || lpad(l.id::text, 19, '0')) < ($4, $5)) \
            order by l.created_at desc, l.id desc limit $6) \
           union all \
           (select 'h' || h.id::text, 'hold', 'hold', -h.amount, null, h.description, h.service, \
                   h.metadata, null, h.expires_at, h.status, h.id, null, h.created_at \
            from credit_holds h \
            where h.user_id = $1 and ($2::text is null or $2 = 'hold') \
              and ($3::text is null or h.service = $3) \
              and ($4::timestamptz is null or (h.created_at, 'h' || h.id::text) < ($4, $5)) \
            order by h.created_at desc, h.id desc limit $6) \
         ) t order by created_at desc, sort_key desc limit $6"
    );
    let rows: Vec<TransactionRow> = sqlx::query_as(&sql)
        .bind(user)
        .bind(kind)
        .bind(filter.service.as_deref())
        .bind(after_at)
        .bind(after_key)
        .bind(limit)
        .fetch_all(pool)
        .await?;
    rows.into_iter().map(transaction).collect()
}

fn transaction(row: TransactionRow) -> Result<Transaction, WalletError> {
    let corrupt = |what: &'static str, value: &str| WalletError::Corrupt {
        what,
        value: value.to_owned(),
    };
    let kind = TransactionKind::parse(&row.kind).ok_or_else(|| corrupt("kind", &row.kind))?;
    let grant_kind = match row.grant_kind.as_deref() {
        Some(text) => Some(GrantKind::parse(text).ok_or_else(|| corrupt("grant kind", text))?),
        None => None,
    };
    let hold_status = match row.hold_status.as_deref() {
        Some(text) => Some(HoldStatus::parse(text).ok_or_else(|| corrupt("hold status", text))?),
        None => None,
    };
    let id = match row.sort_key.strip_prefix('l') {
        Some(ledger) => format!("txn_{}", ledger.trim_start_matches('0')),
        None => format!("hold_{}", &row.sort_key[1..]),
    };
    let model = row
        .metadata
        .as_ref()
        .and_then(|m| m.get("model"))
        .and_then(|m| m.as_str())
        .map(str::to_owned);
    Ok(Transaction {
        id,
        kind,
        source: row.source,
        amount: row.amount,
        balance_after: row.balance_after,
        description: row.description,
        service: row.service,
        model,
        metadata: row.metadata,
        grant_kind,
        expires_at: row.expires_at,
        hold_status,
        hold_id: row.hold_id.map(HoldId::from_uuid),
        funded_by: row.funded_by.map(|f| f.0).unwrap_or_default(),
        cursor: Cursor {
            at: row.created_at,
            key: row.sort_key,
        },
        created_at: row.created_at,
    })
}

/// The header line of [`activity_csv`].
pub const CSV_COLUMNS: [&str; 10] = [
    "id",
    "created_at",
    "kind",
    "source",
    "amount",
    "balance_after",
    "description",
    "service",
    "model",
    "hold_status",
];

/// Every transaction of the user, newest first, as CSV (RFC 4180, CRLF),
/// read page by page.
pub async fn activity_csv(pool: &PgPool, user: UserId) -> Result<String, WalletError> {
    use crate::admin::csv::cell;
    let mut out = CSV_COLUMNS.join(",");
    out.push_str("\r\n");
    let mut filter = TransactionFilter {
        limit: TransactionFilter::MAX_LIMIT,
        ..TransactionFilter::default()
    };
    loop {
        let page = transactions(pool, user, &filter).await?;
        for t in &page {
            // Numbers as numbers; text through `cell` (quoted, formulas defused).
            let line = [
                cell(&t.id).into_owned(),
                t.created_at
                    .to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
                t.kind.as_str().to_owned(),
                t.source.clone(),
                t.amount.to_string(),
                t.balance_after.map(|b| b.to_string()).unwrap_or_default(),
                cell(&t.description).into_owned(),
                cell(t.service.as_deref().unwrap_or_default()).into_owned(),
                cell(t.model.as_deref().unwrap_or_default()).into_owned(),
                t.hold_status
                    .map(|s| s.as_str().to_owned())
                    .unwrap_or_default(),
            ];
            out.push_str(&line.join(","));
            out.push_str("\r\n");
        }
        match page.last() {
            Some(last) if page.len() as i64 == filter.limit => {
                filter.after = Some(last.cursor.clone())
            }
            _ => return Ok(out),
        }
    }
}

/// Credits `user` spent (`usage`) on each of the last `days` UTC days,
/// oldest first; every day is present, with 0 when nothing was spent.
pub async fn daily_usage(
    pool: &PgPool,
    user: UserId,
    days: i32,
) -> Result<Vec<(chrono::NaiveDate, i64)>, WalletError> {
    let rows = sqlx::query_as(
        "with span as ( \
           select (now() at time zone 'utc')::date - ($2::int - 1) as first, \
                  (now() at time zone 'utc')::date as last), \
         used as ( \
           select (l.created_at at time zone 'utc')::date as day, sum(-l.amount)::bigint as credits \
           from credit_ledger l, span \
           where l.user_id = $1 and l.source = 'usage' \
             and l.created_at >= span.first::timestamp at time zone 'utc' \
           group by 1) \
         select d::date, coalesce(used.credits, 0)::bigint \
         from span cross join lateral generate_series(span.first, span.last, interval '1 day') d \
         left join used on used.day = d::date \
         order by 1",
    )
    .bind(user)
    .bind(days.max(1))
    .fetch_all(pool)
    .await?;
    Ok(rows)
}
