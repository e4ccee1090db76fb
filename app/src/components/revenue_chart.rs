use leptos::prelude::*;
use serde::{Deserialize, Serialize};

/// One day's bar: `label` like `2026-11-03`, `value` in cents, `title` the
/// formatted amount shown on hover.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Bar {
    pub label: String,
    pub value: i64,
    pub title: String,
}

const WIDTH: f64 = 720.0;
const HEIGHT: f64 = 180.0;
const AXIS: f64 = 18.0;

/// Daily bars drawn as SVG on the server: readable without JavaScript.
#[component]
pub fn RevenueChart(bars: Vec<Bar>, #[prop(into)] caption: String) -> impl IntoView {
    let max = bars.iter().map(|b| b.value).max().unwrap_or(0).max(1) as f64;
    let slot = WIDTH / bars.len().max(1) as f64;
    let gap = (slot * 0.2).min(4.0);
    let first = bars.first().map(|b| b.label.clone()).unwrap_or_default();
    let last = bars.last().map(|b| b.label.clone()).unwrap_or_default();
    let drawn = bars
        .into_iter()
        .enumerate()
        .map(|(i, bar)| {
            let height = (bar.value.max(0) as f64 / max) * (HEIGHT - AXIS - 4.0);
            let x = i as f64 * slot + gap / 2.0;
            let y = HEIGHT - AXIS - height;
            view! {
                <rect
                    data-day=bar.label.clone()
                    data-cents=bar.value
                    x=format!("{x:.1}")
                    y=format!("{y:.1}")
                    width=format!("{:.1}", (slot - gap).max(1.0))
                    height=format!("{height:.1}")
                    rx="2"
                    class="fill-indigo-500"
                >
                    <title>{format!("{}: {}", bar.label, bar.title)}</title>
                </rect>
            }
        })
        .collect_view();
    view! {
        <figure>
            <svg
                id="revenue-chart"
                viewBox=format!("0 0 {WIDTH} {HEIGHT}")
                role="img"
                aria-label=caption.clone()
                class="h-48 w-full"
                preserveAspectRatio="none"
            >
                <line
                    x1="0"
                    y1=HEIGHT - AXIS
                    x2=WIDTH
                    y2=HEIGHT - AXIS
                    class="stroke-slate-300"
                    stroke-width="1"
                />
                {drawn}
            </svg>
            <figcaption class="mt-1 flex justify-between text-xs text-slate-500">
                <span>{first}</span>
                <span>{caption}</span>
                <span>{last}</span>
            </figcaption>
        </figure>
    }
}
