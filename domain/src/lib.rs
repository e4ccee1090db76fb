//! Money and credit rules.
