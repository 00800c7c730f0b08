//! alert-relay's web console: the operations desk in a browser, for people who do not live
//! in a terminal. It is a client of the operator API, like `relayctl`: it holds no state of
//! the fleet, and every change it makes is the operator API's change, checked and audited
//! there under the signed-in person's name.
//!
//! How it is built, and why (`docs/console.md` says more):
//!
//! - **Server-rendered HTML** (actix-web and maud), a small stylesheet compiled into the
//!   binary, and no JavaScript: nothing to build, nothing fetched from another host, and a
//!   Content-Security-Policy that allows no script at all.
//! - **Escaped by default**: maud escapes every value written into a page, so an alert's
//!   field holding HTML or script is shown as text.
//! - **The operator API's token stays here**: the console calls the API with its own console
//!   token and names the person in `X-Relay-On-Behalf-Of`; people never see that token.
//! - **Sign-in** with an account (argon2id hashes from `RELAY_CONSOLE_USERS`) or an operator
//!   token (checked once with `GET /v1/whoami`, then forgotten); sessions in memory behind a
//!   random id in an HttpOnly, SameSite=Strict cookie; a CSRF token in every form, checked
//!   before any handler that changes something runs.
//! - **Several accounts** (Syncro deployments, one prefix and operator API each): the default
//!   one (`RELAY_OPERATOR_URL`) and those of `RELAY_CONSOLE_ACCOUNTS`; the overview shows
//!   each, other pages act on the one selected by `?account=label`, which links and forms
//!   carry.
//!
//! Modules, from the outside in:
//!
//! - [`startup`]: the app, its routes and security headers; [`serve`] on a listener and
//!   shutdown signal it is given.
//! - [`pages`]: one file per page family, the layout, and every refusal as a page.
//! - [`guard`]: who may see a page ([`guard::Signed`]) and post a change
//!   ([`guard::Change`]: signed in, CSRF token, origin), and for which account
//!   ([`guard::Selected`]).
//! - [`session`]: the sessions in memory, their cookie and CSRF tokens, and
//!   [`session::Signed`], a signed-in session as pages see it (here, below both, so the
//!   pages' layout need not import `guard`, which imports the pages' `PageError`).
//! - [`users`]: accounts, roles, argon2 hashing.
//! - [`api`]: the operator API's client.
//! - [`state`]: what every handler shares (the accounts, each with its operator API), and
//!   the sign-in lockout.
//! - [`config`]: the environment, checked at start with every problem reported together.

pub mod api;
pub mod config;
pub mod guard;
pub mod pages;
pub mod session;
pub mod startup;
pub mod state;
pub mod users;

pub use startup::serve;
