//! Stripe's form encoding: `a[b]=v`, `a[0][b]=v`, `expand[]=x`, decoded into a JSON tree of strings.
//!
//! Written for the emulator alone (it shares no code with the app), so a mistake in the app's
//! encoder shows up as a failing test rather than hiding in both.

use serde_json::{Map, Value};

/// Decodes `application/x-www-form-urlencoded` text (a request body or a query string).
pub fn parse(input: &str) -> Value {
    let mut root = Map::new();
    for pair in input.split('&').filter(|p| !p.is_empty()) {
        let (raw_key, raw_value) = pair.split_once('=').unwrap_or((pair, ""));
        let key = percent_decode(raw_key);
        let value = percent_decode(raw_value);
        let path = split_key(&key);
        if path.is_empty() || path[0].is_empty() {
            continue;
        }
        insert(&mut root, &path, value);
    }
    finish(Value::Object(root), false)
}

/// `a[b][0]` becomes `["a", "b", "0"]`; `a[]` becomes `["a", ""]`.
fn split_key(key: &str) -> Vec<String> {
    let Some(open) = key.find('[') else {
        return vec![key.to_owned()];
    };
    let mut parts = vec![key[..open].to_owned()];
    let mut rest = &key[open..];
    while let Some(stripped) = rest.strip_prefix('[') {
        match stripped.find(']') {
            Some(close) => {
                parts.push(stripped[..close].to_owned());
                rest = &stripped[close + 1..];
            }
            None => {
                parts.push(stripped.to_owned());
                break;
            }
        }
    }
    parts
}

fn insert(node: &mut Map<String, Value>, path: &[String], value: String) {
    let mut segment = path[0].clone();
    if segment.is_empty() {
        // `[]`: append at the next index.
        segment = node.len().to_string();
    }
    if path.len() == 1 {
        node.insert(segment, Value::String(value));
        return;
    }
    let child = node
        .entry(segment)
        .or_insert_with(|| Value::Object(Map::new()));
    if !child.is_object() {
        *child = Value::Object(Map::new());
    }
    if let Value::Object(map) = child {
        insert(map, &path[1..], value);
    }
}

/// Turns objects whose keys are all indices into arrays (ordered by index), except under `metadata`.
fn finish(value: Value, keep_object: bool) -> Value {
    match value {
        Value::Object(map) => {
            let all_indices =
                !map.is_empty() && map.keys().all(|k| k.parse::<usize>().is_ok()) && !keep_object;
            if all_indices {
                let mut items: Vec<(usize, Value)> = map
                    .into_iter()
                    .map(|(k, v)| (k.parse().unwrap_or(0), finish(v, false)))
                    .collect();
                items.sort_by_key(|(i, _)| *i);
                Value::Array(items.into_iter().map(|(_, v)| v).collect())
            } else {
                Value::Object(
                    map.into_iter()
                        .map(|(k, v)| {
                            let keep = k == "metadata";
                            (k, finish(v, keep))
                        })
                        .collect(),
                )
            }
        }
        other => other,
    }
}

/// Percent-decoding with `+` as space.
pub fn percent_decode(input: &str) -> String {
    let bytes = input.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap_or("");
                match u8::from_str_radix(hex, 16) {
                    Ok(b) => {
                        out.push(b);
                        i += 2;
                    }
                    Err(_) => out.push(b'%'),
                }
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Percent-encoding for building form bodies and URLs (unreserved characters kept).
pub fn percent_encode(input: &str) -> String {
    let mut out = String::with_capacity(input.len());
    for b in input.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn nested_keys_arrays_and_metadata() {
        let v = parse(
            "mode=payment&line_items[0][price]=price_1&line_items[0][quantity]=2\
             &line_items[1][price]=price_2&expand[]=line_items&expand[]=payment_intent\
             &metadata[order]=a%20b&metadata[0]=zero&success_url=http%3A%2F%2Fx%2F%3Fs%3D%7BCHECKOUT_SESSION_ID%7D\
             &name=A+B",
        );
        assert_eq!(
            v,
            json!({
                "mode": "payment",
                "line_items": [{"price": "price_1", "quantity": "2"}, {"price": "price_2"}],
                "expand": ["line_items", "payment_intent"],
                "metadata": {"order": "a b", "0": "zero"},
                "success_url": "http://x/?s={CHECKOUT_SESSION_ID}",
                "name": "A B",
            })
        );
    }

    #[test]
    fn indexed_expand_and_deep_nesting() {
        let v = parse("expand[0]=a&expand[1]=b&x[y][z]=1&created[gte]=5");
        assert_eq!(
            v,
            json!({"expand": ["a", "b"], "x": {"y": {"z": "1"}}, "created": {"gte": "5"}})
        );
    }

    #[test]
    fn bad_percent_sequences_are_kept() {
        assert_eq!(percent_decode("100%"), "100%");
        assert_eq!(percent_decode("%zz"), "%zz");
        assert_eq!(percent_decode("%41"), "A");
    }
}
