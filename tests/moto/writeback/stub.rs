//! A loopback HTTP stub of the GuardDuty and Security Hub calls remedy's write-back makes, reached
//! through the SDK's `AWS_ENDPOINT_URL_GUARDDUTY` and `AWS_ENDPOINT_URL_SECURITYHUB`. It answers
//! the REST-JSON requests as AWS does (GuardDuty: ListDetectors, ArchiveFindings, CreateFilter,
//! GetFilter, ListFilters, DeleteFilter; Security Hub: GetFindings, BatchUpdateFindings), keeps
//! state (workflow statuses and notes, archived findings, filters with their tags) and records
//! every request. Plain threads and blocking sockets: it serves whatever runtime the test uses,
//! while the test waits on a child `remedy`.

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};

use serde_json::{Value, json};

/// The detector the stub's account has in every region.
pub(crate) const DETECTOR: &str = "stubdetector0remedy";

/// One request the stub received.
#[derive(Debug, Clone)]
pub(crate) struct Received {
    /// `GET`, `POST`, `PATCH`, `DELETE`.
    pub(crate) method: String,
    /// The path, without the query.
    pub(crate) path: String,
    /// The operation it was taken for (`ArchiveFindings`, ...; `unknown` for anything else).
    pub(crate) operation: &'static str,
    /// The JSON body (`null` when there was none).
    pub(crate) body: Value,
}

/// A GuardDuty filter the stub holds.
#[derive(Debug, Clone)]
pub(crate) struct Filter {
    /// The `CreateFilter` request's body (action, criteria, description).
    pub(crate) created: Value,
    /// Its tags.
    pub(crate) tags: BTreeMap<String, String>,
}

#[derive(Debug, Default)]
struct State {
    received: Vec<Received>,
    /// Security Hub's workflow status and note of each finding id.
    workflow: BTreeMap<String, (String, Option<String>)>,
    /// Finding ids Security Hub reports as unprocessed (`FindingNotFound`).
    refused: BTreeSet<String>,
    archived: BTreeSet<String>,
    filters: BTreeMap<String, Filter>,
}

/// The stub: its URL and its state (clones share both).
#[derive(Debug, Clone)]
pub(crate) struct Stub {
    /// `http://127.0.0.1:PORT`.
    pub(crate) url: String,
    state: Arc<Mutex<State>>,
}

