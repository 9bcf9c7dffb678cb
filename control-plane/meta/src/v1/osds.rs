//! OSDs.

use axum::extract::{Path, Query, State};
use axum::routing::{get, post};
use axum::{Json, Router};
use objectio_api::*;
use objectio_cluster::{DiskRecord, DiskState, OsdRecord, OsdService, now_secs};

use crate::AppState;
use crate::auth::Admin;
use crate::v1::ApiError;
use crate::v1::cluster::alive;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/osds", get(list).post(add))
        .route("/api/v1/osds/{id}", axum::routing::delete(remove))
        .route("/api/v1/osds/{id}/drain", get(drain_status).post(drain))
        .route("/api/v1/osds/{id}/undrain", post(undrain))
        .route("/api/v1/osds/{id}/weight", post(reweight))
        .route("/api/v1/osds/{id}/out", post(mark_out))
        .route("/api/v1/osds/{id}/in", post(mark_in))
        .route("/api/v1/osds/{id}/scrub", post(scrub))
        .route("/api/v1/osds/{id}/ok-to-stop", get(ok_to_stop))
}

/// The record of a registered OSD, or 404 (an id with `/` is none).
pub async fn known_osd(store: &objectio_cluster::Store, id: &str) -> Result<OsdRecord, ApiError> {
    let found = match id.contains('/') {
        true => None,
        false => store.get::<OsdRecord>(store.keys().osd(id)).await?,
    };
    found
        .map(|(o, _)| o)
        .filter(|o| o.state != OsdService::Removed)
        .ok_or_else(|| ApiError::not_found(&format!("no such OSD {id:?}")))
}

/// Checks `HOST:PORT` (`objectio_api::patterns::ADDRESS`): a host name,
/// an IPv4 address or a bracketed IPv6 address, and a port 1–65535.
pub fn check_address(a: &str) -> Result<(), ApiError> {
    let bad = |why: &str| {
        ApiError::bad_request(&format!(
            "malformed address {a:?}: {why} (expected HOST:PORT, e.g. osd8:9200)"
        ))
    };
    let (host, port) = a.rsplit_once(':').ok_or_else(|| bad("no port"))?;
    let host_ok = match host.strip_prefix('[').and_then(|h| h.strip_suffix(']')) {
        Some(v6) => {
            !v6.is_empty()
                && v6
                    .bytes()
                    .all(|c| c.is_ascii_hexdigit() || c == b':' || c == b'.')
        }
        None => {
            !host.is_empty()
                && host
                    .bytes()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'.' | b'_' | b'-'))
        }
    };
    if !host_ok {
        return Err(bad(
            "the host must be a name, an IPv4 address or a bracketed IPv6 address",
        ));
    }
    let digits = !port.is_empty() && port.len() <= 5 && port.bytes().all(|c| c.is_ascii_digit());
    match port.parse::<u16>() {
        Ok(p) if digits && p > 0 && !port.starts_with('0') => Ok(()),
        _ => Err(bad("the port is not a number from 1 to 65535")),
    }
}

/// Whether `s` is a valid OSD id or failure domain
/// (`objectio_api::patterns::NAME`).
pub fn valid_name(s: &str) -> bool {
    let b = s.as_bytes();
    (1..=64).contains(&b.len())
        && b[0].is_ascii_alphanumeric()
        && b.iter()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'.' | b'_' | b'-'))
}

/// Whether `d` is a valid disk path (`objectio_api::patterns::DISK_PATH`).
pub fn valid_disk_path(d: &str) -> bool {
    d.starts_with('/') && !d.contains(',')
}

/// Records an OSD to expect: it shows as `new` until its daemon registers
/// with that address, then takes shards (and a rebalance moves some onto
/// it). Given the id of an OSD that exists, adds disks to it instead: its
/// daemon opens them when it next starts.
#[utoipa::path(post, path = "/api/v1/osds", operation_id = "osd.add", tag = "osds",
    security(("bearer" = [])), request_body = OsdAddIn,
    responses((status = 200, body = OsdAddOut), (status = 400, body = ErrorOut),
        (status = 404, body = ErrorOut, description = "An id of no OSD, without the address a new one needs"),
        (status = 409, body = ErrorOut), (status = 401, body = ErrorOut)))]
