//! What the browser stories share: headless Chromium through ChromeDriver, an example server
//! on a free port, and the user's authenticator app.
#![allow(
    dead_code,
    unreachable_pub,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt as _, AsyncReadExt as _, AsyncWriteExt as _, BufReader};
use tokio::process::{Child, Command};
use twostep::otp::Totp;

/// Chromium and ChromeDriver, or `None` (after printing SKIPPED) where they are not
/// installed; under `CI=true` their absence fails the test.
pub fn chromium(name: &str) -> Option<(PathBuf, PathBuf)> {
    let chromium = tool("TWOSTEP_CHROMIUM", "/usr/bin/chromium");
    let chromedriver = tool("TWOSTEP_CHROMEDRIVER", "/usr/bin/chromedriver");
    let (Some(chromium), Some(chromedriver)) = (chromium, chromedriver) else {
        assert!(
            std::env::var("CI").is_err(),
            "CI=true but Chromium or ChromeDriver is missing (apt-get install chromium chromium-driver)"
        );
        eprintln!("SKIPPED {name}: install chromium and chromium-driver to run the browser tests");
        return None;
    };
    Some((chromium, chromedriver))
}

/// Everything an example prints, line by line, as it prints it.
#[derive(Clone, Default)]
pub struct Log(Arc<Mutex<Vec<String>>>);

impl Log {
    pub fn lines(&self) -> Vec<String> {
        self.0.lock().unwrap().clone()
    }
}

