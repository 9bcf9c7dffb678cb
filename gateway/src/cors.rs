//! CORS from a bucket's rules (PutBucketCors): preflight `OPTIONS`
//! requests answered before s3s (they are never signed), and the
//! `Access-Control-*` headers added to answers of requests that carry an
//! `Origin` a rule allows, as S3 does: the first rule whose origin,
//! method and (for preflights) requested headers all match decides.

use http::{HeaderMap, HeaderValue, Method, StatusCode};
use objectio_cluster::CorsRule;

/// Whether `s` matches `pattern`, which may hold one `*` (any run of
/// characters). Case-insensitive for headers, exact for origins.
fn wildcard(pattern: &str, s: &str, fold: bool) -> bool {
    let (p, s) = if fold {
        (pattern.to_ascii_lowercase(), s.to_ascii_lowercase())
    } else {
        (pattern.to_string(), s.to_string())
    };
    match p.split_once('*') {
        None => p == s,
        Some((pre, post)) => {
            s.len() >= pre.len() + post.len() && s.starts_with(pre) && s.ends_with(post)
        }
    }
}

/// The first rule allowing `origin` to send `method` with `headers`.
pub fn rule_for<'a>(
    rules: &'a [CorsRule],
    origin: &str,
    method: &str,
    headers: &[String],
) -> Option<&'a CorsRule> {
    rules.iter().find(|r| {
        r.allowed_origins.iter().any(|o| wildcard(o, origin, false))
            && r.allowed_methods.iter().any(|m| m == method)
            && headers
                .iter()
                .all(|h| r.allowed_headers.iter().any(|a| wildcard(a, h, true)))
    })
}

fn set(h: &mut HeaderMap, name: &'static str, v: &str) {
    if let Ok(v) = HeaderValue::from_str(v) {
        h.insert(name, v);
    }
}

/// The `Access-Control-Allow-Origin` a rule answers: `*` when it allows
/// any origin, else the request's origin (with credentials allowed).
fn allow_origin(h: &mut HeaderMap, rule: &CorsRule, origin: &str) {
    if rule.allowed_origins.iter().any(|o| o == "*") {
        set(h, "access-control-allow-origin", "*");
    } else {
        set(h, "access-control-allow-origin", origin);
        set(h, "access-control-allow-credentials", "true");
    }
    set(
        h,
        "access-control-allow-methods",
        &rule.allowed_methods.join(", "),
    );
    if !rule.expose_headers.is_empty() {
        set(
            h,
            "access-control-expose-headers",
            &rule.expose_headers.join(", "),
        );
    }
    if let Some(age) = rule.max_age_seconds {
        set(h, "access-control-max-age", &age.to_string());
    }
}

/// Adds the CORS headers of an actual (not preflight) request's answer.
pub fn decorate(resp: &mut HeaderMap, rules: Option<&[CorsRule]>, origin: &str, method: &Method) {
    // HEAD is its own method in CORS rules.
    if let Some(rule) = rules.and_then(|r| rule_for(r, origin, method.as_str(), &[])) {
        allow_origin(resp, rule, origin);
        resp.append(http::header::VARY, HeaderValue::from_static("Origin"));
    }
}

fn xml(status: StatusCode, code: &str, message: &str) -> http::Response<s3s::Body> {
    crate::error_answer(status, code, message, None)
}

/// The answer to a preflight `OPTIONS` for a bucket with `rules` (`None`:
/// no such bucket or no CORS configuration).
pub fn preflight(rules: Option<&[CorsRule]>, req: &HeaderMap) -> http::Response<s3s::Body> {
    let get = |n: &str| req.get(n).and_then(|v| v.to_str().ok());
    let (Some(origin), Some(method)) = (get("origin"), get("access-control-request-method")) else {
        return xml(
            StatusCode::BAD_REQUEST,
            "BadRequest",
            "Insufficient information. Origin request header needed.",
        );
    };
    let Some(rules) = rules else {
        return xml(
            StatusCode::FORBIDDEN,
            "AccessForbidden",
            "CORSResponse: CORS is not enabled for this bucket.",
        );
    };
    let headers: Vec<String> = get("access-control-request-headers")
        .unwrap_or("")
        .split(',')
        .map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty())
        .collect();
    let Some(rule) = rule_for(rules, origin, method, &headers) else {
        return xml(
            StatusCode::FORBIDDEN,
            "AccessForbidden",
            "CORSResponse: This CORS request is not allowed. This is usually because the evalution of Origin, request method / Access-Control-Request-Method or Access-Control-Request-Headers are not whitelisted by the resource's CORS spec.",
        );
    };
    let mut r = http::Response::new(s3s::Body::empty());
    let h = r.headers_mut();
    allow_origin(h, rule, origin);
    if !headers.is_empty() {
        set(h, "access-control-allow-headers", &headers.join(", "));
    }
    set(
        h,
        "vary",
        "Origin, Access-Control-Request-Headers, Access-Control-Request-Method",
    );
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(origins: &[&str], methods: &[&str], headers: &[&str]) -> CorsRule {
        CorsRule {
            allowed_origins: origins.iter().map(|s| s.to_string()).collect(),
            allowed_methods: methods.iter().map(|s| s.to_string()).collect(),
            allowed_headers: headers.iter().map(|s| s.to_string()).collect(),
            ..Default::default()
        }
    }

    #[test]
    fn the_first_matching_rule_decides() {
        let rules = vec![
            rule(&["https://*.example.com"], &["PUT"], &["content-*"]),
            rule(&["*"], &["GET", "HEAD"], &[]),
        ];
        let h = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(
            rule_for(
                &rules,
                "https://app.example.com",
                "PUT",
                &h(&["Content-Type"])
            ),
            Some(&rules[0])
        );
        assert_eq!(
            rule_for(
                &rules,
                "https://app.example.com",
                "PUT",
                &h(&["x-amz-meta-a"])
            ),
            None
        );
        assert_eq!(rule_for(&rules, "http://other.org", "PUT", &[]), None);
        assert_eq!(
            rule_for(&rules, "http://other.org", "GET", &[]),
            Some(&rules[1])
        );
        assert_eq!(
            rule_for(&rules, "http://other.org", "GET", &h(&["x"])),
            None
        );
        assert!(wildcard("*", "", false));
        assert!(!wildcard(
            "https://*.example.com",
            "https://example.com",
            false
        ));
    }

    #[test]
    fn preflights_answer_what_s3_answers() {
        let rules = vec![rule(&["https://a.org"], &["PUT", "GET"], &["*"])];
        let mut req = HeaderMap::new();
        assert_eq!(preflight(Some(&rules), &req).status(), 400);
        req.insert("origin", "https://a.org".parse().unwrap());
        req.insert("access-control-request-method", "PUT".parse().unwrap());
        req.insert(
            "access-control-request-headers",
            "content-type, x-amz-date".parse().unwrap(),
        );
        assert_eq!(preflight(None, &req).status(), 403);
        let r = preflight(Some(&rules), &req);
        assert_eq!(r.status(), 200);
        let g = |n: &str| r.headers().get(n).unwrap().to_str().unwrap().to_string();
        assert_eq!(g("access-control-allow-origin"), "https://a.org");
        assert_eq!(g("access-control-allow-methods"), "PUT, GET");
        assert_eq!(
            g("access-control-allow-headers"),
            "content-type, x-amz-date"
        );
        req.insert("access-control-request-method", "DELETE".parse().unwrap());
        assert_eq!(preflight(Some(&rules), &req).status(), 403);
    }
}
