//! A moment in time as people read it: the server renders it in UTC, with
//! the exact instant in `<time datetime>`; once the page is hydrated the
//! browser rewrites the text in its own locale and time zone. The first
//! render is the same on both sides, so hydration never mismatches.

use leptos::prelude::*;

/// How much of the moment to show.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Shown {
    Date,
    #[default]
    DateTime,
}

/// `iso` is RFC 3339 in UTC (`2026-12-04T07:45:00Z`).
#[component]
pub fn LocalTime(iso: String, #[prop(optional)] shown: Shown) -> impl IntoView {
    let text = RwSignal::new(in_utc(&iso, shown));
    let instant = iso.clone();
    // Effects run only in the browser, after hydration.
    Effect::new(move |_| {
        if let Some(local) = localise(&instant, shown) {
            text.set(local);
        }
    });
    view! { <time datetime=iso>{move || text.get()}</time> }
}

/// An instant as `LocalTime` takes it: RFC 3339 in UTC, to the second.
#[cfg(feature = "ssr")]
pub fn iso(at: chrono::DateTime<chrono::Utc>) -> String {
    at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

/// `4 Dec 2026, 07:45 UTC` (or `4 Dec 2026`); the input as is when it is
/// not an RFC 3339 instant.
pub fn in_utc(iso: &str, shown: Shown) -> String {
    let parts = || -> Option<(u32, &str, &str, &str)> {
        let year = iso.get(0..4)?;
        let month: usize = iso.get(5..7)?.parse().ok()?;
        let day: u32 = iso.get(8..10)?.parse().ok()?;
        let month = MONTHS.get(month.checked_sub(1)?)?;
        let hh_mm = iso.get(11..16)?;
        Some((day, month, year, hh_mm))
    };
    match (parts(), shown) {
        (Some((day, month, year, _)), Shown::Date) => format!("{day} {month} {year}"),
        (Some((day, month, year, hh_mm)), Shown::DateTime) => {
            format!("{day} {month} {year}, {hh_mm} UTC")
        }
        (None, _) => iso.to_owned(),
    }
}

#[cfg(feature = "hydrate")]
fn localise(iso: &str, shown: Shown) -> Option<String> {
    use js_sys::{Array, Date, Intl::DateTimeFormat, Object, Reflect};
    use leptos::wasm_bindgen::JsValue;

    let date = Date::new(&JsValue::from_str(iso));
    if date.get_time().is_nan() {
        return None;
    }
    let options = Object::new();
    Reflect::set(&options, &"dateStyle".into(), &"medium".into()).ok()?;
    if shown == Shown::DateTime {
        Reflect::set(&options, &"timeStyle".into(), &"short".into()).ok()?;
    }
    // No locales: the browser's own.
    let format = DateTimeFormat::new(&Array::new(), &options).format();
    format.call1(&JsValue::NULL, &date).ok()?.as_string()
}

#[cfg(not(feature = "hydrate"))]
fn localise(_iso: &str, _shown: Shown) -> Option<String> {
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_server_renders_utc() {
        assert_eq!(
            in_utc("2026-12-04T07:05:09Z", Shown::DateTime),
            "4 Dec 2026, 07:05 UTC"
        );
        assert_eq!(in_utc("2026-01-31T23:59:00Z", Shown::Date), "31 Jan 2026");
        assert_eq!(in_utc("not a date", Shown::Date), "not a date");
        assert_eq!(
            in_utc("2026-13-01T00:00:00Z", Shown::Date),
            "2026-13-01T00:00:00Z"
        );
    }
}
