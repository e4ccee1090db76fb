//! Purchase settlement against a real database: a checkout session grants
//! its credits exactly once, whoever calls and however often.

use crate::support::TestDatabase;
use backend::{
    audit::Actor,
    ids::{CheckoutSessionId, PaymentIntentId, UserId},
    packages,
    purchases::{self, PaymentStatus, SessionPayment, Settlement},
};
use domain::{Cents, PurchaseStatus};
use sqlx::PgPool;

async fn user(pool: &PgPool, sub: &str) -> UserId {
    UserId::from_uuid(
        sqlx::query_scalar("insert into users (keycloak_sub) values ($1) returning id")
            .bind(sub)
            .fetch_one(pool)
            .await
            .unwrap(),
    )
}

/// A pending purchase of `code` for `user`, attached to a fresh session id.
async fn pending(pool: &PgPool, user: UserId, code: &str) -> CheckoutSessionId {
    let package = packages::list_active(pool)
        .await
        .unwrap()
        .into_iter()
        .find(|p| p.code.as_str() == code)
        .unwrap();
    let purchase = purchases::create_pending(pool, user, &package)
        .await
        .unwrap();
    let session =
        CheckoutSessionId::parse(format!("cs_test_{}", uuid::Uuid::new_v4().simple())).unwrap();
    purchases::attach_checkout_session(pool, purchase, &session, Some("cus_test_1"))
        .await
        .unwrap();
    session
}

/// Fulfils `session` as Stripe reports it: `status`, and (unless told
/// otherwise by [`fulfil_with`]) the purchase's own amount, in usd, in test
/// mode, which is what the tests' test key expects.
async fn fulfil(
    pool: &PgPool,
    session: &CheckoutSessionId,
    status: PaymentStatus,
    payment_intent: Option<&str>,
    actor: Actor<'_>,
) -> Result<Settlement, purchases::PurchaseError> {
    let amount: Option<i64> = sqlx::query_scalar(
        "select amount_paid_cents from credit_purchases where stripe_checkout_session_id = $1",
    )
    .bind(session.as_str())
    .fetch_optional(pool)
    .await
    .unwrap();
    let amount = amount.map(|cents| Cents::new(cents).unwrap());
    fulfil_with(pool, session, status, payment_intent, amount, actor).await
}

/// Fulfils `session` reporting `amount_total` (usd, test mode).
async fn fulfil_with(
    pool: &PgPool,
    session: &CheckoutSessionId,
    status: PaymentStatus,
    payment_intent: Option<&str>,
    amount_total: Option<Cents>,
    actor: Actor<'_>,
) -> Result<Settlement, purchases::PurchaseError> {
    let payment_intent = payment_intent.map(|id| PaymentIntentId::parse(id).unwrap());
    let payment = SessionPayment {
        status,
        payment_intent_id: payment_intent.as_ref(),
        amount_total,
        currency: Some("usd"),
        livemode: false,
    };
    purchases::fulfil(pool, session, &payment, false, actor).await
}

async fn balance(pool: &PgPool, user: UserId) -> i64 {
    crate::support::stripe::balance_of(pool, user).await
}

async fn status(pool: &PgPool, session: &CheckoutSessionId) -> String {
    crate::support::stripe::purchase_status(pool, session).await
}

async fn assert_ledger_invariant(pool: &PgPool) {
    let mismatches: i64 = sqlx::query_scalar(
        "select count(*) from credit_balances b \
         where b.balance <> (select coalesce(sum(amount), 0) from credit_ledger l where l.user_id = b.user_id)",
    )
    .fetch_one(pool)
    .await
    .unwrap();
    assert_eq!(
        mismatches, 0,
        "a balance differs from the sum of its ledger"
    );
}

#[tokio::test]
async fn a_paid_session_grants_the_purchase_credits_once() {
    let db = TestDatabase::new();
    let pool = db.migrated_pool().await;
    let alice = user(&pool, "alice").await;
    let session = pending(&pool, alice, "starter").await;

    let first = fulfil(
        &pool,
        &session,
        PaymentStatus::Paid,
        Some("pi_1"),
        Actor::StripeEvent("evt_1"),
    )
    .await
    .unwrap();
    assert!(
        matches!(first, Settlement::Applied { status: PurchaseStatus::Completed, user_id, .. } if user_id == alice)
    );
    let again = fulfil(
        &pool,
        &session,
        PaymentStatus::Paid,
        Some("pi_1"),
        Actor::SuccessReturn,
    )
    .await
    .unwrap();
    assert!(matches!(
        again,
        Settlement::AlreadySettled {
            status: PurchaseStatus::Completed,
            ..
        }
    ));

    assert_eq!(balance(&pool, alice).await, 1_000);
    assert_eq!(status(&pool, &session).await, "completed");
    let audit: i64 =
        sqlx::query_scalar("select count(*) from audit_log where action = 'purchase.completed'")
            .fetch_one(&pool)
            .await
            .unwrap();
    assert_eq!(audit, 1);
    assert_ledger_invariant(&pool).await;
}

