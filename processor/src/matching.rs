//! Matching an organization to a Syncro customer the way documentation platforms (IT Glue's
//! Syncro matching) suggest one, rule by rule, the first rule that finds a customer wins:
//!
//! 1. **name**: the same name once normalised (case, spacing, punctuation, `&`/`and`, and
//!    trailing legal suffixes such as Inc, LLC, Ltd, GmbH removed); score 1.00.
//! 2. **domain**: the organization's domain is the domain of the customer's email, of one
//!    of its contacts' emails, or of a `Domain`/`Website` custom field; score 0.95. Free
//!    mail providers (gmail.com…) never match.
//! 3. **phone**: the same phone number (its last 10 digits, at least 7); score 0.90. Alerts
//!    carry no phone today, so this rule waits for a sender that does.
//! 4. **fuzzy**: the most similar normalised name by Jaro-Winkler; its score is the
//!    similarity, kept only at or above the threshold.
//!
//! Everything here is pure: no I/O, so every rule is tested on its own. `relayctl mappings
//! suggest` and the operator API's `GET /v1/mappings` (the console's Mapping page) both
//! suggest with these rules, from Syncro customers made [`candidate`]s.

use serde::Serialize;

/// Score of each exact rule (fuzzy matches score their similarity, always below 1).
pub const NAME_SCORE: f64 = 1.0;
pub const DOMAIN_SCORE: f64 = 0.95;
pub const PHONE_SCORE: f64 = 0.90;
/// Default least similarity of a fuzzy suggestion.
pub const DEFAULT_MIN_SCORE: f64 = 0.85;

/// Trailing words that name a legal form, not the business.
const LEGAL_SUFFIXES: &[&str] = &[
    "inc",
    "incorporated",
    "llc",
    "llp",
    "lp",
    "ltd",
    "limited",
    "gmbh",
    "mbh",
    "ag",
    "kg",
    "corp",
    "corporation",
    "co",
    "company",
    "plc",
    "pllc",
    "pc",
    "pty",
    "sa",
    "sas",
    "sarl",
    "srl",
    "spa",
    "bv",
    "nv",
    "ab",
    "as",
    "oy",
    "aps",
];

/// Mail providers whose domain says nothing about who a customer is.
const FREE_MAIL: &[&str] = &[
    "gmail.com",
    "googlemail.com",
    "outlook.com",
    "hotmail.com",
    "live.com",
    "msn.com",
    "yahoo.com",
    "icloud.com",
    "me.com",
    "aol.com",
    "proton.me",
    "protonmail.com",
    "gmx.com",
    "gmx.de",
    "web.de",
];

/// What is known of an organization seen without a mapping.
#[derive(Debug, Clone, Default)]
pub struct Org {
    pub name: Option<String>,
    pub domain: Option<String>,
    /// No sender carries one yet; the phone rule is ready for when one does.
    pub phone: Option<String>,
}

/// A Syncro customer, reduced to what the rules compare.
#[derive(Debug, Clone, Default)]
pub struct Candidate {
    pub id: i64,
    pub name: String,
    /// Email and web domains, lower case.
    pub domains: Vec<String>,
    /// Phone numbers as written.
    pub phones: Vec<String>,
}

/// Which rule found the customer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Reason {
    Name,
    Domain,
    Phone,
    Fuzzy,
}

impl Reason {
    /// The rule in a word or two, as people read it ("name", "fuzzy name").
    pub fn word(self) -> &'static str {
        match self {
            Reason::Name => "name",
            Reason::Domain => "domain",
            Reason::Phone => "phone",
            Reason::Fuzzy => "fuzzy name",
        }
    }
}

/// A suggested customer for an organization.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Suggestion {
    pub customer_id: i64,
    pub customer_name: String,
    pub score: f64,
    pub reason: Reason,
    /// Why, in words (e.g. `same domain contoso.com`).
    pub detail: String,
}

/// The name as the rules compare it: lower case, words of letters and digits, `&` as
/// `and`, trailing legal forms dropped ("Contoso, Ltd." → "contoso").
pub fn normalise_name(name: &str) -> String {
    let spaced: String = name
        .to_lowercase()
        .replace('&', " and ")
        .chars()
        .map(|c| if c.is_alphanumeric() { c } else { ' ' })
        .collect();
    let mut words: Vec<&str> = spaced.split_whitespace().collect();
    // Keep at least one word: a business called "Company" is still called something.
    // "GmbH & Co. KG": the `and` between two legal forms goes with them.
    while words.len() > 1
        && words
            .last()
            .is_some_and(|w| LEGAL_SUFFIXES.contains(w) || *w == "and")
    {
        words.pop();
    }
    words.join(" ")
}