impl Stub {
    /// Listens on a free loopback port, serving each connection on a thread of its own.
    pub(crate) fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let stub = Self {
            url: format!("http://{}", listener.local_addr().unwrap()),
            state: Arc::default(),
        };
        let serving = stub.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(stream) = stream else { return };
                let serving = serving.clone();
                std::thread::spawn(move || serving.serve(stream));
            }
        });
        stub
    }

    /// Every request received so far.
    pub(crate) fn received(&self) -> Vec<Received> {
        self.state.lock().unwrap().received.clone()
    }

    /// The requests of `operation` received so far.
    pub(crate) fn calls(&self, operation: &str) -> Vec<Received> {
        self.received()
            .into_iter()
            .filter(|r| r.operation == operation)
            .collect()
    }

    /// Security Hub holds finding `id` with workflow status `status`.
    pub(crate) fn set_workflow(&self, id: &str, status: &str) {
        self.state
            .lock()
            .unwrap()
            .workflow
            .insert(id.to_owned(), (status.to_owned(), None));
    }

    /// Security Hub's workflow status and note of finding `id`.
    pub(crate) fn workflow(&self, id: &str) -> Option<(String, Option<String>)> {
        self.state.lock().unwrap().workflow.get(id).cloned()
    }

    /// Security Hub reports finding `id` unprocessed from now on.
    pub(crate) fn refuse(&self, id: &str) {
        self.state.lock().unwrap().refused.insert(id.to_owned());
    }

    /// Whether GuardDuty's finding `id` is archived.
    pub(crate) fn is_archived(&self, id: &str) -> bool {
        self.state.lock().unwrap().archived.contains(id)
    }

    /// The filters now in place, by name.
    pub(crate) fn filters(&self) -> BTreeMap<String, Filter> {
        self.state.lock().unwrap().filters.clone()
    }

    /// Puts filter `name` in place (as someone else than remedy would), with `tags`.
    pub(crate) fn add_filter(&self, name: &str, tags: &[(&str, &str)]) {
        self.state.lock().unwrap().filters.insert(
            name.to_owned(),
            Filter {
                created: json!({"name": name, "action": "NOOP", "findingCriteria": {"criterion": {}}}),
                tags: tags
                    .iter()
                    .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                    .collect(),
            },
        );
    }

    /// Sets tag `key` of filter `name` to `value` (days passing: an expiry moved into the past).
    pub(crate) fn set_tag(&self, name: &str, key: &str, value: &str) {
        let mut state = self.state.lock().unwrap();
        let filter = state.filters.get_mut(name).unwrap();
        filter.tags.insert(key.to_owned(), value.to_owned());
    }

    fn serve(&self, stream: TcpStream) {
        let mut reader = BufReader::new(stream.try_clone().unwrap());
        let mut writer = stream;
        loop {
            let mut request_line = String::new();
            if reader.read_line(&mut request_line).unwrap_or(0) == 0 {
                return;
            }
            let mut parts = request_line.split_whitespace();
            let method = parts.next().unwrap_or("").to_owned();
            let target = parts.next().unwrap_or("").to_owned();
            let mut length = 0usize;
            let mut chunked = false;
            loop {
                let mut line = String::new();
                if reader.read_line(&mut line).unwrap_or(0) == 0 {
                    return;
                }
                let line = line.trim_end();
                if line.is_empty() {
                    break;
                }
                if let Some((name, value)) = line.split_once(':') {
                    let (name, value) = (name.trim(), value.trim());
                    if name.eq_ignore_ascii_case("content-length") {
                        length = value.parse().unwrap_or(0);
                    } else if name.eq_ignore_ascii_case("transfer-encoding") {
                        chunked = value.eq_ignore_ascii_case("chunked");
                    } else if name.eq_ignore_ascii_case("expect") {
                        let _ = writer.write_all(b"HTTP/1.1 100 Continue\r\n\r\n");
                    }
                }
            }
            let body = if chunked {
                read_chunked(&mut reader)
            } else {
                let mut body = vec![0; length];
                reader.read_exact(&mut body).map(|()| body).ok()
            };
            let Some(body) = body else { return };
            let body: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
            let (status, answer) = self.answer(&method, &target, body);
            let text = answer.to_string();
            let error_type = answer
                .get("__type")
                .and_then(Value::as_str)
                .map(|t| format!("x-amzn-errortype: {t}\r\n"))
                .unwrap_or_default();
            let response = format!(
                "HTTP/1.1 {status}\r\ncontent-type: application/json\r\n\
                 x-amzn-requestid: stub-request\r\n{error_type}content-length: {}\r\n\r\n{text}",
                text.len()
            );
            if writer.write_all(response.as_bytes()).is_err() {
                return;
            }
        }
    }

    /// The operation `method path` names, its recorded request, and the answer.
    fn answer(&self, method: &str, target: &str, body: Value) -> (&'static str, Value) {
        let (path, query) = target.split_once('?').unwrap_or((target, ""));
        let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
        let operation = match (method, segments.as_slice()) {
            ("GET", ["detector"]) => "ListDetectors",
            ("POST", ["detector", _, "findings", "archive"]) => "ArchiveFindings",
            ("POST", ["detector", _, "filter"]) => "CreateFilter",
            ("GET", ["detector", _, "filter"]) => "ListFilters",
            ("GET", ["detector", _, "filter", _]) => "GetFilter",
            ("DELETE", ["detector", _, "filter", _]) => "DeleteFilter",
            ("POST", ["findings"]) => "GetFindings",
            ("PATCH", ["findings", "batchupdate"]) => "BatchUpdateFindings",
            _ => "unknown",
        };
        let mut state = self.state.lock().unwrap();
        state.received.push(Received {
            method: method.to_owned(),
            path: path.to_owned(),
            operation,
            body: body.clone(),
        });
        if segments.len() > 1 && segments[0] == "detector" && segments[1] != DETECTOR {
            return bad_request(
                "The request is rejected because the input detectorId is not owned by the current account.",
            );
        }
        let filter_name = segments.get(3).map(|s| decode(s));
        match operation {
            "ListDetectors" => ("200 OK", json!({"detectorIds": [DETECTOR]})),
            "ArchiveFindings" => {
                for id in body["findingIds"].as_array().into_iter().flatten() {
                    if let Some(id) = id.as_str() {
                        state.archived.insert(id.to_owned());
                    }
                }
                ("200 OK", json!({}))
            }
            "CreateFilter" => {
                let Some(name) = body["name"].as_str().map(str::to_owned) else {
                    return bad_request("name is required");
                };
                if state.filters.contains_key(&name) {
                    return bad_request(
                        "The request is rejected because a filter with the same name already exists.",
                    );
                }
                let tags = body["tags"]
                    .as_object()
                    .into_iter()
                    .flatten()
                    .map(|(k, v)| (k.clone(), v.as_str().unwrap_or("").to_owned()))
                    .collect();
                state.filters.insert(
                    name.clone(),
                    Filter {
                        created: body,
                        tags,
                    },
                );
                ("200 OK", json!({"name": name}))
            }
            "ListFilters" => {
                // Two names a page, as GuardDuty pages its 50: the caller must follow
                // `nextToken` (the name to start after).
                let after = query_value(query, "nextToken");
                let names: Vec<&String> = state
                    .filters
                    .keys()
                    .filter(|n| after.as_ref().is_none_or(|a| n.as_str() > a.as_str()))
                    .take(2)
                    .collect();
                let more = names.len() == 2 && state.filters.keys().any(|n| n > names[1]);
                let mut page = json!({"filterNames": names});
                if more {
                    page["nextToken"] = json!(names[1]);
                }
                ("200 OK", page)
            }
            "GetFilter" => match filter_name.and_then(|n| state.filters.get(&n).map(|f| (n, f))) {
                Some((name, filter)) => (
                    "200 OK",
                    json!({
                        "name": name,
                        "description": filter.created["description"],
                        "action": filter.created["action"],
                        "rank": 1,
                        "findingCriteria": filter.created["findingCriteria"],
                        "tags": filter.tags,
                    }),
                ),
                None => bad_request("The request is rejected since no such resource found."),
            },
            "DeleteFilter" => match filter_name.and_then(|n| state.filters.remove(&n)) {
                Some(_) => ("200 OK", json!({})),
                None => bad_request("The request is rejected since no such resource found."),
            },
            "GetFindings" => {
                let id = body["Filters"]["Id"][0]["Value"].as_str().unwrap_or("");
                let product = body["Filters"]["ProductArn"][0]["Value"]
                    .as_str()
                    .unwrap_or("");
                let findings: Vec<Value> = state
                    .workflow
                    .get(id)
                    .map(|(status, _)| {
                        json!({
                            "SchemaVersion": "2018-10-08",
                            "Id": id,
                            "ProductArn": product,
                            "GeneratorId": "stub",
                            "AwsAccountId": "123456789012",
                            "CreatedAt": "2024-06-11T09:20:15.433Z",
                            "UpdatedAt": "2024-06-11T09:36:51.208Z",
                            "Title": "stub finding",
                            "Description": "stub finding",
                            "Resources": [],
                            "Workflow": {"Status": status},
                            "WorkflowState": status,
                        })
                    })
                    .into_iter()
                    .collect();
                ("200 OK", json!({"Findings": findings}))
            }
            "BatchUpdateFindings" => {
                let status = body["Workflow"]["Status"].as_str().map(str::to_owned);
                let note = body["Note"]["Text"].as_str().map(str::to_owned);
                let mut processed = Vec::new();
                let mut unprocessed = Vec::new();
                for identifier in body["FindingIdentifiers"].as_array().into_iter().flatten() {
                    let id = identifier["Id"].as_str().unwrap_or("").to_owned();
                    if state.refused.contains(&id) {
                        unprocessed.push(json!({
                            "FindingIdentifier": identifier,
                            "ErrorCode": "FindingNotFound",
                            "ErrorMessage": "Finding Not Found",
                        }));
                        continue;
                    }
                    let entry = state
                        .workflow
                        .entry(id)
                        .or_insert_with(|| ("NEW".to_owned(), None));
                    if let Some(status) = &status {
                        entry.0.clone_from(status);
                    }
                    if note.is_some() {
                        entry.1.clone_from(&note);
                    }
                    processed.push(identifier.clone());
                }
                (
                    "200 OK",
                    json!({"ProcessedFindings": processed, "UnprocessedFindings": unprocessed}),
                )
            }
            _ => (
                "404 Not Found",
                json!({"__type": "UnknownOperationException", "message": "not stubbed"}),
            ),
        }
    }
}