#[tokio::test]
async fn fifty_concurrent_fulfilments_grant_exactly_once() {
    let db = TestDatabase::new();
    let pool = db.migrated_pool().await;
    let alice = user(&pool, "alice").await;
    let session = pending(&pool, alice, "pro").await;

    let calls = (0..50).map(|i| {
        let (pool, session) = (pool.clone(), session.clone());
        tokio::spawn(async move {
            let event = format!("evt_{i}");
            fulfil(
                &pool,
                &session,
                PaymentStatus::Paid,
                Some("pi_1"),
                Actor::StripeEvent(&event),
            )
            .await
            .unwrap()
        })
    });
    let results = futures_join(calls).await;
    let applied = results
        .iter()
        .filter(|r| matches!(r, Settlement::Applied { .. }))
        .count();
    assert_eq!(applied, 1, "{results:?}");

    let entries = crate::support::stripe::ledger_entries(&pool).await;
    assert_eq!(entries, 1);
    assert_eq!(balance(&pool, alice).await, 10_000);
    assert_ledger_invariant(&pool).await;
}

async fn futures_join<T: Send + 'static>(
    handles: impl Iterator<Item = tokio::task::JoinHandle<T>>,
) -> Vec<T> {
    let mut out = Vec::new();
    for handle in handles.collect::<Vec<_>>() {
        out.push(handle.await.unwrap());
    }
    out
}

#[tokio::test]
async fn credits_come_from_the_purchase_not_from_a_later_catalogue_change() {
    let db = TestDatabase::new();
    let pool = db.migrated_pool().await;
    let alice = user(&pool, "alice").await;
    let session = pending(&pool, alice, "starter").await;
    sqlx::query("update credit_packages set credits = 999999 where package_code = 'starter'")
        .execute(&pool)
        .await
        .unwrap();

    fulfil(
        &pool,
        &session,
        PaymentStatus::Paid,
        None,
        Actor::SuccessReturn,
    )
    .await
    .unwrap();
    assert_eq!(balance(&pool, alice).await, 1_000);
}

#[tokio::test]
async fn unpaid_sessions_grant_nothing_until_paid() {
    let db = TestDatabase::new();
    let pool = db.migrated_pool().await;
    let alice = user(&pool, "alice").await;
    let session = pending(&pool, alice, "starter").await;

    let unpaid = fulfil(
        &pool,
        &session,
        PaymentStatus::Unpaid,
        None,
        Actor::SuccessReturn,
    )
    .await
    .unwrap();
    assert_eq!(unpaid, Settlement::NotPaid);
    assert_eq!(status(&pool, &session).await, "pending");
    assert_eq!(balance(&pool, alice).await, 0);

    fulfil(
        &pool,
        &session,
        PaymentStatus::Paid,
        None,
        Actor::StripeEvent("evt_async"),
    )
    .await
    .unwrap();
    assert_eq!(balance(&pool, alice).await, 1_000);
}

#[tokio::test]
async fn unknown_sessions_change_nothing() {
    let db = TestDatabase::new();
    let pool = db.migrated_pool().await;
    let stranger = CheckoutSessionId::parse("cs_test_not_ours").unwrap();
    let result = fulfil(
        &pool,
        &stranger,
        PaymentStatus::Paid,
        None,
        Actor::SuccessReturn,
    )
    .await
    .unwrap();
    assert_eq!(result, Settlement::UnknownSession);
    let entries = crate::support::stripe::ledger_entries(&pool).await;
    assert_eq!(entries, 0);
}

