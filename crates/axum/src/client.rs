//! The client of a request, for the security log: its address and user agent, scoped around
//! the request's handling so the events the service records carry them.
//!
//! The address is the connection's peer as axum saw it
//! ([`ConnectInfo`](axum::extract::ConnectInfo), when the application serves with
//! `into_make_service_with_connect_info`). Behind a reverse proxy that is the proxy: such an
//! application scopes its own [`Client`] from the header its proxy sets, and only that proxy's
//! — a header any client can send proves nothing.

use std::net::SocketAddr;

use axum::extract::{ConnectInfo, Request};
use axum::http::header;
use axum::middleware::Next;
use axum::response::Response;
use twostep_enrollment::Client;

/// Middleware recording the request's client for the events it causes: the peer address
/// (with `ConnectInfo`) and the `User-Agent`. [`TwoStep::json_router`](crate::TwoStep::json_router)
/// and the pages apply it; add it to the application's own routes that call the service.
///
/// ```
/// use axum::{Router, middleware};
/// let app: Router = Router::new().layer(middleware::from_fn(twostep_axum::record_client));
/// # let _ = app;
/// ```
pub async fn record_client(request: Request, next: Next) -> Response {
    let ip = request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|ConnectInfo(peer)| peer.ip());
    let user_agent = request
        .headers()
        .get(header::USER_AGENT)
        .and_then(|agent| agent.to_str().ok());
    let client = Client::new(ip, user_agent);
    client.scope(next.run(request)).await
}
