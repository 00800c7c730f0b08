//! `[redis]`: where the Redis of leases and records is, and how to reach it: one server by
//! its URL, or the master the sentinels name; in the clear or over TLS, with a CA bundle
//! and a client certificate read from files.
//!
//! Keys (defaults in brackets): `url` ["redis://127.0.0.1:6379"], `ca_file`,
//! `client_cert_file`, `client_key_file`, `sentinels` [none], `master_name`,
//! `sentinel_password`, `sentinel_tls` [false]. How connections are made from this is
//! [`crate::store`]'s `connection` module.
//!
//! Every problem is reported at once, each naming its key. The URL and the passwords are
//! never shown, nor anything read from the key file; the paths of the files and the
//! sentinels' addresses are not secrets and are shown.

use redis::{
    ClientTlsConfig, ConnectionAddr, ConnectionInfo, IntoConnectionInfo, RedisConnectionInfo,
    TlsCertificates,
};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use secrecy::ExposeSecret;
use shared::config::RedisSettings;
use std::path::PathBuf;

/// The validated `[redis]` section: what [`crate::store::Store::connect`] connects with.
/// Not `Debug`: it holds the password and the client's private key.
#[derive(Clone)]
pub struct RedisConfig {
    /// From `redis.url`: TLS or not, user, password, database and, without sentinels, the
    /// server. With sentinels, the master's address replaces the URL's.
    pub(crate) node: ConnectionInfo,
    /// The CA bundle and client certificate read from their files; `None` when neither is
    /// configured (TLS then checks the server against the system's roots).
    pub(crate) certificates: Option<TlsCertificates>,
    /// The sentinels to ask for the master, when configured.
    pub(crate) sentinel: Option<SentinelConfig>,
}

/// `redis.sentinels` and what goes with them.
#[derive(Clone)]
pub(crate) struct SentinelConfig {
    /// Each sentinel's address, TLS or not, and its password.
    pub(crate) nodes: Vec<ConnectionInfo>,
    /// `redis.master_name`.
    pub(crate) master_name: String,
}

/// What a PEM file must hold.
#[derive(Clone, Copy)]
enum Pem {
    Certificates,
    PrivateKey,
}

impl RedisConfig {
    /// Checks `[redis]` and reads the TLS files it names; every problem at once.
    pub fn from_settings(settings: &RedisSettings) -> Result<RedisConfig, Vec<String>> {
        let mut problems = Vec::new();
        let node = node_from_url(settings, &mut problems);
        let with_sentinels = !settings.sentinels.is_empty();
        let sentinel = sentinel_config(settings, &mut problems);

        let ca = read_pem(
            "redis.ca_file",
            &settings.ca_file,
            Pem::Certificates,
            &mut problems,
        );
        let cert = read_pem(
            "redis.client_cert_file",
            &settings.client_cert_file,
            Pem::Certificates,
            &mut problems,
        );
        let key = read_pem(
            "redis.client_key_file",
            &settings.client_key_file,
            Pem::PrivateKey,
            &mut problems,
        );
        match (&settings.client_cert_file, &settings.client_key_file) {
            (Some(_), None) => problems.push(
                "redis.client_cert_file: set without redis.client_key_file; a client certificate needs its key"
                    .into(),
            ),
            (None, Some(_)) => problems.push(
                "redis.client_key_file: set without redis.client_cert_file; a client key needs its certificate"
                    .into(),
            ),
            _ => {}
        }
        let url_tls = settings.url.expose_secret().starts_with("rediss://");
        let uses_tls = url_tls || (with_sentinels && settings.sentinel_tls);
        if !uses_tls {
            for (key, set) in [
                ("redis.ca_file", settings.ca_file.is_some()),
                (
                    "redis.client_cert_file",
                    settings.client_cert_file.is_some(),
                ),
                ("redis.client_key_file", settings.client_key_file.is_some()),
            ] {
                if set {
                    problems.push(format!(
                        "{key}: only used over TLS; use a rediss:// URL (or redis.sentinel_tls for the sentinels)"
                    ));
                }
            }
        }

        let certificates = match (ca, cert, key) {
            (None, None, None) => None,
            (root_cert, cert, key) => Some(TlsCertificates {
                client_tls: cert
                    .zip(key)
                    .map(|(client_cert, client_key)| ClientTlsConfig {
                        client_cert,
                        client_key,
                    }),
                root_cert,
            }),
        };
        if let Some(certificates) = &certificates {
            // The Redis client's own reading of the files, so that what passes here is
            // what it connects with.
            let probe = ConnectionInfo {
                addr: ConnectionAddr::TcpTls {
                    host: "localhost".into(),
                    port: 6379,
                    insecure: false,
                    tls_params: None,
                },
                redis: RedisConnectionInfo::default(),
            };
            if let Err(e) = redis::Client::build_with_tls(probe, certificates.clone()) {
                problems.push(format!("redis: the TLS files cannot be used: {e}"));
            }
        }
        match node {
            Some(node) if problems.is_empty() => Ok(RedisConfig {
                node,
                certificates,
                sentinel,
            }),
            _ => Err(problems),
        }
    }
}