#[tokio::test]
async fn failed_and_expired_purchases_never_grant_and_a_late_payment_waits_for_review() {
    let db = TestDatabase::new();
    let pool = db.migrated_pool().await;
    let alice = user(&pool, "alice").await;
    let failed = pending(&pool, alice, "starter").await;
    let expired = pending(&pool, alice, "standard").await;

    purchases::mark_failed(&pool, &failed, Actor::StripeEvent("evt_f"))
        .await
        .unwrap();
    purchases::mark_expired(&pool, &expired, Actor::StripeEvent("evt_e"))
        .await
        .unwrap();
    assert_eq!(status(&pool, &failed).await, "failed");
    assert_eq!(status(&pool, &expired).await, "expired");

    // A late "paid" for either grants nothing: the buyer paid, so an admin
    // is told (needs_review, with the reason), and a repeat changes nothing.
    for (session, closed) in [
        (&failed, PurchaseStatus::Failed),
        (&expired, PurchaseStatus::Expired),
    ] {
        let late = fulfil(
            &pool,
            session,
            PaymentStatus::Paid,
            Some("pi_late"),
            Actor::SuccessReturn,
        )
        .await
        .unwrap();
        assert!(
            matches!(&late, Settlement::HeldForReview { reason: purchases::ReviewReason::PaidAfter(s), .. } if *s == closed),
            "{late:?}"
        );
        assert_eq!(status(&pool, session).await, "needs_review");
        let again = fulfil(
            &pool,
            session,
            PaymentStatus::Paid,
            Some("pi_late"),
            Actor::StripeEvent("evt_again"),
        )
        .await
        .unwrap();
        assert!(
            matches!(
                again,
                Settlement::AlreadySettled {
                    status: PurchaseStatus::NeedsReview,
                    ..
                }
            ),
            "{again:?}"
        );
    }
    let reasons: Vec<String> = sqlx::query_scalar(
        "select review_reason from credit_purchases where status = 'needs_review' order by package_code",
    )
    .fetch_all(&pool)
    .await
    .unwrap();
    assert_eq!(
        reasons,
        [
            "the payment arrived after the purchase was marked expired",
            "the payment arrived after the purchase was marked failed",
        ]
    );
    assert_eq!(balance(&pool, alice).await, 0);
    // And a completed purchase cannot expire.
    let paid = pending(&pool, alice, "pro").await;
    fulfil(
        &pool,
        &paid,
        PaymentStatus::Paid,
        None,
        Actor::SuccessReturn,
    )
    .await
    .unwrap();
    purchases::mark_expired(&pool, &paid, Actor::StripeEvent("evt_late"))
        .await
        .unwrap();
    assert_eq!(status(&pool, &paid).await, "completed");
    assert_eq!(balance(&pool, alice).await, 10_000);
    assert_ledger_invariant(&pool).await;
}

#[tokio::test]
async fn a_payment_of_another_amount_is_held_and_a_full_refund_closes_it_without_credits() {
    let db = TestDatabase::new();
    let pool = db.migrated_pool().await;
    let alice = user(&pool, "alice").await;
    let session = pending(&pool, alice, "standard").await; // 5,000 credits for $45.00

    let held = fulfil_with(
        &pool,
        &session,
        PaymentStatus::Paid,
        Some("pi_short"),
        Some(Cents::new(1_000).unwrap()),
        Actor::StripeEvent("evt_short"),
    )
    .await
    .unwrap();
    assert!(
        matches!(
            held,
            Settlement::HeldForReview {
                reason: purchases::ReviewReason::AmountMismatch { .. },
                ..
            }
        ),
        "{held:?}"
    );
    assert_eq!(status(&pool, &session).await, "needs_review");
    assert_eq!(balance(&pool, alice).await, 0);

    // A partial refund in Stripe's dashboard leaves it for the admin…
    let partial = purchases::record_refund(
        &pool,
        &intent("pi_short"),
        Cents::new(400).unwrap(),
        Actor::StripeEvent("evt_r1"),
    )
    .await
    .unwrap();
    assert!(matches!(partial, Settlement::AlreadySettled { .. }));
    assert_eq!(status(&pool, &session).await, "needs_review");
    // …all that Stripe collected closes it as refunded, and no credits move.
    purchases::record_refund(
        &pool,
        &intent("pi_short"),
        Cents::new(1_000).unwrap(),
        Actor::StripeEvent("evt_r2"),
    )
    .await
    .unwrap();
    assert_eq!(status(&pool, &session).await, "refunded");
    assert_eq!(balance(&pool, alice).await, 0);
    assert_eq!(crate::support::stripe::ledger_entries(&pool).await, 0);
    assert_ledger_invariant(&pool).await;
}

#[tokio::test]
async fn refunds_take_back_the_refunded_share_once() {
    let db = TestDatabase::new();
    let pool = db.migrated_pool().await;
    let alice = user(&pool, "alice").await;
    let session = pending(&pool, alice, "standard").await; // 5,000 credits for $45.00
    fulfil(
        &pool,
        &session,
        PaymentStatus::Paid,
        Some("pi_std"),
        Actor::SuccessReturn,
    )
    .await
    .unwrap();

    // $9.00 of $45.00 refunded: a fifth of the credits go back.
    purchases::record_refund(
        &pool,
        &intent("pi_std"),
        Cents::new(900).unwrap(),
        Actor::StripeEvent("evt_r1"),
    )
    .await
    .unwrap();
    assert_eq!(status(&pool, &session).await, "partially_refunded");
    assert_eq!(balance(&pool, alice).await, 4_000);

    // The same cumulative refund reported again (an admin refund and Stripe's webhook) counts once.
    let again = purchases::record_refund(
        &pool,
        &intent("pi_std"),
        Cents::new(900).unwrap(),
        Actor::StripeEvent("evt_r1b"),
    )
    .await
    .unwrap();
    assert!(matches!(again, Settlement::AlreadySettled { .. }));
    assert_eq!(balance(&pool, alice).await, 4_000);

    // The rest: everything is taken back, exactly.
    purchases::record_refund(
        &pool,
        &intent("pi_std"),
        Cents::new(4_500).unwrap(),
        Actor::StripeEvent("evt_r2"),
    )
    .await
    .unwrap();
    assert_eq!(status(&pool, &session).await, "refunded");
    assert_eq!(balance(&pool, alice).await, 0);
    assert_ledger_invariant(&pool).await;
}