pub async fn add(
    _: Admin,
    State(st): State<AppState>,
    crate::v1::Body(input): crate::v1::Body<OsdAddIn>,
) -> Result<Json<OsdAddOut>, ApiError> {
    let store = &st.store;
    if let Some(a) = &input.address {
        check_address(a)?;
    }
    if let Some(w) = input.weight
        && !(w.is_finite() && w > 0.0)
    {
        return Err(ApiError::bad_request("weight must be a number above 0"));
    }
    for d in &input.disks {
        if !valid_disk_path(d) {
            return Err(ApiError::bad_request(&format!(
                "malformed disk path {d:?}: absolute, without ','"
            )));
        }
    }
    if let Some(f) = &input.failure_domain
        && !valid_name(f)
    {
        return Err(ApiError::bad_request(&format!(
            "malformed failure domain {f:?}: 1 to 64 letters, digits, '.', '_' or '-', starting with a letter or digit"
        )));
    }
    let osds = store.list::<OsdRecord>(store.keys().osds_prefix()).await?;
    let id = match &input.id {
        Some(id) => {
            if !valid_name(id) {
                return Err(ApiError::bad_request(&format!(
                    "malformed OSD id {id:?}: 1 to 64 letters, digits, '.', '_' or '-', starting with a letter or digit"
                )));
            }
            id.clone()
        }
        None => {
            let n = osds
                .iter()
                .filter_map(|(_, o)| o.id.strip_prefix("osd")?.parse::<u64>().ok())
                .max()
                .unwrap_or(0);
            format!("osd{}", n + 1)
        }
    };
    if let Some(a) = &input.address
        && let Some((_, o)) = osds
            .iter()
            .find(|(_, o)| o.address == *a && o.id != id && o.state != OsdService::Removed)
    {
        return Err(ApiError::conflict(&format!(
            "address {a} is already OSD {}'s",
            o.id
        )));
    }
    let existing = osds
        .iter()
        .find(|(_, o)| o.id == id && o.state != OsdService::Removed)
        .map(|(_, o)| o.clone());
    let created = existing.is_none();
    if created && input.address.is_none() {
        return Err(ApiError::not_found(&format!(
            "OSD {id} does not exist: --address HOST:PORT is needed to add it"
        )));
    }
    if let Some(o) = &existing {
        if input.disks.is_empty() {
            return Err(ApiError::conflict(&format!(
                "OSD {id} exists: give --disks to add disks to it"
            )));
        }
        if input.address.as_ref().is_some_and(|a| *a != o.address) {
            return Err(ApiError::conflict(&format!(
                "OSD {id} exists with address {}",
                o.address
            )));
        }
    }
    let rec = store
        .update::<OsdRecord, ApiError>(store.keys().osd(&id), |prev| {
            let prev = prev.filter(|p| p.state != OsdService::Removed);
            let mut r = match prev {
                Some(p) if created => {
                    return Err(ApiError::conflict(&format!(
                        "OSD {} was added meanwhile",
                        p.id
                    )));
                }
                Some(p) => p,
                None => OsdRecord {
                    version: objectio_cluster::SCHEMA_VERSION,
                    id: id.clone(),
                    address: input.address.clone().unwrap_or_default(),
                    failure_domain: input.failure_domain.clone().unwrap_or_default(),
                    disks: Vec::new(),
                    registered: 0,
                    state: OsdService::New,
                    weight: input.weight,
                    disk_paths: Vec::new(),
                    drain_started: 0,
                },
            };
            for d in &input.disks {
                if !r.disk_paths.contains(d) {
                    r.disk_paths.push(d.clone());
                }
            }
            if input.weight.is_some() {
                r.weight = input.weight;
            }
            Ok(Some(r))
        })
        .await?
        .expect("always written");
    let running = alive(store, "osds").await?.contains(&id);
    let message = if created {
        format!(
            "start its daemon: objectio-osd --id {id} --advertise {} (systemd: objectio-osd@{id}); it joins placement when it registers",
            rec.address
        )
    } else if running {
        "its daemon opens the added disks now; a rebalance then moves shards onto them".to_string()
    } else {
        "its daemon opens the added disks when it starts".to_string()
    };
    tracing::info!(osd = %id, created, disks = ?input.disks, "OSD added by an operator");
    Ok(Json(OsdAddOut {
        osd: id,
        service: rec.state.as_str().into(),
        address: rec.address,
        failure_domain: (!rec.failure_domain.is_empty()).then_some(rec.failure_domain),
        weight: rec.weight,
        disk_paths: rec.disk_paths,
        created,
        message,
    }))
}

