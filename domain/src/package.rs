use std::fmt;

use serde::{Deserialize, Serialize};

/// A package's stable code (`starter`, `pro`): lowercase ASCII letters, digits,
/// `-` and `_`, starting with a letter, at most 64 characters.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct PackageCode(String);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "package code must be 1-64 lowercase letters, digits, '-' or '_', starting with a letter: {0:?}"
)]
pub struct PackageCodeError(pub String);

impl PackageCode {
    pub fn parse(code: impl Into<String>) -> Result<Self, PackageCodeError> {
        let code = code.into();
        let valid = (1..=64).contains(&code.len())
            && code.starts_with(|c: char| c.is_ascii_lowercase())
            && code
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_');
        if valid {
            Ok(PackageCode(code))
        } else {
            Err(PackageCodeError(code))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for PackageCode {
    type Error = PackageCodeError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        PackageCode::parse(value)
    }
}

impl From<PackageCode> for String {
    fn from(code: PackageCode) -> Self {
        code.0
    }
}

impl fmt::Display for PackageCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_codes_and_refuses_junk() {
        for ok in ["starter", "pro", "team-10k", "a_1"] {
            assert!(PackageCode::parse(ok).is_ok(), "{ok}");
        }
        for bad in [
            "",
            "Starter",
            "1pack",
            "pro pack",
            "pro;drop",
            &"x".repeat(65),
        ] {
            assert!(PackageCode::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn deserializing_validates() {
        assert!(serde_json::from_str::<PackageCode>("\"pro\"").is_ok());
        assert!(serde_json::from_str::<PackageCode>("\"PRO\"").is_err());
    }
}
