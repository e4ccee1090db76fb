//! Daily bars drawn as SVG on the server, readable without JavaScript: a
//! value axis with gridlines, the first, middle and last day under the bars,
//! the exact figure in a tooltip on hover, and the same figures as a table
//! for screen readers and anyone who wants the numbers.

use domain::{Cents, Credits};
use leptos::prelude::*;
use serde::{Deserialize, Serialize};

/// One day's bar: `label` like `2026-11-03`, `value` in the chart's unit,
/// `title` the formatted figure.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Bar {
    pub label: String,
    pub value: i64,
    pub title: String,
}

/// What the values count, for the axis labels.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Unit {
    #[default]
    Cents,
    Credits,
}

impl Unit {
    fn format(self, value: i64) -> String {
        match self {
            Unit::Cents => Cents::new(value.max(0))
                .map(|c| c.to_string())
                .unwrap_or_default(),
            Unit::Credits => Credits::signed(value).to_string(),
        }
    }
}

const WIDTH: f64 = 720.0;
const HEIGHT: f64 = 200.0;
/// Room for the value labels on the left and the baseline below.
const LEFT: f64 = 84.0;
const BOTTOM: f64 = 8.0;
const TOP: f64 = 28.0;

#[component]
pub fn BarChart(
    bars: Vec<Bar>,
    #[prop(into)] caption: String,
    #[prop(optional)] unit: Unit,
    /// The chart's element id.
    #[prop(default = "revenue-chart")]
    id: &'static str,
) -> impl IntoView {
    let top = nice_ceiling(bars.iter().map(|b| b.value).max().unwrap_or(0));
    let plot_width = WIDTH - LEFT;
    let plot_height = HEIGHT - TOP - BOTTOM;
    let base = HEIGHT - BOTTOM;
    let slot = plot_width / bars.len().max(1) as f64;
    let gap = (slot * 0.2).min(4.0);
    let day = |i: usize| bars.get(i).map(|b| b.label.clone()).unwrap_or_default();
    let (first, middle, last) = (
        day(0),
        day(bars.len() / 2),
        day(bars.len().saturating_sub(1)),
    );
    let grid = [0, top / 2, top]
        .into_iter()
        .map(|value| {
            let y = base - value as f64 / top as f64 * plot_height;
            view! {
                <line x1=LEFT y1=format!("{y:.1}") x2=WIDTH y2=format!("{y:.1}") class="stroke-slate-200" stroke-width="1" />
                <text x=LEFT - 8.0 y=format!("{:.1}", y + 4.0) text-anchor="end" class="fill-slate-500 text-[15px]">
                    {unit.format(value)}
                </text>
            }
        })
        .collect_view();
    let drawn = bars
        .iter()
        .enumerate()
        .map(|(i, bar)| {
            let height = bar.value.max(0) as f64 / top as f64 * plot_height;
            let x = LEFT + i as f64 * slot + gap / 2.0;
            let y = base - height;
            let tip = format!("{}: {}", bar.label, bar.title);
            let tip_width = tip.chars().count() as f64 * 6.6 + 16.0;
            let tip_x = (x + slot / 2.0 - tip_width / 2.0).clamp(LEFT, WIDTH - tip_width);
            view! {
                <g class="group">
                    // The hover target is the whole day's column, not only the bar.
                    <rect x=format!("{:.1}", LEFT + i as f64 * slot) y=TOP width=format!("{slot:.1}") height=plot_height fill="transparent" />
                    <rect
                        data-day=bar.label.clone()
                        data-value=bar.value
                        x=format!("{x:.1}")
                        y=format!("{y:.1}")
                        width=format!("{:.1}", (slot - gap).max(1.0))
                        height=format!("{height:.1}")
                        rx="2"
                        class="fill-indigo-500 group-hover:fill-indigo-600"
                    />
                    <g class="pointer-events-none opacity-0 group-hover:opacity-100" data-role="tooltip">
                        <rect x=format!("{tip_x:.1}") y="2" width=format!("{tip_width:.1}") height="20" rx="4" class="fill-ink" />
                        <text x=format!("{:.1}", tip_x + tip_width / 2.0) y="16" text-anchor="middle" class="fill-white text-[11px] font-semibold">
                            {tip}
                        </text>
                    </g>
                </g>
            }
        })
        .collect_view();
    let rows = bars
        .into_iter()
        .rev()
        .filter(|bar| bar.value != 0)
        .map(|bar| {
            view! {
                <tr>
                    <th scope="row" class="py-1 pr-4 text-left font-normal">{bar.label}</th>
                    <td class="py-1 text-right tabular-nums">{bar.title}</td>
                </tr>
            }
        })
        .collect_view();
    view! {
        <figure>
            // The figures are in the table below; the drawing is for eyes and mice.
            <svg id=id viewBox=format!("0 0 {WIDTH} {HEIGHT}") aria-hidden="true" class="h-auto w-full">
                {grid}
                {drawn}
            </svg>
            <div class="mt-1 flex justify-between text-xs text-slate-500" style=format!("padding-left: {:.2}%", LEFT / WIDTH * 100.0)>
                <span>{first}</span>
                <span class="hidden sm:inline">{middle}</span>
                <span>{last}</span>
            </div>
            <figcaption class="mt-2 text-xs text-slate-500">{caption.clone()}</figcaption>
            <details class="mt-2 text-sm">
                <summary class="cursor-pointer text-link">"Show the figures as a table"</summary>
                <table class="mt-2 w-full max-w-sm text-sm">
                    <caption class="sr-only">{caption}</caption>
                    <thead class="text-left text-xs text-slate-500">
                        <tr>
                            <th scope="col" class="py-1 pr-4">"Day"</th>
                            <th scope="col" class="py-1 text-right">
                                {if unit == Unit::Credits { "Credits" } else { "Amount" }}
                            </th>
                        </tr>
                    </thead>
                    <tbody class="divide-y divide-slate-100">{rows}</tbody>
                </table>
            </details>
        </figure>
    }
}

/// The axis' top: the largest value rounded up to 1, 2 or 5 times a power
/// of ten (at least 1), so the gridlines fall on round figures.
fn nice_ceiling(max: i64) -> i64 {
    let max = max.max(1);
    let mut step = 1i64;
    while step <= i64::MAX / 10 {
        for factor in [1, 2, 5] {
            if step * factor >= max {
                return step * factor;
            }
        }
        step *= 10;
    }
    max
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_axis_ends_on_a_round_figure() {
        assert_eq!(nice_ceiling(0), 1);
        assert_eq!(nice_ceiling(1), 1);
        assert_eq!(nice_ceiling(3), 5);
        assert_eq!(nice_ceiling(1000), 1000);
        assert_eq!(nice_ceiling(1001), 2000);
        assert_eq!(nice_ceiling(123_456), 200_000);
        assert_eq!(nice_ceiling(i64::MAX), i64::MAX);
    }

    #[test]
    fn axis_labels_read_as_money_or_credits() {
        assert_eq!(Unit::Cents.format(250_000), "$2,500.00");
        assert_eq!(Unit::Credits.format(12_000), "12,000");
    }
}
