//! `/api/v1/repos`: package repositories (create, show, change, publish, stage uploads,
//! snapshots, rollback). The publisher does the work; this maps HTTP to it.

use axum::Json;
use axum::extract::{DefaultBodyLimit, Path, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use rustshare_control::model::Repository;
use rustshare_publisher::Error as PubError;
use serde::Deserialize;

use super::dto::{
    CopyBody, KeyChanged, NewRepository, PackageList, PackageRow, PromoteBody, Published, RemoveBody, RepositoryChange, RepositoryList,
    RepositoryView, RollbackBody, RotateKeyBody, SnapshotList,
};
use super::error::{ApiError, ApiResult};
use super::extract::{Admin, JsonBody};
use super::routes::{Api, Op};
use super::state::ApiState;

impl From<PubError> for ApiError {
    fn from(e: PubError) -> Self {
        match e {
            PubError::Control(c) => c.into(),
            PubError::Rejected(_) => Self::new(StatusCode::UNPROCESSABLE_ENTITY, "rejected", e.to_string()),
            PubError::Invalid(_) => Self::new(StatusCode::BAD_REQUEST, "invalid_request", e.to_string()),
            PubError::NoSnapshot(_) => Self::new(StatusCode::NOT_FOUND, "not_found", e.to_string()),
            PubError::Sign(_) => Self::new(StatusCode::BAD_REQUEST, "invalid_signing_key", e.to_string()),
            PubError::Store(rustshare_store::Error::SizeMismatch { .. } | rustshare_store::Error::Body(_)) => Self::new(
                StatusCode::BAD_REQUEST,
                "incomplete_body",
                "the upload ended before its Content-Length; nothing was stored",
            ),
            other => {
                tracing::error!(error = %other, "publisher internal error");
                Self::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", "internal error")
            }
        }
    }
}

fn view(st: &ApiState, r: &Repository, current: Option<String>) -> RepositoryView {
    let url = format!("{}/{}", st.packages_base, r.name);
    RepositoryView {
        repository: r.clone(),
        current_snapshot: current,
        key_url: format!("{url}/key.gpg"),
        sources: format!(
            "Types: deb\nURIs: {url}\nSuites: {}\nComponents: {}\nSigned-By: /etc/apt/keyrings/{}.gpg\n",
            r.config
                .distributions
                .iter()
                .map(|d| d.suite.as_str())
                .collect::<Vec<_>>()
                .join(" "),
            r.config.components.join(" "),
            r.name
        ),
        url,
    }
}

/// Uploader keys are checked before they are stored: a key apt-style tools cannot use would
/// refuse every signed upload later.
fn check_uploaders(cfg: &rustshare_control::model::RepositoryConfig) -> ApiResult<()> {
    rustshare_publisher::changes::uploader_keys(&cfg.uploaders)
        .map(drop)
        .map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, "invalid_request", e))
}

async fn create(State(st): State<ApiState>, Admin(p): Admin, JsonBody(b): JsonBody<NewRepository>) -> ApiResult<impl IntoResponse> {
    let cfg = b.config.apply(rustshare_publisher::default_config(&b.name));
    check_uploaders(&cfg)?;
    let key = b.signing_key.map(String::into_bytes);
    let r = st.publisher.create(&p, &b.space, &b.name, cfg, key).await?;
    let current = st.publisher.current(&r).await?;
    Ok((StatusCode::CREATED, Json(view(&st, &r, current))))
}

async fn list(State(st): State<ApiState>, Admin(p): Admin) -> ApiResult<impl IntoResponse> {
    Ok(Json(RepositoryList {
        repositories: st.control.list_repositories(&p).await?,
    }))
}

async fn show(State(st): State<ApiState>, Admin(p): Admin, Path(name): Path<String>) -> ApiResult<impl IntoResponse> {
    let r = st.control.repository(&p, &name).await?;
    let current = st.publisher.current(&r).await?;
    Ok(Json(view(&st, &r, current)))
}

