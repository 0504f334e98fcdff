//! The `/v1` API: servers, volumes and operations, and one generic set of routes per service
//! family (`/v1/load-balancers`, `/v1/wafs`, `/v1/ips`, `/v1/smtp-relays`, `/v1/backup-jobs`,
//! `/v1/snapshots`, `/v1/restores`).

use http::{Method, StatusCode};
use suido_provider::{DiskSpec, MonitoringSettings, ProviderError, ProviderResult, Tags};

use super::{Reply, Shared, ok, parse};
use crate::wire::{
    AttachRequest, CreateRequest, CreateServerRequest, CreateVolumeRequest, GrowRequest, List,
    ResizeRequest, UpdateRequest,
};
use crate::world::{Family, Kind, with_kind};

fn selector(query: &str) -> ProviderResult<Tags> {
    let mut tags = Tags::new();
    for (k, v) in form_urlencoded::parse(query.as_bytes()) {
        if k != "tag" {
            return Err(ProviderError::invalid(format!(
                "unknown query parameter `{k}`; allowed: tag=KEY=VALUE (repeatable)"
            )));
        }
        let (key, value) = v.split_once('=').ok_or_else(|| {
            ProviderError::invalid(format!("query parameter tag `{v}` must be KEY=VALUE"))
        })?;
        tags.insert(key.to_string(), value.to_string());
    }
    Ok(tags)
}

fn no_route(method: &Method, segs: &[&str]) -> Reply {
    Err(ProviderError::not_found(format!(
        "no route for {method} /v1/{}",
        segs.join("/")
    )))
}

/// The routes of one service family.
fn family_api<K: Kind>(
    shared: &Shared,
    method: &Method,
    rest: &[&str],
    query: &str,
    body: &[u8],
) -> Reply {
    let family = K::FAMILY;
    match (method, rest) {
        (&Method::GET, []) => {
            let sel = selector(query)?;
            let items = shared.read(|w| w.list::<K>(&sel, w.now()));
            ok(StatusCode::OK, &List { items })
        }
        (&Method::POST, []) => {
            let req: CreateRequest<K::Spec> = parse(body)?;
            let (op, new) =
                shared.mutate(|tx| tx.create::<K>(req.client_token, req.tags, req.spec))?;
            ok(
                if new {
                    StatusCode::ACCEPTED
                } else {
                    StatusCode::OK
                },
                &op,
            )
        }
        (&Method::GET, [id]) => ok(StatusCode::OK, &shared.read(|w| w.get::<K>(id, w.now()))?),
        (&Method::PUT, [id]) if family.has_update() => {
            let req: UpdateRequest<K::Spec> = parse(body)?;
            ok(
                StatusCode::ACCEPTED,
                &shared.mutate(|tx| tx.update::<K>(id, req.spec))?,
            )
        }
        (&Method::DELETE, [id]) => ok(
            StatusCode::ACCEPTED,
            &shared.mutate(|tx| tx.delete::<K>(id))?,
        ),
        _ => Err(ProviderError::not_found(format!(
            "no route for {method} /v1/{}/{}",
            family.route(),
            rest.join("/")
        ))),
    }
}

