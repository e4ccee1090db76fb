//! The purchase table as CSV (RFC 4180, CRLF line ends), streamed from the
//! database row by row: exactly the rows of a [`PurchaseFilter`] in the
//! order of a [`PurchaseSort`], without pages, never all held in memory.
//!
//! Cells that a spreadsheet would run as a formula (starting with `=`, `+`,
//! `-`, `@`, tab or carriage return) get a leading `'`.

use std::borrow::Cow;

use futures_util::{Stream, TryStreamExt, stream};
use sqlx::{PgPool, QueryBuilder};
use tokio::sync::mpsc;

use super::{
    AdminError,
    filter::{PurchaseFilter, PurchaseSort, push_order, push_where},
    purchase::{AdminPurchase, AdminPurchaseRow, ROW_COLUMNS},
};

/// The header line's column names, in order.
pub const COLUMNS: [&str; 14] = [
    "purchase_id",
    "created_at",
    "completed_at",
    "user_id",
    "user_email",
    "user_name",
    "package_code",
    "package_name",
    "credits",
    "amount_usd",
    "refunded_usd",
    "status",
    "stripe_session_id",
    "stripe_payment_id",
];

/// Chunks of about this many bytes are handed to the response body.
const CHUNK_BYTES: usize = 16 * 1024;

/// The CSV text of every purchase matching `filter`, header first, in
/// chunks of whole lines. Runs on its own task (and database connection)
/// until the last row or until the stream is dropped, e.g. when the client
/// goes away; an error ends the stream with that error.
pub fn export_csv(
    pool: PgPool,
    filter: PurchaseFilter,
    sort: PurchaseSort,
) -> impl Stream<Item = Result<String, AdminError>> + Send + 'static {
    let (sender, receiver) = mpsc::channel::<Result<String, AdminError>>(4);
    tokio::spawn(async move {
        if let Err(error) = write_rows(&pool, &filter, sort, &sender).await {
            let _ = sender.send(Err(error)).await;
        }
    });
    stream::unfold(receiver, |mut receiver| async move {
        receiver.recv().await.map(|item| (item, receiver))
    })
}

/// Gone: the receiving stream was dropped, so stop quietly.
struct Gone;

async fn write_rows(
    pool: &PgPool,
    filter: &PurchaseFilter,
    sort: PurchaseSort,
    sender: &mpsc::Sender<Result<String, AdminError>>,
) -> Result<(), AdminError> {
    let mut sql = QueryBuilder::new(format!(
        "select {ROW_COLUMNS} from credit_purchases p join users u on u.id = p.user_id"
    ));
    push_where(&mut sql, filter, pool).await?;
    push_order(&mut sql, sort);
    let mut rows = sql.build_query_as::<AdminPurchaseRow>().fetch(pool);
    let mut chunk = header_line();
    while let Some(row) = rows.try_next().await? {
        chunk.push_str(&line(&AdminPurchase::try_from(row)?));
        if chunk.len() >= CHUNK_BYTES && send(sender, std::mem::take(&mut chunk)).await.is_err() {
            return Ok(());
        }
    }
    let _ = send(sender, chunk).await;
    Ok(())
}

async fn send(
    sender: &mpsc::Sender<Result<String, AdminError>>,
    chunk: String,
) -> Result<(), Gone> {
    sender.send(Ok(chunk)).await.map_err(|_| Gone)
}

/// `purchase_id,created_at,…\r\n`
pub fn header_line() -> String {
    let mut line = COLUMNS.join(",");
    line.push_str("\r\n");
    line
}

/// One purchase as a CSV line (with its `\r\n`).
pub fn line(p: &AdminPurchase) -> String {
    let timestamp = |t: chrono::DateTime<chrono::Utc>| t.to_rfc3339();
    let cells: [Cow<'_, str>; 14] = [
        p.id.to_string().into(),
        timestamp(p.created_at).into(),
        p.completed_at.map(timestamp).unwrap_or_default().into(),
        p.user_id.to_string().into(),
        cell(p.user_email.as_deref().unwrap_or("")),
        cell(p.user_name.as_deref().unwrap_or("")),
        cell(&p.package_code),
        cell(&p.package_name),
        p.amount_credits.get().to_string().into(),
        p.amount_paid.to_dollars().to_string().into(),
        p.refunded.to_dollars().to_string().into(),
        p.status.as_str().into(),
        cell(p.stripe_session_id.as_deref().unwrap_or("")),
        cell(p.stripe_payment_id.as_deref().unwrap_or("")),
    ];
    let mut line = cells.join(",");
    line.push_str("\r\n");
    line
}

/// A text cell: formula-looking text gets a leading `'`; text with a comma,
/// quote or line break is quoted, with quotes doubled.
pub fn cell(text: &str) -> Cow<'_, str> {
    let mut text = Cow::Borrowed(text);
    if text.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        text = Cow::Owned(format!("'{text}"));
    }
    if text.contains([',', '"', '\n', '\r']) {
        text = Cow::Owned(format!("\"{}\"", text.replace('"', "\"\"")));
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cells_are_quoted_and_formulas_defused() {
        assert_eq!(cell("alice@example.com"), "alice@example.com");
        assert_eq!(cell("Brown, Bob"), "\"Brown, Bob\"");
        assert_eq!(cell("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(cell("two\nlines"), "\"two\nlines\"");
        assert_eq!(cell("=HYPERLINK(\"x\")"), "\"'=HYPERLINK(\"\"x\"\")\"");
        for formula in ["+1", "-1", "@SUM(A1)", "\tx"] {
            assert!(cell(formula).starts_with('\''), "{formula}");
        }
    }
}
