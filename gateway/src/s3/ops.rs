//! Every S3 operation, served or not, in one table. The authorization
//! stage answers an operation this table does not serve with
//! `NotImplemented` (S3 XML, 501) before anything else, so a client
//! learns at once that the feature is missing instead of getting an
//! AccessDenied, a 404 or, worse, a silent success. Each entry carries an
//! example request (method, path under bucket `b` and key `k`, body) the
//! end-to-end suite sends to check the answer.

/// One S3 operation.
#[derive(Debug)]
pub struct Operation {
    /// The operation's name, as s3s and the AWS API name it.
    pub name: &'static str,
    /// Whether this gateway serves it.
    pub served: bool,
    /// A request s3s routes to it: method, path (`/bkt`, `/bkt/k` and a
    /// query), a header and a body. `None` where no simple request
    /// reaches it (SelectObjectContent's event stream, S3 Object Lambda's
    /// WriteGetObjectResponse).
    pub example: Option<Example>,
}

/// An example request of an operation.
#[derive(Debug)]
pub struct Example {
    pub method: &'static str,
    pub path: &'static str,
    pub header: Option<(&'static str, &'static str)>,
    pub body: &'static str,
}

const fn op(
    name: &'static str,
    served: bool,
    method: &'static str,
    path: &'static str,
) -> Operation {
    Operation {
        name,
        served,
        example: Some(Example {
            method,
            path,
            header: None,
            body: "",
        }),
    }
}

const fn put(
    name: &'static str,
    served: bool,
    path: &'static str,
    body: &'static str,
) -> Operation {
    Operation {
        name,
        served,
        example: Some(Example {
            method: "PUT",
            path,
            header: None,
            body,
        }),
    }
}

const fn none(name: &'static str) -> Operation {
    Operation {
        name,
        served: false,
        example: None,
    }
}

const Y: bool = true;
const N: bool = false;