/// Changes an OSD's placement weight (shared by its disks by capacity):
/// placement follows at once, and a rebalance moves shards to match.
#[utoipa::path(post, path = "/api/v1/osds/{id}/weight", operation_id = "osd.reweight", tag = "osds",
    security(("bearer" = [])), request_body = OsdWeightIn,
    params(("id" = String, Path, description = "The OSD id")),
    responses((status = 200, body = OsdAddOut), (status = 400, body = ErrorOut), (status = 404, body = ErrorOut), (status = 401, body = ErrorOut)))]
pub async fn reweight(
    _: Admin,
    State(st): State<AppState>,
    Path(id): Path<String>,
    crate::v1::Body(input): crate::v1::Body<OsdWeightIn>,
) -> Result<Json<OsdAddOut>, ApiError> {
    if !(input.weight.is_finite() && input.weight > 0.0) {
        return Err(ApiError::bad_request("weight must be a number above 0"));
    }
    let rec = change_osd(&st.store, &id, |o| {
        o.weight = Some(input.weight);
        Ok(())
    })
    .await?;
    tracing::info!(osd = %id, weight = input.weight, "OSD reweighted by an operator");
    Ok(Json(OsdAddOut {
        osd: id,
        service: rec.state.as_str().into(),
        address: rec.address,
        failure_domain: Some(rec.failure_domain),
        weight: rec.weight,
        disk_paths: rec.disk_paths,
        created: false,
        message: "a rebalance moves shards to match the new weight".into(),
    }))
}

/// Changes an OSD's record by compare-and-swap (404 for none or removed).
async fn change_osd(
    store: &objectio_cluster::Store,
    id: &str,
    mut f: impl FnMut(&mut OsdRecord) -> Result<(), ApiError>,
) -> Result<OsdRecord, ApiError> {
    known_osd(store, id).await?;
    store
        .update::<OsdRecord, ApiError>(store.keys().osd(id), |o| {
            let Some(mut o) = o.filter(|o| o.state != OsdService::Removed) else {
                return Err(ApiError::not_found(&format!("no such OSD {id:?}")));
            };
            f(&mut o)?;
            Ok(Some(o))
        })
        .await?
        .ok_or_else(|| ApiError::not_found(&format!("no such OSD {id:?}")))
}

/// Whether the disks left in service once `draining` (with those draining
/// already) stop taking shards can still place every object (enough
/// disks in enough failure domains under the per-domain cap) and hold what
/// the drained disks hold; why not, in words.
pub fn drain_refusal(
    snap: &objectio_object::map::Snapshot,
    n: usize,
    draining: &str,
) -> Option<String> {
    let left: Vec<_> = snap
        .candidates()
        .into_iter()
        .filter(|c| c.osd != draining)
        .collect();
    let mut per_domain: std::collections::BTreeMap<&str, usize> = Default::default();
    for c in &left {
        *per_domain.entry(c.domain.as_str()).or_default() += 1;
    }
    let cap = objectio_cluster::placement::domain_cap(n, per_domain.len());
    let holdable: usize = per_domain.values().map(|c| (*c).min(cap)).sum();
    let others: Vec<&str> = snap
        .osds
        .values()
        .filter(|o| o.state == OsdService::Draining && o.id != draining)
        .map(|o| o.id.as_str())
        .collect();
    let also = if others.is_empty() {
        String::new()
    } else {
        format!(" (with {} draining too)", others.join(", "))
    };
    if holdable < n {
        return Some(format!(
            "draining {draining}{also} would leave {} disks in {} failure domains, which can hold {holdable} of an object's {n} shards at {cap} per domain: add capacity or undrain another OSD first",
            left.len(),
            per_domain.len()
        ));
    }
    let used: u64 = snap
        .disks
        .values()
        .filter(|d| d.osd == draining || others.contains(&d.osd.as_str()))
        .map(|d| d.used_bytes)
        .sum();
    let free: u64 = left
        .iter()
        .filter_map(|c| snap.disks.get(&c.disk))
        .map(|d| d.capacity_bytes.saturating_sub(d.used_bytes + (64 << 20)))
        .sum();
    if used > free {
        return Some(format!(
            "draining {draining}{also} would move {} onto disks with {} free: add capacity first",
            iec(used),
            iec(free)
        ));
    }
    None
}