/// The domain of an email address, a URL or a bare domain, lower case, without `www.`;
/// `None` for anything that does not look like a domain.
pub fn domain_of(text: &str) -> Option<String> {
    let text = text.trim().to_lowercase();
    let host = match text.rsplit_once('@') {
        Some((_, host)) => host.to_string(),
        None => {
            let rest = text.split_once("://").map_or(text.as_str(), |(_, r)| r);
            rest.split(['/', '?', '#', ':'])
                .next()
                .unwrap_or("")
                .to_string()
        }
    };
    let host = host.trim_end_matches('.');
    let host = host.strip_prefix("www.").unwrap_or(host);
    let valid = host.contains('.')
        && !host.starts_with('.')
        && host
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '-');
    valid.then(|| host.to_string())
}

/// The digits of a phone number that identify it (the last 10, to ignore a country code);
/// `None` when fewer than 7 digits are written.
pub fn phone_key(phone: &str) -> Option<String> {
    let digits: Vec<char> = phone.chars().filter(char::is_ascii_digit).collect();
    if digits.len() < 7 {
        return None;
    }
    Some(digits[digits.len().saturating_sub(10)..].iter().collect())
}

/// Jaro-Winkler similarity of two strings, from 0 (nothing shared) to 1 (equal).
pub fn jaro_winkler(a: &str, b: &str) -> f64 {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    if a.is_empty() && b.is_empty() {
        return 1.0;
    }
    if a.is_empty() || b.is_empty() {
        return 0.0;
    }
    let window = (a.len().max(b.len()) / 2).saturating_sub(1);
    let mut a_matched = vec![false; a.len()];
    let mut b_matched = vec![false; b.len()];
    let mut matches = 0usize;
    for (i, ca) in a.iter().enumerate() {
        let start = i.saturating_sub(window);
        let end = (i + window + 1).min(b.len());
        for j in start..end {
            if !b_matched[j] && b[j] == *ca {
                a_matched[i] = true;
                b_matched[j] = true;
                matches += 1;
                break;
            }
        }
    }
    if matches == 0 {
        return 0.0;
    }
    let a_seq = a
        .iter()
        .zip(&a_matched)
        .filter(|(_, m)| **m)
        .map(|(c, _)| c);
    let b_seq = b
        .iter()
        .zip(&b_matched)
        .filter(|(_, m)| **m)
        .map(|(c, _)| c);
    let transpositions = a_seq.zip(b_seq).filter(|(x, y)| x != y).count() / 2;
    let m = matches as f64;
    let jaro = (m / a.len() as f64 + m / b.len() as f64 + (m - transpositions as f64) / m) / 3.0;
    let prefix = a.iter().zip(&b).take(4).take_while(|(x, y)| x == y).count();
    jaro + prefix as f64 * 0.1 * (1.0 - jaro)
}