/// `redis.url` as connection settings; never quoted (it may hold a password).
fn node_from_url(settings: &RedisSettings, problems: &mut Vec<String>) -> Option<ConnectionInfo> {
    let url = settings.url.expose_secret();
    if !(url.starts_with("redis://") || url.starts_with("rediss://")) {
        problems.push("redis.url: must start with redis:// or rediss://".into());
        return None;
    }
    match url.into_connection_info() {
        Ok(info) => match info.addr {
            ConnectionAddr::TcpTls { insecure: true, .. } => {
                problems.push(
                    "redis.url: #insecure (no check of the server's certificate) is not supported; give the server's CA in redis.ca_file"
                        .into(),
                );
                None
            }
            _ => Some(info),
        },
        Err(_) => {
            problems.push(
                "redis.url: not a valid Redis URL (redis[s]://[[USER]:PASSWORD@]HOST[:PORT][/DB])"
                    .into(),
            );
            None
        }
    }
}

/// The sentinels, when `redis.sentinels` lists any.
fn sentinel_config(settings: &RedisSettings, problems: &mut Vec<String>) -> Option<SentinelConfig> {
    if settings.sentinels.is_empty() {
        for (key, set) in [
            ("redis.master_name", settings.master_name.is_some()),
            (
                "redis.sentinel_password",
                settings.sentinel_password.is_some(),
            ),
            ("redis.sentinel_tls", settings.sentinel_tls),
        ] {
            if set {
                problems.push(format!("{key}: only used with redis.sentinels"));
            }
        }
        return None;
    }
    let master_name = match settings.master_name.as_deref().map(str::trim) {
        Some(name) if !name.is_empty() => Some(name.to_string()),
        _ => {
            problems.push(
                "redis.master_name: required with redis.sentinels (the NAME of `sentinel monitor NAME ...`)"
                    .into(),
            );
            None
        }
    };
    let mut nodes = Vec::new();
    for (i, address) in settings.sentinels.iter().enumerate() {
        let Some((host, port)) = host_and_port(address) else {
            problems.push(format!(
                "redis.sentinels[{i}] {address:?}: expected HOST:PORT, e.g. 10.0.0.5:26379"
            ));
            continue;
        };
        let addr = if settings.sentinel_tls {
            ConnectionAddr::TcpTls {
                host,
                port,
                insecure: false,
                tls_params: None,
            }
        } else {
            ConnectionAddr::Tcp(host, port)
        };
        nodes.push(ConnectionInfo {
            addr,
            redis: RedisConnectionInfo {
                password: settings
                    .sentinel_password
                    .as_ref()
                    .map(|p| p.expose_secret().to_string()),
                ..RedisConnectionInfo::default()
            },
        });
    }
    Some(SentinelConfig {
        nodes,
        master_name: master_name?,
    })
}

/// `host:port` or `[v6 address]:port`.
fn host_and_port(address: &str) -> Option<(String, u16)> {
    let (host, port) = address.trim().rsplit_once(':')?;
    let host = host
        .strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host);
    let port: u16 = port.parse().ok().filter(|&p| p > 0)?;
    (!host.is_empty() && !host.contains(['/', '@', ' '])).then(|| (host.to_string(), port))
}