/// Starts draining an OSD: no new shards go to it, and the repair
/// controller copies its shards elsewhere (decoding them from the other
/// shards when its disk cannot be read); reads go on throughout. Refused
/// when the disks left could not place every object or hold its data.
#[utoipa::path(post, path = "/api/v1/osds/{id}/drain", operation_id = "osd.drain", tag = "osds",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "The OSD id")),
    responses((status = 200, body = DrainOut), (status = 404, body = ErrorOut), (status = 409, body = ErrorOut), (status = 401, body = ErrorOut)))]
pub async fn drain(
    _: Admin,
    State(st): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<DrainOut>, ApiError> {
    let store = &st.store;
    let o = known_osd(store, &id).await?;
    match o.state {
        OsdService::Draining => return Ok(Json(drain_out(&st, &id).await?)),
        OsdService::New => {
            return Err(ApiError::conflict(&format!(
                "OSD {id} has not registered yet: there is nothing to drain"
            )));
        }
        _ => {}
    }
    let n = store.config().await?.ec.total();
    if let Some(why) = drain_refusal(&st.objects.map(), n, &id) {
        return Err(ApiError::conflict(&why));
    }
    change_osd(store, &id, |o| {
        if o.state == OsdService::Active {
            o.state = OsdService::Draining;
            o.drain_started = now_secs();
        }
        Ok(())
    })
    .await?;
    tracing::info!(osd = %id, "OSD drain started by an operator");
    Ok(Json(drain_out(&st, &id).await?))
}

/// Puts a draining OSD back in service: it takes shards again; shards
/// still on it stay, moved ones stay moved.
#[utoipa::path(post, path = "/api/v1/osds/{id}/undrain", operation_id = "osd.undrain", tag = "osds",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "The OSD id")),
    responses((status = 200, body = DrainOut), (status = 404, body = ErrorOut), (status = 401, body = ErrorOut)))]
pub async fn undrain(
    _: Admin,
    State(st): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<DrainOut>, ApiError> {
    change_osd(&st.store, &id, |o| {
        if o.state == OsdService::Draining {
            o.state = OsdService::Active;
            o.drain_started = 0;
        }
        Ok(())
    })
    .await?;
    tracing::info!(osd = %id, "OSD undrained by an operator");
    Ok(Json(drain_out(&st, &id).await?))
}

/// How far an OSD's drain is.
#[utoipa::path(get, path = "/api/v1/osds/{id}/drain", operation_id = "osd.drain_status", tag = "osds",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "The OSD id")),
    responses((status = 200, body = DrainOut), (status = 404, body = ErrorOut), (status = 401, body = ErrorOut)))]
pub async fn drain_status(
    _: Admin,
    State(st): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<DrainOut>, ApiError> {
    Ok(Json(drain_out(&st, &id).await?))
}

async fn drain_out(st: &AppState, id: &str) -> Result<DrainOut, ApiError> {
    let store = &st.store;
    let o = known_osd(store, id).await?;
    let up = alive(store, "osds").await?.contains(id);
    let j = crate::controllers::repair::job(store).await?;
    let d = j.drains.get(id).cloned().unwrap_or_default();
    let draining = o.state == OsdService::Draining;
    let in_pass = j.running && j.draining.iter().any(|x| x == id);
    let counted = in_pass && !j.planning;
    let (objects_left, bytes_left) = d.moves.left();
    let elapsed = now_secs().saturating_sub(j.pass_started).max(1);
    let rate = if j.running {
        d.moves.moved_bytes / elapsed
    } else {
        0
    };
    let drained = draining && d.drained_at > 0;
    Ok(DrainOut {
        osd: id.to_string(),
        service: o.state.as_str().into(),
        up,
        drained,
        pass_running: j.running,
        planning: in_pass && j.planning,
        objects_left: if drained {
            Some(0)
        } else {
            counted.then_some(objects_left)
        },
        bytes_left: if drained {
            Some(0)
        } else {
            counted.then_some(bytes_left)
        },
        moved_objects: d.moves.moved_objects,
        moved_bytes: d.moves.moved_bytes,
        rate_bytes_per_sec: rate,
        eta_secs: (counted && rate > 0).then(|| bytes_left / rate),
        shards_left: d.left,
        started: (o.drain_started > 0).then(|| rfc3339(o.drain_started)),
        drained_at: (d.drained_at > 0).then(|| rfc3339(d.drained_at)),
        blocked: d.blocked,
        blocked_passes: d.blocked_passes,
    })
}

/// `DELETE /api/v1/osds/{id}` options.
#[derive(serde::Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct RemoveQuery {
    /// Remove even while records reference the OSD: what it held is
    /// rebuilt by repair from the other shards.
    #[serde(default)]
    pub force: bool,
}

