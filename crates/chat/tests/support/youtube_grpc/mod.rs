//! YouTube's streaming chat served by a real gRPC stack: Python's grpcio with the messages
//! protoc generates from Google's stream_list.proto (server.py beside this file). Started per
//! test, read for its port, killed when dropped; missing tools fail with the install command.

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

const INSTALL: &str = "apt-get install -y protobuf-compiler python3-protobuf python3-grpcio (or run scripts/setup.sh)";

pub struct GrpcServer {
    child: Child,
    stdin: ChildStdin,
    /// `http://127.0.0.1:PORT`: HTTP/2 without TLS.
    pub origin: String,
    calls: mpsc::Receiver<serde_json::Value>,
    _dir: TempDir,
}

struct TempDir(PathBuf);

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn here() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/support/youtube_grpc")
}

impl GrpcServer {
    /// Starts the server with this scenario (see server.py) and waits until it listens.
    pub fn start(scenario: serde_json::Value) -> Self {
        let dir = std::env::temp_dir().join(format!(
            "marquee-yt-grpc-{}-{}",
            std::process::id(),
            fastrand::u64(..)
        ));
        std::fs::create_dir_all(&dir).unwrap();
        let dir = TempDir(dir);
        let protoc = Command::new("protoc")
            .arg(format!("--python_out={}", dir.0.display()))
            .arg(format!("-I{}", here().display()))
            .arg("stream_list.proto")
            .status()
            .unwrap_or_else(|e| panic!("protoc is missing ({e}): {INSTALL}"));
        assert!(protoc.success(), "protoc failed on stream_list.proto");
        let scenario_path = dir.0.join("scenario.json");
        std::fs::write(&scenario_path, scenario.to_string()).unwrap();
        // Debian's Python, where apt puts grpcio (a python3 earlier on PATH may not have it).
        let mut child = Command::new("/usr/bin/python3")
            .arg(here().join("server.py"))
            .arg(&dir.0)
            .arg(&scenario_path)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap_or_else(|e| panic!("/usr/bin/python3 is missing ({e}): {INSTALL}"));
        let stdin = child.stdin.take().unwrap();
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let first = lines.next().and_then(Result::ok).unwrap_or_else(|| {
            let _ = child.kill();
            panic!("the gRPC test server did not start (is grpcio installed? {INSTALL})")
        });
        let port = serde_json::from_str::<serde_json::Value>(&first).unwrap()["port"]
            .as_u64()
            .unwrap();
        let (tx, calls) = mpsc::channel();
        std::thread::spawn(move || {
            for line in lines.map_while(Result::ok) {
                if let Ok(v) = serde_json::from_str(&line)
                    && tx.send(v).is_err()
                {
                    return;
                }
            }
        });
        Self {
            child,
            stdin,
            origin: format!("http://127.0.0.1:{port}"),
            calls,
            _dir: dir,
        }
    }

    /// The next call the server received: its request fields and API key.
    pub fn next_call(&self) -> serde_json::Value {
        self.calls
            .recv_timeout(Duration::from_secs(10))
            .expect("a call within 10 s")
    }

    /// Lets the server send its next page marked `wait`.
    pub fn go(&mut self) {
        self.stdin.write_all(b"go\n").unwrap();
        self.stdin.flush().unwrap();
    }
}

impl Drop for GrpcServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
