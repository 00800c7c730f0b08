//! The console's accounts and roles: `name:role:hash` entries, the hash an argon2id PHC
//! string made by `console hash-password`. Passwords are never kept, only checked against
//! their hash; an unknown name is checked against a hash of nothing, so the time taken does
//! not tell which names exist.

use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::SaltString;
use argon2::{Argon2, PasswordHash, PasswordHasher, PasswordVerifier};

/// What a person may do in the console; each includes the ones before it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Role {
    /// Every page.
    Read,
    /// Also changes: silences, pause and resume.
    Operate,
    /// Also the setup pages to come (mapping, defaults); for now, the same as operate.
    Admin,
}

impl Role {
    pub fn parse(text: &str) -> Option<Role> {
        match text {
            "read" => Some(Role::Read),
            "operate" => Some(Role::Operate),
            "admin" => Some(Role::Admin),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Read => "read",
            Role::Operate => "operate",
            Role::Admin => "admin",
        }
    }
}

/// One account.
#[derive(Debug)]
struct Account {
    name: String,
    role: Role,
    /// The PHC string; checked at start, so verifying can only fail on the password.
    hash: String,
}

/// The configured accounts.
#[derive(Debug, Default)]
pub struct Users {
    accounts: Vec<Account>,
}

/// A name the operator API accepts in `X-Relay-On-Behalf-Of`, and the audit log shows as is.
pub fn valid_name(name: &str) -> bool {
    (1..=64).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._-@".contains(&b))
}

impl Users {
    /// Reads the entries; every problem at once, naming entries by position and never quoting
    /// a hash.
    pub fn parse(text: &str) -> Result<Users, Vec<String>> {
        let mut accounts: Vec<Account> = Vec::new();
        let mut problems = Vec::new();
        let entries = text
            .split(|c: char| c == ';' || c.is_whitespace())
            .filter(|e| !e.is_empty());
        for (i, entry) in entries.enumerate() {
            let at = format!("entry #{}", i + 1);
            let mut parts = entry.splitn(3, ':');
            let (Some(name), Some(role), Some(hash)) = (parts.next(), parts.next(), parts.next())
            else {
                problems.push(format!("{at}: expected name:role:hash"));
                continue;
            };
            if !valid_name(name) {
                problems.push(format!(
                    "{at}: the name must be 1 to 64 letters, digits, '.', '_', '-' or '@'"
                ));
                continue;
            }
            let Some(role) = Role::parse(role) else {
                problems.push(format!(
                    "{at} ({name}): the role must be read, operate or admin"
                ));
                continue;
            };
            let usable = PasswordHash::new(hash)
                .is_ok_and(|h| h.algorithm.as_str().starts_with("argon2") && h.hash.is_some());
            if !usable {
                problems.push(format!(
                    "{at} ({name}): the hash is not an argon2 hash; make one with `console hash-password`"
                ));
                continue;
            }
            if accounts.iter().any(|a| a.name == name) {
                problems.push(format!("{at}: the name {name} is used twice"));
                continue;
            }
            accounts.push(Account {
                name: name.to_string(),
                role,
                hash: hash.to_string(),
            });
        }
        if problems.is_empty() {
            Ok(Users { accounts })
        } else {
            Err(problems)
        }
    }

    pub fn is_empty(&self) -> bool {
        self.accounts.is_empty()
    }

    /// The account's name and role when `password` is its password. Slow on purpose
    /// (argon2): call it off the request threads.
    pub fn verify(&self, name: &str, password: &str) -> Option<(String, Role)> {
        let account = self.accounts.iter().find(|a| a.name == name);
        let hash = account.map_or(DUMMY_HASH, |a| a.hash.as_str());
        let parsed = PasswordHash::new(hash).ok()?;
        let ok = Argon2::default()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok();
        account.filter(|_| ok).map(|a| (a.name.clone(), a.role))
    }
}

/// A hash of a password nobody has, checked for unknown names (argon2id, the defaults).
const DUMMY_HASH: &str =
    "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$2Gi3K2B6lVNxV3SvJNrvlqwGqbaqDDnbEnWKk8ecUMI";

/// An argon2id hash of `password` with a fresh salt (the library's defaults: 19 MiB, 2
/// passes), as `console hash-password` prints it.
pub fn hash_password(password: &str) -> Result<String, String> {
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| format!("cannot hash the password: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_password_checks_against_its_hash_and_nothing_else_does() -> Result<(), String> {
        let hash = hash_password("correct horse battery")?;
        let users = Users::parse(&format!("dana:operate:{hash}\nrita:read:{hash}"))
            .map_err(|p| p.join("; "))?;
        assert_eq!(
            users.verify("dana", "correct horse battery"),
            Some(("dana".into(), Role::Operate))
        );
        assert_eq!(users.verify("dana", "wrong"), None);
        assert_eq!(users.verify("nobody", "correct horse battery"), None);
        Ok(())
    }

    #[test]
    fn bad_entries_are_named_by_position_without_their_hash() {
        let problems = Users::parse("dana:operate:$argon2id$nonsense;x ok:boss:$argon2id$v")
            .err()
            .unwrap_or_default();
        assert_eq!(problems.len(), 3, "{problems:#?}");
        assert!(problems.iter().all(|p| !p.contains("nonsense")));
        assert!(PasswordHash::new(DUMMY_HASH).is_ok());
    }
}
