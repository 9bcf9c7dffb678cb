//! Bucket policies: the IAM-style JSON document of PutBucketPolicy,
//! validated when stored and evaluated by the authorization stage.
//!
//! Supported: `Effect` Allow/Deny; `Principal` `"*"` or `{"AWS": ...}` with
//! `"*"` or user ARNs (`arn:objectio:iam:::user/NAME`, also spelled
//! `arn:aws:iam::ACCOUNT:user/NAME`); `Action`/`NotAction` with `*` and `?`
//! wildcards over the S3 actions; `Resource`/`NotResource` naming this
//! bucket or its objects, with wildcards; `Condition` with the operators
//! StringEquals, StringNotEquals, StringLike, StringNotLike, IpAddress,
//! NotIpAddress, Bool (each also as `...IfExists`) over the keys
//! `aws:SourceIp`, `aws:SecureTransport`, `aws:username`,
//! `aws:PrincipalType`, `s3:prefix`, `s3:delimiter`, `s3:max-keys`.
//! Anything else is `MalformedPolicy`, so a policy never means less than
//! it says.

use std::net::IpAddr;

use serde_json::Value;

/// The largest policy accepted, as AWS limits bucket policies.
pub const MAX_POLICY_BYTES: usize = 20 * 1024;

/// Every S3 action a policy may name (without the `s3:` prefix).
pub const ACTIONS: &[&str] = &[
    "AbortMultipartUpload",
    "BypassGovernanceRetention",
    "CreateBucket",
    "DeleteBucket",
    "DeleteBucketPolicy",
    "DeleteObject",
    "DeleteObjectTagging",
    "DeleteObjectVersion",
    "GetBucketAcl",
    "GetBucketCORS",
    "GetBucketLocation",
    "GetBucketObjectLockConfiguration",
    "GetBucketPolicy",
    "GetBucketPolicyStatus",
    "GetBucketTagging",
    "GetBucketVersioning",
    "GetLifecycleConfiguration",
    "GetObject",
    "GetObjectAcl",
    "GetObjectAttributes",
    "GetObjectLegalHold",
    "GetObjectRetention",
    "GetObjectTagging",
    "GetObjectVersion",
    "ListAllMyBuckets",
    "ListBucket",
    "ListBucketMultipartUploads",
    "ListBucketVersions",
    "ListMultipartUploadParts",
    "PutBucketAcl",
    "PutBucketCORS",
    "PutBucketObjectLockConfiguration",
    "PutBucketPolicy",
    "PutBucketTagging",
    "PutBucketVersioning",
    "PutLifecycleConfiguration",
    "PutObject",
    "PutObjectAcl",
    "PutObjectLegalHold",
    "PutObjectRetention",
    "PutObjectTagging",
];

const CONDITION_KEYS: &[&str] = &[
    "aws:sourceip",
    "aws:securetransport",
    "aws:username",
    "aws:principaltype",
    "s3:prefix",
    "s3:delimiter",
    "s3:max-keys",
];

/// Who is asking.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Principal {
    Anonymous,
    User(String),
}

/// What a policy statement is matched against.
#[derive(Clone, Debug)]
pub struct Request<'a> {
    pub principal: &'a Principal,
    /// `s3:GetObject`.
    pub action: &'a str,
    /// `arn:aws:s3:::bucket` or `arn:aws:s3:::bucket/key`.
    pub resource: &'a str,
    pub source_ip: Option<IpAddr>,
    pub secure_transport: bool,
    /// `s3:prefix`, `s3:delimiter`, `s3:max-keys` of a listing.
    pub prefix: Option<&'a str>,
    pub delimiter: Option<&'a str>,
    pub max_keys: Option<&'a str>,
}

/// The outcome of a policy for one request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// A Deny statement matched: refused whatever else grants.
    Deny,
    /// An Allow statement matched and no Deny.
    Allow,
    /// No statement matched.
    NotApplicable,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Effect {
    Allow,
    Deny,
}

#[derive(Clone, Debug)]
enum PrincipalSpec {
    Any,
    Users(Vec<String>),
}