/// The customer suggested for `org`, by the first rule that finds one; fuzzy suggestions
/// below `min_score` are dropped. Ties within a rule go to the lowest customer id, and the
/// detail says how many other customers matched as well.
pub fn suggest(org: &Org, candidates: &[Candidate], min_score: f64) -> Option<Suggestion> {
    let mut sorted: Vec<&Candidate> = candidates.iter().collect();
    sorted.sort_by_key(|c| c.id);
    let name = org
        .name
        .as_deref()
        .map(normalise_name)
        .filter(|n| !n.is_empty());
    if let Some(name) = &name {
        let found = sorted.iter().filter(|c| normalise_name(&c.name) == *name);
        if let Some(s) = first_of(found, Reason::Name, NAME_SCORE, || {
            format!("same name once normalised ({name:?})")
        }) {
            return Some(s);
        }
    }
    let domain = org
        .domain
        .as_deref()
        .and_then(domain_of)
        .filter(|d| !FREE_MAIL.contains(&d.as_str()));
    if let Some(domain) = &domain {
        let found = sorted
            .iter()
            .filter(|c| c.domains.iter().any(|d| d == domain));
        if let Some(s) = first_of(found, Reason::Domain, DOMAIN_SCORE, || {
            format!("same domain {domain}")
        }) {
            return Some(s);
        }
    }
    if let Some(phone) = org.phone.as_deref().and_then(phone_key) {
        let found = sorted.iter().filter(|c| {
            c.phones
                .iter()
                .any(|p| phone_key(p).as_ref() == Some(&phone))
        });
        if let Some(s) = first_of(found, Reason::Phone, PHONE_SCORE, || {
            format!(
                "same phone number (…{})",
                &phone[phone.len().saturating_sub(4)..]
            )
        }) {
            return Some(s);
        }
    }
    let name = name?;
    let (best, score) = sorted
        .iter()
        .map(|c| (*c, jaro_winkler(&name, &normalise_name(&c.name))))
        .fold(
            None,
            |best: Option<(&Candidate, f64)>, (c, score)| match best {
                Some((_, top)) if top >= score => best,
                _ => Some((c, score)),
            },
        )?;
    (score >= min_score).then(|| Suggestion {
        customer_id: best.id,
        customer_name: best.name.clone(),
        score,
        reason: Reason::Fuzzy,
        detail: format!("similar name (Jaro-Winkler {score:.2})"),
    })
}

fn first_of<'a>(
    mut found: impl Iterator<Item = &'a &'a Candidate>,
    reason: Reason,
    score: f64,
    detail: impl FnOnce() -> String,
) -> Option<Suggestion> {
    let first = found.next()?;
    let others = found.count();
    let mut detail = detail();
    if others > 0 {
        detail.push_str(&format!(
            "; {others} other customer(s) match too: check before pasting"
        ));
    }
    Some(Suggestion {
        customer_id: first.id,
        customer_name: first.name.clone(),
        score,
        reason,
        detail,
    })
}

/// A Syncro customer as the rules see it: its name, the domains of its email, its contacts'
/// emails and its `Domain`/`Website` custom fields, and its phone numbers.
pub fn candidate(customer: &syncro::Customer) -> Candidate {
    let mut domains = Vec::new();
    let mut phones = Vec::new();
    let mut add_domain = |text: Option<&str>| {
        if let Some(domain) = text.and_then(domain_of) {
            if !domains.contains(&domain) {
                domains.push(domain);
            }
        }
    };
    add_domain(customer.email.as_deref());
    for contact in &customer.contacts {
        add_domain(contact.email.as_deref());
    }
    for (key, value) in &customer.properties {
        let key = key.to_lowercase();
        if key.contains("domain") || key.contains("website") || key.contains("web site") {
            add_domain(value.as_str());
        }
    }
    for phone in [&customer.phone, &customer.mobile].into_iter().flatten() {
        phones.push(phone.clone());
    }
    for contact in &customer.contacts {
        phones.extend(contact.phone.iter().chain(&contact.mobile).cloned());
    }
    Candidate {
        id: customer.id,
        name: customer.display_name(),
        domains,
        phones,
    }
}

