//! The wallet's invariants, checked across the whole database. Tests run
//! [`violations`] after every scenario; each line names what is off.

use sqlx::PgPool;

/// Every broken invariant, one line each; empty when all hold:
/// - each balance is the sum of its ledger;
/// - each balance is its grants' remainders less its open debt;
/// - each grant's remainder is its amount less what it funded;
/// - each positive ledger row made exactly one grant of its amount;
/// - each debit is funded, or owed, exactly: uses + open debt = its amount;
/// - nothing is below zero except through a refund or dispute debt;
/// - no open hold is captured, no settled hold lacks a time.
pub async fn violations(pool: &PgPool) -> Result<Vec<String>, sqlx::Error> {
    let checks: [(&str, &str); 7] = [
        (
            "balance is not the sum of its ledger",
            "select b.user_id::text || ': ' || b.balance || ' vs ' || coalesce(sum(l.amount), 0) \
             from credit_balances b left join credit_ledger l on l.user_id = b.user_id \
             group by b.user_id, b.balance having b.balance <> coalesce(sum(l.amount), 0)",
        ),
        (
            "balance is not grants less debt",
            "select b.user_id::text || ': balance ' || b.balance || ', grants ' || g.total || ', debt ' || d.total \
             from credit_balances b \
             cross join lateral (select coalesce(sum(remaining), 0) as total from credit_grants where user_id = b.user_id) g \
             cross join lateral (select coalesce(sum(outstanding), 0) as total from credit_debts where user_id = b.user_id) d \
             where b.balance <> g.total - d.total",
        ),
        (
            "grant remainder is not its amount less its uses",
            "select g.id::text || ': amount ' || g.amount || ', remaining ' || g.remaining || ', used ' || coalesce(sum(u.amount), 0) \
             from credit_grants g left join credit_grant_uses u on u.grant_id = g.id \
             group by g.id having g.remaining <> g.amount - coalesce(sum(u.amount), 0)",
        ),
        (
            "credit without exactly one grant of its amount",
            "select 'ledger ' || l.id || ': ' || l.amount || ' made ' || count(g.id) || ' grants of ' || coalesce(sum(g.amount), 0) \
             from credit_ledger l left join credit_grants g on g.ledger_id = l.id \
             where l.amount > 0 and l.id > (select first_ledger_id from wallet_epoch) \
             group by l.id having count(g.id) <> 1 or sum(g.amount) <> l.amount",
        ),
        (
            "debit not funded exactly",
            "select 'ledger ' || l.id || ' (' || l.source || '): ' || l.amount || ' funded ' || coalesce(u.total, 0) || ' owed ' || coalesce(d.outstanding, 0) \
             from credit_ledger l \
             left join (select ledger_id, sum(amount) as total from credit_grant_uses group by ledger_id) u on u.ledger_id = l.id \
             left join credit_debts d on d.ledger_id = l.id \
             where l.amount < 0 and l.id > (select first_ledger_id from wallet_epoch) \
               and (coalesce(u.total, 0) + coalesce(d.outstanding, 0) <> -l.amount \
                    or (d.ledger_id is not null and l.source not in ('refund', 'dispute', 'adjustment')))",
        ),
        (
            "below zero without a debt",
            "select b.user_id::text || ': ' || b.balance from credit_balances b \
             where b.balance < 0 and not exists ( \
                 select 1 from credit_debts d where d.user_id = b.user_id and d.outstanding > 0)",
        ),
        (
            "hold in an impossible state",
            "select h.id::text || ': ' || h.status || ' captured ' || coalesce(h.captured::text, 'null') \
             from credit_holds h \
             where (h.status = 'captured') <> (h.captured is not null) \
                or (h.status = 'captured' and h.captured > 0 and h.ledger_id is null)",
        ),
    ];
    let mut found = Vec::new();
    for (what, sql) in checks {
        let rows: Vec<String> = sqlx::query_scalar(sql).fetch_all(pool).await?;
        found.extend(rows.into_iter().map(|row| format!("{what}: {row}")));
    }
    Ok(found)
}
