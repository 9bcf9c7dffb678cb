//! A minimal SigV4 header signer for raw requests (path style, us-east-1,
//! payload hash given as a header value such as `UNSIGNED-PAYLOAD`). Used by
//! tests for edge cases SDKs will not produce, and by the bench tool.

use hmac::Mac;
use sha2::Digest;

/// Where and as whom to sign.
#[derive(Clone, Debug)]
pub struct Creds {
    pub endpoint: String,
    pub access_key: String,
    pub secret_key: String,
}

fn hmac(key: &[u8], msg: &str) -> Vec<u8> {
    let mut m = hmac::Hmac::<sha2::Sha256>::new_from_slice(key).expect("any key length");
    m.update(msg.as_bytes());
    m.finalize().into_bytes().to_vec()
}

/// `YYYYMMDDTHHMMSSZ` of a Unix time.
pub fn amz_date(secs: u64) -> String {
    let days = (secs / 86400) as i64;
    let rem = secs % 86400;
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days + 719468;
    let era = z.div_euclid(146097);
    let doe = z - era * 146097;
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}{m:02}{d:02}T{:02}{:02}{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// A request for `path` (already URI-encoded, with an optional query string
/// of URI-encoded pairs) signed with `x-amz-content-sha256: payload`.
pub fn request(
    http: &reqwest::Client,
    c: &Creds,
    method: reqwest::Method,
    path: &str,
    payload: &str,
) -> reqwest::RequestBuilder {
    let host = c
        .endpoint
        .trim_start_matches("http://")
        .trim_end_matches('/')
        .to_string();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("after 1970")
        .as_secs();
    let date = amz_date(now);
    let day = &date[..8];
    let (bare, query) = path.split_once('?').unwrap_or((path, ""));
    let mut pairs: Vec<String> = query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            if p.contains('=') {
                p.to_string()
            } else {
                format!("{p}=")
            }
        })
        .collect();
    pairs.sort();
    let query = pairs.join("&");
    let canonical = format!(
        "{method}\n{bare}\n{query}\nhost:{host}\nx-amz-content-sha256:{payload}\nx-amz-date:{date}\n\nhost;x-amz-content-sha256;x-amz-date\n{payload}"
    );
    let scope = format!("{day}/us-east-1/s3/aws4_request");
    let to_sign = format!(
        "AWS4-HMAC-SHA256\n{date}\n{scope}\n{}",
        hex::encode(sha2::Sha256::digest(canonical.as_bytes()))
    );
    let mut k = hmac(format!("AWS4{}", c.secret_key).as_bytes(), day);
    for part in ["us-east-1", "s3", "aws4_request"] {
        k = hmac(&k, part);
    }
    let sig = hex::encode(hmac(&k, &to_sign));
    http.request(method, format!("{}{path}", c.endpoint.trim_end_matches('/')))
        .header("x-amz-date", date)
        .header("x-amz-content-sha256", payload)
        .header(
            "authorization",
            format!(
                "AWS4-HMAC-SHA256 Credential={}/{scope}, SignedHeaders=host;x-amz-content-sha256;x-amz-date, Signature={sig}",
                c.access_key
            ),
        )
}

/// The `x-amz-signature` of a browser-form POST policy (base64 JSON)
/// signed on `day` (`YYYYMMDD`) for us-east-1.
pub fn post_policy_signature(secret_key: &str, day: &str, policy_b64: &str) -> String {
    let mut k = hmac(format!("AWS4{secret_key}").as_bytes(), day);
    for part in ["us-east-1", "s3", "aws4_request"] {
        k = hmac(&k, part);
    }
    hex::encode(hmac(&k, policy_b64))
}

#[cfg(test)]
mod tests {
    #[test]
    fn amz_dates() {
        assert_eq!(super::amz_date(0), "19700101T000000Z");
        assert_eq!(super::amz_date(951782400), "20000229T000000Z");
        assert_eq!(super::amz_date(1795682468), "20261126T084108Z");
    }
}
