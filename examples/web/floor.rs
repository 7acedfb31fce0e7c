//! The load generator's floor (`--load-floor` only): a route that does the SQL a second step
//! inherently needs and nothing else, so that `examples/loadgen` can set the console's second
//! step beside it in the same run.
//!
//! `POST /load-floor` with the form fields `user` and `step` reads the user's twostep
//! credential row (one `SELECT`, the row a second step reads) and moves its last accepted
//! step forward with one conditional single-row `UPDATE` — the bare statements of
//! `benches/store.rs` — through the pools twostep uses (on SQLite, the write through its one
//! writer connection), behind the same layers as every page.
//! It answers as a successful second step does (`303 See Other` to `/account`), `409` when
//! the step is not newer than the stored one, `404` for a user without a row, `422` for a
//! malformed form and `503` when the database fails. It reads no session and checks no code:
//! never mount it outside a load test.

use axum::Router;
use axum::extract::{Form, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::post;
use serde::Deserialize;
use twostep::store_sqlx::SqlStore;

/// The floor's form.
#[derive(Deserialize)]
struct FloorForm {
    user: String,
    step: i64,
}

/// The floor route, over `store`'s pools.
pub(crate) fn router(store: SqlStore) -> Router {
    Router::new()
        .route("/load-floor", post(floor))
        .with_state(store)
}

async fn floor(State(store): State<SqlStore>, Form(form): Form<FloorForm>) -> Response {
    let read = sqlx::query(
        "SELECT secret_key_id, secret_ciphertext, totp_params, last_accepted_step, \
         recovery_codes, enabled_at, window_start, window_failures, consecutive_failures \
         FROM twostep_accounts WHERE user_id = $1",
    )
    .bind(&form.user)
    .fetch_optional(store.pool())
    .await;
    match read {
        Ok(Some(_)) => {}
        Ok(None) => return StatusCode::NOT_FOUND.into_response(),
        Err(error) => return unavailable(&error),
    }
    let written = sqlx::query(
        "UPDATE twostep_accounts SET last_accepted_step = $2 WHERE user_id = $1 \
         AND (last_accepted_step IS NULL OR last_accepted_step < $2)",
    )
    .bind(&form.user)
    .bind(form.step)
    .execute(store.write_pool())
    .await;
    match written {
        Ok(done) if done.rows_affected() == 1 => Redirect::to("/account").into_response(),
        Ok(_) => StatusCode::CONFLICT.into_response(),
        Err(error) => unavailable(&error),
    }
}

fn unavailable(error: &sqlx::Error) -> Response {
    eprintln!("load floor: {error}");
    StatusCode::SERVICE_UNAVAILABLE.into_response()
}
