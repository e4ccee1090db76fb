//! `--seed`: the project's credit packs and subscription tiers (the default catalogue), with fixed ids
//! and lookup keys so the app and scripts can refer to them.

use serde_json::json;

use crate::params::Params;
use crate::resources::{prices, products};
use crate::store::Store;

/// (lookup key / id suffix, product name, cents, recurring interval)
const CATALOG: &[(&str, &str, i64, Option<&str>)] = &[
    ("credits_starter", "Starter Pack", 1_000, None),
    ("credits_standard", "Standard Pack", 4_500, None),
    ("credits_pro", "Pro Pack", 8_000, None),
    ("credits_enterprise", "Enterprise Pack", 35_000, None),
    ("tier_trial_monthly", "Trial", 100, Some("month")),
    ("tier_starter_monthly", "Starter", 1_900, Some("month")),
    ("tier_starter_yearly", "Starter", 19_000, Some("year")),
    (
        "tier_professional_monthly",
        "Professional",
        4_900,
        Some("month"),
    ),
    (
        "tier_professional_yearly",
        "Professional",
        49_000,
        Some("year"),
    ),
    (
        "tier_enterprise_monthly",
        "Enterprise",
        9_900,
        Some("month"),
    ),
    ("tier_enterprise_yearly", "Enterprise", 99_000, Some("year")),
];

/// Creates the catalogue. The seed is the starting state, not something that happened: it
/// leaves no events behind.
pub fn seed(store: &mut Store) {
    for (key, name, cents, interval) in CATALOG {
        let product_id = match interval {
            None => format!("prod_seed_{key}"),
            // Monthly and yearly prices of a tier share one product.
            Some(_) => format!(
                "prod_seed_{}",
                key.rsplit_once('_').map_or(*key, |(t, _)| t)
            ),
        };
        if !store.exists(&product_id) {
            let product = Params::from_value(json!({ "id": product_id, "name": name }));
            products::new_product(store, &product).expect("seed product is valid");
        }
        let mut price = json!({
            "currency": "usd",
            "unit_amount": cents.to_string(),
            "product": product_id,
            "lookup_key": key,
            "metadata": { "seed": "true" },
        });
        if let Some(interval) = interval {
            price["recurring"] = json!({ "interval": interval });
        }
        let created =
            prices::new_price(store, &Params::from_value(price)).expect("seed price is valid");
        // Fixed ids: re-key the price as `price_seed_<lookup key>`.
        let old_id = created["id"].as_str().unwrap_or_default().to_owned();
        if let Some(mut price) = store.remove(&old_id) {
            price["id"] = json!(format!("price_seed_{key}"));
            store.insert(price.clone());
            let product_id = product_id.clone();
            store.update(&product_id, |p| {
                if p["default_price"].is_null() {
                    p["default_price"] = price["id"].clone();
                }
            });
        }
    }
    for event in store.take_pending_events() {
        store.remove(&event);
    }
}