/// The file `path` names, when it holds what `pem` says; otherwise a problem naming `key`
/// and the path (never the file's content).
fn read_pem(
    key: &str,
    path: &Option<PathBuf>,
    pem: Pem,
    problems: &mut Vec<String>,
) -> Option<Vec<u8>> {
    let path = path.as_ref()?;
    let bytes = match std::fs::read(path) {
        Ok(bytes) => bytes,
        Err(e) => {
            problems.push(format!("{key}: cannot read {}: {e}", path.display()));
            return None;
        }
    };
    let holds = match pem {
        Pem::Certificates => CertificateDer::pem_slice_iter(&bytes)
            .collect::<Result<Vec<_>, _>>()
            .is_ok_and(|certs| !certs.is_empty()),
        Pem::PrivateKey => PrivateKeyDer::from_pem_slice(&bytes).is_ok(),
    };
    if holds {
        Some(bytes)
    } else {
        let what = match pem {
            Pem::Certificates => "a PEM certificate",
            Pem::PrivateKey => "a PEM private key (PKCS#8, PKCS#1 or SEC1)",
        };
        problems.push(format!("{key}: {} does not hold {what}", path.display()));
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use secrecy::SecretString;

    fn settings(url: &str) -> RedisSettings {
        RedisSettings {
            url: SecretString::from(url),
            ..RedisSettings::default()
        }
    }

    fn problems(settings: &RedisSettings) -> Vec<String> {
        RedisConfig::from_settings(settings)
            .err()
            .unwrap_or_default()
    }

    /// A file in a fresh directory of the test's own.
    fn file(name: &str, text: &str) -> PathBuf {
        let dir =
            std::env::temp_dir().join(format!("relay-redis-config-{}-{name}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("dir");
        let path = dir.join(name);
        std::fs::write(&path, text).expect("write");
        path
    }

    /// Removes a [`file`] and its directory.
    fn remove(path: &std::path::Path) {
        if let Some(dir) = path.parent() {
            let _ = std::fs::remove_dir_all(dir);
        }
    }

    #[test]
    fn plain_and_tls_urls_are_accepted_and_others_are_not_quoted() {
        for good in [
            "redis://127.0.0.1:6379",
            "rediss://:pw@redis.internal:6380/2",
        ] {
            assert!(problems(&settings(good)).is_empty(), "{good}");
        }
        for bad in [
            "http://user:secret-7@h/",
            "rediss://:secret-7@h:6380/#insecure",
            "redis://:secret-7@h:notaport",
        ] {
            let found = problems(&settings(bad));
            assert_eq!(found.len(), 1, "{bad}: {found:?}");
            assert!(found[0].starts_with("redis.url:"), "{found:?}");
            assert!(!found[0].contains("secret-7"), "{found:?}");
        }
    }

    #[test]
    fn every_bad_tls_and_sentinel_setting_is_reported_at_once() {
        let not_pem = file("not-pem.txt", "hello");
        let mut s = settings("redis://:secret-7@h:6379");
        s.ca_file = Some(PathBuf::from("/nonexistent/ca.pem"));
        s.client_cert_file = Some(not_pem.clone());
        s.master_name = Some("mymaster".into());
        s.sentinel_password = Some(SecretString::from("sentinel-secret-9"));
        let found = problems(&s);
        let shown = found.join("\n");
        for expected in [
            "redis.ca_file: cannot read /nonexistent/ca.pem",
            "redis.client_cert_file: ",
            "does not hold a PEM certificate",
            "redis.client_cert_file: set without redis.client_key_file",
            "redis.ca_file: only used over TLS",
            "redis.master_name: only used with redis.sentinels",
            "redis.sentinel_password: only used with redis.sentinels",
        ] {
            assert!(
                shown.contains(expected),
                "{expected:?} missing from:\n{shown}"
            );
        }
        assert!(!shown.contains("secret-7") && !shown.contains("sentinel-secret-9"));
        remove(&not_pem);

        let mut s = settings("redis://mymaster");
        s.sentinels = vec!["10.0.0.5:26379".into(), "nope".into(), "h:0".into()];
        let shown = problems(&s).join("\n");
        assert!(shown.contains("redis.master_name: required"), "{shown}");
        assert!(shown.contains("redis.sentinels[1] \"nope\""), "{shown}");
        assert!(shown.contains("redis.sentinels[2] \"h:0\""), "{shown}");
    }

    #[test]
    fn sentinels_are_read_with_their_password_and_tls() {
        let mut s = settings("rediss://:pw@mymaster/1");
        s.sentinels = vec!["10.0.0.5:26379".into(), "[::1]:26380".into()];
        s.master_name = Some("mymaster".into());
        s.sentinel_password = Some(SecretString::from("sp"));
        s.sentinel_tls = true;
        let Ok(config) = RedisConfig::from_settings(&s) else {
            panic!("valid: {:?}", problems(&s));
        };
        let sentinel = config.sentinel.expect("sentinels");
        assert_eq!(sentinel.master_name, "mymaster");
        let addrs: Vec<String> = sentinel.nodes.iter().map(|n| n.addr.to_string()).collect();
        assert_eq!(addrs, ["10.0.0.5:26379", "::1:26380"]);
        assert!(matches!(
            sentinel.nodes[0].addr,
            ConnectionAddr::TcpTls { .. }
        ));
        assert_eq!(sentinel.nodes[1].redis.password.as_deref(), Some("sp"));
        assert_eq!(config.node.redis.db, 1);
    }

    #[test]
    fn a_key_file_without_a_key_is_named_without_its_content() {
        let key = file(
            "key.pem",
            "-----BEGIN CERTIFICATE-----\nc2VjcmV0LWtleS1ieXRlcw==\n-----END CERTIFICATE-----\n",
        );
        let mut s = settings("rediss://h:6380");
        s.client_cert_file = Some(key.clone());
        s.client_key_file = Some(key.clone());
        let shown = problems(&s).join("\n");
        assert!(shown.contains("redis.client_key_file: "), "{shown}");
        assert!(shown.contains("does not hold a PEM private key"), "{shown}");
        assert!(!shown.contains("c2VjcmV0"), "{shown}");
        remove(&key);
    }
}