#[derive(Clone, Debug)]
struct Condition {
    op: Op,
    if_exists: bool,
    key: String,
    values: Vec<String>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Op {
    StringEquals,
    StringNotEquals,
    StringLike,
    StringNotLike,
    IpAddress,
    NotIpAddress,
    Bool,
}

#[derive(Clone, Debug)]
struct Statement {
    effect: Effect,
    principal: PrincipalSpec,
    actions: Vec<String>,
    not_action: bool,
    resources: Vec<String>,
    not_resource: bool,
    conditions: Vec<Condition>,
}

/// A parsed, validated bucket policy.
#[derive(Clone, Debug)]
pub struct Policy {
    statements: Vec<Statement>,
}

/// Why a policy was refused (the message of `MalformedPolicy`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct Malformed(pub String);

fn bad<T>(m: impl Into<String>) -> Result<T, Malformed> {
    Err(Malformed(m.into()))
}

/// A string or a non-empty list of strings.
fn strings(v: &Value, what: &str) -> Result<Vec<String>, Malformed> {
    match v {
        Value::String(s) => Ok(vec![s.clone()]),
        Value::Array(a) if !a.is_empty() => a
            .iter()
            .map(|x| match x {
                Value::String(s) => Ok(s.clone()),
                _ => bad(format!("{what} must be a string or a list of strings")),
            })
            .collect(),
        _ => bad(format!("{what} must be a string or a list of strings")),
    }
}

/// The user an ObjectIO or AWS-spelled user ARN names.
fn user_of_arn(arn: &str) -> Option<&str> {
    let rest = arn.strip_prefix("arn:objectio:iam:::user/").or_else(|| {
        let r = arn.strip_prefix("arn:aws:iam::")?;
        let (account, user) = r.split_once(":user/")?;
        account
            .bytes()
            .all(|c| c.is_ascii_alphanumeric())
            .then_some(user)
    })?;
    (!rest.is_empty()
        && rest.len() <= 128
        && rest
            .bytes()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'.' | b'_' | b'-')))
    .then_some(rest)
}

fn principal(v: &Value) -> Result<PrincipalSpec, Malformed> {
    let list = match v {
        Value::String(s) if s == "*" => return Ok(PrincipalSpec::Any),
        Value::Object(m) => {
            if m.len() != 1 || !m.contains_key("AWS") {
                return bad(
                    "Invalid principal in policy: only \"*\" and {\"AWS\": ...} are supported",
                );
            }
            strings(&m["AWS"], "Principal.AWS")?
        }
        _ => return bad("Invalid principal in policy"),
    };
    let mut users = Vec::new();
    for p in list {
        if p == "*" {
            return Ok(PrincipalSpec::Any);
        }
        match user_of_arn(&p) {
            Some(u) => users.push(u.to_string()),
            None => {
                return bad(format!(
                    "Invalid principal in policy: {p:?} is not a user ARN"
                ));
            }
        }
    }
    Ok(PrincipalSpec::Users(users))
}

fn action(a: &str) -> Result<String, Malformed> {
    if a == "*" {
        return Ok("s3:*".into());
    }
    let Some(name) = a
        .get(..3)
        .filter(|p| p.eq_ignore_ascii_case("s3:"))
        .map(|_| &a[3..])
    else {
        return bad(format!("Policy has invalid action: {a:?}"));
    };
    let known = ACTIONS
        .iter()
        .any(|k| wildcard(&k.to_ascii_lowercase(), &name.to_ascii_lowercase()));
    if name.is_empty() || !known {
        return bad(format!("Policy has invalid action: {a:?}"));
    }
    Ok(format!("s3:{name}").to_ascii_lowercase())
}

fn resource(r: &str, bucket: &str) -> Result<String, Malformed> {
    let Some(rest) = r.strip_prefix("arn:aws:s3:::") else {
        return bad(format!("Policy has invalid resource: {r:?}"));
    };
    let b = rest.split('/').next().unwrap_or("");
    if !wildcard(bucket, b) || b.is_empty() {
        return bad(format!(
            "Policy has invalid resource: {r:?} is not in bucket {bucket}"
        ));
    }
    Ok(r.to_string())
}