/// What follows `marker` on the newest line any of `logs` printed with it (a mailed code or
/// link), waiting up to ten seconds for one: a mailer may print after the reply.
pub async fn printed_after(logs: &[&Log], marker: &str) -> String {
    for _ in 0..100 {
        for log in logs {
            if let Some(rest) = log.lines().iter().rev().find_map(|line| {
                line.split_once(marker)
                    .map(|(_, rest)| rest.trim().to_owned())
            }) {
                return rest;
            }
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!("nothing printed after {marker:?}");
}

/// Runs the example `name` (built by `cargo test` with the other examples) with `args` and
/// `--addr 127.0.0.1:0`; returns it, the URL it listens on (the line `… on URL`), and its
/// output.
pub async fn start_example(
    name: &str,
    args: &[&str],
    env: &[(&str, &str)],
) -> (Child, String, Log) {
    let mut binary = std::env::current_exe().unwrap();
    binary.pop();
    binary.pop();
    binary.push("examples");
    binary.push(format!("{name}{}", std::env::consts::EXE_SUFFIX));
    assert!(
        binary.exists(),
        "cargo test builds the examples first: {}",
        binary.display()
    );
    let mut server = Command::new(binary)
        .args(["--addr", "127.0.0.1:0"])
        .args(args)
        .envs(env.iter().copied())
        .stdout(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(server.stdout.take().unwrap()).lines();
    let base = tokio::time::timeout(Duration::from_secs(60), async {
        while let Some(line) = lines.next_line().await.unwrap() {
            if let Some((_, url)) = line.split_once(" on http") {
                return format!("http{url}");
            }
        }
        panic!("the example exited before listening");
    })
    .await
    .unwrap();
    // Keep reading its output (mail, audit), so it never blocks on a full pipe.
    let log = Log::default();
    let kept = log.clone();
    tokio::spawn(async move {
        while let Ok(Some(line)) = lines.next_line().await {
            kept.0.lock().unwrap().push(line);
        }
    });
    (server, base, log)
}

/// The user's authenticator app: the key read off the setup page.
pub struct App(pub Totp);

impl App {
    /// The code the app shows `seconds` from now.
    pub fn code_after(&self, seconds: u64) -> String {
        self.0.generate(unix_now() + seconds).unwrap().to_string()
    }
}

impl App {
    /// A well-formed code that none of the steps around now accepts.
    pub fn wrong_code(&self) -> String {
        let near: Vec<String> = [0, 30, 60, 90].map(|ahead| self.code_after(ahead)).into();
        (0..)
            .map(|n: u32| format!("{:06}", (n * 7919) % 1_000_000))
            .find(|code| !near.contains(code))
            .unwrap()
    }
}

/// A browser session, with the few steps the stories take.
pub struct Browser {
    pub client: Client,
}

impl Browser {
    pub async fn open(driver: &str, chromium: &Path, dir: &Path, downloads: &Path) -> Self {
        let profile = dir.join("chromium-profile");
        let capabilities = json!({
            "browserName": "chrome",
            "goog:chromeOptions": {
                "binary": chromium,
                "args": [
                    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                    "--no-first-run", "--disable-background-networking",
                    "--disable-component-update", "--disable-sync",
                    "--disable-dev-shm-usage", "--window-size=1100,1000",
                    format!("--user-data-dir={}", profile.display()),
                ],
                "prefs": {
                    "download.default_directory": downloads,
                    "download.prompt_for_download": false,
                },
            },
        });
        let Value::Object(capabilities) = capabilities else {
            unreachable!()
        };
        let connector = hyper_util::client::legacy::connect::HttpConnector::new();
        let client = ClientBuilder::new(connector)
            .capabilities(capabilities)
            .connect(driver)
            .await
            .unwrap();
        Self { client }
    }

    pub async fn goto(&self, url: &str) {
        self.client.goto(url).await.unwrap();
    }

    pub async fn path(&self) -> String {
        self.client.current_url().await.unwrap().path().to_owned()
    }

    pub async fn find(&self, css: &str) -> fantoccini::elements::Element {
        match self
            .client
            .wait()
            .at_most(Duration::from_secs(30))
            .for_element(Locator::Css(css))
            .await
        {
            Ok(element) => element,
            Err(error) => panic!("no {css} on {}: {error}", self.path_now().await),
        }
    }

    pub async fn path_now(&self) -> String {
        self.client
            .current_url()
            .await
            .map_or_else(|_| "?".to_owned(), |url| url.to_string())
    }

    /// Clicks a link or a submit button and waits for the next page to load.
    pub async fn click_on(&self, css: &str) {
        let element = self.find(css).await;
        // A mark on the current document: gone once the next one has loaded.
        self.execute("window.beforeClick = true").await;
        element.click().await.unwrap();
        for _ in 0..600 {
            let loaded = self
                .client
                .execute(
                    "return window.beforeClick === undefined && document.readyState === 'complete'",
                    vec![],
                )
                .await;
            if matches!(loaded, Ok(Value::Bool(true))) {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("clicking {css} on {} loaded no page", self.path_now().await);
    }

    /// Clicks something that stays on the page (a checkbox, a download link).
    pub async fn tick(&self, css: &str) {
        self.find(css).await.click().await.unwrap();
    }

    pub async fn fill(&self, css: &str, text: &str) {
        let input = self.find(css).await;
        input.clear().await.unwrap();
        input.send_keys(text).await.unwrap();
    }

    pub async fn text_of(&self, css: &str) -> String {
        self.find(css).await.text().await.unwrap().trim().to_owned()
    }

    pub async fn texts_of(&self, css: &str) -> Vec<String> {
        self.find(css).await;
        let mut texts = Vec::new();
        for element in self.client.find_all(Locator::Css(css)).await.unwrap() {
            texts.push(element.text().await.unwrap().trim().to_owned());
        }
        texts
    }

    pub async fn is_enabled(&self, css: &str) -> bool {
        self.find(css).await.is_enabled().await.unwrap()
    }

    pub async fn execute(&self, script: &str) -> Value {
        self.client.execute(script, vec![]).await.unwrap()
    }

    /// A same-origin form POST sent by a script on the page, with the session cookie:
    /// `{status, url, text}` of the answer (after redirects).
    pub async fn post_from_page(&self, path: &str, body: &str) -> Value {
        let script = "return fetch(arguments[0], {method: 'POST', body: arguments[1], \
             headers: {'Content-Type': 'application/x-www-form-urlencoded'}}) \
             .then(async (r) => ({status: r.status, url: r.url, text: await r.text()}))";
        self.client
            .execute(script, vec![json!(path), json!(body)])
            .await
            .unwrap()
    }
}

pub async fn start_chromedriver(chromedriver: &Path) -> (Child, String) {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let driver = Command::new(chromedriver)
        .arg(format!("--port={port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    for _ in 0..100 {
        if tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_ok()
        {
            return (driver, format!("http://127.0.0.1:{port}"));
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("chromedriver did not start");
}

/// The text of the one QR code in a screenshot of `element`, decoded by `rqrr`.
pub async fn scan_qr(element: &fantoccini::elements::Element) -> String {
    let png_bytes = element.screenshot().await.unwrap();
    let mut reader = png::Decoder::new(std::io::Cursor::new(png_bytes))
        .read_info()
        .unwrap();
    let mut pixels = vec![0; reader.output_buffer_size().unwrap()];
    let info = reader.next_frame(&mut pixels).unwrap();
    let channels = info.color_type.samples();
    let (width, height) = (info.width as usize, info.height as usize);
    let mut image = rqrr::PreparedImage::prepare_from_greyscale(width, height, |x, y| {
        // The first channel is enough: the code is black on white.
        pixels[(y * width + x) * channels]
    });
    let grids = image.detect_grids();
    assert_eq!(grids.len(), 1, "one QR code on screen");
    grids[0].decode().unwrap().1
}

pub fn tool(variable: &str, default: &str) -> Option<PathBuf> {
    let path = std::env::var_os(variable).map_or_else(|| PathBuf::from(default), PathBuf::from);
    path.exists().then_some(path)
}

pub fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// An answer over plain HTTP: status, headers, body.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub headers: HashMap<String, String>,
    pub body: String,
}

impl Reply {
    pub fn location(&self) -> &str {
        self.headers.get("location").map_or("", String::as_str)
    }

    /// The anti-CSRF token of the page's first form.
    pub fn csrf(&self) -> String {
        let needle = "name=\"csrf\" value=\"";
        let at = self.body.find(needle).expect("a form") + needle.len();
        self.body[at..].split('"').next().unwrap().to_owned()
    }

    /// The text of the element with `id` (no nested tags).
    pub fn text_of(&self, id: &str) -> String {
        let at = self.body.find(&format!("id=\"{id}\"")).expect(id);
        let start = at + self.body[at..].find('>').unwrap() + 1;
        let end = start + self.body[start..].find('<').unwrap();
        self.body[start..end].trim().to_owned()
    }
}

/// A cookie jar speaking plain HTTP/1.1 to whichever server it is given (no browser).
#[derive(Clone, Default)]
pub struct Http {
    pub cookie: Option<String>,
}

impl Http {
    pub async fn get(&mut self, base: &str, path: &str) -> Reply {
        self.send(base, "GET", path, None).await
    }

    pub async fn post(&mut self, base: &str, path: &str, fields: &[(&str, &str)]) -> Reply {
        let body = form_urlencoded::Serializer::new(String::new())
            .extend_pairs(fields)
            .finish();
        self.send(base, "POST", path, Some(body)).await
    }

    pub async fn send(
        &mut self,
        base: &str,
        method: &str,
        path: &str,
        body: Option<String>,
    ) -> Reply {
        let host = base.trim_start_matches("http://");
        let mut stream = tokio::net::TcpStream::connect(host).await.unwrap();
        let mut request =
            format!("{method} {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n");
        if let Some(cookie) = &self.cookie {
            request.push_str(&format!("Cookie: {cookie}\r\n"));
        }
        let body = body.unwrap_or_default();
        if method == "POST" {
            request.push_str("Content-Type: application/x-www-form-urlencoded\r\n");
            request.push_str("Sec-Fetch-Site: same-origin\r\n");
        }
        request.push_str(&format!("Content-Length: {}\r\n\r\n{body}", body.len()));
        stream.write_all(request.as_bytes()).await.unwrap();
        let mut raw = Vec::new();
        stream.read_to_end(&mut raw).await.unwrap();
        let raw = String::from_utf8_lossy(&raw).into_owned();
        let (head, body) = raw.split_once("\r\n\r\n").unwrap();
        let mut lines = head.lines();
        let status = lines
            .next()
            .unwrap()
            .split(' ')
            .nth(1)
            .unwrap()
            .parse()
            .unwrap();
        let mut headers = HashMap::new();
        for line in lines {
            let (name, value) = line.split_once(':').unwrap();
            let (name, value) = (name.trim().to_lowercase(), value.trim().to_owned());
            if name == "set-cookie" {
                let pair = value.split(';').next().unwrap().to_owned();
                self.cookie = (!value.contains("Max-Age=0")).then_some(pair);
            }
            headers.insert(name, value);
        }
        let body = if headers
            .get("transfer-encoding")
            .is_some_and(|te| te == "chunked")
        {
            unchunk(body)
        } else {
            body.to_owned()
        };
        Reply {
            status,
            headers,
            body,
        }
    }
}

/// A chunked HTTP body, joined.
fn unchunk(mut body: &str) -> String {
    let mut out = String::new();
    while let Some((size, rest)) = body.split_once("\r\n") {
        let size = usize::from_str_radix(size.trim(), 16).unwrap();
        if size == 0 {
            break;
        }
        out.push_str(&rest[..size]);
        body = &rest[size + 2..];
    }
    out
}
