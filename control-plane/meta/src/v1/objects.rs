//! Objects, one at a time.

use axum::extract::{Query, State};
use axum::routing::get;
use axum::{Json, Router};
use objectio_api::*;
use objectio_cluster::ObjectRecord;
use objectio_object::health::{ShardVerdict, Verdict};

use crate::AppState;
use crate::auth::Admin;
use crate::v1::ApiError;

pub fn router() -> Router<AppState> {
    Router::new().route("/api/v1/objects/health", get(health))
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
    if q.bucket.is_empty() || q.bucket.contains('/') {
        return Err(ApiError::bad_request("bucket must be a bucket name"));
    }
    let store = &st.store;
    let (rec, _) = store
        .get::<ObjectRecord>(store.keys().object(&q.bucket, &q.key))
        .await?
        .ok_or_else(|| ApiError::not_found(&format!("no object {}/{}", q.bucket, q.key)))?;
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
