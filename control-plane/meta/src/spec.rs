//! What the OpenAPI description says beyond what each handler declares:
//! the shapes of names and values (`objectio_api::patterns`, with lengths
//! and bounds), the refusals every route shares (no token, a body that is
//! not JSON or not the schema, a wrong content type, an oversize body, an
//! etcd that does not answer), and a description for every response.
//! Declared once here rather than on each of forty handlers, so a new
//! route gets them by being listed in `ApiDoc`.

use objectio_api::patterns;
use utoipa::openapi::path::{Operation, ParameterIn};
use utoipa::openapi::schema::{
    AllOfBuilder, AnyOfBuilder, ArrayItems, ObjectBuilder, Schema, Type,
};
use utoipa::openapi::{Content, OpenApi, Ref, RefOr, ResponseBuilder};

/// Adds the rules of this module to the spec.
pub struct Rules;

/// A constraint on a string or number.
#[derive(Clone, Copy)]
enum Rule {
    /// A pattern with optional length bounds.
    Text(&'static str, Option<usize>, Option<usize>),
    /// A length bound alone.
    Len(usize, usize),
    /// A number above zero.
    Positive,
    /// One of these values.
    OneOf(&'static [&'static str]),
}

const BUCKET: Rule = Rule::Text(patterns::BUCKET_NAME, Some(3), Some(63));
const USER: Rule = Rule::Text(patterns::USER_NAME, None, None);
const NAME: Rule = Rule::Text(patterns::NAME, None, None);

/// `(schema, property, rule)`: properties of request bodies and queries.
const PROPERTIES: &[(&str, &str, Rule)] = &[
    ("BucketIn", "name", BUCKET),
    ("BucketIn", "owner", USER),
    ("UserIn", "name", USER),
    ("AccessKeyIn", "user", USER),
    ("AccessKeyIn", "name", Rule::Len(1, 128)),
    ("OsdAddIn", "id", NAME),
    ("OsdAddIn", "failure_domain", NAME),
    (
        "OsdAddIn",
        "address",
        Rule::Text(patterns::ADDRESS, None, None),
    ),
    (
        "OsdAddIn",
        "disks",
        Rule::Text(patterns::DISK_PATH, None, None),
    ),
    ("OsdAddIn", "weight", Rule::Positive),
    ("OsdWeightIn", "weight", Rule::Positive),
    ("RepairStartIn", "osd", NAME),
    ("ObjectRepairIn", "bucket", BUCKET),
    ("ObjectRepairIn", "key", Rule::Len(1, 1024)),
    (
        "TokenIn",
        "label",
        Rule::Text(patterns::LABEL, None, Some(64)),
    ),
];

/// `(path prefix, parameter, rule)`: path and query parameters.
const PARAMETERS: &[(&str, &str, Rule)] = &[
    ("/api/v1/buckets/", "name", BUCKET),
    ("/api/v1/users/", "name", USER),
    ("/api/v1/osds/", "id", NAME),
    (
        "/api/v1/tokens/",
        "id",
        Rule::Text(patterns::TOKEN_ID, None, None),
    ),
    (
        "/api/v1/cluster/members/",
        "kind",
        Rule::OneOf(&["gateway", "meta"]),
    ),
    ("/api/v1/objects/health", "bucket", BUCKET),
    ("/api/v1/objects/health", "key", Rule::Len(1, 1024)),
];

/// The description of a response by its status.
fn describe(status: &str) -> &'static str {
    match status {
        "200" => "Done; the body says what is now true",
        "201" => "Created",
        "400" => "A malformed name, value or body; the message says which",
        "401" => "No bearer token, or one that is unknown or expired",
        "403" => "The token's scope does not allow this",
        "404" => "No such resource",
        "409" => "Refused in the cluster's present state; the message says why",
        "413" => "The body is larger than this route accepts",
        "415" => "The body is not `application/json`",
        "422" => "The JSON does not fit the request schema",
        "503" => "etcd does not answer or has no quorum; retry",
        _ => "See the error message",
    }
}