/// Every S3 operation s3s knows, in alphabetical order.
pub const OPERATIONS: &[Operation] = &[
    op("AbortMultipartUpload", Y, "DELETE", "/bkt/k?uploadId=u"),
    op("CompleteMultipartUpload", Y, "POST", "/bkt/k?uploadId=u"),
    Operation {
        name: "CopyObject",
        served: Y,
        example: Some(Example {
            method: "PUT",
            path: "/bkt/k2",
            header: Some(("x-amz-copy-source", "/bkt/k")),
            body: "",
        }),
    },
    op("CreateBucket", Y, "PUT", "/bkt"),
    op(
        "CreateBucketMetadataTableConfiguration",
        N,
        "POST",
        "/bkt?metadataTable",
    ),
    op("CreateMultipartUpload", Y, "POST", "/bkt/k?uploads"),
    op("CreateSession", N, "GET", "/bkt?session"),
    op("DeleteBucket", Y, "DELETE", "/bkt"),
    op(
        "DeleteBucketAnalyticsConfiguration",
        N,
        "DELETE",
        "/bkt?analytics&id=a",
    ),
    op("DeleteBucketCors", Y, "DELETE", "/bkt?cors"),
    op("DeleteBucketEncryption", N, "DELETE", "/bkt?encryption"),
    op(
        "DeleteBucketIntelligentTieringConfiguration",
        N,
        "DELETE",
        "/bkt?intelligent-tiering&id=a",
    ),
    op(
        "DeleteBucketInventoryConfiguration",
        N,
        "DELETE",
        "/bkt?inventory&id=a",
    ),
    op("DeleteBucketLifecycle", Y, "DELETE", "/bkt?lifecycle"),
    op(
        "DeleteBucketMetadataTableConfiguration",
        N,
        "DELETE",
        "/bkt?metadataTable",
    ),
    op(
        "DeleteBucketMetricsConfiguration",
        N,
        "DELETE",
        "/bkt?metrics&id=a",
    ),
    op(
        "DeleteBucketOwnershipControls",
        N,
        "DELETE",
        "/bkt?ownershipControls",
    ),
    op("DeleteBucketPolicy", Y, "DELETE", "/bkt?policy"),
    op("DeleteBucketReplication", N, "DELETE", "/bkt?replication"),
    op("DeleteBucketTagging", Y, "DELETE", "/bkt?tagging"),
    op("DeleteBucketWebsite", N, "DELETE", "/bkt?website"),
    op("DeleteObject", Y, "DELETE", "/bkt/k"),
    op("DeleteObjectTagging", Y, "DELETE", "/bkt/k?tagging"),
    op("DeleteObjects", Y, "POST", "/bkt?delete"),
    op(
        "DeletePublicAccessBlock",
        N,
        "DELETE",
        "/bkt?publicAccessBlock",
    ),
    op(
        "GetBucketAccelerateConfiguration",
        N,
        "GET",
        "/bkt?accelerate",
    ),
    op("GetBucketAcl", Y, "GET", "/bkt?acl"),
    op(
        "GetBucketAnalyticsConfiguration",
        N,
        "GET",
        "/bkt?analytics&id=a",
    ),
    op("GetBucketCors", Y, "GET", "/bkt?cors"),
    op("GetBucketEncryption", N, "GET", "/bkt?encryption"),
    op(
        "GetBucketIntelligentTieringConfiguration",
        N,
        "GET",
        "/bkt?intelligent-tiering&id=a",
    ),
    op(
        "GetBucketInventoryConfiguration",
        N,
        "GET",
        "/bkt?inventory&id=a",
    ),
    op(
        "GetBucketLifecycleConfiguration",
        Y,
        "GET",
        "/bkt?lifecycle",
    ),
    op("GetBucketLocation", Y, "GET", "/bkt?location"),
    op("GetBucketLogging", N, "GET", "/bkt?logging"),
    op(
        "GetBucketMetadataTableConfiguration",
        N,
        "GET",
        "/bkt?metadataTable",
    ),
    op(
        "GetBucketMetricsConfiguration",
        N,
        "GET",
        "/bkt?metrics&id=a",
    ),
    op(
        "GetBucketNotificationConfiguration",
        N,
        "GET",
        "/bkt?notification",
    ),
    op(
        "GetBucketOwnershipControls",
        N,
        "GET",
        "/bkt?ownershipControls",
    ),
    op("GetBucketPolicy", Y, "GET", "/bkt?policy"),
    op("GetBucketPolicyStatus", Y, "GET", "/bkt?policyStatus"),
    op("GetBucketReplication", N, "GET", "/bkt?replication"),
    op("GetBucketRequestPayment", N, "GET", "/bkt?requestPayment"),
    op("GetBucketTagging", Y, "GET", "/bkt?tagging"),
    op("GetBucketVersioning", Y, "GET", "/bkt?versioning"),
    op("GetBucketWebsite", N, "GET", "/bkt?website"),
    op("GetObject", Y, "GET", "/bkt/k"),
    op("GetObjectAcl", Y, "GET", "/bkt/k?acl"),
    op("GetObjectAttributes", Y, "GET", "/bkt/k?attributes"),
    op("GetObjectLegalHold", Y, "GET", "/bkt/k?legal-hold"),
    op("GetObjectLockConfiguration", Y, "GET", "/bkt?object-lock"),
    op("GetObjectRetention", Y, "GET", "/bkt/k?retention"),
    op("GetObjectTagging", Y, "GET", "/bkt/k?tagging"),
    op("GetObjectTorrent", N, "GET", "/bkt/k?torrent"),
    op("GetPublicAccessBlock", N, "GET", "/bkt?publicAccessBlock"),
    op("HeadBucket", Y, "HEAD", "/bkt"),
    op("HeadObject", Y, "HEAD", "/bkt/k"),
    op(
        "ListBucketAnalyticsConfigurations",
        N,
        "GET",
        "/bkt?analytics",
    ),
    op(
        "ListBucketIntelligentTieringConfigurations",
        N,
        "GET",
        "/bkt?intelligent-tiering",
    ),
    op(
        "ListBucketInventoryConfigurations",
        N,
        "GET",
        "/bkt?inventory",
    ),
    op("ListBucketMetricsConfigurations", N, "GET", "/bkt?metrics"),
    op("ListBuckets", Y, "GET", "/"),
    none("ListDirectoryBuckets"),
    op("ListMultipartUploads", Y, "GET", "/bkt?uploads"),
    op("ListObjectVersions", Y, "GET", "/bkt?versions"),
    op("ListObjects", Y, "GET", "/bkt"),
    op("ListObjectsV2", Y, "GET", "/bkt?list-type=2"),
    op("ListParts", Y, "GET", "/bkt/k?uploadId=u"),
    Operation {
        name: "PostObject",
        served: Y,
        example: None,
    },
    put(
        "PutBucketAccelerateConfiguration",
        N,
        "/bkt?accelerate",
        "<AccelerateConfiguration><Status>Enabled</Status></AccelerateConfiguration>",
    ),
    op("PutBucketAcl", Y, "PUT", "/bkt?acl"),
    none("PutBucketAnalyticsConfiguration"),
    put(
        "PutBucketCors",
        Y,
        "/bkt?cors",
        "<CORSConfiguration><CORSRule><AllowedOrigin>*</AllowedOrigin><AllowedMethod>GET</AllowedMethod></CORSRule></CORSConfiguration>",
    ),
    put(
        "PutBucketEncryption",
        N,
        "/bkt?encryption",
        "<ServerSideEncryptionConfiguration><Rule><ApplyServerSideEncryptionByDefault><SSEAlgorithm>AES256</SSEAlgorithm></ApplyServerSideEncryptionByDefault></Rule></ServerSideEncryptionConfiguration>",
    ),
    none("PutBucketIntelligentTieringConfiguration"),
    none("PutBucketInventoryConfiguration"),
    put(
        "PutBucketLifecycleConfiguration",
        Y,
        "/bkt?lifecycle",
        "<LifecycleConfiguration><Rule><ID>r</ID><Filter><Prefix>x/</Prefix></Filter><Status>Enabled</Status><Expiration><Days>1</Days></Expiration></Rule></LifecycleConfiguration>",
    ),
    put(
        "PutBucketLogging",
        N,
        "/bkt?logging",
        "<BucketLoggingStatus></BucketLoggingStatus>",
    ),
    none("PutBucketMetricsConfiguration"),
    put(
        "PutBucketNotificationConfiguration",
        N,
        "/bkt?notification",
        "<NotificationConfiguration></NotificationConfiguration>",
    ),
    put(
        "PutBucketOwnershipControls",
        N,
        "/bkt?ownershipControls",
        "<OwnershipControls><Rule><ObjectOwnership>BucketOwnerEnforced</ObjectOwnership></Rule></OwnershipControls>",
    ),
    put(
        "PutBucketPolicy",
        Y,
        "/bkt?policy",
        r#"{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::bkt/nothing-here"}]}"#,
    ),
    none("PutBucketReplication"),
    put(
        "PutBucketRequestPayment",
        N,
        "/bkt?requestPayment",
        "<RequestPaymentConfiguration><Payer>Requester</Payer></RequestPaymentConfiguration>",
    ),
    put(
        "PutBucketTagging",
        Y,
        "/bkt?tagging",
        "<Tagging><TagSet><Tag><Key>a</Key><Value>1</Value></Tag></TagSet></Tagging>",
    ),
    put(
        "PutBucketVersioning",
        Y,
        "/bkt?versioning",
        "<VersioningConfiguration><Status>Enabled</Status></VersioningConfiguration>",
    ),
    put(
        "PutBucketWebsite",
        N,
        "/bkt?website",
        "<WebsiteConfiguration><IndexDocument><Suffix>index.html</Suffix></IndexDocument></WebsiteConfiguration>",
    ),
    put("PutObject", Y, "/bkt/k", "body"),
    op("PutObjectAcl", Y, "PUT", "/bkt/k?acl"),
    put(
        "PutObjectLegalHold",
        Y,
        "/bkt/k?legal-hold",
        "<LegalHold><Status>ON</Status></LegalHold>",
    ),
    put(
        "PutObjectLockConfiguration",
        Y,
        "/bkt?object-lock",
        "<ObjectLockConfiguration><ObjectLockEnabled>Enabled</ObjectLockEnabled></ObjectLockConfiguration>",
    ),
    put(
        "PutObjectRetention",
        Y,
        "/bkt/k?retention",
        "<Retention><Mode>GOVERNANCE</Mode><RetainUntilDate>2030-01-01T00:00:00Z</RetainUntilDate></Retention>",
    ),
    put(
        "PutObjectTagging",
        Y,
        "/bkt/k?tagging",
        "<Tagging><TagSet><Tag><Key>a</Key><Value>1</Value></Tag></TagSet></Tagging>",
    ),
    put(
        "PutPublicAccessBlock",
        N,
        "/bkt?publicAccessBlock",
        "<PublicAccessBlockConfiguration><BlockPublicAcls>true</BlockPublicAcls></PublicAccessBlockConfiguration>",
    ),
    Operation {
        name: "RestoreObject",
        served: N,
        example: Some(Example {
            method: "POST",
            path: "/bkt/k?restore",
            header: None,
            body: "<RestoreRequest><Days>1</Days></RestoreRequest>",
        }),
    },
    none("SelectObjectContent"),
    op("UploadPart", Y, "PUT", "/bkt/k?partNumber=1&uploadId=u"),
    Operation {
        name: "UploadPartCopy",
        served: Y,
        example: Some(Example {
            method: "PUT",
            path: "/bkt/k?partNumber=1&uploadId=u",
            header: Some(("x-amz-copy-source", "/bkt/k")),
            body: "",
        }),
    },
    none("WriteGetObjectResponse"),
];

/// The entry of an operation.
pub fn operation(name: &str) -> Option<&'static Operation> {
    OPERATIONS.iter().find(|o| o.name == name)
}

/// Whether this gateway serves an operation.
pub fn served(name: &str) -> bool {
    operation(name).is_some_and(|o| o.served)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every operation s3s routes is in the table, once, in order.
    #[test]
    fn the_table_lists_every_operation_s3s_knows() {
        let generated = include_str!("../../../vendor/s3s/src/ops/generated.rs");
        let mut known: Vec<&str> = generated
            .lines()
            .filter_map(|l| l.strip_prefix("pub struct ")?.strip_suffix(';'))
            .collect();
        known.sort_unstable();
        let names: Vec<&str> = OPERATIONS.iter().map(|o| o.name).collect();
        let mut sorted = names.clone();
        sorted.sort_unstable();
        sorted.dedup();
        assert_eq!(names, sorted, "the table is in order, each operation once");
        assert_eq!(names, known);
        assert!(served("GetObject"));
        assert!(!served("GetBucketWebsite"));
        assert!(!served("NoSuchOperation"));
    }
}