#[tokio::test]
async fn a_session_belongs_to_one_purchase() {
    let db = TestDatabase::new();
    let pool = db.migrated_pool().await;
    let alice = user(&pool, "alice").await;
    let session = pending(&pool, alice, "starter").await;
    let package = packages::list_active(&pool).await.unwrap().remove(0);
    let other = purchases::create_pending(&pool, alice, &package)
        .await
        .unwrap();
    let error = purchases::attach_checkout_session(&pool, other, &session, None)
        .await
        .unwrap_err();
    assert!(matches!(error, purchases::PurchaseError::SessionTaken(_)));
}

#[tokio::test]
async fn the_ledger_constraint_refuses_a_second_grant_even_if_the_status_is_wrong() {
    let db = TestDatabase::new();
    let pool = db.migrated_pool().await;
    let alice = user(&pool, "alice").await;
    let session = pending(&pool, alice, "starter").await;
    fulfil(
        &pool,
        &session,
        PaymentStatus::Paid,
        None,
        Actor::SuccessReturn,
    )
    .await
    .unwrap();

    // Simulate a bug that puts the purchase back to pending: the unique ledger
    // reference still stops a second grant.
    sqlx::query(
        "update credit_purchases set status = 'pending' where stripe_checkout_session_id = $1",
    )
    .bind(session.as_str())
    .execute(&pool)
    .await
    .unwrap();
    let second = fulfil(
        &pool,
        &session,
        PaymentStatus::Paid,
        None,
        Actor::SuccessReturn,
    )
    .await
    .unwrap();
    assert!(
        matches!(second, Settlement::AlreadySettled { .. }),
        "{second:?}"
    );
    assert_eq!(balance(&pool, alice).await, 1_000);
    // The refused attempt rolled back whole: the status change did not stick either.
    assert_eq!(status(&pool, &session).await, "pending");
}

fn intent(id: &str) -> PaymentIntentId {
    PaymentIntentId::parse(id).unwrap()
}

/// New purchases' and grants' ids are UUID version 7, in the order they
/// were created: each index holding such an id grows at its right edge,
/// instead of a random page per fulfilment (a full-page image in the WAL
/// after each checkpoint).
#[tokio::test]
async fn new_purchase_and_grant_ids_are_time_ordered() {
    let db = TestDatabase::new();
    let pool = db.migrated_pool().await;
    let alice = user(&pool, "alice").await;
    let package = packages::list_active(&pool).await.unwrap().remove(0);
    let mut ids = Vec::new();
    for _ in 0..5 {
        let id = purchases::create_pending(&pool, alice, &package)
            .await
            .unwrap()
            .as_uuid();
        assert_eq!(id.get_version_num(), 7, "{id}");
        ids.push(id);
        // Ids of one millisecond are ordered by their random bits.
        tokio::time::sleep(std::time::Duration::from_millis(2)).await;
    }
    let mut sorted = ids.clone();
    sorted.sort();
    assert_eq!(ids, sorted);
    let created_ms: i64 = sqlx::query_scalar(
        "select (extract(epoch from created_at) * 1000)::bigint from credit_purchases where id = $1",
    )
    .bind(ids[0])
    .fetch_one(&pool)
    .await
    .unwrap();
    let id_ms = i64::from_str_radix(&ids[0].simple().to_string()[..12], 16).unwrap();
    assert!(
        (id_ms - created_ms).abs() < 5_000,
        "the id's time {id_ms} ms is its creation's {created_ms} ms"
    );

    sqlx::query(
        "insert into credit_ledger (user_id, amount, source, reference, description) \
         values ($1, 10, 'promotional', 'test:v7', 'a grant')",
    )
    .bind(alice)
    .execute(&pool)
    .await
    .unwrap();
    let grant: uuid::Uuid = sqlx::query_scalar("select id from credit_grants where user_id = $1")
        .bind(alice)
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(grant.get_version_num(), 7, "{grant}");
    assert!(grant > ids[4], "the grant {grant} came after the purchases");
}
