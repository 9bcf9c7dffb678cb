//! Bucket policies and canned ACLs: storing and answering them. Deciding
//! with them is the authorization stage's ([`crate::authz`]).

use s3s::dto::*;
use s3s::{S3Error, S3ErrorCode, S3Request, S3Response, S3Result, s3_error};

use super::*;
use crate::authz::policy::Policy;

fn malformed(m: impl std::fmt::Display) -> S3Error {
    S3Error::with_message(S3ErrorCode::MalformedPolicy, m.to_string())
}

pub(super) async fn get_bucket_policy(
    g: &Gateway,
    req: S3Request<GetBucketPolicyInput>,
) -> S3Result<S3Response<GetBucketPolicyOutput>> {
    let b = g.objects.bucket(&req.input.bucket).await.map_err(s3_err)?;
    let policy = b
        .policy
        .ok_or_else(|| s3_error!(NoSuchBucketPolicy, "The bucket policy does not exist"))?;
    Ok(S3Response::new(GetBucketPolicyOutput {
        policy: Some(policy),
    }))
}

pub(super) async fn put_bucket_policy(
    g: &Gateway,
    req: S3Request<PutBucketPolicyInput>,
) -> S3Result<S3Response<PutBucketPolicyOutput>> {
    let i = req.input;
    // Validated before anything is stored: a policy that does not parse is
    // never kept.
    Policy::parse(&i.policy, &i.bucket).map_err(malformed)?;
    let text = i.policy;
    let (_, rev) = g
        .objects
        .update_bucket(&i.bucket, |b| b.policy = Some(text.clone()))
        .await
        .map_err(s3_err)?;
    g.seen(rev).await;
    let mut resp = S3Response::new(PutBucketPolicyOutput::default());
    resp.status = Some(http::StatusCode::NO_CONTENT);
    Ok(resp)
}

pub(super) async fn delete_bucket_policy(
    g: &Gateway,
    req: S3Request<DeleteBucketPolicyInput>,
) -> S3Result<S3Response<DeleteBucketPolicyOutput>> {
    let (_, rev) = g
        .objects
        .update_bucket(&req.input.bucket, |b| b.policy = None)
        .await
        .map_err(s3_err)?;
    g.seen(rev).await;
    let mut resp = S3Response::new(DeleteBucketPolicyOutput::default());
    resp.status = Some(http::StatusCode::NO_CONTENT);
    Ok(resp)
}

pub(super) async fn get_bucket_policy_status(
    g: &Gateway,
    req: S3Request<GetBucketPolicyStatusInput>,
) -> S3Result<S3Response<GetBucketPolicyStatusOutput>> {
    let b = g.objects.bucket(&req.input.bucket).await.map_err(s3_err)?;
    let text = b
        .policy
        .ok_or_else(|| s3_error!(NoSuchBucketPolicy, "The bucket policy does not exist"))?;
    let public = Policy::parse(&text, &b.name)
        .map(|p| p.is_public())
        .unwrap_or(false);
    Ok(S3Response::new(GetBucketPolicyStatusOutput {
        policy_status: Some(PolicyStatus {
            is_public: Some(public),
        }),
    }))
}

fn grant(grantee: Grantee, permission: &'static str) -> Grant {
    Grant {
        grantee: Some(grantee),
        permission: Some(Permission::from_static(permission)),
    }
}

fn user_grantee(user: &str) -> Grantee {
    Grantee {
        display_name: Some(user.to_string()),
        email_address: None,
        id: Some(user.to_string()),
        type_: Type::from_static(Type::CANONICAL_USER),
        uri: None,
    }
}

fn group(uri: &str) -> Grantee {
    Grantee {
        display_name: None,
        email_address: None,
        id: None,
        type_: Type::from_static(Type::GROUP),
        uri: Some(uri.to_string()),
    }
}

const ALL_USERS: &str = "http://acs.amazonaws.com/groups/global/AllUsers";
const AUTHENTICATED_USERS: &str = "http://acs.amazonaws.com/groups/global/AuthenticatedUsers";

/// The grants a canned ACL stands for, as AWS lists them.
fn grants(owner: &str, acl: CannedAcl) -> Vec<Grant> {
    let mut g = vec![grant(user_grantee(owner), Permission::FULL_CONTROL)];
    match acl {
        CannedAcl::Private => {}
        CannedAcl::PublicRead => g.push(grant(group(ALL_USERS), Permission::READ)),
        CannedAcl::PublicReadWrite => {
            g.push(grant(group(ALL_USERS), Permission::READ));
            g.push(grant(group(ALL_USERS), Permission::WRITE));
        }
        CannedAcl::AuthenticatedRead => g.push(grant(group(AUTHENTICATED_USERS), Permission::READ)),
    }
    g
}

