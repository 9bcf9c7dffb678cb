//! Bad input on every write route of the admin API, derived from the
//! committed OpenAPI document: unknown and malformed path parameters,
//! malformed query values, bodies that are not JSON, not an object, of the
//! wrong content type, too large, or the route's example with one field
//! missing, of the wrong type, out of bounds or unknown. Each answer must
//! be a 4xx JSON error with a code and a message, and etcd must hold
//! exactly what it held before (no partial state).

use std::collections::BTreeMap;

use objectio_testkit::Cluster;
use serde_json::{Value, json};

/// The cluster's records: every key under the cluster's prefix and its
/// value, except what changes by itself (liveness keys, the meta
/// election, controllers' job progress, disks' published usage).
async fn records(c: &Cluster) -> BTreeMap<String, Vec<u8>> {
    let store =
        objectio_cluster::Store::connect_with(&[c.etcd_endpoint()], "it", c.etcd_security())
            .await
            .unwrap();
    let root = store.keys().root().to_string();
    let r = store
        .kv()
        .get(
            root.clone(),
            Some(etcd_client::GetOptions::new().with_prefix()),
        )
        .await
        .unwrap();
    r.kvs()
        .iter()
        .map(|kv| {
            let k = String::from_utf8_lossy(kv.key()).to_string();
            let mut v = kv.value().to_vec();
            // A disk's usage is what its OSD last published.
            if k[root.len()..].starts_with("disks/") {
                let mut d: Value = serde_json::from_slice(&v).unwrap();
                for f in ["used_bytes", "free_bytes", "shards"] {
                    d.as_object_mut().unwrap().remove(f);
                }
                v = serde_json::to_vec(&d).unwrap();
            }
            (k, v)
        })
        .filter(|(k, _)| {
            let rel = &k[root.len()..];
            !["alive/", "election/", "jobs/"]
                .iter()
                .any(|p| rel.starts_with(p))
        })
        .collect()
}

/// The schema `s` with a `$ref` (or an `allOf` of them) resolved, as an
/// object schema with `properties` and `required`.
fn resolve<'a>(spec: &'a Value, s: &'a Value) -> Vec<&'a Value> {
    if let Some(r) = s["$ref"].as_str() {
        let name = r.rsplit('/').next().unwrap();
        return resolve(spec, &spec["components"]["schemas"][name]);
    }
    let mut out = vec![s];
    if let Some(all) = s["allOf"].as_array() {
        for part in all {
            out.extend(resolve(spec, part));
        }
    }
    out
}

/// The request body schema's example and its parts, for a route with a
/// JSON body.
fn body_schema<'a>(spec: &'a Value, op: &'a Value) -> Option<(Value, Vec<&'a Value>)> {
    let schema = &op["requestBody"]["content"]["application/json"]["schema"];
    if schema.is_null() {
        return None;
    }
    let parts = resolve(spec, schema);
    let example = parts
        .iter()
        .find_map(|p| p.get("example").cloned())
        .unwrap_or_else(|| panic!("{}: no example body", op["operationId"]));
    Some((example, parts))
}

/// A string that `pattern` does not match.
fn not_matching(pattern: &str) -> String {
    let re = fancy_regex::Regex::new(pattern).unwrap();
    ["NOT VALID !!", "bad\u{1}name", "..", "-", ""]
        .into_iter()
        .find(|s| !re.is_match(s).unwrap())
        .unwrap_or_else(|| panic!("every candidate matches {pattern}"))
        .to_string()
}

/// A value of the wrong type for a property of schema `p`.
fn wrong_type(p: &Value) -> Value {
    match p["type"].as_str() {
        Some("string") => json!(12345),
        Some("integer") | Some("number") => json!("twelve"),
        Some("boolean") => json!("maybe"),
        Some("array") => json!({"not": "a list"}),
        _ => json!([1, 2, 3]),
    }
}

