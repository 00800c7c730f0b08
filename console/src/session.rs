//! Sessions, held in this process's memory: a random id in a cookie, the person signed in
//! (or nobody yet: the sign-in form has a session too, so its POST carries a CSRF token like
//! every other), the session's CSRF token, and when it was last used.
//!
//! In memory means a restart signs everyone out and two console replicas do not share
//! sessions (run one, or pin clients to one); the docs say so. The map is keyed by a SHA-256
//! digest of the id, so nothing in memory is a usable cookie, and it is bounded: when full,
//! expired sessions go first, then the least recently used sign-in form, and only when none
//! is left the least recently used signed-in session.

use crate::users::Role;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use rand::RngCore;
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// The cookie holding the session id.
pub const COOKIE: &str = "relay_console";
/// Most sessions held at once (signed in or not).
#[cfg(not(test))]
const CAPACITY: usize = 10_000;
#[cfg(test)]
const CAPACITY: usize = 4;
/// A session nobody signed into lasts at most this long: it only carries a sign-in form.
const ANONYMOUS_IDLE: Duration = Duration::from_secs(15 * 60);

/// Who is signed in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    /// The account's name, or the token's name for a token sign-in: what the audit log shows.
    pub name: String,
    pub role: Role,
    /// Signed in with an operator token rather than a password.
    pub by_token: bool,
}

impl User {
    pub fn may(&self, role: Role) -> bool {
        self.role >= role
    }
}

/// A signed-in person, as a page sees them: the session's id (to end it at sign-out), who,
/// and the CSRF token for the page's forms. Extracted by the `guard` module (which also checks
/// roles); here, below both the guard and the pages, so each can name it without the other.
#[derive(Debug, Clone)]
pub struct Signed {
    /// The session's id, to end it at sign-out.
    pub id: String,
    pub user: User,
    /// For the forms of the page.
    pub csrf: String,
}

/// One session as handlers see it.
#[derive(Debug, Clone)]
pub struct Session {
    /// Nobody until the sign-in succeeds.
    pub user: Option<User>,
    /// Put in every form and checked on every POST.
    pub csrf: String,
}

struct Held {
    session: Session,
    last_seen: Instant,
}

/// Every session of this process.
pub struct Sessions {
    held: Mutex<HashMap<[u8; 32], Held>>,
    /// A signed-in session unused this long is over.
    idle: Duration,
}

/// 32 random bytes, URL-safe base64: a session id or a CSRF token.
pub fn random_token() -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

fn key(id: &str) -> [u8; 32] {
    Sha256::digest(id.as_bytes()).into()
}

/// Equal, in a time that does not depend on where they differ.
pub fn same(a: &str, b: &str) -> bool {
    let (a, b) = (Sha256::digest(a.as_bytes()), Sha256::digest(b.as_bytes()));
    a.iter()
        .zip(b.iter())
        .fold(0u8, |acc, (x, y)| acc | (x ^ y))
        == 0
}

impl Sessions {
    pub fn new(idle: Duration) -> Sessions {
        Sessions {
            held: Mutex::new(HashMap::new()),
            idle,
        }
    }

    fn idle_of(&self, session: &Session) -> Duration {
        if session.user.is_some() {
            self.idle
        } else {
            self.idle.min(ANONYMOUS_IDLE)
        }
    }

    /// A new session (a new id and CSRF token), for `user` or for nobody yet.
    pub fn start(&self, user: Option<User>) -> (String, Session) {
        let id = random_token();
        let session = Session {
            user,
            csrf: random_token(),
        };
        let now = Instant::now();
        let mut held = self.lock();
        if held.len() >= CAPACITY {
            held.retain(|_, h| now.duration_since(h.last_seen) < self.idle_of(&h.session));
        }
        if held.len() >= CAPACITY {
            // Sign-in forms go first: a flood of them must not sign people out.
            let oldest = |anonymous_only: bool| {
                held.iter()
                    .filter(|(_, h)| !anonymous_only || h.session.user.is_none())
                    .min_by_key(|(_, h)| h.last_seen)
                    .map(|(k, _)| *k)
            };
            if let Some(oldest) = oldest(true).or_else(|| oldest(false)) {
                held.remove(&oldest);
            }
        }
        held.insert(
            key(&id),
            Held {
                session: session.clone(),
                last_seen: now,
            },
        );
        (id, session)
    }

    /// The session of a cookie's id, if it is held and not idle too long; using it keeps it.
    pub fn get(&self, id: &str) -> Option<Session> {
        let now = Instant::now();
        let mut held = self.lock();
        let k = key(id);
        let entry = held.get_mut(&k)?;
        if now.duration_since(entry.last_seen) >= self.idle_of(&entry.session) {
            held.remove(&k);
            return None;
        }
        entry.last_seen = now;
        Some(entry.session.clone())
    }

    /// Ends a session (sign-out, or replaced by the session a sign-in starts).
    pub fn end(&self, id: &str) {
        self.lock().remove(&key(id));
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<[u8; 32], Held>> {
        // A panic while holding the lock leaves a map that is still whole: keep using it.
        self.held.lock().unwrap_or_else(|e| e.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dana() -> User {
        User {
            name: "dana".into(),
            role: Role::Operate,
            by_token: false,
        }
    }

    #[test]
    fn a_session_is_found_by_its_id_until_idle_or_ended() {
        let sessions = Sessions::new(Duration::from_millis(50));
        let (id, started) = sessions.start(Some(dana()));
        let found = sessions.get(&id).map(|s| (s.user, s.csrf));
        assert_eq!(found, Some((Some(dana()), started.csrf)));
        assert!(sessions.get("not-an-id").is_none());
        std::thread::sleep(Duration::from_millis(80));
        assert!(sessions.get(&id).is_none(), "idle too long");
        let (id, _) = sessions.start(None);
        sessions.end(&id);
        assert!(sessions.get(&id).is_none());
    }

    #[test]
    fn a_flood_of_sign_in_forms_never_signs_anyone_out() {
        let sessions = Sessions::new(Duration::from_secs(60));
        let (dana_id, _) = sessions.start(Some(dana()));
        for _ in 0..(CAPACITY * 3) {
            sessions.start(None);
        }
        assert!(sessions.get(&dana_id).is_some());
        assert_eq!(sessions.lock().len(), CAPACITY);
    }

    #[test]
    fn tokens_are_long_random_and_compared_whole() {
        let (a, b) = (random_token(), random_token());
        assert_ne!(a, b);
        assert_eq!(a.len(), 43);
        assert!(same(&a, &a.clone()));
        assert!(!same(&a, &b) && !same(&a, "") && !same(&a, &a[..42]));
    }
}
