//! Money on the wire: integer `*_cents` fields, and the older dollar fields
//! (`price_usd`, `amount_paid`) written as exact JSON numbers (`45.00`)
//! straight from the cents, never through a float.

use domain::Cents;
use serde::{Serialize, Serializer, ser::Error};

/// Serializes cents as a JSON number of dollars with two decimals.
pub fn dollars<S: Serializer>(cents: &Cents, serializer: S) -> Result<S::Ok, S::Error> {
    let text = cents.to_dollars().to_string();
    serde_json::value::RawValue::from_string(text)
        .map_err(S::Error::custom)?
        .serialize(serializer)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Serialize)]
    struct Price {
        #[serde(serialize_with = "dollars")]
        price_usd: Cents,
    }

    #[test]
    fn dollars_are_exact_json_numbers() {
        for (cents, json) in [
            (1_000, r#"{"price_usd":10.00}"#),
            (4_500, r#"{"price_usd":45.00}"#),
            (1, r#"{"price_usd":0.01}"#),
            (99_999_999, r#"{"price_usd":999999.99}"#),
            // 0.1 + 0.2 style amounts stay exact.
            (30, r#"{"price_usd":0.30}"#),
        ] {
            let price = Price {
                price_usd: Cents::new(cents).unwrap(),
            };
            assert_eq!(serde_json::to_string(&price).unwrap(), json);
        }
    }
}