fn apply(s: &mut Schema, rule: Rule) {
    use utoipa::Number;
    match s {
        Schema::Object(o) => match rule {
            Rule::Text(p, min, max) => {
                o.pattern = Some(p.into());
                o.min_length = min.or(o.min_length);
                o.max_length = max.or(o.max_length);
            }
            Rule::Len(min, max) => {
                o.min_length = Some(min);
                o.max_length = Some(max);
            }
            Rule::Positive => o.exclusive_minimum = Some(Number::Int(0)),
            Rule::OneOf(vs) => {
                o.enum_values = Some(vs.iter().map(|v| (*v).into()).collect());
            }
        },
        Schema::Array(a) => {
            if let ArrayItems::RefOrSchema(item) = &mut a.items
                && let RefOr::T(item) = item.as_mut()
            {
                apply(item, rule);
            }
        }
        _ => {}
    }
}

/// An error body such as a refusal with this status answers.
fn error_example(status: &str) -> serde_json::Value {
    let (code, message) = match status {
        "400" => (
            "bad_request",
            "invalid bucket name \"Photos\": only lowercase letters, digits, '.' and '-' are allowed",
        ),
        "401" => ("unauthorized", "invalid bearer token"),
        "403" => (
            "forbidden",
            "this token's scope is read: it may not POST /api/v1/users",
        ),
        "404" => ("not_found", "no such OSD \"osd9\""),
        "409" => ("conflict", "bucket photos is not empty"),
        "413" => (
            "payload_too_large",
            "Failed to buffer the request body: length limit exceeded",
        ),
        "415" => (
            "unsupported_media_type",
            "Expected request with `Content-Type: application/json`",
        ),
        "422" => (
            "bad_request",
            "Failed to deserialize the JSON body into the target type: missing field `name`",
        ),
        "503" => (
            "unavailable",
            "the cluster store is unavailable (request id 0193a7c2-5d1e-7c3a-9f00-2b1d4e5f6a7b)",
        ),
        _ => ("bad_request", "refused"),
    };
    serde_json::json!({"code": code, "message": message})
}

fn error_content() -> Content {
    Content::new(Some(RefOr::<Schema>::Ref(Ref::from_schema_name(
        "ErrorOut",
    ))))
}

fn error_response(status: &str) -> RefOr<utoipa::openapi::Response> {
    ResponseBuilder::new()
        .description(describe(status))
        .content("application/json", error_content())
        .into()
}

/// Whether a content is the JSON error body.
fn is_error(c: &Content) -> bool {
    matches!(&c.schema, Some(RefOr::Ref(r)) if r.ref_location.ends_with("/ErrorOut"))
}

fn operation(path: &str, op: &mut Operation) {
    let secured = op.security.as_ref().is_some_and(|s| !s.is_empty());
    let has_body = op.request_body.is_some();
    let mut shared: Vec<&str> = Vec::new();
    if secured {
        shared.extend(["401", "503"]);
    }
    if has_body {
        shared.extend(["400", "413", "415", "422"]);
    }
    let params = op.parameters.get_or_insert_with(Vec::new);
    if params.iter().any(|p| p.parameter_in == ParameterIn::Query) {
        shared.push("400");
    }
    if params.iter().any(|p| p.parameter_in == ParameterIn::Path) {
        shared.push("400");
        shared.push("404");
    }
    for p in params.iter_mut() {
        for (prefix, name, rule) in PARAMETERS {
            if path.starts_with(prefix)
                && p.name == *name
                && let Some(RefOr::T(s)) = &mut p.schema
            {
                apply(s, *rule);
            }
        }
    }
    if op.parameters.as_ref().is_some_and(Vec::is_empty) {
        op.parameters = None;
    }
    let responses = &mut op.responses.responses;
    for status in shared {
        responses
            .entry(status.to_string())
            .or_insert_with(|| error_response(status));
    }
    for (status, r) in responses.iter_mut() {
        let RefOr::T(r) = r else { continue };
        if r.description.is_empty() {
            r.description = describe(status).into();
        }
        for c in r.content.values_mut() {
            if is_error(c) && c.example.is_none() {
                c.example = Some(error_example(status));
            }
        }
    }
}