/// Removes an OSD from the cluster: it and its disks leave the map, and
/// its process, if still running, is refused (it stops). Refused while any
/// object, part of an upload or write in progress references it, unless
/// `force`, which answers what loses redundancy and starts repair for it.
#[utoipa::path(delete, path = "/api/v1/osds/{id}", operation_id = "osd.remove", tag = "osds",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "The OSD id"), RemoveQuery),
    responses((status = 200, body = OsdRemoveOut), (status = 404, body = ErrorOut), (status = 409, body = ErrorOut), (status = 401, body = ErrorOut)))]
pub async fn remove(
    _: Admin,
    State(st): State<AppState>,
    Path(id): Path<String>,
    Query(q): Query<RemoveQuery>,
) -> Result<Json<OsdRemoveOut>, ApiError> {
    let store = &st.store;
    known_osd(store, &id).await?;
    let k = store.keys();
    let (mut shards, mut objects) = (0u64, 0u64);
    let mut examples = Vec::new();
    let mut note = |what: String, n: u64| {
        if n > 0 {
            shards += n;
            objects += 1;
            if examples.len() < 10 {
                examples.push(what);
            }
        }
    };
    let on = |segs: &[objectio_cluster::Segment]| {
        segs.iter()
            .flat_map(|s| s.shards.iter().flatten())
            .filter(|l| l.osd == id)
            .count() as u64
    };
    for (_, r) in store
        .list::<objectio_cluster::ObjectRecord>(k.objects_root())
        .await?
    {
        note(format!("{}/{}", r.bucket, r.key), on(&r.all_segments()));
    }
    for (_, up) in store
        .list::<objectio_cluster::UploadRecord>(k.uploads_root())
        .await?
    {
        for (_, p) in store
            .list::<objectio_cluster::PartRecord>(k.parts_prefix(&up.upload_id))
            .await?
        {
            note(
                format!(
                    "{}/{} (upload {} part {})",
                    up.bucket, up.key, up.upload_id, p.number
                ),
                on(&[p.segment()]),
            );
        }
    }
    for (_, i) in store
        .list::<objectio_cluster::IntentRecord>(k.intents_prefix())
        .await?
    {
        note(
            format!("{}/{} (a write in progress)", i.bucket, i.key),
            on(std::slice::from_ref(&i.segment)),
        );
    }
    if shards > 0 && !q.force {
        return Err(ApiError::conflict(&format!(
            "OSD {id} still holds {shards} shard(s) of {objects} object(s) (e.g. {}): drain it first (osd drain {id}; osd wait-drained {id}), or remove it with --force and let repair rebuild them",
            examples.join(", ")
        )));
    }
    change_osd(store, &id, |o| {
        o.state = OsdService::Removed;
        o.disks.clear();
        o.disk_paths.clear();
        o.drain_started = 0;
        Ok(())
    })
    .await?;
    for (key, d) in store.list::<DiskRecord>(k.disks_prefix()).await? {
        if d.osd == id {
            store.delete(key).await?;
        }
    }
    store.delete(k.alive("osds", &id)).await?;
    let repair_started = shards > 0;
    if repair_started {
        crate::v1::repair::change_control(store, |c| {
            c.requested_ms = objectio_cluster::now_millis();
            c.osd = None;
        })
        .await?;
    }
    tracing::warn!(osd = %id, shards, objects, force = q.force, "OSD removed by an operator");
    Ok(Json(OsdRemoveOut {
        osd: id,
        removed: true,
        shards_referencing: shards,
        objects_losing_redundancy: objects,
        examples,
        repair_started,
    }))
}

/// Whether stopping the OSD now would leave any object with fewer than
/// k+1 reachable shards (as Ceph's `ok-to-stop`): every object record is
/// read and its shards counted on the OSDs up now, less this one.
#[utoipa::path(get, path = "/api/v1/osds/{id}/ok-to-stop", operation_id = "osd.ok_to_stop", tag = "osds",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "The OSD id")),
    responses((status = 200, body = OkToStopOut), (status = 404, body = ErrorOut), (status = 401, body = ErrorOut)))]