fn condition_block(v: &Value) -> Result<Vec<Condition>, Malformed> {
    let Value::Object(ops) = v else {
        return bad("Condition must be an object");
    };
    let mut out = Vec::new();
    for (op_name, keys) in ops {
        let (base, if_exists) = match op_name.strip_suffix("IfExists") {
            Some(b) => (b, true),
            None => (op_name.as_str(), false),
        };
        let op = match base {
            "StringEquals" => Op::StringEquals,
            "StringNotEquals" => Op::StringNotEquals,
            "StringLike" => Op::StringLike,
            "StringNotLike" => Op::StringNotLike,
            "IpAddress" => Op::IpAddress,
            "NotIpAddress" => Op::NotIpAddress,
            "Bool" => Op::Bool,
            _ => return bad(format!("Invalid Condition type: {op_name}")),
        };
        let Value::Object(keys) = keys else {
            return bad(format!("Condition {op_name} must be an object"));
        };
        if keys.is_empty() {
            return bad(format!("Condition {op_name} names no key"));
        }
        for (key, vals) in keys {
            let lk = key.to_ascii_lowercase();
            if !CONDITION_KEYS.contains(&lk.as_str()) {
                return bad(format!("Policy has an invalid condition key: {key}"));
            }
            let values: Vec<String> = match vals {
                Value::Bool(b) => vec![b.to_string()],
                Value::Number(n) => vec![n.to_string()],
                Value::Array(a) if !a.is_empty() => a
                    .iter()
                    .map(|x| match x {
                        Value::String(s) => Ok(s.clone()),
                        Value::Bool(b) => Ok(b.to_string()),
                        Value::Number(n) => Ok(n.to_string()),
                        _ => bad(format!("Condition {op_name}/{key}: values must be strings")),
                    })
                    .collect::<Result<_, _>>()?,
                Value::String(s) => vec![s.clone()],
                _ => return bad(format!("Condition {op_name}/{key}: values must be strings")),
            };
            match op {
                Op::IpAddress | Op::NotIpAddress => {
                    if lk != "aws:sourceip" {
                        return bad(format!("{op_name} applies to aws:SourceIp, not {key}"));
                    }
                    for v in &values {
                        if parse_net(v).is_none() {
                            return bad(format!(
                                "Condition {op_name}: {v:?} is not an IP address or CIDR block"
                            ));
                        }
                    }
                }
                Op::Bool => {
                    for v in &values {
                        if !v.eq_ignore_ascii_case("true") && !v.eq_ignore_ascii_case("false") {
                            return bad(format!(
                                "Condition Bool/{key}: {v:?} is not true or false"
                            ));
                        }
                    }
                }
                _ => {}
            }
            out.push(Condition {
                op,
                if_exists,
                key: lk,
                values,
            });
        }
    }
    Ok(out)
}

fn parse_net(s: &str) -> Option<ipnet::IpNet> {
    s.parse::<ipnet::IpNet>()
        .ok()
        .or_else(|| s.parse::<IpAddr>().ok().map(ipnet::IpNet::from))
}

