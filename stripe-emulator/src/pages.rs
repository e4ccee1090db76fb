//! The hosted pages: Checkout's pay page (`/c/pay/{session}`), the billing portal
//! (`/p/session/{portal session}`) and the hosted invoice page (`/i/{invoice}`, the invoice's
//! `hosted_invoice_url`). Plain HTML forms with stable element ids (see README).

use axum::Router;
use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::get;
use serde_json::Value;

use crate::cards::{self, CardBehavior, CardInput};
use crate::params::Params;
use crate::resources::{checkout_sessions, id_of, subscriptions};
use crate::{AppState, with_store};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/c/pay/{id}", get(pay_page).post(pay_submit))
        .route("/c/pay/{id}/confirm", axum::routing::post(pay_confirm))
        .route("/p/session/{id}", get(portal_page).post(portal_action))
        .route("/i/{id}", get(invoice_page))
}

fn esc(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
}

fn page(title: &str, body: &str) -> Html<String> {
    Html(format!(
        r#"<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title>
<style>
body {{ font-family: system-ui, sans-serif; max-width: 32rem; margin: 2rem auto; padding: 0 1rem; color: #1a1f36; }}
.banner {{ background: #ffde92; padding: .4rem .8rem; border-radius: 4px; font-size: .85rem; }}
label {{ display: block; margin-top: .8rem; font-size: .9rem; }}
input, select {{ width: 100%; padding: .5rem; font-size: 1rem; box-sizing: border-box; }}
button {{ margin-top: 1rem; padding: .6rem 1.2rem; font-size: 1rem; background: #635bff; color: white; border: 0; border-radius: 4px; }}
#error {{ color: #df1b41; margin-top: 1rem; }}
table {{ width: 100%; border-collapse: collapse; }} td {{ padding: .3rem 0; }}
</style></head>
<body><p class="banner">TEST MODE — Stripe emulator</p>
{body}
</body></html>"#,
        title = esc(title),
    ))
}

fn money(cents: i64, currency: &str) -> String {
    format!(
        "{}.{:02} {}",
        cents / 100,
        cents % 100,
        currency.to_uppercase()
    )
}

fn not_found(what: &str) -> Response {
    (
        StatusCode::NOT_FOUND,
        page(
            "Not found",
            &format!("<h1>Not found</h1><p id=\"error\">{}</p>", esc(what)),
        ),
    )
        .into_response()
}

// ------------------------------------------------------------------ checkout

async fn pay_page(State(state): State<AppState>, Path(id): Path<String>) -> Response {
    render_pay(&state, &id, None, &CardInput::default())
}

fn render_pay(state: &AppState, id: &str, error: Option<&str>, input: &CardInput) -> Response {
    let s = state.lock();
    let Ok(session) = s.get("checkout.session", id) else {
        return not_found("This Checkout Session does not exist.");
    };
    if session["status"] != "open" {
        let message = match session["status"].as_str() {
            Some("complete") => "This Checkout Session has already been paid.",
            _ => "This Checkout Session has expired.",
        };
        return (
            StatusCode::OK,
            page(
                "Checkout",
                &format!(
                    "<h1>Checkout</h1><p id=\"status\" data-status=\"{}\">{}</p>",
                    esc(session["status"].as_str().unwrap_or("")),
                    message
                ),
            ),
        )
            .into_response();
    }
    let currency = session["currency"].as_str().unwrap_or("usd");
    let mut rows = String::new();
    for item in s.line_items.get(id).cloned().unwrap_or_default() {
        rows.push_str(&format!(
            "<tr class=\"line-item\"><td>{} × {}</td><td style=\"text-align:right\">{}</td></tr>",
            item["quantity"],
            esc(item["description"].as_str().unwrap_or("")),
            money(item["amount_total"].as_i64().unwrap_or(0), currency),
        ));
    }
    let known_email = session["customer"]
        .as_str()
        .and_then(|c| s.find(c))
        .and_then(|c| c["email"].as_str())
        .or_else(|| session["customer_email"].as_str())
        .map(str::to_owned);
    let email_field = match &known_email {
        Some(email) => format!(
            r#"<input id="email" name="email" type="email" value="{}" readonly>"#,
            esc(email)
        ),
        None => format!(
            r#"<input id="email" name="email" type="email" autocomplete="email" value="{}" required>"#,
            esc(&input.email)
        ),
    };
    let cancel = match session["cancel_url"].as_str() {
        Some(url) => format!(
            r#"<p><a id="cancel" href="{}">← Cancel and go back</a></p>"#,
            esc(url)
        ),
        None => String::new(),
    };
    let error = error
        .map(|e| format!(r#"<p id="error" role="alert">{}</p>"#, esc(e)))
        .unwrap_or_default();
    let verb = if session["mode"] == "subscription" {
        "Subscribe"
    } else {
        "Pay"
    };
    let body = format!(
        r#"{cancel}
<h1>{verb} {total}</h1>
<table id="line-items">{rows}</table>
{error}
<form id="payment-form" method="post" action="/c/pay/{id}">
<label for="email">Email</label>{email_field}
<label for="cardNumber">Card number</label>
<input id="cardNumber" name="cardNumber" inputmode="numeric" autocomplete="cc-number" placeholder="4242 4242 4242 4242" value="{number}" required>
<label for="cardExpiry">Expiration (MM / YY)</label>
<input id="cardExpiry" name="cardExpiry" autocomplete="cc-exp" placeholder="MM / YY" required>
<label for="cardCvc">CVC</label>
<input id="cardCvc" name="cardCvc" inputmode="numeric" autocomplete="cc-csc" placeholder="CVC" required>
<label for="billingName">Name on card</label>
<input id="billingName" name="billingName" autocomplete="cc-name" value="{name}">
<button id="submit" type="submit">{verb}</button>
</form>"#,
        total = money(session["amount_total"].as_i64().unwrap_or(0), currency),
        id = esc(id),
        number = esc(&input.number),
        name = esc(&input.name),
    );
    (StatusCode::OK, page("Checkout", &body)).into_response()
}

/// Reads the form; `Err` carries the message to show.
fn read_card(p: &Params) -> (CardInput, Result<(), String>) {
    let number: String = p
        .str("cardNumber")
        .unwrap_or_default()
        .chars()
        .filter(|c| !c.is_whitespace() && *c != '-')
        .collect();
    let mut input = CardInput {
        email: p.str("email").unwrap_or_default(),
        name: p.str("billingName").unwrap_or_default(),
        number,
        exp_month: 0,
        exp_year: 0,
    };
    let expiry: String = p
        .str("cardExpiry")
        .unwrap_or_default()
        .chars()
        .filter(|c| c.is_ascii_digit())
        .collect();
    if input.number.is_empty() {
        return (input, Err("Your card number is incomplete.".into()));
    }
    if expiry.len() != 4 && expiry.len() != 6 {
        return (
            input,
            Err("Your card's expiration date is incomplete.".into()),
        );
    }
    let month: i64 = expiry[..2].parse().unwrap_or(0);
    let year: i64 = expiry[2..].parse().unwrap_or(0);
    let year = if year < 100 { 2000 + year } else { year };
    input.exp_month = month;
    input.exp_year = year;
    let this_year = 1970 + crate::now() / 31_556_952;
    if !(1..=12).contains(&month) || year < this_year {
        return (
            input,
            Err("Your card's expiration date is in the past.".into()),
        );
    }
    let cvc = p.str("cardCvc").unwrap_or_default();
    if !(3..=4).contains(&cvc.len()) || !cvc.bytes().all(|b| b.is_ascii_digit()) {
        return (
            input,
            Err("Your card's security code is incomplete.".into()),
        );
    }
    (input, Ok(()))
}

async fn pay_submit(State(state): State<AppState>, Path(id): Path<String>, p: Params) -> Response {
    let (input, valid) = read_card(&p);
    if let Err(message) = valid {
        return render_pay(&state, &id, Some(&message), &input);
    }
    if cards::card_behavior(&input.number) == Ok(CardBehavior::RequiresAuthentication) {
        return confirm_page(&state, &id, &p);
    }
    complete(&state, &id, &input)
}

/// The extra step a 3-D Secure card asks for: `#confirm` completes, `#fail` fails authentication.
fn confirm_page(state: &AppState, id: &str, p: &Params) -> Response {
    if state.lock().get("checkout.session", id).is_err() {
        return not_found("This Checkout Session does not exist.");
    }
    let mut hidden = String::new();
    for field in [
        "email",
        "cardNumber",
        "cardExpiry",
        "cardCvc",
        "billingName",
    ] {
        hidden.push_str(&format!(
            r#"<input type="hidden" name="{field}" value="{}">"#,
            esc(&p.str(field).unwrap_or_default())
        ));
    }
    let body = format!(
        r#"<h1>Confirm your payment</h1>
<p id="challenge">Your bank asks you to confirm this payment (3D Secure test).</p>
<form id="confirm-form" method="post" action="/c/pay/{id}/confirm">{hidden}
<button id="confirm" name="action" value="complete" type="submit">Complete authentication</button>
<button id="fail" name="action" value="fail" type="submit" style="background:#697386">Fail authentication</button>
</form>"#,
        id = esc(id)
    );
    (StatusCode::OK, page("Confirm payment", &body)).into_response()
}

async fn pay_confirm(State(state): State<AppState>, Path(id): Path<String>, p: Params) -> Response {
    let (input, valid) = read_card(&p);
    if let Err(message) = valid {
        return render_pay(&state, &id, Some(&message), &input);
    }
    if p.str("action").as_deref() != Some("complete") {
        return render_pay(
            &state,
            &id,
            Some(
                "We are unable to authenticate your payment method. Please choose a different payment method and try again.",
            ),
            &input,
        );
    }
    complete(&state, &id, &input)
}

fn complete(state: &AppState, id: &str, input: &CardInput) -> Response {
    let result = with_store(state, |s| checkout_sessions::pay_session(s, id, input));
    match result {
        Ok(session) => match session["success_url"].as_str() {
            Some(url) => Redirect::to(&url.replace("{CHECKOUT_SESSION_ID}", id)).into_response(),
            None => (
                StatusCode::OK,
                page(
                    "Payment complete",
                    "<h1 id=\"complete\">Thanks for your payment</h1><p>You can close this page.</p>",
                ),
            )
                .into_response(),
        },
        Err(err) => render_pay(state, id, Some(&err.message), input),
    }
}

/// Pays a session without the HTML form (the `/_emulator/checkout/sessions/{id}/pay` control),
/// through the same logic as the form.
pub fn pay_programmatically(
    state: &AppState,
    id: &str,
    input: &CardInput,
) -> Result<Value, String> {
    with_store(state, |s| checkout_sessions::pay_session(s, id, input)).map_err(|e| e.message)
}

// ------------------------------------------------------------------ hosted invoice page

async fn invoice_page(State(state): State<AppState>, Path(id): Path<String>) -> Response {
    let s = state.lock();
    let Ok(invoice) = s.get("invoice", &id) else {
        return not_found("This invoice does not exist.");
    };
    let currency = invoice["currency"].as_str().unwrap_or("usd");
    let amount = |field: &str| money(invoice[field].as_i64().unwrap_or(0), currency);
    let status = invoice["status"].as_str().unwrap_or("");
    let mut rows = String::new();
    for line in invoice["lines"]["data"]
        .as_array()
        .cloned()
        .unwrap_or_default()
    {
        rows.push_str(&format!(
            "<tr class=\"line\" data-proration=\"{}\"><td>{}</td><td style=\"text-align:right\">{}</td></tr>",
            line["parent"]["subscription_item_details"]["proration"] == true,
            esc(line["description"].as_str().unwrap_or("")),
            money_signed(line["amount"].as_i64().unwrap_or(0), currency),
        ));
    }
    let customer = invoice["customer_email"]
        .as_str()
        .or(invoice["customer_name"].as_str())
        .unwrap_or("");
    let body = format!(
        r#"<h1>Invoice <span id="invoice-number">{number}</span></h1>
<p id="customer">{customer}</p>
<p id="invoice-status" data-status="{status}">{status_text}</p>
<table id="lines">{rows}</table>
<table>
<tr><td>Total</td><td id="total" style="text-align:right">{total}</td></tr>
<tr><td>Amount due</td><td id="amount-due" style="text-align:right">{due}</td></tr>
<tr><td>Amount paid</td><td id="amount-paid" style="text-align:right">{paid}</td></tr>
<tr><td>Amount remaining</td><td id="amount-remaining" style="text-align:right">{remaining}</td></tr>
</table>"#,
        number = esc(invoice["number"].as_str().unwrap_or("")),
        customer = esc(customer),
        status = esc(status),
        status_text = match status {
            "paid" => "Paid",
            "open" => "Open — payment due",
            "void" => "Void",
            "uncollectible" => "Uncollectible",
            _ => "Draft",
        },
        total = money_signed(invoice["total"].as_i64().unwrap_or(0), currency),
        due = amount("amount_due"),
        paid = amount("amount_paid"),
        remaining = amount("amount_remaining"),
    );
    (StatusCode::OK, page("Invoice", &body)).into_response()
}

/// `money` for amounts that may be negative (credits).
fn money_signed(cents: i64, currency: &str) -> String {
    if cents < 0 {
        format!("-{}", money(-cents, currency))
    } else {
        money(cents, currency)
    }
}

// ------------------------------------------------------------------ billing portal

async fn portal_page(State(state): State<AppState>, Path(id): Path<String>) -> Response {
    render_portal(&state, &id, None)
}

fn render_portal(state: &AppState, id: &str, notice: Option<&str>) -> Response {
    let s = state.lock();
    let Ok(portal) = s.get("billing_portal.session", id) else {
        return not_found("This portal session does not exist.");
    };
    let customer_id = id_of(&portal["customer"]);
    let customer = s.find(&customer_id).cloned().unwrap_or(Value::Null);
    let subs: Vec<Value> = s
        .all("subscription")
        .into_iter()
        .filter(|sub| sub["customer"] == customer_id.as_str() && sub["status"] != "canceled")
        .collect();
    let prices: Vec<Value> = s
        .all("price")
        .into_iter()
        .filter(|p| p["active"] == true && p["type"] == "recurring")
        .collect();
    let mut html = format!(
        "<h1>Billing</h1><p id=\"customer\">{}</p>",
        esc(customer["email"].as_str().unwrap_or(&customer_id))
    );
    if let Some(n) = notice {
        html.push_str(&format!("<p id=\"notice\">{}</p>", esc(n)));
    }
    if subs.is_empty() {
        html.push_str("<p id=\"no-subscriptions\">No active subscriptions.</p>");
    }
    for sub in &subs {
        let sub_id = esc(sub["id"].as_str().unwrap_or(""));
        let item = &sub["items"]["data"][0];
        let price = &item["price"];
        let product_name = s
            .find(price["product"].as_str().unwrap_or(""))
            .and_then(|p| p["name"].as_str())
            .unwrap_or("");
        let mut options = String::new();
        for p in &prices {
            let pid = p["id"].as_str().unwrap_or("");
            let name = s
                .find(p["product"].as_str().unwrap_or(""))
                .and_then(|prod| prod["name"].as_str())
                .unwrap_or("");
            options.push_str(&format!(
                "<option value=\"{}\"{}>{} — {} / {}</option>",
                esc(pid),
                if price["id"] == pid { " selected" } else { "" },
                esc(name),
                money(
                    p["unit_amount"].as_i64().unwrap_or(0),
                    p["currency"].as_str().unwrap_or("usd")
                ),
                esc(p["recurring"]["interval"].as_str().unwrap_or("")),
            ));
        }
        let cancel_button = if sub["cancel_at_period_end"] == true {
            "<p class=\"cancels\">Cancels at the end of the period.</p>\
             <button id=\"renew\" name=\"action\" value=\"renew\" type=\"submit\">Renew plan</button>"
                .to_owned()
        } else {
            "<button id=\"cancel-subscription\" name=\"action\" value=\"cancel\" type=\"submit\">Cancel plan</button>".to_owned()
        };
        html.push_str(&format!(
            r#"<section class="subscription" data-subscription-id="{sub_id}">
<h2>{product} <span class="status" data-status="{status}">({status})</span></h2>
<p>{amount} / {interval}</p>
<form method="post" action="/p/session/{id}"><input type="hidden" name="subscription" value="{sub_id}">{cancel_button}</form>
<form method="post" action="/p/session/{id}"><input type="hidden" name="subscription" value="{sub_id}">
<label for="price">Switch plan</label><select id="price" name="price">{options}</select>
<button id="switch-plan" name="action" value="switch" type="submit">Update plan</button></form>
</section>"#,
            product = esc(product_name),
            status = esc(sub["status"].as_str().unwrap_or("")),
            amount = money(price["unit_amount"].as_i64().unwrap_or(0), price["currency"].as_str().unwrap_or("usd")),
            interval = esc(price["recurring"]["interval"].as_str().unwrap_or("")),
            id = esc(id),
        ));
    }
    let methods: Vec<Value> = s
        .all("payment_method")
        .into_iter()
        .filter(|pm| pm["customer"] == customer_id.as_str())
        .collect();
    html.push_str("<h2>Payment methods</h2><ul id=\"payment-methods\">");
    for pm in methods {
        html.push_str(&format!(
            "<li>{} •••• {}</li>",
            esc(pm["card"]["brand"].as_str().unwrap_or("")),
            esc(pm["card"]["last4"].as_str().unwrap_or(""))
        ));
    }
    html.push_str("</ul>");
    if let Some(url) = portal["return_url"].as_str() {
        html.push_str(&format!(
            r#"<p><a id="return" href="{}">← Return</a></p>"#,
            esc(url)
        ));
    }
    (StatusCode::OK, page("Billing portal", &html)).into_response()
}

async fn portal_action(
    State(state): State<AppState>,
    Path(id): Path<String>,
    p: Params,
) -> Response {
    let customer = match state.lock().get("billing_portal.session", &id) {
        Ok(portal) => id_of(&portal["customer"]),
        Err(_) => return not_found("This portal session does not exist."),
    };
    let sub_id = p.str("subscription").unwrap_or_default();
    let owned = state
        .lock()
        .find(&sub_id)
        .is_some_and(|sub| sub["object"] == "subscription" && sub["customer"] == customer.as_str());
    if !owned {
        return (StatusCode::BAD_REQUEST, "unknown subscription").into_response();
    }
    let update = match p.str("action").as_deref() {
        Some("cancel") => serde_json::json!({ "cancel_at_period_end": "true" }),
        Some("renew") => serde_json::json!({ "cancel_at_period_end": "false" }),
        Some("switch") => {
            let item = state
                .lock()
                .find(&sub_id)
                .map(|sub| id_of(&sub["items"]["data"][0]["id"]))
                .unwrap_or_default();
            serde_json::json!({
                "items": [{ "id": item, "price": p.str("price").unwrap_or_default() }],
                "proration_behavior": "create_prorations",
            })
        }
        _ => return (StatusCode::BAD_REQUEST, "unknown action").into_response(),
    };
    let result = with_store(&state, |s| {
        subscriptions::update_subscription(s, &sub_id, &Params::from_value(update))
    });
    let notice = match result {
        Ok(_) => "Your plan was updated.".to_owned(),
        Err(e) => e.message,
    };
    let mut response = render_portal(&state, &id, Some(&notice));
    response.headers_mut().insert(
        header::CACHE_CONTROL,
        "no-store".parse().expect("static header"),
    );
    response
}
