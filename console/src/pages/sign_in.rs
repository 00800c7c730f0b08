//! Signing in, with an account's password or with an operator token, and signing out.
//!
//! The sign-in form belongs to a session of nobody (started when the form is shown), so its
//! POST carries a CSRF token like every other. A successful sign-in ends that session and
//! starts a new one (a new id: nothing learnt before the sign-in is worth anything after).
//! A token is used once, to ask the operator API who it is (`GET /v1/whoami`), and is then
//! forgotten: the session holds only the name and role. Failures say the same thing whether
//! the name, the password or the token was wrong; five in fifteen minutes lock that name (or,
//! for tokens, that address) out for the rest of the fifteen minutes.

use crate::config::SecureCookies;
use crate::guard::{session_of, Posted, Signed};
use crate::pages::{error_block, layout, local_path, page, see_other, Nav, PageError};
use crate::session::{User, COOKIE};
use crate::state::AppState;
use crate::users::Role;
use actix_web::cookie::{Cookie, SameSite};
use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use maud::html;
use secrecy::SecretString;
use serde::Deserialize;

/// The cookie of session `id`: HttpOnly, SameSite=Strict, Secure as configured (or when the
/// request came over https).
fn cookie(req: &HttpRequest, state: &AppState, id: String) -> Cookie<'static> {
    let secure = match state.secure_cookies {
        SecureCookies::Always => true,
        SecureCookies::Never => false,
        SecureCookies::Auto => req.connection_info().scheme() == "https",
    };
    Cookie::build(COOKIE, id)
        .path("/")
        .http_only(true)
        .same_site(SameSite::Strict)
        .secure(secure)
        .finish()
}

#[derive(Deserialize)]
pub struct SignInQuery {
    next: Option<String>,
}

fn form(
    csrf: &str,
    next: &str,
    error: Option<&str>,
    name: &str,
    status: StatusCode,
) -> HttpResponse {
    let body = html! {
        (error_block(error))
        div.cards {
            section.card aria-labelledby="with-password" {
                h2 id="with-password" { "With your account" }
                form method="post" action="/sign-in" {
                    input type="hidden" name="csrf" value=(csrf);
                    input type="hidden" name="next" value=(next);
                    input type="hidden" name="method" value="password";
                    label for="name" { "Name" }
                    input id="name" name="name" type="text" autocomplete="username" required value=(name);
                    label for="password" { "Password" }
                    input id="password" name="password" type="password" autocomplete="current-password" required;
                    button type="submit" { "Sign in" }
                }
            }
            section.card aria-labelledby="with-token" {
                h2 id="with-token" { "With an operator token" }
                form method="post" action="/sign-in" {
                    input type="hidden" name="csrf" value=(csrf);
                    input type="hidden" name="next" value=(next);
                    input type="hidden" name="method" value="token";
                    label for="token" { "Token" }
                    input id="token" name="token" type="password" autocomplete="off" required;
                    button type="submit" { "Sign in with the token" }
                }
            }
        }
    };
    page(status, layout("Sign in", None, Nav::None, body))
}

/// `GET /sign-in`: the forms, in a session of nobody (made now unless the browser has one).
pub async fn show(
    req: HttpRequest,
    state: web::Data<AppState>,
    query: web::Query<SignInQuery>,
) -> HttpResponse {
    let next = query
        .next
        .as_deref()
        .filter(|n| local_path(n))
        .unwrap_or("/");
    match session_of(&req) {
        Some((_, session)) if session.user.is_some() => see_other(next),
        Some((_, session)) => form(&session.csrf, next, None, "", StatusCode::OK),
        None => {
            let (id, session) = state.sessions.start(None);
            let mut response = form(&session.csrf, next, None, "", StatusCode::OK);
            // Adding a cookie to a response we built cannot fail.
            let _ = response.add_cookie(&cookie(&req, &state, id));
            response
        }
    }
}

/// `POST /sign-in`
pub async fn submit(
    req: HttpRequest,
    state: web::Data<AppState>,
    posted: Posted,
) -> Result<HttpResponse, PageError> {
    let fields = &posted.fields;
    let next = Some(fields.get("next"))
        .filter(|n| local_path(n))
        .unwrap_or("/")
        .to_string();
    let by_token = fields.get("method") == "token";
    let name = fields.get("name").to_string();
    let key = if by_token {
        let address = req
            .peer_addr()
            .map(|a| a.ip().to_string())
            .unwrap_or_default();
        format!("token@{address}")
    } else {
        name.clone()
    };
    let refuse = |why: &str| {
        Ok(form(
            &posted.session.csrf,
            &next,
            Some(why),
            &name,
            StatusCode::UNAUTHORIZED,
        ))
    };
    if state.locked_out(&key) {
        return refuse("Too many failed sign-ins: wait 15 minutes and try again.");
    }
    let user = if by_token {
        token_user(&state, fields.get("token")).await
    } else {
        password_user(&state, &name, fields.get("password").to_string()).await?
    };
    let Some(user) = user else {
        state.failed(&key);
        tracing::info!(by_token, "console sign-in refused");
        return refuse(if by_token {
            "That token is not accepted."
        } else {
            "That name and password do not match an account."
        });
    };
    state.succeeded(&key);
    tracing::info!(user = %user.name, role = user.role.as_str(), by_token, "console sign-in");
    state.sessions.end(&posted.id);
    let (id, _) = state.sessions.start(Some(user));
    let mut response = see_other(&next);
    let _ = response.add_cookie(&cookie(&req, &state, id));
    Ok(response)
}

async fn password_user(
    state: &web::Data<AppState>,
    name: &str,
    password: String,
) -> Result<Option<User>, PageError> {
    if name.is_empty() || password.is_empty() {
        return Ok(None);
    }
    let _permit = state
        .hashing
        .acquire()
        .await
        .map_err(|_| PageError::Internal("the sign-in queue is closed".into()))?;
    let checker = state.clone();
    let name = name.to_string();
    let found = web::block(move || checker.users.verify(&name, &password))
        .await
        .map_err(|e| PageError::Internal(format!("the password check failed: {e}")))?;
    Ok(found.map(|(name, role)| User {
        name,
        role,
        by_token: false,
    }))
}

/// The person behind an operator token: its name, and its role (read or operate; the
/// console's own token signs nobody in), as the default account's operator API says.
async fn token_user(state: &AppState, token: &str) -> Option<User> {
    if token.is_empty() {
        return None;
    }
    let who = state
        .default_account()?
        .api
        .whoami(&SecretString::from(token.to_string()))
        .await
        .ok()?;
    let role = match who.role.as_str() {
        "read" => Role::Read,
        "operate" => Role::Operate,
        _ => return None,
    };
    Some(User {
        name: who.name,
        role,
        by_token: true,
    })
}

/// `POST /sign-out`: ends the session; back to the sign-in.
pub async fn sign_out(
    req: HttpRequest,
    state: web::Data<AppState>,
    posted: Posted,
) -> HttpResponse {
    state.sessions.end(&posted.id);
    let mut gone = cookie(&req, &state, String::new());
    gone.make_removal();
    let mut response = see_other("/sign-in");
    let _ = response.add_cookie(&gone);
    response
}

/// Anything not found, for a signed-in person (others are sent to the sign-in first, so
/// the console's addresses are not told to strangers).
pub async fn not_found(_: Signed) -> Result<HttpResponse, PageError> {
    Err(PageError::NotFound)
}
