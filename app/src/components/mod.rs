pub mod activity;
pub mod balance_card;
pub mod checkout_banner;
pub mod header;
pub mod package_card;
pub mod purchase_history;
pub mod revenue_chart;
pub mod status_chip;