/// A GuardDuty `BadRequestException` with `message`.
fn bad_request(message: &str) -> (&'static str, Value) {
    (
        "400 Bad Request",
        json!({"__type": "BadRequestException", "message": message, "Type": "InvalidInputException"}),
    )
}

/// The value of `key` in a query string, percent-decoded.
fn query_value(query: &str, key: &str) -> Option<String> {
    query
        .split('&')
        .filter_map(|pair| pair.split_once('='))
        .find(|(k, _)| *k == key)
        .map(|(_, v)| decode(v))
}

/// A path segment, percent-decoded.
fn decode(segment: &str) -> String {
    percent_encoding::percent_decode_str(segment)
        .decode_utf8_lossy()
        .into_owned()
}

/// A chunked body, or `None` when the connection ends first.
fn read_chunked(reader: &mut impl BufRead) -> Option<Vec<u8>> {
    let mut body = Vec::new();
    loop {
        let mut size = String::new();
        reader.read_line(&mut size).ok()?;
        let size = usize::from_str_radix(size.trim().split(';').next()?, 16).ok()?;
        let mut chunk = vec![0; size + 2];
        reader.read_exact(&mut chunk).ok()?;
        if size == 0 {
            return Some(body);
        }
        body.extend_from_slice(&chunk[..size]);
    }
}
