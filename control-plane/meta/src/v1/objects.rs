//! Objects, one at a time.

use axum::extract::{Query, State};
use axum::routing::{get, post};
use axum::{Json, Router};
use objectio_api::*;
use objectio_cluster::ObjectRecord;
use objectio_object::Outcome;
use objectio_object::health::{ShardVerdict, Verdict};

use crate::AppState;
use crate::auth::Admin;
use crate::v1::ApiError;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/objects/health", get(health))
        .route("/api/v1/objects/repair", post(repair))
}

/// Reads an object's record, refusing names that cannot be one.
async fn record(
    st: &AppState,
    bucket: &str,
    key: &str,
    version: Option<&str>,
) -> Result<(ObjectRecord, i64), ApiError> {
    if bucket.is_empty() || bucket.contains('/') {
        return Err(ApiError::bad_request("bucket must be a bucket name"));
    }
    let store = &st.store;
    let (rec, rev) = store
        .get::<ObjectRecord>(store.keys().object(bucket, key))
        .await?
        .ok_or_else(|| ApiError::not_found(&format!("no object {bucket}/{key}")))?;
    if let Some(v) = version
        && v != rec.version_id.to_string()
    {
        return Err(ApiError::not_found(&format!(
            "{bucket}/{key} has no version {v}: its current version is {} (older versions are not kept)",
            rec.version_id
        )));
    }
    Ok((rec, rev))
}

/// Repairs one object now, synchronously: its lost and damaged shards, or
/// with `force` every shard that is not whole, from copies searched for on
/// every disk of every OSD that is up. An object that cannot be recovered
/// is answered `lost` with its stripes named; nothing is written then.
#[utoipa::path(post, path = "/api/v1/objects/repair", operation_id = "object.repair", tag = "objects",
    security(("bearer" = [])), request_body = ObjectRepairIn,
    responses((status = 200, body = ObjectRepairOut), (status = 400, body = ErrorOut), (status = 404, body = ErrorOut),
        (status = 401, body = ErrorOut), (status = 503, body = ErrorOut)))]
pub async fn repair(
    _: Admin,
    State(st): State<AppState>,
    crate::v1::Body(q): crate::v1::Body<ObjectRepairIn>,
) -> Result<Json<ObjectRepairOut>, ApiError> {
    let (rec, rev) = record(&st, &q.bucket, &q.key, q.version_id.as_deref()).await?;
    let known = objectio_object::known(&st.store).await?;
    let (outcome, found_elsewhere, lost) = if q.force {
        let f = st
            .objects
            .repair_force(&rec, rev, &known)
            .await
            .map_err(|e| ApiError::unavailable(&e.to_string()))?;
        (f.outcome, f.found_elsewhere as u64, f.lost_stripes)
    } else {
        let o = st
            .objects
            .repair(&rec, rev, &known)
            .await
            .map_err(|e| ApiError::unavailable(&e.to_string()))?;
        (o, 0, Vec::new())
    };
    let mut out = ObjectRepairOut {
        bucket: rec.bucket,
        key: rec.key,
        outcome: String::new(),
        reason: None,
        shards_rebuilt: 0,
        bytes_rebuilt: 0,
        found_elsewhere,
        lost_stripes: lost
            .iter()
            .map(|(part, stripe)| LostStripeOut {
                part: *part,
                stripe: *stripe,
            })
            .collect(),
    };
    out.outcome = match outcome {
        Outcome::Healthy => "healthy",
        Outcome::Raced => "raced",
        Outcome::Repaired { shards, bytes, .. } => {
            out.shards_rebuilt = shards as u64;
            out.bytes_rebuilt = bytes;
            "repaired"
        }
        Outcome::Skipped(reason) => {
            out.reason = Some(reason);
            if lost.is_empty() { "skipped" } else { "lost" }
        }
    }
    .into();
    tracing::info!(bucket = %out.bucket, key = %out.key, force = q.force, outcome = %out.outcome, "object repair asked for");
    Ok(Json(out))
}

/// Every shard of an object, each chunk read now and checked: where it is,
/// what it is, how much redundancy is left, and a verdict.
#[utoipa::path(get, path = "/api/v1/objects/health", operation_id = "object.health", tag = "objects",
    security(("bearer" = [])), params(ObjectHealthQuery),
    responses((status = 200, body = ObjectHealthOut), (status = 404, body = ErrorOut), (status = 401, body = ErrorOut)))]
pub async fn health(
    _: Admin,
    State(st): State<AppState>,
    Query(q): Query<ObjectHealthQuery>,
) -> Result<Json<ObjectHealthOut>, ApiError> {
    let (rec, _) = record(&st, &q.bucket, &q.key, q.version_id.as_deref()).await?;
    let h = st.objects.health(&rec).await;
    Ok(Json(ObjectHealthOut {
        bucket: rec.bucket,
        key: rec.key,
        version_id: rec.version_id.to_string(),
        size: rec.size,
        etag: rec.etag,
        k: rec.ec.k,
        m: rec.ec.m,
        verdict: match h.verdict {
            Verdict::Healthy => "healthy",
            Verdict::Degraded => "degraded",
            Verdict::AtRisk => "at_risk",
            Verdict::Lost => "lost",
        }
        .into(),
        redundancy_left: h.redundancy_left,
        segments: h
            .segments
            .into_iter()
            .map(|s| SegmentHealthOut {
                manifest: s.part == objectio_shard::MANIFEST_PART,
                part: s.part,
                size: s.size,
                unreadable_stripes: s.unreadable_stripes,
                lost_stripes: s.lost_stripes,
                shards: s
                    .shards
                    .into_iter()
                    .map(|sh| {
                        let (verdict, detail) = match sh.verdict {
                            ShardVerdict::Ok => ("ok", None),
                            ShardVerdict::Corrupt { bad } => (
                                "corrupt",
                                Some(format!("{bad} chunk(s) failed their checksum")),
                            ),
                            ShardVerdict::Unreadable(why) => ("unreadable", Some(why)),
                            ShardVerdict::Unreachable => {
                                ("unreachable", Some("its OSD is down".into()))
                            }
                            ShardVerdict::Lost => ("lost", None),
                        };
                        ShardHealthOut {
                            index: sh.index as u32,
                            osd: sh.osd,
                            disk: sh.disk.map(|d| d.to_string()),
                            verdict: verdict.into(),
                            detail,
                            chunks_ok: sh.chunks_ok.iter().filter(|c| **c).count() as u64,
                            chunks: sh.chunks_ok.len() as u64,
                        }
                    })
                    .collect(),
            })
            .collect(),
    }))
}
