//! Who may see a page and who may change anything, checked before a handler runs:
//!
//! - [`Signed`]: a signed-in session, or no page (a `GET` is sent to the sign-in, anything
//!   else answered 401).
//! - [`Posted`]: a form POST of a session (signed in or not: the sign-in form's own),
//!   whose `csrf` field is that session's token and whose `Origin`, when the browser sends
//!   one, is this console; otherwise 403 and the handler never runs, so nothing changes.
//! - [`Change`]: both: a signed-in person's form POST.
//!
//! - [`Selected`]: the account a page or change is for (`?account=label`; none: the default
//!   account), for a signed-in person; an unknown label is 404 and the handler never runs.
//!
//! Roles are checked by the handler ([`Signed::require`]), which knows what it changes.

use crate::pages::PageError;
pub use crate::session::Signed;
use crate::session::{same, Session, COOKIE};
use crate::state::{Account, AppState};
use crate::users::Role;
use actix_web::dev::Payload;
use actix_web::http::header;
use actix_web::{web, FromRequest, HttpRequest};
use futures_util::future::LocalBoxFuture;
use std::future::{ready, Ready};
use std::sync::Arc;

/// Largest form accepted: the silence form with every field full is a few kilobytes.
const MAX_FORM_BYTES: usize = 64 * 1024;

fn state(req: &HttpRequest) -> Result<&web::Data<AppState>, PageError> {
    req.app_data::<web::Data<AppState>>()
        .ok_or_else(|| PageError::Internal("the console's state is missing".into()))
}

/// The session of the request's cookie, with its id.
pub fn session_of(req: &HttpRequest) -> Option<(String, Session)> {
    let id = req.cookie(COOKIE)?.value().to_string();
    let state = state(req).ok()?;
    let session = state.sessions.get(&id)?;
    Some((id, session))
}

impl Signed {
    /// 403 unless the person's role includes `role`.
    pub fn require(&self, role: Role) -> Result<(), PageError> {
        if self.user.may(role) {
            Ok(())
        } else {
            Err(PageError::Forbidden(format!(
                "this needs the {} role; you have {}",
                role.as_str(),
                self.user.role.as_str()
            )))
        }
    }
}

fn signed(req: &HttpRequest) -> Result<Signed, PageError> {
    let signed = session_of(req).and_then(|(id, s)| {
        s.user.map(|user| Signed {
            id,
            user,
            csrf: s.csrf,
        })
    });
    signed.ok_or_else(|| PageError::SignIn {
        get: req.method() == actix_web::http::Method::GET
            || req.method() == actix_web::http::Method::HEAD,
        // With its query: back to the same account (`?account=`) and search after the sign-in.
        next: req
            .uri()
            .path_and_query()
            .map_or("/", |p| p.as_str())
            .to_string(),
    })
}

impl FromRequest for Signed {
    type Error = PageError;
    type Future = Ready<Result<Signed, PageError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(signed(req))
    }
}

/// The account a request is for: `?account=label` in its address (links and forms carry
/// it), or the default account when absent.
#[derive(Clone)]
pub struct Selected(pub Arc<Account>);

/// The `account` parameter of a query string, decoded.
fn account_param(query: &str) -> Option<String> {
    form_urlencoded::parse(query.as_bytes())
        .find(|(k, _)| k == "account")
        .map(|(_, v)| v.into_owned())
}

fn selected(req: &HttpRequest) -> Result<Selected, PageError> {
    // Signed in first: a stranger learns nothing of the accounts.
    signed(req)?;
    let state = state(req)?;
    let account = match account_param(req.query_string()) {
        None => state.default_account(),
        Some(label) => state.account(&label),
    };
    account.cloned().map(Selected).ok_or(PageError::NotFound)
}

impl FromRequest for Selected {
    type Error = PageError;
    type Future = Ready<Result<Selected, PageError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(selected(req))
    }
}

/// A form's fields, in the order sent.
#[derive(Debug, Default)]
pub struct Fields(pub Vec<(String, String)>);

impl Fields {
    /// The first value of `name`, trimmed; empty when absent.
    pub fn get(&self, name: &str) -> &str {
        self.0
            .iter()
            .find(|(k, _)| k == name)
            .map_or("", |(_, v)| v.trim())
    }

    /// Every value of `name` (checkboxes).
    pub fn all(&self, name: &str) -> Vec<&str> {
        self.0
            .iter()
            .filter(|(k, _)| k == name)
            .map(|(_, v)| v.trim())
            .collect()
    }
}

/// A form POST that passed the CSRF check.
pub struct Posted {
    pub id: String,
    pub session: Session,
    pub fields: Fields,
}

/// Whether `Origin`, when sent, names this console's host (as the request came, or as a
/// proxy's `X-Forwarded-Host` says). The scheme is not compared: a proxy that ends TLS without
/// saying so (`X-Forwarded-Proto`) would otherwise make every form fail; the CSRF token and
/// `SameSite=Strict` stand either way.
fn same_origin(req: &HttpRequest) -> bool {
    let Some(origin) = req.headers().get(header::ORIGIN) else {
        return true;
    };
    let info = req.connection_info();
    let host = origin
        .to_str()
        .ok()
        .and_then(|o| o.split_once("://"))
        .map(|(_, host)| host);
    host.is_some_and(|h| h.eq_ignore_ascii_case(info.host()))
}

async fn posted(req: HttpRequest, mut payload: Payload) -> Result<Posted, PageError> {
    let refused = || {
        PageError::Forbidden(
            "the form's security token is missing or out of date; reload the page and try again"
                .into(),
        )
    };
    let (id, session) = session_of(&req).ok_or_else(refused)?;
    if !same_origin(&req) {
        return Err(refused());
    }
    let body = web::Bytes::from_request(&req, &mut payload)
        .await
        .map_err(|_| PageError::BadRequest("the form could not be read".into()))?;
    if body.len() > MAX_FORM_BYTES {
        return Err(PageError::BadRequest("the form is too large".into()));
    }
    let fields = Fields(
        form_urlencoded::parse(&body)
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect(),
    );
    if !same(fields.get("csrf"), &session.csrf) {
        return Err(refused());
    }
    Ok(Posted {
        id,
        session,
        fields,
    })
}

impl FromRequest for Posted {
    type Error = PageError;
    type Future = LocalBoxFuture<'static, Result<Posted, PageError>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        Box::pin(posted(req.clone(), payload.take()))
    }
}

/// A signed-in person's form POST that passed the CSRF check.
pub struct Change {
    pub signed: Signed,
    pub fields: Fields,
}

impl FromRequest for Change {
    type Error = PageError;
    type Future = LocalBoxFuture<'static, Result<Change, PageError>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let req = req.clone();
        let payload = payload.take();
        Box::pin(async move {
            // Signed in first (401), then the token (403).
            let signed = signed(&req)?;
            let posted = posted(req, payload).await?;
            Ok(Change {
                signed,
                fields: posted.fields,
            })
        })
    }
}