impl utoipa::Modify for Rules {
    fn modify(&self, openapi: &mut OpenApi) {
        for (path, item) in openapi.paths.paths.iter_mut() {
            for op in [
                &mut item.get,
                &mut item.post,
                &mut item.put,
                &mut item.delete,
                &mut item.patch,
            ]
            .into_iter()
            .flatten()
            {
                operation(path, op);
            }
        }
        let Some(components) = openapi.components.as_mut() else {
            return;
        };
        for (schema, prop, rule) in PROPERTIES {
            let Some(RefOr::T(Schema::Object(o))) = components.schemas.get_mut(*schema) else {
                panic!("spec rule for a schema that is not there: {schema}");
            };
            let Some(RefOr::T(p)) = o.properties.get_mut(*prop) else {
                panic!("spec rule for a property that is not there: {schema}.{prop}");
            };
            apply(p, *rule);
        }
        // `osd add` needs an address for a new OSD, an id to add disks to
        // one that exists: at least one of the two.
        if let Some(RefOr::T(mut add)) = components.schemas.remove("OsdAddIn") {
            let given = |field: &str| {
                ObjectBuilder::new()
                    .property(field, ObjectBuilder::new().schema_type(Type::String))
                    .required(field)
            };
            let either = AnyOfBuilder::new().item(given("address")).item(given("id"));
            #[allow(deprecated)] // `example` is what every other schema carries
            let (desc, example) = match &mut add {
                Schema::Object(o) => (o.description.take(), o.example.take()),
                _ => (None, None),
            };
            #[allow(deprecated)]
            let all = AllOfBuilder::new()
                .item(add)
                .item(either)
                .description(desc)
                .example(example);
            components.schemas.insert("OsdAddIn".into(), all.into());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::v1::osds::{check_address, valid_disk_path, valid_name};
    use crate::v1::users::valid_user_name;
    use rand::Rng;

    /// Strings near the edges of every pattern: its characters, those it
    /// refuses (Unicode spaces and controls included) and shapes it names.
    fn samples() -> Vec<String> {
        let alphabet: Vec<&str> = vec![
            "a", "z", "x", "n", "A", "Z", "0", "1", "9", "5", "6", ".", "-", "_", ":", "[", "]",
            "/", ",", " ", "\n", "\u{85}", "\u{a0}", "\u{7f}", "\u{9f}", "\u{feff}", "é", "xn--",
            "..", "1.2.3.4", "\t",
        ];
        let mut rng = rand::thread_rng();
        let mut out: Vec<String> = [
            "",
            "abc",
            "ab",
            "a.b",
            "a..b",
            "a-.b",
            "-ab",
            "ab-",
            "xn--ab",
            "xnab",
            "1.2.3.4",
            "999.1.1.1",
            "1.2.3",
            "1.2.3.4.5",
            "a".repeat(63).as_str(),
            "a".repeat(64).as_str(),
            "a".repeat(65).as_str(),
            "osd1",
            "host-4",
            "h:9200",
            "h:0",
            "h:080",
            "h:65535",
            "h:65536",
            "h:99999",
            "[::1]:80",
            "[]:80",
            "127.0.0.1:9200",
            "h",
            ":80",
            "h:",
            "h:+80",
            "/dev/vdb",
            "/a,b",
            "rel/path",
            "/",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        for _ in 0..50_000 {
            let n = rng.gen_range(0..12);
            let s: String = (0..n)
                .map(|_| alphabet[rng.gen_range(0..alphabet.len())])
                .collect();
            out.push(s);
        }
        for _ in 0..10_000 {
            let host =
                ["h", "osd-1.example", "[fe80::1]", "10.0.0.1", "a b", ""][rng.gen_range(0..6)];
            let port = rng.gen_range(0..70_000u32);
            let port = match rng.gen_range(0..4) {
                0 => format!("0{port}"),
                1 => format!("+{port}"),
                _ => port.to_string(),
            };
            out.push(format!("{host}:{port}"));
        }
        out
    }

    /// Whether the pattern (`re`, compiled) and length bounds of `rule`
    /// take `s`.
    fn matches(rule: Rule, re: &fancy_regex::Regex, s: &str) -> bool {
        let Rule::Text(_, min, max) = rule else {
            unreachable!()
        };
        let n = s.chars().count();
        re.is_match(s).unwrap() && min.is_none_or(|m| n >= m) && max.is_none_or(|m| n <= m)
    }

    /// The spec and the validators agree on every sample: what the spec
    /// calls valid is accepted, what it calls invalid is refused.
    #[test]
    fn patterns_match_exactly_what_the_validators_accept() {
        type Check = (&'static str, Rule, fn(&str) -> bool);
        let checks: [Check; 6] = [
            ("bucket", BUCKET, |s| {
                objectio_object::valid_bucket_name(s).is_ok()
            }),
            ("user", USER, valid_user_name),
            ("name", NAME, valid_name),
            ("address", Rule::Text(patterns::ADDRESS, None, None), |s| {
                check_address(s).is_ok()
            }),
            (
                "disk",
                Rule::Text(patterns::DISK_PATH, None, None),
                valid_disk_path,
            ),
            ("label", Rule::Text(patterns::LABEL, None, Some(64)), |s| {
                s.chars().count() <= 64 && !s.chars().any(char::is_control)
            }),
        ];
        let samples = samples();
        for (what, rule, valid) in checks {
            let Rule::Text(p, ..) = rule else {
                unreachable!()
            };
            let re = fancy_regex::Regex::new(p).unwrap();
            let mut accepted = 0;
            for s in &samples {
                let (spec, code) = (matches(rule, &re, s), valid(s));
                assert_eq!(
                    spec, code,
                    "{what} {s:?}: the spec says {spec}, the code {code}"
                );
                accepted += usize::from(code);
            }
            assert!(accepted > 0, "{what}: no sample was valid");
        }
    }

    /// Every route has a description, an operation id `resource.verb`, an
    /// example for its request and success bodies, and a described JSON
    /// error with an example for each refusal. (That each example fits its
    /// schema is checked by `testing/api/check-examples.py` in CI.)
    #[test]
    fn every_route_is_described_with_examples_and_errors() {
        let spec: serde_json::Value = serde_json::from_str(&crate::openapi_json()).unwrap();
        let schemas = &spec["components"]["schemas"];
        let has_example = |schema: &serde_json::Value| -> bool {
            let s = match schema["$ref"].as_str() {
                Some(r) => &schemas[r.trim_start_matches("#/components/schemas/")],
                None => schema,
            };
            s.get("example").is_some() || s.get("examples").is_some()
        };
        let mut missing = Vec::new();
        for (path, item) in spec["paths"].as_object().unwrap() {
            for (method, op) in item.as_object().unwrap() {
                let at = format!("{method} {path}");
                let id = op["operationId"].as_str().unwrap_or("");
                if path != "/health" && !id.contains('.') {
                    missing.push(format!("{at}: operation id {id:?} is not resource.verb"));
                }
                if op.get("summary").is_none() && op.get("description").is_none() {
                    missing.push(format!("{at}: no description"));
                }
                if let Some(body) = op.get("requestBody") {
                    for c in body["content"].as_object().unwrap().values() {
                        if !has_example(&c["schema"]) {
                            missing.push(format!("{at}: request body without an example"));
                        }
                    }
                }
                for (status, r) in op["responses"].as_object().unwrap() {
                    if r["description"].as_str().unwrap_or("").is_empty() {
                        missing.push(format!("{at} {status}: no description"));
                    }
                    let Some(content) = r.get("content") else {
                        missing.push(format!("{at} {status}: no body schema"));
                        continue;
                    };
                    for c in content.as_object().unwrap().values() {
                        let error = c["schema"]["$ref"]
                            .as_str()
                            .is_some_and(|r| r.ends_with("/ErrorOut"));
                        if error && c.get("example").is_none() {
                            missing.push(format!("{at} {status}: an error without an example"));
                        }
                        if status.starts_with('2') && !has_example(&c["schema"]) {
                            missing.push(format!("{at} {status}: no example"));
                        }
                    }
                }
            }
        }
        assert!(missing.is_empty(), "{}", missing.join("\n"));
    }
}