/// The canned ACL of a PutBucketAcl/PutObjectAcl: from `x-amz-acl`, or an
/// `AccessControlPolicy` body that is exactly one canned ACL's grants.
fn requested_acl(
    headers: &http::HeaderMap,
    canned_header: Option<&str>,
    body: Option<&AccessControlPolicy>,
    owner: &str,
) -> S3Result<CannedAcl> {
    if has_grants(headers) {
        return Err(grants_not_implemented());
    }
    if let Some(c) = canned_header {
        return canned(Some(c));
    }
    let Some(acp) = body else {
        return Err(s3_error!(
            MissingSecurityHeader,
            "Your request was missing a required header: x-amz-acl (or an AccessControlPolicy body)"
        ));
    };
    let key = |g: &Grant| {
        let ge = g.grantee.as_ref();
        (
            ge.map(|x| x.type_.as_str().to_string()),
            ge.and_then(|x| x.id.clone().or(x.uri.clone())),
            g.permission.as_ref().map(|p| p.as_str().to_string()),
        )
    };
    let given: Vec<_> = acp.grants.iter().flatten().map(key).collect();
    for acl in [
        CannedAcl::Private,
        CannedAcl::PublicRead,
        CannedAcl::PublicReadWrite,
        CannedAcl::AuthenticatedRead,
    ] {
        let want: Vec<_> = grants(owner, acl).iter().map(key).collect();
        if given.len() == want.len() && want.iter().all(|w| given.contains(w)) {
            return Ok(acl);
        }
    }
    Err(grants_not_implemented())
}

pub(super) async fn get_bucket_acl(
    g: &Gateway,
    req: S3Request<GetBucketAclInput>,
) -> S3Result<S3Response<GetBucketAclOutput>> {
    let b = g.objects.bucket(&req.input.bucket).await.map_err(s3_err)?;
    Ok(S3Response::new(GetBucketAclOutput {
        grants: Some(grants(&b.owner, b.acl)),
        owner: Some(owner(&b.owner)),
    }))
}

pub(super) async fn put_bucket_acl(
    g: &Gateway,
    req: S3Request<PutBucketAclInput>,
) -> S3Result<S3Response<PutBucketAclOutput>> {
    let b = g.objects.bucket(&req.input.bucket).await.map_err(s3_err)?;
    let acl = requested_acl(
        &req.headers,
        req.input.acl.as_ref().map(|a| a.as_str()),
        req.input.access_control_policy.as_ref(),
        &b.owner,
    )?;
    let (_, rev) = g
        .objects
        .update_bucket(&b.name, |b| b.acl = acl)
        .await
        .map_err(s3_err)?;
    g.seen(rev).await;
    Ok(S3Response::new(PutBucketAclOutput::default()))
}

pub(super) async fn get_object_acl(
    g: &Gateway,
    req: S3Request<GetObjectAclInput>,
) -> S3Result<S3Response<GetObjectAclOutput>> {
    let i = &req.input;
    let b = g.objects.bucket(&i.bucket).await.map_err(s3_err)?;
    let rec = super::get::read_version(g, &i.bucket, &i.key, i.version_id.as_deref()).await?;
    Ok(S3Response::new(GetObjectAclOutput {
        grants: Some(grants(&b.owner, rec.acl)),
        owner: Some(owner(&b.owner)),
        ..Default::default()
    }))
}

pub(super) async fn put_object_acl(
    g: &Gateway,
    req: S3Request<PutObjectAclInput>,
) -> S3Result<S3Response<PutObjectAclOutput>> {
    let i = &req.input;
    let b = g.objects.bucket(&i.bucket).await.map_err(s3_err)?;
    let acl = requested_acl(
        &req.headers,
        i.acl.as_ref().map(|a| a.as_str()),
        i.access_control_policy.as_ref(),
        &b.owner,
    )?;
    g.objects
        .set_object_acl(&i.bucket, &i.key, i.version_id.as_deref(), acl)
        .await
        .map_err(s3_err)?;
    Ok(S3Response::new(PutObjectAclOutput::default()))
}