impl Policy {
    /// Parses and validates the policy of `bucket`.
    pub fn parse(text: &str, bucket: &str) -> Result<Self, Malformed> {
        if text.len() > MAX_POLICY_BYTES {
            return bad(format!(
                "Policy exceeds the maximum allowed document size ({MAX_POLICY_BYTES} bytes)"
            ));
        }
        let doc: Value = serde_json::from_str(text)
            .map_err(|e| Malformed(format!("This policy contains invalid Json: {e}")))?;
        let Value::Object(top) = doc else {
            return bad("A policy must be a JSON object");
        };
        for k in top.keys() {
            if !["Version", "Id", "Statement"].contains(&k.as_str()) {
                return bad(format!("Unknown field {k}"));
            }
        }
        match top.get("Version") {
            None => {}
            Some(Value::String(v)) if v == "2012-10-17" || v == "2008-10-17" => {}
            Some(_) => return bad("The policy must contain a valid version string"),
        }
        if top.get("Id").is_some_and(|v| !v.is_string()) {
            return bad("Id must be a string");
        }
        let stmts = match top.get("Statement") {
            Some(Value::Array(a)) if !a.is_empty() => a.clone(),
            Some(v @ Value::Object(_)) => vec![v.clone()],
            _ => return bad("Missing required field Statement"),
        };
        let mut statements = Vec::new();
        for s in stmts {
            let Value::Object(m) = s else {
                return bad("Each statement must be an object");
            };
            for k in m.keys() {
                if ![
                    "Sid",
                    "Effect",
                    "Principal",
                    "Action",
                    "NotAction",
                    "Resource",
                    "NotResource",
                    "Condition",
                ]
                .contains(&k.as_str())
                {
                    return bad(format!("Unknown field {k} in a statement"));
                }
            }
            if m.get("Sid").is_some_and(|v| !v.is_string()) {
                return bad("Sid must be a string");
            }
            let effect = match m.get("Effect") {
                Some(Value::String(e)) if e == "Allow" => Effect::Allow,
                Some(Value::String(e)) if e == "Deny" => Effect::Deny,
                _ => return bad("Invalid effect: must be Allow or Deny"),
            };
            let principal = principal(
                m.get("Principal")
                    .ok_or_else(|| Malformed("Missing required field Principal".into()))?,
            )?;
            let (actions, not_action) = match (m.get("Action"), m.get("NotAction")) {
                (Some(a), None) => (strings(a, "Action")?, false),
                (None, Some(a)) => (strings(a, "NotAction")?, true),
                _ => return bad("A statement needs exactly one of Action and NotAction"),
            };
            let actions = actions
                .iter()
                .map(|a| action(a))
                .collect::<Result<_, _>>()?;
            let (resources, not_resource) = match (m.get("Resource"), m.get("NotResource")) {
                (Some(r), None) => (strings(r, "Resource")?, false),
                (None, Some(r)) => (strings(r, "NotResource")?, true),
                _ => return bad("A statement needs exactly one of Resource and NotResource"),
            };
            let resources = resources
                .iter()
                .map(|r| resource(r, bucket))
                .collect::<Result<_, _>>()?;
            let conditions = match m.get("Condition") {
                Some(c) => condition_block(c)?,
                None => Vec::new(),
            };
            statements.push(Statement {
                effect,
                principal,
                actions,
                not_action,
                resources,
                not_resource,
                conditions,
            });
        }
        Ok(Self { statements })
    }

    /// Deny if any Deny statement matches, else Allow if any Allow does.
    pub fn evaluate(&self, r: &Request<'_>) -> Verdict {
        let mut allowed = false;
        for s in &self.statements {
            if s.matches(r) {
                match s.effect {
                    Effect::Deny => return Verdict::Deny,
                    Effect::Allow => allowed = true,
                }
            }
        }
        if allowed {
            Verdict::Allow
        } else {
            Verdict::NotApplicable
        }
    }

    /// Whether the policy grants anything to everyone (AWS's "public"):
    /// an Allow for `*` not limited to source addresses.
    pub fn is_public(&self) -> bool {
        self.statements.iter().any(|s| {
            s.effect == Effect::Allow
                && matches!(s.principal, PrincipalSpec::Any)
                && !s.conditions.iter().any(|c| c.key == "aws:sourceip")
        })
    }
}

impl Statement {
    fn matches(&self, r: &Request<'_>) -> bool {
        let who = match (&self.principal, r.principal) {
            (PrincipalSpec::Any, _) => true,
            (PrincipalSpec::Users(us), Principal::User(u)) => us.iter().any(|x| x == u),
            (PrincipalSpec::Users(_), Principal::Anonymous) => false,
        };
        let action = r.action.to_ascii_lowercase();
        let act = self.actions.iter().any(|a| wildcard(&action, a)) != self.not_action;
        let res = self.resources.iter().any(|p| wildcard(r.resource, p)) != self.not_resource;
        who && act && res && self.conditions.iter().all(|c| c.holds(r))
    }
}

impl Condition {
    fn holds(&self, r: &Request<'_>) -> bool {
        let user;
        let value: Option<&str> = match self.key.as_str() {
            "aws:sourceip" => {
                return match (r.source_ip, self.op) {
                    (None, _) => self.if_exists,
                    (Some(ip), Op::IpAddress) => self.nets().any(|n| n.contains(&ip)),
                    (Some(ip), Op::NotIpAddress) => !self.nets().any(|n| n.contains(&ip)),
                    // A string operator over an address compares its text.
                    (Some(ip), _) => {
                        user = ip.to_string();
                        return self.compare(Some(&user));
                    }
                };
            }
            "aws:securetransport" => Some(if r.secure_transport { "true" } else { "false" }),
            "aws:username" => match r.principal {
                Principal::User(u) => Some(u.as_str()),
                Principal::Anonymous => None,
            },
            "aws:principaltype" => Some(match r.principal {
                Principal::User(_) => "User",
                Principal::Anonymous => "Anonymous",
            }),
            "s3:prefix" => r.prefix,
            "s3:delimiter" => r.delimiter,
            "s3:max-keys" => r.max_keys,
            _ => None,
        };
        self.compare(value)
    }

