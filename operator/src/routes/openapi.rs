//! `GET /openapi.json`: the OpenAPI 3.1 document of this API, the checked-in
//! `docs/openapi/operator.json` (the integration tests validate every answer against it).

use actix_web::http::header::ContentType;
use actix_web::HttpResponse;

/// The document, embedded at build time.
pub const DOCUMENT: &str = include_str!("../../../docs/openapi/operator.json");

pub async fn document() -> HttpResponse {
    HttpResponse::Ok()
        .content_type(ContentType::json())
        .body(DOCUMENT)
}