pub(super) fn api(
    shared: &Shared,
    method: &Method,
    segs: &[&str],
    query: &str,
    body: &[u8],
) -> Reply {
    let accepted = StatusCode::ACCEPTED;
    if let Some((first, rest)) = segs.split_first()
        && let Some(family) = Family::from_route(first)
    {
        return with_kind!(family, K => family_api::<K>(shared, method, rest, query, body));
    }
    match (method, segs) {
        (&Method::GET, ["servers"]) => {
            let sel = selector(query)?;
            ok(
                StatusCode::OK,
                &List {
                    items: shared.read(|w| w.list_servers(&sel)),
                },
            )
        }
        (&Method::POST, ["servers"]) => {
            let req: CreateServerRequest = parse(body)?;
            let (op, new) =
                shared.mutate(|tx| tx.create_server(req.client_token, req.tags, req.spec))?;
            ok(if new { accepted } else { StatusCode::OK }, &op)
        }
        (&Method::GET, ["servers", id]) => {
            let server = shared.read(|w| w.server(id).map(|r| r.server.clone()))?;
            ok(StatusCode::OK, &server)
        }
        (&Method::DELETE, ["servers", id]) => {
            ok(accepted, &shared.mutate(|tx| tx.delete_server(id))?)
        }
        (&Method::POST, ["servers", id, "start"]) => {
            ok(accepted, &shared.mutate(|tx| tx.start_server(id))?)
        }
        (&Method::POST, ["servers", id, "stop"]) => {
            ok(accepted, &shared.mutate(|tx| tx.stop_server(id))?)
        }
        (&Method::POST, ["servers", id, "resize"]) => {
            let req: ResizeRequest = parse(body)?;
            ok(
                accepted,
                &shared.mutate(|tx| tx.resize_server(id, req.size))?,
            )
        }
        (&Method::POST, ["servers", id, "disks"]) => {
            let req: DiskSpec = parse(body)?;
            ok(accepted, &shared.mutate(|tx| tx.attach_disk(id, req))?)
        }
        (&Method::POST, ["servers", id, "disks", name, "grow"]) => {
            let req: GrowRequest = parse(body)?;
            ok(
                accepted,
                &shared.mutate(|tx| tx.grow_disk(id, name, req.size_gb))?,
            )
        }
        (&Method::DELETE, ["servers", id, "disks", name]) => {
            ok(accepted, &shared.mutate(|tx| tx.detach_disk(id, name))?)
        }
        (&Method::POST, ["servers", id, "console"]) => {
            ok(StatusCode::OK, &shared.mutate(|tx| tx.console(id))?)
        }
        (&Method::PUT, ["servers", id, "monitoring"]) => {
            let req: MonitoringSettings = parse(body)?;
            ok(
                StatusCode::OK,
                &shared.mutate(|tx| tx.set_monitoring(id, req))?,
            )
        }
        (&Method::GET, ["servers", id, "health"]) => {
            ok(StatusCode::OK, &shared.read(|w| w.health(id, w.now()))?)
        }
        (&Method::GET, ["volumes"]) => {
            let sel = selector(query)?;
            ok(
                StatusCode::OK,
                &List {
                    items: shared.read(|w| w.list_volumes(&sel)),
                },
            )
        }
        (&Method::POST, ["volumes"]) => {
            let req: CreateVolumeRequest = parse(body)?;
            let (op, new) =
                shared.mutate(|tx| tx.create_volume(req.client_token, req.tags, req.spec))?;
            ok(if new { accepted } else { StatusCode::OK }, &op)
        }
        (&Method::GET, ["volumes", id]) => {
            ok(StatusCode::OK, &shared.read(|w| w.volume(id).cloned())?)
        }
        (&Method::DELETE, ["volumes", id]) => {
            ok(accepted, &shared.mutate(|tx| tx.delete_volume(id))?)
        }
        (&Method::POST, ["volumes", id, "grow"]) => {
            let req: GrowRequest = parse(body)?;
            ok(
                accepted,
                &shared.mutate(|tx| tx.grow_volume(id, req.size_gb))?,
            )
        }
        (&Method::POST, ["volumes", id, "attach"]) => {
            let req: AttachRequest = parse(body)?;
            ok(
                accepted,
                &shared.mutate(|tx| tx.attach_volume(id, &req.server_id))?,
            )
        }
        (&Method::POST, ["volumes", id, "detach"]) => {
            ok(accepted, &shared.mutate(|tx| tx.detach_volume(id))?)
        }
        (&Method::GET, ["operations"]) => ok(
            StatusCode::OK,
            &List {
                items: shared.read(|w| w.list_operations()),
            },
        ),
        (&Method::GET, ["operations", id]) => {
            ok(StatusCode::OK, &shared.read(|w| w.operation(id).cloned())?)
        }
        _ => no_route(method, segs),
    }
}
