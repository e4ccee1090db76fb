pub mod header;
pub mod package_card;
