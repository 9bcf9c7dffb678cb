//! OSDs.

use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use objectio_api::*;
use objectio_cluster::{DiskRecord, DiskState, OsdRecord};

use crate::AppState;
use crate::auth::Admin;
use crate::v1::ApiError;
use crate::v1::cluster::alive;

pub fn router() -> Router<AppState> {
    Router::new().route("/api/v1/osds", get(list))
}

/// Lists every registered OSD with its liveness and disks.
#[utoipa::path(get, path = "/api/v1/osds", operation_id = "osd.list", tag = "osds",
    security(("bearer" = [])),
    responses((status = 200, body = ListOsdsOut), (status = 401, body = ErrorOut)))]
pub async fn list(_: Admin, State(st): State<AppState>) -> Result<Json<ListOsdsOut>, ApiError> {
    let store = &st.store;
    let up = alive(store, "osds").await?;
    let disks: Vec<DiskRecord> = store
        .list::<DiskRecord>(store.keys().disks_prefix())
        .await?
        .into_iter()
        .map(|(_, d)| d)
        .collect();
    let osds = store
        .list::<OsdRecord>(store.keys().osds_prefix())
        .await?
        .into_iter()
        .map(|(_, o)| OsdOut {
            state: if up.contains(&o.id) {
                OsdState::Up
            } else {
                OsdState::Down
            },
            disks: disks
                .iter()
                .filter(|d| d.osd == o.id)
                .map(|d| DiskOut {
                    id: d.id.to_string(),
                    path: d.path.clone(),
                    capacity_bytes: d.capacity_bytes,
                    used_bytes: d.used_bytes,
                    free_bytes: d.free_bytes,
                    shards: d.shards,
                    backend: d.backend.clone(),
                    state: match d.state {
                        DiskState::In => "in".into(),
                        DiskState::Out => "out".into(),
                    },
                })
                .collect(),
            id: o.id,
            address: o.address,
            failure_domain: o.failure_domain,
        })
        .collect();
    Ok(Json(ListOsdsOut { osds }))
}
