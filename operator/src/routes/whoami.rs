//! `GET /v1/whoami`: the caller as the API sees it, so a client can tell what a token may do
//! before offering it anything (the console signs people in by their token this way).

use crate::auth::Reader;
use actix_web::HttpResponse;
use serde::Serialize;

/// The answer.
#[derive(Serialize)]
struct Whoami<'a> {
    /// What the audit log records for this caller's changes.
    name: &'a str,
    /// `read`, `operate` or `console`.
    role: &'static str,
}

pub async fn show(Reader(caller): Reader) -> HttpResponse {
    HttpResponse::Ok().json(Whoami {
        name: &caller.name,
        role: caller.role.as_str(),
    })
}
