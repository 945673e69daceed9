//! Tolerant reading of `marquee live --summary-json FILE`.

use std::path::Path;

use serde_json::Value;

/// One connection event of a destination.
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    pub unix_ms: u64,
    pub dest: String,
    /// `connecting`, `connected`, `disconnected`, `reconnecting` or `failed`.
    pub kind: String,
    pub attempt: Option<u64>,
    pub detail: Option<String>,
}

/// The summary JSON, with helpers that tolerate missing or extra fields.
#[derive(Debug, Clone)]
pub struct Summary {
    pub json: Value,
    /// The file's bytes, for "the key never appears" checks.
    pub raw: Vec<u8>,
}

fn num(v: &Value) -> Option<f64> {
    match v {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.parse().ok(),
        _ => None,
    }
}

impl Summary {
    /// Reads and parses the file; panics with its contents if it is not JSON.
    pub fn read(path: impl AsRef<Path>) -> Summary {
        let path = path.as_ref();
        let raw = std::fs::read(path).unwrap_or_else(|e| {
            panic!(
                "marquee wrote no summary at {} ({e}); --summary-json FILE must write it on exit",
                path.display()
            )
        });
        let json = serde_json::from_slice(&raw).unwrap_or_else(|e| {
            panic!(
                "the summary at {} is not JSON ({e}):\n{}",
                path.display(),
                String::from_utf8_lossy(&raw)
            )
        });
        Summary { json, raw }
    }

    /// A number at a JSON pointer such as `/video/frames`.
    pub fn num(&self, pointer: &str) -> Option<f64> {
        self.json.pointer(pointer).and_then(num)
    }

    /// A string at a JSON pointer.
    pub fn str(&self, pointer: &str) -> Option<&str> {
        self.json.pointer(pointer).and_then(Value::as_str)
    }

    /// The `destinations` array.
    pub fn destinations(&self) -> Vec<Value> {
        self.json["destinations"]
            .as_array()
            .cloned()
            .unwrap_or_default()
    }

    /// The `events` array, sorted by time.
    pub fn events(&self) -> Vec<Event> {
        let mut v: Vec<Event> = self.json["events"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|e| Event {
                unix_ms: num(&e["unix_ms"]).unwrap_or(0.0) as u64,
                dest: match &e["dest"] {
                    Value::String(s) => s.clone(),
                    Value::Null => String::new(),
                    other => other.to_string(),
                },
                kind: e["kind"].as_str().unwrap_or_default().to_ascii_lowercase(),
                attempt: num(&e["attempt"]).map(|a| a as u64),
                detail: e["detail"].as_str().map(str::to_string),
            })
            .collect();
        v.sort_by_key(|e| e.unix_ms);
        v
    }

    /// Events of one kind, sorted by time.
    pub fn events_of(&self, kind: &str) -> Vec<Event> {
        self.events()
            .into_iter()
            .filter(|e| e.kind == kind)
            .collect()
    }

    /// The summary pretty-printed, for failure messages.
    pub fn pretty(&self) -> String {
        serde_json::to_string_pretty(&self.json).unwrap_or_default()
    }
}