    fn nets(&self) -> impl Iterator<Item = ipnet::IpNet> + '_ {
        self.values.iter().filter_map(|v| parse_net(v))
    }

    fn compare(&self, value: Option<&str>) -> bool {
        let Some(v) = value else {
            // A key absent from the request: `...IfExists` holds; the
            // negated operators hold (nothing equal to exclude); the
            // others do not.
            return self.if_exists || matches!(self.op, Op::StringNotEquals | Op::StringNotLike);
        };
        match self.op {
            Op::StringEquals => self.values.iter().any(|x| x == v),
            Op::StringNotEquals => !self.values.iter().any(|x| x == v),
            Op::StringLike => self.values.iter().any(|x| wildcard(v, x)),
            Op::StringNotLike => !self.values.iter().any(|x| wildcard(v, x)),
            Op::Bool => self.values.iter().any(|x| x.eq_ignore_ascii_case(v)),
            Op::IpAddress | Op::NotIpAddress => false,
        }
    }
}

/// Matches `s` against `pattern` with `*` (any run) and `?` (one char).
pub fn wildcard(s: &str, pattern: &str) -> bool {
    let s: Vec<char> = s.chars().collect();
    let p: Vec<char> = pattern.chars().collect();
    let (mut i, mut j) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while i < s.len() {
        if j < p.len() && (p[j] == '?' || p[j] == s[i]) {
            i += 1;
            j += 1;
        } else if j < p.len() && p[j] == '*' {
            star = Some((j, i));
            j += 1;
        } else if let Some((sj, si)) = star {
            j = sj + 1;
            i = si + 1;
            star = Some((sj, si + 1));
        } else {
            return false;
        }
    }
    while j < p.len() && p[j] == '*' {
        j += 1;
    }
    j == p.len()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req<'a>(p: &'a Principal, action: &'a str, resource: &'a str) -> Request<'a> {
        Request {
            principal: p,
            action,
            resource,
            source_ip: Some("10.1.2.3".parse().unwrap()),
            secure_transport: false,
            prefix: None,
            delimiter: None,
            max_keys: None,
        }
    }

    #[test]
    fn wildcards() {
        assert!(wildcard("abc", "a*"));
        assert!(wildcard("abc", "*c"));
        assert!(wildcard("abc", "a?c"));
        assert!(wildcard("", "*"));
        assert!(!wildcard("abc", "a?"));
        assert!(wildcard("public/x/y.txt", "public/*"));
        assert!(!wildcard("private/x", "public/*"));
        assert!(wildcard("aXbXc", "a*b*c"));
    }

    #[test]
    fn explicit_deny_wins_over_allow() {
        let p = Policy::parse(
            r#"{"Version":"2012-10-17","Statement":[
                {"Effect":"Allow","Principal":{"AWS":"arn:objectio:iam:::user/bob"},"Action":"s3:*","Resource":"arn:aws:s3:::b/*"},
                {"Effect":"Deny","Principal":"*","Action":["s3:DeleteObject"],"Resource":"arn:aws:s3:::b/*"}]}"#,
            "b",
        )
        .unwrap();
        let bob = Principal::User("bob".into());
        assert_eq!(
            p.evaluate(&req(&bob, "s3:GetObject", "arn:aws:s3:::b/k")),
            Verdict::Allow
        );
        assert_eq!(
            p.evaluate(&req(&bob, "s3:DeleteObject", "arn:aws:s3:::b/k")),
            Verdict::Deny
        );
        let eve = Principal::User("eve".into());
        assert_eq!(
            p.evaluate(&req(&eve, "s3:GetObject", "arn:aws:s3:::b/k")),
            Verdict::NotApplicable
        );
        assert!(!p.is_public());
    }

    #[test]
    fn conditions() {
        let p = Policy::parse(
            r#"{"Statement":[{"Effect":"Allow","Principal":"*","Action":"s3:ListBucket","Resource":"arn:aws:s3:::b",
                "Condition":{"StringLike":{"s3:prefix":"public/*"},"IpAddress":{"aws:SourceIp":["10.0.0.0/8"]},
                "Bool":{"aws:SecureTransport":false}}}]}"#,
            "b",
        )
        .unwrap();
        let anon = Principal::Anonymous;
        let mut r = req(&anon, "s3:ListBucket", "arn:aws:s3:::b");
        assert_eq!(p.evaluate(&r), Verdict::NotApplicable, "no prefix");
        r.prefix = Some("public/a");
        assert_eq!(p.evaluate(&r), Verdict::Allow);
        r.source_ip = Some("192.168.0.1".parse().unwrap());
        assert_eq!(p.evaluate(&r), Verdict::NotApplicable, "outside the block");
        r.source_ip = Some("10.9.9.9".parse().unwrap());
        r.secure_transport = true;
        assert_eq!(p.evaluate(&r), Verdict::NotApplicable, "Bool false");
        assert!(!p.is_public(), "limited by source address");
    }

    #[test]
    fn malformed_policies_are_refused() {
        let cases = [
            ("", "invalid Json"),
            ("[]", "JSON object"),
            ("{}", "Statement"),
            (r#"{"Statement":[]}"#, "Statement"),
            (r#"{"Version":"2020-01-01","Statement":[{}]}"#, "version"),
            (
                r#"{"Statement":[{"Effect":"Maybe","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::b/*"}]}"#,
                "effect",
            ),
            (
                r#"{"Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:s3:::b/*"}]}"#,
                "Principal",
            ),
            (
                r#"{"Statement":[{"Effect":"Allow","Principal":"*","Action":"s3:FlyAway","Resource":"arn:aws:s3:::b/*"}]}"#,
                "invalid action",
            ),
            (
                r#"{"Statement":[{"Effect":"Allow","Principal":"*","Action":"ec2:RunInstances","Resource":"arn:aws:s3:::b/*"}]}"#,
                "invalid action",
            ),
            (
                r#"{"Statement":[{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::other/*"}]}"#,
                "invalid resource",
            ),
            (
                r#"{"Statement":[{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"b/*"}]}"#,
                "invalid resource",
            ),
            (
                r#"{"Statement":[{"Effect":"Allow","Principal":{"AWS":"bob"},"Action":"s3:GetObject","Resource":"arn:aws:s3:::b/*"}]}"#,
                "principal",
            ),
            (
                r#"{"Statement":[{"Effect":"Allow","Principal":{"CanonicalUser":"x"},"Action":"s3:GetObject","Resource":"arn:aws:s3:::b/*"}]}"#,
                "principal",
            ),
            (
                r#"{"Statement":[{"Effect":"Allow","Principal":"*","Action":7,"Resource":"arn:aws:s3:::b/*"}]}"#,
                "Action",
            ),
            (
                r#"{"Statement":[{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::b/*","Condition":{"NumericLessThan":{"s3:max-keys":"5"}}}]}"#,
                "Condition type",
            ),
            (
                r#"{"Statement":[{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::b/*","Condition":{"StringEquals":{"aws:Referer":"x"}}}]}"#,
                "condition key",
            ),
            (
                r#"{"Statement":[{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::b/*","Condition":{"IpAddress":{"aws:SourceIp":"nope"}}}]}"#,
                "CIDR",
            ),
            (
                r#"{"Statement":[{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::b/*","Extra":1}]}"#,
                "Unknown field",
            ),
        ];
        for (text, want) in cases {
            let e = Policy::parse(text, "b").unwrap_err();
            assert!(e.0.contains(want), "{text}: {e} lacks {want:?}");
        }
        let huge = format!(
            r#"{{"Id":"{}","Statement":[{{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::b/*"}}]}}"#,
            "x".repeat(MAX_POLICY_BYTES)
        );
        assert!(Policy::parse(&huge, "b").unwrap_err().0.contains("size"));
    }

    #[test]
    fn principals_by_arn() {
        assert_eq!(user_of_arn("arn:objectio:iam:::user/alice"), Some("alice"));
        assert_eq!(
            user_of_arn("arn:aws:iam::123456789012:user/alice"),
            Some("alice")
        );
        assert_eq!(user_of_arn("arn:aws:iam::123:role/x"), None);
        assert_eq!(user_of_arn("arn:objectio:iam:::user/"), None);
        assert_eq!(user_of_arn("arn:objectio:iam:::user/a b"), None);
    }
}