/// The customers worth suggesting: not the catch-all, not disabled.
pub fn candidates(customers: &[syncro::Customer], catch_all: i64) -> Vec<Candidate> {
    customers
        .iter()
        .filter(|c| c.id != catch_all && c.disabled != Some(true))
        .map(candidate)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn customer(id: i64, name: &str, domains: &[&str], phones: &[&str]) -> Candidate {
        Candidate {
            id,
            name: name.into(),
            domains: domains.iter().map(|d| d.to_string()).collect(),
            phones: phones.iter().map(|p| p.to_string()).collect(),
        }
    }

    fn customers() -> Vec<Candidate> {
        vec![
            customer(1, "Contoso Ltd", &["contoso.com"], &["+1 425-555-0100"]),
            customer(2, "Fabrikam, Inc.", &["fabrikam.com"], &["+1 312-555-0142"]),
            customer(
                3,
                "Northwind Traders",
                &["northwindtraders.com"],
                &["(206) 555-0177"],
            ),
        ]
    }

    fn org(name: Option<&str>, domain: Option<&str>, phone: Option<&str>) -> Org {
        Org {
            name: name.map(str::to_string),
            domain: domain.map(str::to_string),
            phone: phone.map(str::to_string),
        }
    }

    #[test]
    fn names_are_normalised_for_case_spacing_punctuation_and_legal_forms() {
        assert_eq!(normalise_name("  Contoso,   LTD. "), "contoso");
        assert_eq!(normalise_name("Fabrikam Inc"), "fabrikam");
        assert_eq!(normalise_name("Müller GmbH & Co. KG"), "müller");
        assert_eq!(normalise_name("Smith & Sons LLC"), "smith and sons");
        assert_eq!(normalise_name("Acme Pty Ltd"), "acme");
        assert_eq!(normalise_name("Company"), "company");
        assert_eq!(normalise_name("Co-op Bank"), "co op bank");
    }

    #[test]
    fn domains_come_from_emails_urls_and_bare_names() {
        assert_eq!(domain_of("IT@Contoso.com").as_deref(), Some("contoso.com"));
        assert_eq!(
            domain_of("https://www.contoso.com/about").as_deref(),
            Some("contoso.com")
        );
        assert_eq!(domain_of("contoso.com.").as_deref(), Some("contoso.com"));
        assert_eq!(domain_of("not a domain"), None);
        assert_eq!(domain_of("localhost"), None);
    }

    #[test]
    fn phones_compare_by_their_last_ten_digits() {
        assert_eq!(phone_key("+1 (425) 555-0100"), phone_key("425.555.0100"));
        assert_eq!(phone_key("123"), None);
    }

    #[test]
    fn jaro_winkler_matches_the_reference_values() {
        assert!((jaro_winkler("martha", "marhta") - 0.961).abs() < 0.001);
        assert!((jaro_winkler("dwayne", "duane") - 0.84).abs() < 0.001);
        assert_eq!(jaro_winkler("same", "same"), 1.0);
        assert_eq!(jaro_winkler("abc", "xyz"), 0.0);
    }

    #[test]
    fn an_exact_normalised_name_wins_first() {
        let s = suggest(
            &org(Some("CONTOSO, LTD."), Some("x.example"), None),
            &customers(),
            0.85,
        )
        .expect("a suggestion");
        assert_eq!((s.customer_id, s.reason, s.score), (1, Reason::Name, 1.0));
    }

    #[test]
    fn the_domain_is_the_second_rule() {
        let s = suggest(
            &org(Some("NW Ops"), Some("www.northwindtraders.com"), None),
            &customers(),
            0.85,
        )
        .expect("a suggestion");
        assert_eq!((s.customer_id, s.reason), (3, Reason::Domain));
        assert_eq!(s.detail, "same domain northwindtraders.com");
    }

    #[test]
    fn free_mail_domains_never_match() {
        let mut list = customers();
        list.push(customer(9, "Walk-in", &["gmail.com"], &[]));
        assert_eq!(
            suggest(&org(Some("Zed"), Some("gmail.com"), None), &list, 0.85),
            None
        );
    }

    #[test]
    fn the_phone_is_the_third_rule() {
        let s = suggest(
            &org(Some("Zed"), None, Some("312 555 0142")),
            &customers(),
            0.85,
        )
        .expect("a suggestion");
        assert_eq!((s.customer_id, s.reason), (2, Reason::Phone));
    }

    #[test]
    fn a_similar_name_is_suggested_with_its_similarity_as_score() {
        let s = suggest(
            &org(Some("Northwind Trader"), None, None),
            &customers(),
            0.85,
        )
        .expect("a suggestion");
        assert_eq!((s.customer_id, s.reason), (3, Reason::Fuzzy));
        assert!(s.score > 0.9 && s.score < 1.0, "{}", s.score);
        assert_eq!(
            suggest(
                &org(Some("Northwind Trader"), None, None),
                &customers(),
                0.999
            ),
            None
        );
    }

    #[test]
    fn nothing_alike_gives_no_suggestion() {
        assert_eq!(
            suggest(
                &org(Some("Zzyzx Quux"), Some("zzyzx.example"), None),
                &customers(),
                0.85
            ),
            None
        );
        assert_eq!(suggest(&org(None, None, None), &customers(), 0.0), None);
    }

    #[test]
    fn a_tie_goes_to_the_lowest_id_and_says_so() {
        let mut list = customers();
        list.push(customer(0, "Contoso Limited", &[], &[]));
        let s = suggest(&org(Some("Contoso"), None, None), &list, 0.85).expect("a suggestion");
        assert_eq!(s.customer_id, 0);
        assert!(
            s.detail.contains("1 other customer(s) match too"),
            "{}",
            s.detail
        );
    }
}