/// Bodies that are the example changed in one way each, with what changed.
fn mutations(example: &Value, parts: &[&Value]) -> Vec<(String, Value)> {
    let mut out = Vec::new();
    let Some(obj) = example.as_object() else {
        return out;
    };
    let mut extra = obj.clone();
    extra.insert("no_such_field".into(), json!(1));
    out.push(("an unknown field".into(), Value::Object(extra)));
    for part in parts {
        for r in part["required"].as_array().into_iter().flatten() {
            let r = r.as_str().unwrap();
            let mut m = obj.clone();
            if m.remove(r).is_some() {
                out.push((format!("without {r}"), Value::Object(m)));
            }
        }
        for (name, p) in part["properties"].as_object().into_iter().flatten() {
            let mut m = obj.clone();
            m.insert(name.clone(), wrong_type(p));
            out.push((format!("{name} of the wrong type"), Value::Object(m)));
            if let Some(pattern) = p["pattern"].as_str() {
                let mut m = obj.clone();
                m.insert(name.clone(), json!(not_matching(pattern)));
                out.push((format!("{name} not matching its pattern"), Value::Object(m)));
            }
            if let Some(min) = p.get("exclusiveMinimum") {
                let mut m = obj.clone();
                m.insert(name.clone(), min.clone());
                out.push((format!("{name} at its exclusive minimum"), Value::Object(m)));
            }
            if let Some(min) = p["minimum"].as_f64() {
                let mut m = obj.clone();
                m.insert(name.clone(), json!(min - 1.0));
                out.push((format!("{name} below its minimum"), Value::Object(m)));
            }
            if let Some(max) = p["maxLength"].as_u64() {
                let mut m = obj.clone();
                m.insert(name.clone(), json!("a".repeat(max as usize + 1)));
                out.push((format!("{name} longer than {max}"), Value::Object(m)));
            }
        }
    }
    out
}