pub async fn ok_to_stop(
    _: Admin,
    State(st): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<OkToStopOut>, ApiError> {
    let store = &st.store;
    known_osd(store, &id).await?;
    let snap = st.objects.map();
    let (mut objects, mut short) = (0u64, 0u64);
    let mut examples = Vec::new();
    for (_, rec) in store
        .list::<objectio_cluster::ObjectRecord>(store.keys().objects_root())
        .await?
    {
        objects += 1;
        let left = snap.fewest_readable(&rec, Some(&id));
        if left.is_some_and(|n| n < rec.ec.k as usize + 1) {
            short += 1;
            if examples.len() < 10 {
                examples.push(format!("{}/{}", rec.bucket, rec.key));
            }
        }
    }
    let reason = if short == 0 {
        format!("every object keeps at least k+1 reachable shards without {id}")
    } else {
        format!(
            "{short} object(s) would keep fewer than k+1 reachable shards without {id}: bring the OSDs that are down back first"
        )
    };
    Ok(Json(OkToStopOut {
        ok_to_stop: short == 0,
        osd: id,
        objects,
        objects_short: short,
        examples,
        reason,
    }))
}

/// Asks an OSD to scrub its disks now: every chunk re-read and checked;
/// damaged shards are reported and rebuilt by repair.
#[utoipa::path(post, path = "/api/v1/osds/{id}/scrub", operation_id = "osd.scrub", tag = "osds",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "The OSD id")),
    responses((status = 200, body = ScrubRequestOut), (status = 404, body = ErrorOut), (status = 401, body = ErrorOut)))]
pub async fn scrub(
    _: Admin,
    State(st): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<ScrubRequestOut>, ApiError> {
    let store = &st.store;
    known_osd(store, &id).await?;
    let now = objectio_cluster::now_millis();
    store
        .put(
            store.keys().scrub_request(&id),
            &objectio_cluster::ScrubRequest {
                version: objectio_cluster::SCHEMA_VERSION,
                requested_ms: now,
            },
        )
        .await?;
    Ok(Json(ScrubRequestOut {
        osd: id,
        requested: rfc3339(now / 1000),
    }))
}

async fn set_state(
    st: &AppState,
    id: &str,
    state: DiskState,
) -> Result<Json<OsdStateChangeOut>, ApiError> {
    let store = &st.store;
    known_osd(store, id).await?;
    let mut changed = Vec::new();
    for (_, d) in store
        .list::<DiskRecord>(store.keys().disks_prefix())
        .await?
    {
        if d.osd == id
            && crate::controllers::health::set_disk_state(store, &d.id, state, false).await?
        {
            changed.push(d.id.to_string());
        }
    }
    tracing::info!(
        osd = id,
        ?state,
        disks = changed.len(),
        "OSD marked by an operator"
    );
    Ok(Json(OsdStateChangeOut {
        osd: id.to_string(),
        state: match state {
            DiskState::In => "in".into(),
            DiskState::Out => "out".into(),
        },
        disks_changed: changed,
    }))
}

/// Marks every disk of an OSD `out`: no new shards go to it, and repair
/// rebuilds its shards on other disks (it stays out until marked in).
#[utoipa::path(post, path = "/api/v1/osds/{id}/out", operation_id = "osd.out", tag = "osds",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "The OSD id")),
    responses((status = 200, body = OsdStateChangeOut), (status = 404, body = ErrorOut), (status = 401, body = ErrorOut)))]
pub async fn mark_out(
    _: Admin,
    State(st): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<OsdStateChangeOut>, ApiError> {
    set_state(&st, &id, DiskState::Out).await
}

/// Marks every disk of an OSD `in` again: it takes new shards.
#[utoipa::path(post, path = "/api/v1/osds/{id}/in", operation_id = "osd.in", tag = "osds",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "The OSD id")),
    responses((status = 200, body = OsdStateChangeOut), (status = 404, body = ErrorOut), (status = 401, body = ErrorOut)))]
pub async fn mark_in(
    _: Admin,
    State(st): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<OsdStateChangeOut>, ApiError> {
    set_state(&st, &id, DiskState::In).await
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
        .filter(|(_, o)| o.state != OsdService::Removed)
        .map(|(_, o)| OsdOut {
            service: o.state.as_str().into(),
            weight: o.weight,
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
                    last_scrub: (d.last_scrub > 0).then(|| rfc3339(d.last_scrub)),
                    scrub_errors: d.scrub_errors,
                })
                .collect(),
            id: o.id,
            address: o.address,
            failure_domain: o.failure_domain,
        })
        .collect();
    Ok(Json(ListOsdsOut { osds }))
}