async fn update(
    State(st): State<ApiState>,
    Admin(p): Admin,
    Path(name): Path<String>,
    JsonBody(b): JsonBody<RepositoryChange>,
) -> ApiResult<impl IntoResponse> {
    let r = st.control.repository(&p, &name).await?;
    let cfg = b.apply(r.config);
    check_uploaders(&cfg)?;
    let r = st.control.update_repository(&p, &name, cfg).await?;
    let current = st.publisher.current(&r).await?;
    Ok(Json(view(&st, &r, current)))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PublishQuery {
    #[serde(default)]
    refresh: bool,
}

async fn publish(
    State(st): State<ApiState>,
    Admin(p): Admin,
    Path(name): Path<String>,
    axum::extract::Query(q): axum::extract::Query<PublishQuery>,
) -> ApiResult<impl IntoResponse> {
    Ok(Json(Published::from(st.publisher.publish(&p, &name, q.refresh).await?)))
}

/// Streams the upload to the store after the quota allowed its declared length; nothing is
/// buffered (a 512 MiB upload over quota is refused before its first byte is read).
async fn stage(
    State(st): State<ApiState>,
    Admin(p): Admin,
    Path((name, dist, component, file)): Path<(String, String, String, String)>,
    headers: axum::http::HeaderMap,
    body: axum::body::Body,
) -> ApiResult<impl IntoResponse> {
    use futures::TryStreamExt;
    let len = super::extract::declared_length(&headers).ok_or_else(|| {
        ApiError::new(
            StatusCode::LENGTH_REQUIRED,
            "length_required",
            "send the package with a Content-Length header",
        )
    })?;
    if len > rustshare_publisher::MAX_DEB {
        return Err(ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "too_large",
            format!("a package may be at most {} bytes", rustshare_publisher::MAX_DEB),
        ));
    }
    let stream: rustshare_store::ByteStream = Box::pin(body.into_data_stream().map_err(std::io::Error::other));
    st.publisher
        .stage(
            &p,
            &name,
            &dist,
            &component,
            &file,
            rustshare_publisher::Upload { body: stream, len },
        )
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn snapshots(State(st): State<ApiState>, Admin(p): Admin, Path(name): Path<String>) -> ApiResult<impl IntoResponse> {
    let (current, list) = st.publisher.snapshots(&p, &name).await?;
    Ok(Json(SnapshotList {
        current_snapshot: current,
        snapshots: list.into_iter().map(Into::into).collect(),
    }))
}

async fn rollback(
    State(st): State<ApiState>,
    Admin(p): Admin,
    Path(name): Path<String>,
    JsonBody(b): JsonBody<RollbackBody>,
) -> ApiResult<impl IntoResponse> {
    Ok(Json(Published::from(st.publisher.rollback(&p, &name, &b.snapshot).await?)))
}

fn selectors(packages: &[String]) -> ApiResult<Vec<rustshare_publisher::select::Selector>> {
    packages
        .iter()
        .map(|s| rustshare_publisher::select::Selector::parse(s))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, "invalid_request", e))
}

async fn copy(
    State(st): State<ApiState>,
    Admin(p): Admin,
    Path(name): Path<String>,
    JsonBody(b): JsonBody<CopyBody>,
) -> ApiResult<impl IntoResponse> {
    let selectors = selectors(&b.packages)?;
    let from = rustshare_publisher::select::Scope {
        dist: &b.from,
        component: b.from_component.as_deref(),
        architecture: b.architecture.as_deref(),
    };
    let r = st
        .publisher
        .copy(&p, &name, from, &b.to, b.to_component.as_deref(), &selectors)
        .await?;
    Ok(Json(Published::from(r)))
}

async fn promote(
    State(st): State<ApiState>,
    Admin(p): Admin,
    Path(name): Path<String>,
    JsonBody(b): JsonBody<PromoteBody>,
) -> ApiResult<impl IntoResponse> {
    Ok(Json(Published::from(st.publisher.promote(&p, &name, &b.from, &b.to).await?)))
}

async fn remove(
    State(st): State<ApiState>,
    Admin(p): Admin,
    Path(name): Path<String>,
    JsonBody(b): JsonBody<RemoveBody>,
) -> ApiResult<impl IntoResponse> {
    let selectors = selectors(&b.packages)?;
    let scope = rustshare_publisher::select::Scope {
        dist: &b.dist,
        component: b.component.as_deref(),
        architecture: b.architecture.as_deref(),
    };
    Ok(Json(Published::from(st.publisher.remove(&p, &name, scope, &selectors).await?)))
}

/// The reply to a key change, after the edge (here and on every node) forgets the old key files.
async fn key_changed(st: &ApiState, (r, report): (Repository, rustshare_publisher::PublishReport)) -> Json<KeyChanged> {
    let site = crate::face::packages::site_id(&r.name);
    for key in ["key.asc", "key.gpg"] {
        st.purge.purge_key(&site, key).await;
    }
    let current = Some(report.snapshot.id.clone());
    Json(KeyChanged {
        repository: view(st, &r, current),
        published: Published::from(report),
    })
}

async fn rotate_key(
    State(st): State<ApiState>,
    Admin(p): Admin,
    Path(name): Path<String>,
    JsonBody(b): JsonBody<RotateKeyBody>,
) -> ApiResult<impl IntoResponse> {
    let changed = st.publisher.rotate_key(&p, &name, b.signing_key.map(String::into_bytes)).await?;
    Ok(key_changed(&st, changed).await)
}

