//! The HTTP client every outgoing call to the identity provider and Lago
//! starts from.

use std::time::Duration;

/// How long an idle connection is kept for reuse: less than the shortest
/// keep-alive servers commonly close idle connections after (Node.js's
/// default is 5 s). A connection the server closes just as we reuse it
/// fails the request with "connection reset by peer", and the token
/// exchange of a login cannot be retried (its code is used once): seen in
/// the browser suite against the dev identity provider.
pub const POOL_IDLE: Duration = Duration::from_secs(4);

/// A client builder with [`POOL_IDLE`]; callers add their timeouts.
pub fn client_builder() -> reqwest::ClientBuilder {
    reqwest::Client::builder().pool_idle_timeout(POOL_IDLE)
}
