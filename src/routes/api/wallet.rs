//! The wallet API (docs/API.md): services spend and hold credits; people,
//! services and admins read balances and activity.
//!
//! - `POST /credits/spend`, `POST /credits/holds` (spender services, with an
//!   `Idempotency-Key` header): the first answer to a key is stored and
//!   replayed (`Idempotent-Replayed: true`); another request with the same
//!   key → 422 `idempotency_key_reused`. Too few credits → 402
//!   `insufficient_credits` with `available`.
//! - `POST /credits/holds/{id}/capture` `{amount}`, `…/release`.
//! - `GET /credits/balance` and `GET /credits/transactions` (+ `/export`):
//!   the caller's own; a service or an admin names the user
//!   (`?user_id=` or `?subject=`).

use axum::{
    extract::State,
    http::{HeaderMap, HeaderName, HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};
use backend::{
    AppState,
    auth::Caller,
    ids::UserId,
    wallet::{
        self, Account, Breakdown, CaptureOutcome, Debited, Expiring, Funding, HoldStatus, NewDebit,
        ReleaseOutcome, Transaction, TransactionFilter, TransactionKind,
    },
};
use chrono::{DateTime, Utc};
use domain::{
    ids::{GrantId, HoldId},
    wallet::{GrantKind, HoldTtl, IdempotencyKey, SpendAmount, WalletInputError},
};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::{
    auth::{SpendingService, WalletCaller},
    error::{AppError, ErrorCode},
    extract::{Json, Path, Query},
};

const IDEMPOTENCY_KEY: &str = "idempotency-key";
const REPLAYED: HeaderName = HeaderName::from_static("idempotent-replayed");

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SpendRequest {
    user_id: Option<UserId>,
    subject: Option<String>,
    amount: i64,
    #[serde(default)]
    description: String,
    #[serde(default)]
    metadata: Option<Map<String, Value>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HoldRequest {
    user_id: Option<UserId>,
    subject: Option<String>,
    amount: i64,
    ttl_seconds: Option<i64>,
    #[serde(default)]
    description: String,
    #[serde(default)]
    metadata: Option<Map<String, Value>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CaptureRequest {
    amount: i64,
}

#[derive(Serialize)]
pub struct SpendView {
    transaction_id: i64,
    balance_after: i64,
    available: i64,
    funded_by: Vec<Funding>,
}

#[derive(Serialize)]
pub struct HoldView {
    hold_id: HoldId,
    status: HoldStatus,
    amount: i64,
    expires_at: DateTime<Utc>,
    available: i64,
}

#[derive(Serialize)]
pub struct CaptureView {
    hold_id: HoldId,
    status: HoldStatus,
    transaction_id: Option<i64>,
    captured: i64,
    released: i64,
    balance_after: i64,
    available: i64,
    funded_by: Vec<Funding>,
}

#[derive(Serialize)]
pub struct ReleaseView {
    hold_id: HoldId,
    status: HoldStatus,
    released: i64,
}

/// 402: the API's error shape with what is available.
#[derive(Serialize)]
pub struct InsufficientView {
    detail: String,
    code: ErrorCode,
    available: i64,
}

/// `POST /credits/spend`.
pub async fn spend(
    State(state): State<AppState>,
    SpendingService(spender): SpendingService,
    headers: HeaderMap,
    Json(request): Json<SpendRequest>,
) -> Result<Response, AppError> {
    let key = idempotency_key(&headers)?;
    let user = account(&state, request.user_id, request.subject).await?;
    let debit = debit(
        user,
        request.amount,
        &request.description,
        request.metadata,
        key,
    )?;
    let outcome = wallet::spend(&state.pool, &spender, &debit).await?;
    tracing::debug!(client = %spender.client_id, user = %user, amount = debit.amount.get(), outcome = ?outcome, "spend");
    answer(outcome, |spent| {
        replayable(
            spent.replayed,
            StatusCode::CREATED,
            SpendView {
                transaction_id: spent.transaction_id,
                balance_after: spent.balance_after,
                available: spent.available_after,
                funded_by: spent.funded_by,
            },
        )
    })
}

/// `POST /credits/holds`.
pub async fn hold(
    State(state): State<AppState>,
    SpendingService(spender): SpendingService,
    headers: HeaderMap,
    Json(request): Json<HoldRequest>,
) -> Result<Response, AppError> {
    let key = idempotency_key(&headers)?;
    let ttl = match request.ttl_seconds {
        Some(seconds) => HoldTtl::parse(seconds).map_err(invalid)?,
        None => HoldTtl::default(),
    };
    let user = account(&state, request.user_id, request.subject).await?;
    let debit = debit(
        user,
        request.amount,
        &request.description,
        request.metadata,
        key,
    )?;
    let outcome = wallet::hold(&state.pool, &spender, &debit, ttl).await?;
    answer(outcome, |held| {
        tracing::info!(client = %spender.client_id, user = %user, hold = %held.hold_id, amount = held.amount, replayed = held.replayed, "credits held");
        replayable(
            held.replayed,
            StatusCode::CREATED,
            HoldView {
                hold_id: held.hold_id,
                status: HoldStatus::Open,
                amount: held.amount,
                expires_at: held.expires_at,
                available: held.available_after,
            },
        )
    })
}

/// A spend's or a hold's answer: `done` for what was written; 402 (also
/// replayed) for too few credits or a debt; 422 for a reused key.
fn answer<T>(outcome: Debited<T>, done: impl FnOnce(T) -> Response) -> Result<Response, AppError> {
    match outcome {
        Debited::Done(value) => Ok(done(value)),
        Debited::Insufficient {
            available,
            replayed,
        } => Ok(insufficient(available, replayed, false)),
        Debited::InDebt { replayed } => Ok(insufficient(0, replayed, true)),
        Debited::KeyReused => Err(key_reused()),
        Debited::UnknownUser => Err(unknown_user()),
    }
}

/// `POST /credits/holds/{id}/capture` `{amount}`: 0 to the held amount.
pub async fn capture(
    State(state): State<AppState>,
    SpendingService(spender): SpendingService,
    Path(hold): Path<HoldId>,
    Json(request): Json<CaptureRequest>,
) -> Result<Response, AppError> {
    let amount = wallet::capture_amount(request.amount).ok_or_else(|| {
        AppError::new(
            ErrorCode::InvalidAmount,
            "amount must be a whole number of credits, 0 up to the held amount.",
        )
    })?;
    Ok(
        match wallet::capture(&state.pool, &spender, hold, amount).await? {
            CaptureOutcome::Captured(c) => {
                tracing::info!(client = %spender.client_id, hold = %hold, captured = c.captured, "hold captured");
                (
                    StatusCode::OK,
                    Json(CaptureView {
                        hold_id: c.hold_id,
                        status: HoldStatus::Captured,
                        transaction_id: c.transaction_id,
                        captured: c.captured,
                        released: c.released,
                        balance_after: c.balance_after,
                        available: c.available_after,
                        funded_by: c.funded_by,
                    }),
                )
                    .into_response()
            }
            CaptureOutcome::Unknown => return Err(unknown_hold()),
            CaptureOutcome::NotOpen(status) => return Err(not_open(status)),
            CaptureOutcome::Expired => return Err(expired()),
            CaptureOutcome::TooMuch { held } => {
                return Err(AppError::new(
                    ErrorCode::InvalidAmount,
                    format!("This hold reserved {held} credits: capture at most that."),
                ));
            }
            CaptureOutcome::Insufficient { available } => insufficient(available, false, false),
        },
    )
}

/// `POST /credits/holds/{id}/release`.
pub async fn release(
    State(state): State<AppState>,
    SpendingService(spender): SpendingService,
    Path(hold): Path<HoldId>,
) -> Result<Json<ReleaseView>, AppError> {
    match wallet::release(&state.pool, &spender, hold).await? {
        ReleaseOutcome::Released { hold_id, amount } => Ok(Json(ReleaseView {
            hold_id,
            status: HoldStatus::Released,
            released: amount,
        })),
        ReleaseOutcome::Unknown => Err(unknown_hold()),
        ReleaseOutcome::NotOpen(status) => Err(not_open(status)),
        ReleaseOutcome::Expired => Err(expired()),
    }
}

/// `?user_id=` or `?subject=`: whose wallet a service or an admin reads.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WhoseParams {
    user_id: Option<UserId>,
    subject: Option<String>,
}

#[derive(Serialize)]
pub struct BalanceView {
    balance: i64,
    user_id: UserId,
    email: Option<String>,
    available: i64,
    held: i64,
    paid: i64,
    granted: i64,
    debt: i64,
    expiring_soon: i64,
    expiring_within_days: i64,
    expiring: Vec<Expiring>,
}

/// `GET /credits/balance`: the balance and its breakdown.
pub async fn balance(
    State(state): State<AppState>,
    WalletCaller(caller): WalletCaller,
    Query(whose): Query<WhoseParams>,
) -> Result<Json<BalanceView>, AppError> {
    let (user, email) = whose_wallet(&state, &caller, whose).await?;
    let breakdown: Breakdown = wallet::breakdown(&state.pool, user).await?;
    Ok(Json(BalanceView {
        balance: breakdown.balance,
        user_id: user,
        email,
        available: breakdown.available,
        held: breakdown.held,
        paid: breakdown.paid,
        granted: breakdown.granted,
        debt: breakdown.debt,
        expiring_soon: breakdown.expiring_soon(),
        expiring_within_days: wallet::EXPIRING_WITHIN_DAYS,
        expiring: breakdown.expiring,
    }))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TransactionParams {
    user_id: Option<UserId>,
    subject: Option<String>,
    kind: Option<String>,
    service: Option<String>,
    limit: Option<i64>,
    cursor: Option<String>,
}

#[derive(Serialize)]
pub struct TransactionView {
    id: String,
    kind: TransactionKind,
    source: String,
    amount: i64,
    balance_after: Option<i64>,
    description: String,
    service: Option<String>,
    model: Option<String>,
    metadata: Option<Value>,
    grant_kind: Option<GrantKind>,
    expires_at: Option<DateTime<Utc>>,
    hold_status: Option<HoldStatus>,
    hold_id: Option<HoldId>,
    funded_by: Vec<FundingView>,
    created_at: DateTime<Utc>,
}

#[derive(Serialize)]
pub struct FundingView {
    grant_id: GrantId,
    kind: GrantKind,
    amount: i64,
}

#[derive(Serialize)]
pub struct TransactionPage {
    user_id: UserId,
    items: Vec<TransactionView>,
    /// Pass as `?cursor=` for the next page; `null` on the last.
    next_cursor: Option<String>,
}

/// `GET /credits/transactions`: newest first, keyset-paged.
pub async fn transactions(
    State(state): State<AppState>,
    WalletCaller(caller): WalletCaller,
    Query(params): Query<TransactionParams>,
) -> Result<Json<TransactionPage>, AppError> {
    let whose = WhoseParams {
        user_id: params.user_id,
        subject: params.subject,
    };
    let (user, _) = whose_wallet(&state, &caller, whose).await?;
    let bad = |detail: String| AppError::new(ErrorCode::InvalidQuery, detail);
    let kind = match params.kind.as_deref() {
        Some(text) => Some(TransactionKind::parse(text).ok_or_else(|| {
            bad(format!(
                "kind must be one of {}.",
                TransactionKind::ALL.map(TransactionKind::as_str).join(", ")
            ))
        })?),
        None => None,
    };
    let limit = params.limit.unwrap_or(TransactionFilter::DEFAULT_LIMIT);
    if !(1..=TransactionFilter::MAX_LIMIT).contains(&limit) {
        return Err(bad(format!(
            "limit must be from 1 to {}.",
            TransactionFilter::MAX_LIMIT
        )));
    }
    let after = match params.cursor.as_deref() {
        Some(text) => Some(
            wallet::Cursor::decode(text)
                .ok_or_else(|| bad("cursor is not one this API gave out.".into()))?,
        ),
        None => None,
    };
    let filter = TransactionFilter {
        kind,
        service: params.service.filter(|s| !s.is_empty()),
        after,
        limit,
    };
    let page = wallet::transactions(&state.pool, user, &filter).await?;
    let next_cursor = (page.len() as i64 == limit)
        .then(|| page.last().map(|t| t.cursor.encode()))
        .flatten();
    Ok(Json(TransactionPage {
        user_id: user,
        items: page.into_iter().map(view).collect(),
        next_cursor,
    }))
}

/// `GET /credits/transactions/export`: every transaction as CSV.
pub async fn export(
    State(state): State<AppState>,
    WalletCaller(caller): WalletCaller,
    Query(whose): Query<WhoseParams>,
) -> Result<Response, AppError> {
    let (user, _) = whose_wallet(&state, &caller, whose).await?;
    let csv = wallet::activity_csv(&state.pool, user).await?;
    let filename = format!(
        "attachment; filename=\"credits-activity-{}.csv\"",
        Utc::now().format("%Y%m%d-%H%M%S")
    );
    Ok((
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/csv; charset=utf-8"),
            ),
            (
                header::CONTENT_DISPOSITION,
                HeaderValue::from_str(&filename).map_err(crate::error::internal)?,
            ),
        ],
        csv,
    )
        .into_response())
}

pub fn view(t: Transaction) -> TransactionView {
    TransactionView {
        id: t.id,
        kind: t.kind,
        source: t.source,
        amount: t.amount,
        balance_after: t.balance_after,
        description: t.description,
        service: t.service,
        model: t.model,
        metadata: t.metadata,
        grant_kind: t.grant_kind,
        expires_at: t.expires_at,
        hold_status: t.hold_status,
        hold_id: t.hold_id,
        funded_by: t
            .funded_by
            .into_iter()
            .map(|f| FundingView {
                grant_id: f.grant_id,
                kind: f.kind,
                amount: f.amount,
            })
            .collect(),
        created_at: t.created_at,
    }
}

/// Whose wallet a read is about: a person's own (an admin may name
/// another); a service must name one and hold the spender role.
async fn whose_wallet(
    state: &AppState,
    caller: &Caller,
    whose: WhoseParams,
) -> Result<(UserId, Option<String>), AppError> {
    let named = named_account(whose.user_id, whose.subject)?;
    match (caller, named) {
        (Caller::User(user), None) => Ok((user.id, user.email.clone())),
        (Caller::User(user), Some(account)) => {
            let own = match &account {
                Account::Id(id) => *id == user.id,
                Account::Subject(sub) => *sub == user.sub,
            };
            if own {
                return Ok((user.id, user.email.clone()));
            }
            if !user.is_admin {
                return Err(AppError::forbidden());
            }
            Ok((resolve(state, &account).await?, None))
        }
        // As on every user endpoint, a token of another client is no
        // person's: only spender services read wallets by name.
        (Caller::Service(service), _) if !service.may_spend => Err(AppError::new(
            ErrorCode::InvalidToken,
            "This access token was issued to another client.",
        )),
        (Caller::Service(_), None) => Err(AppError::new(
            ErrorCode::InvalidQuery,
            "A service names the user: ?user_id= or ?subject=.",
        )),
        (Caller::Service(_), Some(account)) => Ok((resolve(state, &account).await?, None)),
    }
}

fn named_account(
    user_id: Option<UserId>,
    subject: Option<String>,
) -> Result<Option<Account>, AppError> {
    match (user_id, subject.filter(|s| !s.is_empty())) {
        (Some(id), None) => Ok(Some(Account::Id(id))),
        (None, Some(sub)) => Ok(Some(Account::Subject(sub))),
        (None, None) => Ok(None),
        (Some(_), Some(_)) => Err(AppError::new(
            ErrorCode::InvalidQuery,
            "Name the user by user_id or by subject, not both.",
        )),
    }
}

/// The user a spend names (`user_id` or `subject`, exactly one). An id is
/// taken as it is: the spend itself refuses an unknown one, in its one
/// round trip; a subject is looked up.
async fn account(
    state: &AppState,
    user_id: Option<UserId>,
    subject: Option<String>,
) -> Result<UserId, AppError> {
    match named_account(user_id, subject)
        .map_err(|e| AppError::new(ErrorCode::InvalidBody, e.detail))?
    {
        Some(Account::Id(id)) => Ok(id),
        Some(subject) => resolve(state, &subject).await,
        None => Err(AppError::new(
            ErrorCode::InvalidBody,
            "Name the user: user_id or subject.",
        )),
    }
}

async fn resolve(state: &AppState, account: &Account) -> Result<UserId, AppError> {
    wallet::resolve(&state.pool, account)
        .await?
        .ok_or_else(unknown_user)
}

fn unknown_user() -> AppError {
    AppError::new(ErrorCode::UnknownUser, "There is no such user.")
}

fn debit(
    user: UserId,
    amount: i64,
    description: &str,
    metadata: Option<Map<String, Value>>,
    key: IdempotencyKey,
) -> Result<NewDebit, AppError> {
    Ok(NewDebit {
        user,
        amount: SpendAmount::parse(amount).map_err(|e| {
            AppError::new(ErrorCode::InvalidAmount, format!("{}.", capitalised(&e)))
        })?,
        description: domain::wallet::description(description).map_err(invalid)?,
        metadata: Value::Object(metadata.unwrap_or_default()),
        key,
    })
}

fn idempotency_key(headers: &HeaderMap) -> Result<IdempotencyKey, AppError> {
    let missing = || {
        AppError::new(
            ErrorCode::MissingIdempotencyKey,
            "Send an Idempotency-Key header (1 to 255 visible ASCII characters), unique per request: a retry with the same key is applied once.",
        )
    };
    let value = headers.get(IDEMPOTENCY_KEY).ok_or_else(missing)?;
    let text = value.to_str().map_err(|_| missing())?;
    IdempotencyKey::parse(text).map_err(|_| missing())
}

fn replayable(replayed: bool, status: StatusCode, body: impl Serialize) -> Response {
    let mut response = (status, Json(body)).into_response();
    if replayed {
        response
            .headers_mut()
            .insert(REPLAYED, HeaderValue::from_static("true"));
    }
    response
}

fn insufficient(available: i64, replayed: bool, in_debt: bool) -> Response {
    let detail = if in_debt {
        "This account owes credits (a refund took back credits already spent): spending resumes once new credits repay it.".to_owned()
    } else {
        format!("Not enough credits: {available} available.")
    };
    replayable(
        replayed,
        StatusCode::PAYMENT_REQUIRED,
        InsufficientView {
            detail,
            code: ErrorCode::InsufficientCredits,
            available,
        },
    )
}

fn key_reused() -> AppError {
    AppError::new(
        ErrorCode::IdempotencyKeyReused,
        "This Idempotency-Key was used for a different request: use a new key for a new request.",
    )
}

fn unknown_hold() -> AppError {
    AppError::new(ErrorCode::UnknownHold, "There is no such hold.")
}

fn not_open(status: HoldStatus) -> AppError {
    AppError::new(
        ErrorCode::HoldNotOpen,
        format!("This hold is already {}.", status.as_str()),
    )
}

fn expired() -> AppError {
    AppError::new(
        ErrorCode::HoldExpired,
        "This hold's time ran out and its credits were released.",
    )
}

fn invalid(error: WalletInputError) -> AppError {
    AppError::new(ErrorCode::InvalidBody, format!("{}.", capitalised(&error)))
}

fn capitalised(error: &WalletInputError) -> String {
    let text = error.to_string();
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => text,
    }
}