async fn retire_key(State(st): State<ApiState>, Admin(p): Admin, Path(name): Path<String>) -> ApiResult<impl IntoResponse> {
    let changed = st.publisher.retire_key(&p, &name).await?;
    Ok(key_changed(&st, changed).await)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PackagesQuery {
    dist: Option<String>,
    arch: Option<String>,
    q: Option<String>,
}

async fn packages(
    State(st): State<ApiState>,
    Admin(p): Admin,
    Path(name): Path<String>,
    axum::extract::Query(q): axum::extract::Query<PackagesQuery>,
) -> ApiResult<impl IntoResponse> {
    let query =
        q.q.as_deref()
            .filter(|s| !s.trim().is_empty())
            .map(rustshare_publisher::select::Query::parse)
            .transpose()
            .map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, "invalid_request", e))?;
    let repo = st.control.repository(&p, &name).await?;
    let current_snapshot = st.publisher.current(&repo).await?;
    let packages = st
        .publisher
        .packages(&p, &name, q.dist.as_deref(), q.arch.as_deref(), query.as_ref())
        .await?
        .into_iter()
        .map(PackageRow::from)
        .collect();
    Ok(Json(PackageList {
        current_snapshot,
        packages,
    }))
}

/// The repository routes.
pub(super) fn routes() -> Api {
    Api::new()
        .get(
            "/api/v1/repos",
            Op::new("List package repositories").returns::<RepositoryList>(),
            list,
        )
        .post(
            "/api/v1/repos",
            Op::with_body::<NewRepository>(
                "Create an apt repository in a packages space (a signing key is made or imported)",
                "201",
            )
            .returns::<RepositoryView>(),
            create,
        )
        .get(
            "/api/v1/repos/{repo}",
            Op::new("A repository, its current snapshot and apt lines").returns::<RepositoryView>(),
            show,
        )
        .patch(
            "/api/v1/repos/{repo}",
            Op::with_body::<RepositoryChange>("Change distributions, components, architectures, retention", "200")
                .returns::<RepositoryView>(),
            update,
        )
        .post(
            "/api/v1/repos/{repo}/publish",
            Op::new("Publish what is in incoming as a new signed snapshot, switched atomically")
                .query(&[(
                    "refresh",
                    "boolean",
                    "write a snapshot even when nothing changed (new dates and signatures)",
                )])
                .returns::<Published>(),
            publish,
        )
        .put(
            "/api/v1/repos/{repo}/incoming/{dist}/{component}/{file}",
            Op::new("Upload a .deb to incoming: the raw file as the body, Content-Length required, quota checked before the first byte")
                .ok("204"),
            stage,
        )
        // The handler streams and bounds the length itself.
        .map("/api/v1/repos/{repo}/incoming/{dist}/{component}/{file}", |mr| {
            mr.layer(DefaultBodyLimit::disable())
        })
        .get(
            "/api/v1/repos/{repo}/snapshots",
            Op::new("Snapshots, newest first, and which is current").returns::<SnapshotList>(),
            snapshots,
        )
        .post(
            "/api/v1/repos/{repo}/remove",
            Op::with_body::<RemoveBody>(
                "Publish a snapshot without the named packages (pool files go by the retention rules)",
                "200",
            )
            .returns::<Published>(),
            remove,
        )
        .post(
            "/api/v1/repos/{repo}/copy",
            Op::with_body::<CopyBody>(
                "Publish a snapshot where one distribution also holds named packages of another",
                "200",
            )
            .returns::<Published>(),
            copy,
        )
        .post(
            "/api/v1/repos/{repo}/rotate-key",
            Op::with_body::<RotateKeyBody>(
                "Add a new signing key beside the current one: Release is signed by both and key.gpg carries both until retire-key",
                "200",
            )
            .returns::<KeyChanged>(),
            rotate_key,
        )
        .post(
            "/api/v1/repos/{repo}/retire-key",
            Op::new("Retire the old signing key: the new key signs alone and key.gpg carries it alone").returns::<KeyChanged>(),
            retire_key,
        )
        .post(
            "/api/v1/repos/{repo}/promote",
            Op::with_body::<PromoteBody>(
                "Publish a snapshot where one distribution holds exactly another's package set",
                "200",
            )
            .returns::<Published>(),
            promote,
        )
        .get(
            "/api/v1/repos/{repo}/packages",
            Op::new("Published packages of the current snapshot")
                .query(&[
                    ("dist", "string", "one suite or codename"),
                    ("arch", "string", "one architecture"),
                    (
                        "q",
                        "string",
                        "a name pattern (* wildcard) with an optional constraint: hello (>= 1.2)",
                    ),
                ])
                .returns::<PackageList>(),
            packages,
        )
        .post(
            "/api/v1/repos/{repo}/rollback",
            Op::with_body::<RollbackBody>("Switch back to an earlier snapshot", "200").returns::<Published>(),
            rollback,
        )
}