/// `path` with each `{param}` replaced by `value(param)` (URI-encoded).
fn fill(path: &str, op: &Value, value: &dyn Fn(&Value) -> String) -> String {
    let mut out = path.to_string();
    for p in op["parameters"].as_array().into_iter().flatten() {
        if p["in"] == "path" {
            let name = p["name"].as_str().unwrap();
            let v = value(p);
            let enc: String = v
                .bytes()
                .map(|b| {
                    if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                        (b as char).to_string()
                    } else {
                        format!("%{b:02X}")
                    }
                })
                .collect();
            out = out.replace(&format!("{{{name}}}"), &enc);
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn test_every_write_route_refuses_bad_input_with_a_json_error_and_changes_nothing() {
    let c = Cluster::start().await.unwrap();
    let spec: Value = serde_json::from_str(
        &std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../openapi/objectio-admin-v1.json"
        ))
        .unwrap(),
    )
    .unwrap();
    let a = c.admin();
    let h2c = reqwest::Client::builder()
        .http2_prior_knowledge()
        .build()
        .unwrap();
    // Things that exist, so that a body or query refused is refused for
    // itself and not for an unknown id.
    let s3 = crate::common::s3(&c);
    s3.create_bucket().bucket("present").send().await.unwrap();
    crate::common::put(&s3, "present", "k", crate::common::data(100, 1)).await;
    let token: Value = a
        .post(c.admin_url("/api/v1/tokens"))
        .json(&json!({"scope": "read"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let existing = |p: &Value| -> String {
        match (p["name"].as_str().unwrap(), p["schema"]["pattern"].as_str()) {
            ("kind", _) => "gateway".into(),
            ("name", Some(pat)) if pat.contains("xn--") => "present".into(),
            ("name", _) => "test".into(),
            ("id", Some(pat)) if pat.contains("{12}") => token["id"].as_str().unwrap().into(),
            ("id", Some(_)) => "osd1".into(),
            ("id", None) => "gw1".into(),
            ("access_key_id", _) => c.access_key.clone(),
            (other, _) => panic!("no existing value for path parameter {other}"),
        }
    };
    let unknown = |p: &Value| -> String {
        match p["schema"]["enum"].as_array() {
            Some(e) => e[0].as_str().unwrap().into(),
            None if p["schema"]["pattern"]
                .as_str()
                .is_some_and(|s| s.contains("{12}")) =>
            {
                "0123456789ab".into()
            }
            None => "nosuch1".into(),
        }
    };

    let before = records(&c).await;
    let mut cases: Vec<(String, reqwest::RequestBuilder)> = Vec::new();
    let mut routes = 0;
    for (path, ops) in spec["paths"].as_object().unwrap() {
        for (method, op) in ops.as_object().unwrap() {
            let m = match method.as_str() {
                "post" => reqwest::Method::POST,
                "put" => reqwest::Method::PUT,
                "patch" => reqwest::Method::PATCH,
                "delete" => reqwest::Method::DELETE,
                _ => continue,
            };
            routes += 1;
            let id = op["operationId"].as_str().unwrap().to_string();
            let req = |p: String| a.request(m.clone(), c.admin_url(&p));
            let body = body_schema(&spec, op);
            let with_example = |r: reqwest::RequestBuilder| match &body {
                Some((ex, _)) => r.json(ex),
                None => r,
            };
            let params: Vec<&Value> = op["parameters"].as_array().into_iter().flatten().collect();
            // Path parameters: unknown, malformed, too long; the rest of
            // the request well-formed.
            if params.iter().any(|p| p["in"] == "path") {
                cases.push((
                    format!("{id} with unknown ids"),
                    with_example(req(fill(path, op, &unknown))),
                ));
                for bad in ["NOT VALID !!", "..", &"a".repeat(300)] {
                    for target in params.iter().filter(|p| p["in"] == "path") {
                        let f = |p: &Value| {
                            if p["name"] == target["name"] {
                                bad.to_string()
                            } else {
                                existing(p)
                            }
                        };
                        cases.push((
                            format!("{id} with {} {bad:.12}…", target["name"]),
                            with_example(req(fill(path, op, &f))),
                        ));
                    }
                }
            }
            let at = fill(path, op, &existing);
            // Query values that are not of their type, and parameters
            // that do not exist (a typo must not pass for the default).
            let query: Vec<&str> = params
                .iter()
                .filter(|p| p["in"] == "query")
                .map(|p| p["name"].as_str().unwrap())
                .collect();
            for q in params.iter().filter(|p| p["in"] == "query") {
                if matches!(
                    q["schema"]["type"].as_str(),
                    Some("boolean") | Some("integer")
                ) {
                    let name = q["name"].as_str().unwrap();
                    cases.push((
                        format!("{id} with {name}=maybe"),
                        with_example(req(format!("{at}?{name}=maybe"))),
                    ));
                }
            }
            if let Some(q) = query.first() {
                cases.push((
                    format!("{id} with {q}x=true"),
                    with_example(req(format!("{at}?{q}x=true"))),
                ));
            }
            // Bodies.
            if let Some((example, parts)) = &body {
                let raw = |b: &str, ct: &str| {
                    req(at.clone())
                        .header("content-type", ct)
                        .body(b.to_string())
                };
                cases.push((
                    format!("{id}: not JSON"),
                    raw("{not json", "application/json"),
                ));
                cases.push((format!("{id}: a list"), raw("[]", "application/json")));
                cases.push((format!("{id}: a string"), raw("\"x\"", "application/json")));
                cases.push((
                    format!("{id}: text/plain"),
                    raw(&example.to_string(), "text/plain"),
                ));
                cases.push((format!("{id}: no body"), req(at.clone())));
                if !["meta.import", "meta.rebuild"].contains(&id.as_str()) {
                    // Over HTTP/2: the server may answer 413 before it has
                    // read the body, which over HTTP/1.1 ends the
                    // connection under the client still sending it.
                    let big = format!("{{\"pad\":\"{}\"}}", "x".repeat(3 << 20));
                    cases.push((
                        format!("{id}: 3 MiB"),
                        h2c.request(m.clone(), c.admin_url(&at))
                            .bearer_auth(&c.token)
                            .header("content-type", "application/json")
                            .body(big),
                    ));
                }
                for (what, b) in mutations(example, parts) {
                    cases.push((format!("{id}: {what}"), req(at.clone()).json(&b)));
                }
            }
        }
    }
    assert!(routes >= 25, "only {routes} write routes in the spec");
    let n = cases.len();
    for (what, req) in cases {
        let r = req.send().await.unwrap();
        let status = r.status().as_u16();
        let text = r.text().await.unwrap();
        assert!((400..500).contains(&status), "{what}: {status} {text}");
        let body: Value = serde_json::from_str(&text)
            .unwrap_or_else(|e| panic!("{what}: not JSON ({e}): {text}"));
        assert!(
            body["code"].is_string() && !body["message"].as_str().unwrap_or("").is_empty(),
            "{what}: {body}"
        );
    }
    let after = records(&c).await;
    let changed: Vec<&String> = before
        .keys()
        .chain(after.keys())
        .filter(|k| before.get(*k) != after.get(*k))
        .collect();
    assert!(
        changed.is_empty(),
        "{n} refused requests changed {changed:?}"
    );
    // And what exists still works.
    assert_eq!(
        crate::common::get(&s3, "present", "k").await,
        crate::common::data(100, 1)
    );
}
