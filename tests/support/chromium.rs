//! Headless Chromium driven over the DevTools protocol: open a page and wait until its text
//! holds what the test expects. `--dump-dom` with a virtual-time budget is not enough for a
//! page that joins over a WebSocket: its frames do not hold virtual time back, so the DOM can
//! be read before the page has joined.

use crate::programs::program;
use crate::util::tempdir;
use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};
use tokio_tungstenite::tungstenite::Message;

/// A headless Chromium with its DevTools endpoint, killed on drop.
pub struct Chromium {
    child: Child,
    devtools: String,
    _profile: tempfile::TempDir,
}

impl Chromium {
    /// Starts Chromium (`apt-get install -y chromium`) with `extra` flags.
    pub fn start(extra: &[&str]) -> Chromium {
        let profile = tempdir("marquee-chromium-");
        let mut child = Command::new(program("chromium"))
            .args([
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--remote-debugging-port=0",
            ])
            .arg(format!("--user-data-dir={}", profile.path().display()))
            .args(extra)
            .arg("about:blank")
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("chromium starts");
        let stderr = child.stderr.take().expect("piped stderr");
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if let Some(url) = line.strip_prefix("DevTools listening on ") {
                    let _ = tx.send(url.trim().to_string());
                }
            }
        });
        let devtools = rx
            .recv_timeout(Duration::from_secs(30))
            .expect("chromium printed its DevTools address");
        Chromium {
            child,
            devtools,
            _profile: profile,
        }
    }

    /// Opens `url` in a new tab and waits until the page's text contains `needle`: `Ok` with
    /// the text then, `Err` with the last text read at `timeout`.
    pub fn text_until(&self, url: &str, needle: &str, timeout: Duration) -> Result<String, String> {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        rt.block_on(async {
            let (mut ws, _) = tokio_tungstenite::connect_async(self.devtools.as_str())
                .await
                .map_err(|e| format!("DevTools: {e}"))?;
            let mut cdp = Cdp { ws: &mut ws, id: 0 };
            let target = cdp
                .call(None, "Target.createTarget", json!({ "url": url }))
                .await?;
            let target = target["targetId"].as_str().unwrap_or_default().to_string();
            let attached = cdp
                .call(
                    None,
                    "Target.attachToTarget",
                    json!({ "targetId": target, "flatten": true }),
                )
                .await?;
            let session = attached["sessionId"]
                .as_str()
                .unwrap_or_default()
                .to_string();
            let deadline = Instant::now() + timeout;
            let mut text = String::new();
            while Instant::now() < deadline {
                let r = cdp
                    .call(
                        Some(&session),
                        "Runtime.evaluate",
                        json!({
                            "expression": "document.body ? document.body.innerText : ''",
                            "returnByValue": true
                        }),
                    )
                    .await?;
                text = r["result"]["value"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string();
                if text.contains(needle) {
                    return Ok(text);
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            Err(text)
        })
    }
}

impl Drop for Chromium {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// DevTools calls over one socket: each answer is matched by its id; events are skipped.
struct Cdp<'a> {
    ws: &'a mut Socket,
    id: u64,
}

impl Cdp<'_> {
    async fn call(
        &mut self,
        session: Option<&str>,
        method: &str,
        params: Value,
    ) -> Result<Value, String> {
        self.id += 1;
        let mut msg = json!({ "id": self.id, "method": method, "params": params });
        if let Some(s) = session {
            msg["sessionId"] = json!(s);
        }
        self.ws
            .send(Message::text(msg.to_string()))
            .await
            .map_err(|e| format!("DevTools {method}: {e}"))?;
        loop {
            let frame = tokio::time::timeout(Duration::from_secs(30), self.ws.next())
                .await
                .map_err(|_| format!("DevTools {method}: no answer in 30 s"))?
                .ok_or_else(|| format!("DevTools {method}: closed"))?
                .map_err(|e| format!("DevTools {method}: {e}"))?;
            let Message::Text(t) = frame else { continue };
            let v: Value = serde_json::from_str(t.as_str()).map_err(|e| e.to_string())?;
            if v["id"].as_u64() != Some(self.id) {
                continue;
            }
            if let Some(e) = v.get("error") {
                return Err(format!("DevTools {method}: {e}"));
            }
            return Ok(v["result"].clone());
        }
    }
}
