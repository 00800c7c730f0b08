//! The web console for tests: in-process on port 0 (the production `serve`), a client of a
//! [`crate::operator::TestOperator`] with the tests' console token, two accounts, and a small
//! cookie-keeping HTTP client ([`Visitor`]) that reads forms' CSRF tokens the way a browser
//! would find them in the page.

use crate::operator::CONSOLE_TOKEN;
use console::config::ConsoleConfig;
use reqwest::header::{HeaderMap, COOKIE, LOCATION, SET_COOKIE};
use reqwest::redirect::Policy;
use std::collections::HashMap;
use std::net::TcpListener;
use std::sync::OnceLock;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// An account with the operate role, and its password.
pub const DANA: &str = "dana";
/// An account with the read role.
pub const RITA: &str = "rita-r";
pub const PASSWORD: &str = "correct horse battery staple";

/// The accounts, hashed once per test process (argon2 is slow on purpose).
fn users() -> &'static str {
    static USERS: OnceLock<String> = OnceLock::new();
    USERS.get_or_init(|| {
        let hash = console::users::hash_password(PASSWORD).expect("hash");
        format!("{DANA}:operate:{hash}\n{RITA}:read:{hash}")
    })
}

/// The console running inside the test process.
pub struct TestConsole {
    pub base_url: String,
    stop: Option<oneshot::Sender<()>>,
    task: JoinHandle<anyhow::Result<()>>,
}

impl TestConsole {
    /// Starts the console against the operator API at `operator_url`; `extra` adds or
    /// overrides environment variables (`RELAY_CONSOLE_*`).
    pub fn spawn(operator_url: &str, extra: &[(&str, &str)]) -> TestConsole {
        let mut vars: HashMap<String, String> = HashMap::from([
            ("RELAY_OPERATOR_URL".into(), operator_url.to_string()),
            ("RELAY_CONSOLE_OPERATOR_TOKEN".into(), CONSOLE_TOKEN.into()),
            ("RELAY_CONSOLE_USERS".into(), users().to_string()),
        ]);
        for (k, v) in extra {
            vars.insert(k.to_string(), v.to_string());
        }
        let env = move |name: &str| vars.get(name).cloned();
        let config = ConsoleConfig::from_env(&env).expect("test console config");
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = listener.local_addr().expect("addr").port();
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(console::serve(listener, config, async move {
            let _ = stopped.await;
        }));
        TestConsole {
            base_url: format!("http://127.0.0.1:{port}"),
            stop: Some(stop),
            task,
        }
    }

    /// Waits until its `/healthz` answers, within `within`.
    pub async fn ready(&self, within: std::time::Duration) {
        crate::wait::http_ok("the console", &format!("{}/healthz", self.base_url), within).await;
    }

    /// A visitor with no cookie yet.
    pub fn visitor(&self) -> Visitor {
        Visitor {
            base: self.base_url.clone(),
            http: reqwest::Client::builder()
                .redirect(Policy::none())
                .build()
                .expect("client"),
            cookie: None,
        }
    }

    /// A visitor signed in with `name`'s password.
    pub async fn signed_in(&self, name: &str) -> Visitor {
        let mut visitor = self.visitor();
        let answer = visitor.sign_in(name, PASSWORD).await;
        assert_eq!(answer.status, 303, "{name} signs in: {}", answer.body);
        visitor
    }

    /// Stops as SIGTERM would.
    pub async fn stop(mut self) -> anyhow::Result<()> {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        (&mut self.task).await.expect("console task")
    }
}

/// An answer of the console.
#[derive(Debug)]
pub struct Page {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: String,
}

impl Page {
    pub fn header(&self, name: &str) -> &str {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
    }

    pub fn location(&self) -> &str {
        self.header(LOCATION.as_str())
    }

    /// The first form's CSRF token in the page.
    pub fn csrf(&self) -> Option<String> {
        let at = self.body.find(r#"name="csrf" value=""#)? + r#"name="csrf" value=""#.len();
        let end = self.body[at..].find('"')?;
        Some(self.body[at..at + end].to_string())
    }
}

/// A browser without a browser: it keeps the session cookie and follows nothing by itself.
pub struct Visitor {
    base: String,
    http: reqwest::Client,
    /// `relay_console=<id>`, as the console last set it.
    pub cookie: Option<String>,
}

impl Visitor {
    async fn read(&mut self, response: reqwest::Response) -> Page {
        for value in response.headers().get_all(SET_COOKIE) {
            let text = value.to_str().unwrap_or_default();
            if let Some(pair) = text.split(';').next() {
                if pair.ends_with('=') {
                    self.cookie = None;
                } else {
                    self.cookie = Some(pair.to_string());
                }
            }
        }
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let body = response.text().await.unwrap_or_default();
        Page {
            status,
            headers,
            body,
        }
    }

    pub async fn get(&mut self, path: &str) -> Page {
        let mut request = self.http.get(format!("{}{path}", self.base));
        if let Some(cookie) = &self.cookie {
            request = request.header(COOKIE, cookie);
        }
        let response = request.send().await.expect("the console answers");
        self.read(response).await
    }

    /// POSTs `fields` as a form, with extra headers.
    pub async fn post_with(
        &mut self,
        path: &str,
        fields: &[(&str, &str)],
        headers: &[(&str, &str)],
    ) -> Page {
        let body: String = form_urlencoded::Serializer::new(String::new())
            .extend_pairs(fields)
            .finish();
        let mut request = self
            .http
            .post(format!("{}{path}", self.base))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body);
        if let Some(cookie) = &self.cookie {
            request = request.header(COOKIE, cookie);
        }
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let response = request.send().await.expect("the console answers");
        self.read(response).await
    }

    pub async fn post(&mut self, path: &str, fields: &[(&str, &str)]) -> Page {
        self.post_with(path, fields, &[]).await
    }

    /// The CSRF token of the session, read from a page's form.
    pub async fn csrf(&mut self) -> String {
        let page = self.get("/sign-in").await;
        let page = if page.status == 303 {
            self.get("/").await
        } else {
            page
        };
        page.csrf().expect("a form with a CSRF token")
    }

    /// Fills the password form of the sign-in page and sends it.
    pub async fn sign_in(&mut self, name: &str, password: &str) -> Page {
        let csrf = self.csrf().await;
        self.post(
            "/sign-in",
            &[
                ("csrf", &csrf),
                ("method", "password"),
                ("name", name),
                ("password", password),
            ],
        )
        .await
    }

    /// Fills the token form of the sign-in page and sends it.
    pub async fn sign_in_with_token(&mut self, token: &str) -> Page {
        let csrf = self.csrf().await;
        self.post(
            "/sign-in",
            &[("csrf", &csrf), ("method", "token"), ("token", token)],
        )
        .await
    }
}
