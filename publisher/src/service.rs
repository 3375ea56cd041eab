//! The publisher: repositories, ingest from the incoming prefix, snapshot writing, the pointer
//! switch, rollback and retention. IO lives here; the formats are in [`crate::deb`],
//! [`crate::index`] and [`crate::sign`].
//!
//! Backend layout under `repos/<tenant>/<repo>/` (never reachable through the S3 face):
//! `pool/...` (immutable), `by-hash/SHA256/<hex>` (content-addressed index files),
//! `snapshots/<id>/{info.json,manifest.json,dists/...}`, `records/<id>` (the package records
//! in chunks that snapshots share, see [`crate::records`]), `lists/<id>` (file lists for
//! `Contents`), `current` (the pointer), `key.asc`, `key.gpg`.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures::{StreamExt, TryStreamExt};
use rustshare_control::Control;
use rustshare_control::model::{AdminPrincipal, Distribution, Repository, RepositoryConfig};
use rustshare_store::{ListRequest, ObjectAttrs, ObjectStore};
use time::OffsetDateTime;

use crate::deb::{self, Digests};
use crate::index;
use crate::plan::{Inspected, Plan, PoolFile};
use crate::select::{Edit, Query, Scope, Selector};
use crate::sign::{Keyring, SignError, Signer};
use crate::snapshot::{Manifest, PackageRecord, Pointer, SnapshotInfo, SourceFile, SourceRecord, StoredManifest};

/// Publisher failures, mapped once to API errors by the edge.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// From the control module (not found, invalid, conflict, forbidden ...).
    #[error(transparent)]
    Control(#[from] rustshare_control::Error),
    /// The object store failed.
    #[error("object store: {0}")]
    Store(#[from] rustshare_store::Error),
    /// One or more uploaded files were refused; nothing was published.
    #[error("{} file(s) refused, repository unchanged:\n{}", .0.len(), .0.join("\n"))]
    Rejected(Vec<String>),
    /// The request is malformed.
    #[error("{0}")]
    Invalid(String),
    /// No such snapshot (or it was not retained).
    #[error("snapshot {0} not found")]
    NoSnapshot(String),
    /// Signing failed.
    #[error(transparent)]
    Sign(#[from] SignError),
    /// Stored publisher data is unreadable.
    #[error("corrupt repository data: {0}")]
    Corrupt(String),
}

/// Result alias.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// What a publish or rollback did.
#[derive(Debug, Clone, serde::Serialize)]
pub struct PublishReport {
    /// The new snapshot.
    pub snapshot: SnapshotInfo,
    /// Files in incoming that were already published as they are.
    pub unchanged: usize,
}

/// Where a packages-face path leads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Resolved {
    /// `/<repo>/`: the setup page.
    Page,
    /// An object under the repository root.
    Object {
        /// Key relative to the repository root.
        key: String,
        /// Pool and by-hash files never change.
        immutable: bool,
    },
    /// Nothing there.
    NotFound,
}

const POINTER_TTL: Duration = Duration::from_secs(2);
/// A publish's lease lasts this long and is renewed a third of the way through, so a node that
/// died mid-publish blocks the others at most this long.
const PUBLISH_LEASE: Duration = Duration::from_secs(30);
/// How long a publish waits for another node's to finish.
const PUBLISH_WAIT: Duration = Duration::from_mins(2);

/// Held while a repository's snapshots change; see `Publisher::exclusive`.
struct Exclusive {
    // The lease goes first (fields drop in order): another node may start as soon as this
    // node lets its own waiters in.
    lease: rustshare_control::HeldLease,
    _local: tokio::sync::OwnedMutexGuard<()>,
}

impl Exclusive {
    /// Gives the lease back and waits until the database no longer holds it (a drop releases
    /// it in the background), so that what follows at once finds it free.
    async fn release(self) {
        let Self { lease, _local } = self;
        lease.release().await;
    }
}

/// `.deb` files read and inspected per trip to the blocking pool.
const INSPECT_CHUNK: usize = 64;
/// Bytes of small packages read into memory per batch.
const INSPECT_BATCH_BYTES: u64 = 16 << 20;
/// Packages above this are streamed through the inspector rather than read whole.
const SMALL_DEB: u64 = 4 << 20;

/// Chunks in flight: enough to keep every core busy while the next chunk is read.
fn inspect_parallelism() -> usize {
    std::thread::available_parallelism().map_or(2, |n| n.get() * 2)
}

/// Largest `.deb` a publish reads into memory to inspect.
pub const MAX_DEB: u64 = 2 << 30;
/// Longest staged file name, bytes (filesystems stop at 255 per component).
const MAX_FILE_NAME: usize = 200;

const DEB_TYPE: &str = "application/vnd.debian.binary-package";

struct Inner {
    store: Arc<dyn ObjectStore>,
    control: Control,
    /// The control service's clock, taken once (the packages face asks it on every request).
    clock: Arc<dyn rustshare_control::clock::Clock>,
    locks: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
    pointers: RwLock<HashMap<String, (Instant, Option<String>)>>,
    /// Each repository's compressed index pieces of its last publish on this node.
    pieces: PerRepo<crate::pieces::Cache>,
    /// Where those pieces lie in that publish's `Packages` files.
    outlines: PerRepo<Outlines>,
    /// Each repository's last manifest read or written on this node (snapshots never change).
    manifests: PerRepo<Manifest>,
    /// What the pool files of each repository's last snapshot on this node install, for
    /// `Contents`: a publish reads only the lists of packages new to it.
    lists: PerRepo<index::FileLists>,
    /// The bytes of each repository's pool when its snapshot named there became current,
    /// measured or carried forward by this node: a publish then adds what it linked and
    /// subtracts what retention deleted instead of listing every pool file again.
    tallies: PerRepo<Tally>,
    /// The record chunks of each repository's last snapshot read or written on this node.
    chunks: PerRepo<ChunkMemo>,
    /// What each record chunk this node has seen refers to, for retention.
    refs: PerRepo<HashMap<String, Arc<ChunkRefs>>>,
    /// The memory all repositories' memos above may take together (see [`MemoBudget`]).
    budget: MemoBudget,
}

/// About what a repository's memos weigh per package: its record, its file list and what its
/// chunk refers to (measured at 100,000 packages: about 125 MB with the index pieces).
const MEMO_BYTES_PER_PACKAGE: u64 = 1024;

/// The default [`MemoBudget`]: one repository of 200,000 packages, or several smaller ones.
pub const DEFAULT_MEMO_BUDGET: u64 = 256 << 20;

/// A bound on what the memos of all repositories weigh together. A publish keeps what the next
/// one of the same repository needs (records, file lists, index pieces); on a node serving
/// many large repositories these add up, so the repositories used longest ago are forgotten
/// first (their next publish reads them back from the store) once the estimate passes the
/// budget. The repository being published is never forgotten for another.
struct MemoBudget {
    bytes: std::sync::atomic::AtomicU64,
    /// Per repository: when it was last used (a counter) and what its memos weigh (estimated).
    used: Mutex<HashMap<String, (u64, u64)>>,
    clock: std::sync::atomic::AtomicU64,
}

impl MemoBudget {
    fn new(bytes: u64) -> Self {
        Self {
            bytes: std::sync::atomic::AtomicU64::new(bytes),
            used: Mutex::new(HashMap::new()),
            clock: std::sync::atomic::AtomicU64::new(0),
        }
    }

    /// Records that `repo`'s memos weigh `bytes` now; returns the repositories to forget.
    fn note(&self, repo: &str, bytes: u64) -> Vec<String> {
        let now = self.clock.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let budget = self.bytes.load(std::sync::atomic::Ordering::Relaxed);
        let mut used = self.used.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        used.insert(repo.to_owned(), (now, bytes));
        let mut total: u64 = used.values().map(|(_, b)| b).sum();
        let mut by_age: Vec<(u64, String, u64)> = used
            .iter()
            .filter(|(name, _)| name.as_str() != repo)
            .map(|(name, (at, b))| (*at, name.clone(), *b))
            .collect();
        by_age.sort_unstable();
        let mut gone = Vec::new();
        for (_, name, b) in by_age {
            if total <= budget {
                break;
            }
            total -= b;
            used.remove(&name);
            gone.push(name);
        }
        gone
    }
}

/// The record chunks of one snapshot: chunk id by content fingerprint ([`crate::records`]).
struct ChunkMemo {
    snapshot: String,
    ids: HashMap<[u8; 32], String>,
}

/// The stored files one record chunk keeps alive: pool files (with their sizes) and file-list
/// batches.
struct ChunkRefs {
    pool: Vec<(String, u64)>,
    lists: Vec<String>,
}

impl ChunkRefs {
    fn of(records: &[PackageRecord]) -> Self {
        // A chunk's records name a few list batches, each many times.
        let mut lists: Vec<String> = Vec::new();
        for id in records.iter().filter_map(|r| r.lists.as_ref()) {
            if !lists.contains(id) {
                lists.push(id.clone());
            }
        }
        Self {
            pool: records.iter().map(|r| (r.filename.clone(), r.size)).collect(),
            lists,
        }
    }
}

/// A repository's pool bytes as of a snapshot (see `Inner::tallies`).
struct Tally {
    snapshot: String,
    pool: u64,
}

/// One value per repository that this node remembers from its last publish or read.
struct PerRepo<T>(Mutex<HashMap<String, Arc<T>>>);

impl<T> Default for PerRepo<T> {
    fn default() -> Self {
        Self(Mutex::new(HashMap::new()))
    }
}

impl<T> PerRepo<T> {
    fn get(&self, repo: &str) -> Option<Arc<T>> {
        self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner).get(repo).cloned()
    }

    fn forget(&self, repo: &str) {
        self.take(repo);
    }

    fn take(&self, repo: &str) -> Option<Arc<T>> {
        self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner).remove(repo)
    }

    fn put(&self, repo: &str, value: Arc<T>) {
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .insert(repo.to_owned(), value);
    }
}

/// The package publisher. Cheap to clone.
#[derive(Clone)]
pub struct Publisher {
    inner: Arc<Inner>,
}

/// The backend prefix of a repository.
#[must_use]
pub fn root(repo: &Repository) -> String {
    format!("repos/{}/{}/", repo.tenant_id, repo.name)
}

fn json<T: serde::Serialize>(v: &T) -> Result<Vec<u8>> {
    serde_json::to_vec(v).map_err(|e| Error::Corrupt(e.to_string()))
}

fn body(data: impl Into<Bytes>) -> rustshare_store::ByteStream {
    let b: Bytes = data.into();
    Box::pin(futures::stream::once(async move { Ok(b) }))
}

/// Defaults for a repository named `name`, completed by whatever the caller set.
#[must_use]
pub fn default_config(name: &str) -> RepositoryConfig {
    RepositoryConfig {
        distributions: vec![Distribution {
            suite: "stable".into(),
            codename: "stable".into(),
        }],
        components: vec!["main".into()],
        architectures: vec!["amd64".into()],
        origin: name.to_owned(),
        label: name.to_owned(),
        description: String::new(),
        incoming_prefix: format!("incoming/{name}/"),
        retain: 10,
        retain_grace_secs: rustshare_control::model::default_retain_grace(),
        keep_versions: rustshare_control::model::default_keep_versions(),
        valid_until_days: None,
        uploaders: Vec::new(),
        signed_uploads: false,
    }
}

/// One distribution's index files, Release, InRelease and Release.gpg.
/// What a new snapshot holds, and the file lists of packages new to it.
struct NextSnapshot {
    parent: Option<String>,
    packages: Vec<PackageRecord>,
    sources: Vec<SourceRecord>,
    changes: Vec<String>,
    fresh: index::FileLists,
    /// The pool's tally before this change (taken, so a change that fails leaves none) and the
    /// bytes the change added to the pool; `None` when either is unknown (the pool is measured).
    pool: Option<(Arc<Tally>, u64)>,
    /// A check that must pass before anything is written (the pool holding what was inspected).
    gate: Option<tokio::task::JoinHandle<Result<()>>>,
}

/// Waits for a check run beside other work.
async fn passed(gate: tokio::task::JoinHandle<Result<()>>) -> Result<()> {
    gate.await
        .map_err(|e| Error::Corrupt(format!("a publish check failed to run: {e}")))?
}

/// What a publish makes of the uploaded source packages.
#[derive(Default)]
struct StagedSources {
    /// Every source package of the new snapshot.
    sources: Vec<SourceRecord>,
    /// (incoming key, pool key) copies to make.
    to_copy: Vec<(String, String)>,
    /// What changed, for people.
    changes: Vec<String>,
    /// Why files are refused.
    errors: Vec<String>,
    /// `.dsc` files already published as they are.
    unchanged: usize,
}

/// What a removal, copy or promotion makes of a snapshot: the edit of its packages, its
/// sources, and what changed in them.
type Rewritten = (Edit, Vec<SourceRecord>, Vec<String>);

/// One distribution of a snapshot, made off the async threads.
struct DistTree {
    suite: String,
    /// The files Release lists.
    files: Vec<index::IndexFile>,
    release: String,
    inrelease: String,
    gpg: String,
    /// New pdiff patches: (path under the suite, gzip bytes).
    patches: Vec<(String, Vec<u8>)>,
    /// Earlier pdiff patches the diff indices still list: (SHA-256 of the `.gz`, path).
    carried: Vec<(String, String)>,
}

/// The parent snapshot's side of each index's pdiff, by `<suite>/<component>/binary-<arch>`.
type ParentIndices = HashMap<String, ParentIndex>;

/// One index of the parent snapshot: its diff index, if it had one, and its `Packages` text
/// when this node's outline of the parent cannot stand in for it.
struct ParentIndex {
    index: Option<crate::pdiff::DiffIndex>,
    text: Option<String>,
}

/// The outline ([`crate::pieces::Span`]s) of each `Packages` of one snapshot, by
/// `<suite>/<component>/binary-<arch>`: with the pieces this node kept, the part of the parent's
/// text a pdiff needs, without reading (or unpacking) the parent's whole file.
struct Outlines {
    snapshot: String,
    by_index: HashMap<String, Vec<crate::pieces::Span>>,
}

/// What a distribution's pdiffs write: new patches (path under the suite, gzip bytes), and
/// earlier ones still listed (SHA-256 of the `.gz`, path).
type Pdiffs = (Vec<(String, Vec<u8>)>, Vec<(String, String)>);

/// The parent's side of the pdiff of the index at `at` whose new text is `text`, cut as
/// `outline` says: the whole parent file when it was read, else the parent's pieces that differ
/// from the new ones (unpacked from this node's `cache`) and the new text between. `None` when
/// there is no parent, or its pieces are no longer at hand (the history then starts again).
fn old_side<'a>(
    parent: Option<&'a ParentIndex>,
    outlines: Option<&Outlines>,
    at: &str,
    text: &'a str,
    outline: &[crate::pieces::Span],
    cache: &crate::pieces::Cache,
) -> Option<crate::pdiff::Old<'a>> {
    let parent = parent?;
    if let Some(old) = &parent.text {
        return Some(crate::pdiff::Old::whole(old, text, parent.index.clone()));
    }
    let index = parent.index.clone()?;
    let before = outlines?.by_index.get(at)?;
    // Spans with one key are one text, so they are equal whole.
    let same_start = crate::pdiff::common_prefix(before, outline);
    let same_end = crate::pdiff::common_suffix(before, outline, same_start);
    let mut old = String::new();
    for span in &before[same_start..before.len() - same_end] {
        old.push_str(&cache.get(&span.key)?.text().ok()?);
    }
    let bytes = |spans: &[crate::pieces::Span]| usize::try_from(spans.iter().map(|s| s.len).sum::<u64>()).unwrap_or(usize::MAX);
    let start = bytes(&outline[..same_start]);
    let end = text.len().checked_sub(bytes(&outline[outline.len() - same_end..]))?;
    Some(crate::pdiff::Old {
        sum: index.current.clone(),
        index: Some(index),
        old: std::borrow::Cow::Owned(old),
        new: text.get(start..end)?,
        skipped: usize::try_from(before[..same_start].iter().map(|s| s.lines).sum::<u64>()).ok()?,
    })
}

/// The pdiff of each `Packages` of `files` against the parent's, added to `files` as
/// `Packages.diff/Index`; returns the new patches and the earlier ones still listed.
fn add_pdiffs(
    cfg: &RepositoryConfig,
    suite: &str,
    files: &mut Vec<index::IndexFile>,
    parents: &ParentIndices,
    outlines: Option<&Outlines>,
    cache: &crate::pieces::Cache,
    name: &str,
) -> Result<Pdiffs> {
    let mut patches = Vec::new();
    let mut carried = Vec::new();
    for comp in &cfg.components {
        for arch in &cfg.architectures {
            let dir = format!("{comp}/binary-{arch}");
            let plain = format!("{dir}/Packages");
            let Some(f) = files.iter().find(|f| f.path == plain) else {
                continue;
            };
            let text = std::str::from_utf8(&f.data).map_err(|e| Error::Corrupt(format!("{plain}: {e}")))?;
            let at = format!("{suite}/{dir}");
            let parent = parents.get(&at);
            let old = old_side(parent, outlines, &at, text, &f.outline, cache);
            if parent.is_some() && old.is_none() {
                tracing::debug!("{at}: the parent's pieces are gone; its pdiff history starts again");
            }
            let next = crate::pdiff::next(old, &f.digests, name).map_err(|e| Error::Corrupt(e.to_string()))?;
            for p in &next.index.patches {
                if p.name != name {
                    carried.push((p.download.sha256.clone(), format!("{dir}/Packages.diff/{}.gz", p.name)));
                }
            }
            if let Some((n, gz)) = next.patch {
                patches.push((format!("{dir}/Packages.diff/{n}.gz"), gz));
            }
            files.push(index::IndexFile::new(
                format!("{dir}/Packages.diff/Index"),
                next.index.render().into_bytes(),
            ));
        }
    }
    Ok((patches, carried))
}

/// What snapshots refer to in the store, by full key (see `Publisher::references`).
#[derive(Default)]
struct Refs {
    pool: HashMap<String, u64>,
    lists: HashSet<String>,
    chunks: HashSet<String>,
    hashes: HashSet<String>,
}

/// What a retention pass did to the pool.
enum PoolChange {
    /// Deleted these bytes.
    Removed(u64),
    /// Listed the whole pool: it now holds these bytes.
    Measured(u64),
}

/// A snapshot's records as chunks: every chunk's id in order, those to write, and the memo
/// and references of them all.
struct Chunked {
    ids: Vec<String>,
    new: Vec<(String, Vec<u8>)>,
    memo: HashMap<[u8; 32], String>,
    refs: Vec<(String, Arc<ChunkRefs>)>,
}

/// Cuts `records` into chunks, naming again each chunk `memo` knows and encoding the others.
fn chunk_records(records: &[PackageRecord], memo: Option<&ChunkMemo>) -> Result<Chunked> {
    let mut out = Chunked {
        ids: Vec::new(),
        new: Vec::new(),
        memo: HashMap::new(),
        refs: Vec::new(),
    };
    for range in crate::records::cuts(records) {
        let part = &records[range];
        let fp = crate::records::fingerprint(part);
        let id = if let Some(id) = memo.and_then(|m| m.ids.get(&fp)) {
            id.clone()
        } else {
            let (id, gz) = crate::records::encode(part).map_err(|e| Error::Corrupt(format!("record chunk: {e}")))?;
            out.refs.push((id.clone(), Arc::new(ChunkRefs::of(part))));
            out.new.push((id.clone(), gz));
            id
        };
        out.memo.insert(fp, id.clone());
        out.ids.push(id);
    }
    Ok(out)
}

/// An incoming object's key, its name relative to the incoming prefix, its suite and component.
type Located = (String, String, String, String);

impl Publisher {
    /// A publisher writing through `store`.
    #[must_use]
    pub fn new(store: Arc<dyn ObjectStore>, control: Control) -> Self {
        Self {
            inner: Arc::new(Inner {
                store,
                clock: control.clock(),
                control,
                locks: Mutex::new(HashMap::new()),
                pointers: RwLock::new(HashMap::new()),
                pieces: PerRepo::default(),
                outlines: PerRepo::default(),
                budget: MemoBudget::new(DEFAULT_MEMO_BUDGET),
                manifests: PerRepo::default(),
                lists: PerRepo::default(),
                tallies: PerRepo::default(),
                chunks: PerRepo::default(),
                refs: PerRepo::default(),
            }),
        }
    }

    /// Bounds what this node remembers of all repositories together (see [`DEFAULT_MEMO_BUDGET`]).
    #[must_use]
    pub fn with_memo_budget(self, bytes: u64) -> Self {
        self.inner.budget.bytes.store(bytes, std::sync::atomic::Ordering::Relaxed);
        self
    }

    /// Notes what `repo`'s memos weigh with `packages` records and forgets the repositories
    /// used longest ago while all of them weigh more than the budget.
    fn weigh_memos(&self, repo: &str, packages: usize) {
        let pieces = self
            .inner
            .pieces
            .get(repo)
            .map_or(0, |c| c.values().map(|p| p.bytes()).sum::<u64>());
        let bytes = (packages as u64).saturating_mul(MEMO_BYTES_PER_PACKAGE).saturating_add(pieces);
        for other in self.inner.budget.note(repo, bytes) {
            tracing::debug!(repo = other, "forgetting this repository's memos (the memo budget is spent)");
            self.inner.pieces.forget(&other);
            self.inner.outlines.forget(&other);
            self.inner.manifests.forget(&other);
            self.inner.lists.forget(&other);
            self.inner.chunks.forget(&other);
            self.inner.refs.forget(&other);
        }
    }

    fn store(&self) -> &dyn ObjectStore {
        &*self.inner.store
    }

    /// The object store this publisher writes to (shared with the faces).
    #[must_use]
    pub fn store_handle(&self) -> Arc<dyn ObjectStore> {
        self.inner.store.clone()
    }

    fn lock_for(&self, name: &str) -> Arc<tokio::sync::Mutex<()>> {
        let mut m = self.inner.locks.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        m.entry(name.to_owned()).or_default().clone()
    }

    /// One writer of a repository's snapshots at a time: on this node (a mutex, so waiting is
    /// cheap) and across nodes (a lease in the control database, so two nodes never build
    /// snapshots from the same parent and lose each other's packages).
    async fn exclusive(&self, name: &str) -> Result<Exclusive> {
        let local = self.lock_for(name).lock_owned().await;
        // Waiting is measured by the control service's clock, which tests move.
        let clock = &self.inner.clock;
        let deadline = clock.now() + PUBLISH_WAIT;
        let key = format!("publish:{name}");
        let mut waited = false;
        loop {
            if let Some(lease) = self.inner.control.try_lease(&key, PUBLISH_LEASE).await? {
                return Ok(Exclusive {
                    lease: lease.hold(PUBLISH_LEASE),
                    _local: local,
                });
            }
            if !waited {
                waited = true;
                tracing::info!(repo = name, "waiting for another node's publish of this repository to finish");
            }
            if clock.now() > deadline {
                return Err(Error::Control(rustshare_control::Error::Conflict(format!(
                    "another node has been publishing repository {name} for over {} s; try again later",
                    PUBLISH_WAIT.as_secs()
                ))));
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    async fn blocking<T: Send + 'static>(&self, f: impl FnOnce() -> T + Send + 'static) -> Result<T> {
        tokio::task::spawn_blocking(f)
            .await
            .map_err(|e| Error::Corrupt(format!("worker failed: {e}")))
    }

    async fn put(&self, key: &str, data: impl Into<Bytes>, content_type: &str) -> Result<()> {
        let data: Bytes = data.into();
        let len = data.len() as u64;
        let attrs = ObjectAttrs {
            content_type: Some(content_type.to_owned()),
            ..ObjectAttrs::default()
        };
        self.store().put(key, body(data), Some(len), attrs).await?;
        Ok(())
    }

    async fn read_all(&self, key: &str) -> Result<Vec<u8>> {
        let g = self.store().get(key, None).await?;
        let mut out = Vec::with_capacity(usize::try_from(g.meta.size).unwrap_or(0));
        let mut s = g.body;
        while let Some(chunk) = s.next().await {
            out.extend_from_slice(&chunk.map_err(rustshare_store::Error::Body)?);
        }
        Ok(out)
    }

    async fn list_all(&self, prefix: &str) -> Result<Vec<rustshare_store::ListEntry>> {
        Ok(self.store().list_all(prefix).await?)
    }

    // ---- repositories ----

    /// Creates a repository with a new signing key (or `import_key`, an unprotected OpenPGP
    /// secret key) and publishes its first, empty snapshot so `apt update` works at once.
    ///
    /// # Errors
    /// [`Error::Control`] (invalid, conflict, not found), [`Error::Sign`], [`Error::Store`].
    pub async fn create(
        &self,
        p: &AdminPrincipal,
        space: &str,
        name: &str,
        config: RepositoryConfig,
        import_key: Option<Vec<u8>>,
    ) -> Result<Repository> {
        rustshare_control::model::validate_slug("a repository name", name)?;
        config.validate()?;
        let uid = format!("{} repository signing key <{name}@packages.rustshare>", config.label);
        let signer = self
            .blocking(move || match import_key {
                Some(k) => Signer::import(&k),
                None => Signer::generate(&uid),
            })
            .await??;
        let sealed = self.inner.control.seal(&signer.to_secret_bytes()?)?;
        let draft = Repository {
            name: name.to_owned(),
            tenant_id: String::new(),
            space_id: String::new(),
            config,
            public_key: signer.public_armored()?,
            fingerprint: signer.fingerprint(),
            created_by: String::new(),
            created_at: self.inner.control.now(),
            next_public_key: None,
            next_fingerprint: None,
        };
        let repo = self.inner.control.create_repository(p, space, draft, &sealed).await?;
        let ring = Keyring::new(vec![signer])?;
        self.put_keys(&repo, &ring).await?;
        let g = self.exclusive(name).await?;
        self.write_snapshot(&repo, &ring, None, Vec::new(), Vec::new(), vec!["created".into()])
            .await?;
        g.release().await;
        Ok(repo)
    }

    /// The keys the repository signs with now: its key, and its next key during a rotation.
    async fn keyring(&self, repo: &Repository) -> Result<Keyring> {
        let keys = self.inner.control.repository_signing_keys(&repo.name).await?;
        let signers = keys
            .iter()
            .map(|k| Signer::from_secret_bytes(k))
            .collect::<std::result::Result<Vec<_>, _>>()?;
        Ok(Keyring::new(signers)?)
    }

    /// `key.asc` and `key.gpg`: every key Release is signed with, so a client that fetches the
    /// key during a rotation trusts both.
    async fn put_keys(&self, repo: &Repository, ring: &Keyring) -> Result<()> {
        let r = root(repo);
        self.put(&format!("{r}key.asc"), ring.public_armored()?.into_bytes(), "application/pgp-keys")
            .await?;
        self.put(&format!("{r}key.gpg"), ring.public_binary()?, "application/octet-stream")
            .await
    }

    /// Starts a signing-key rotation: a new key (or `import_key`) signs beside the current one
    /// from a new snapshot on, and `key.asc`/`key.gpg` carry both, so clients that trust either
    /// key keep updating. [`Publisher::retire_key`] ends the rotation.
    ///
    /// # Errors
    /// [`Error::Control`] (conflict when a rotation is under way), [`Error::Sign`] for a bad
    /// key, [`Error::Invalid`] for the current key again; store errors.
    pub async fn rotate_key(&self, p: &AdminPrincipal, name: &str, import_key: Option<Vec<u8>>) -> Result<(Repository, PublishReport)> {
        let repo = self.repository(p, name).await?;
        enabled(&self.inner.control.space(p, &repo.space_id).await?)?;
        let uid = format!("{} repository signing key <{name}@packages.rustshare>", repo.config.label);
        let signer = self
            .blocking(move || match import_key {
                Some(k) => Signer::import(&k),
                None => Signer::generate(&uid),
            })
            .await??;
        let fingerprint = signer.fingerprint();
        if fingerprint == repo.fingerprint {
            return Err(Error::Invalid(format!("key {fingerprint} already signs repository {name}")));
        }
        let sealed = self.inner.control.seal(&signer.to_secret_bytes()?)?;
        let repo = self
            .inner
            .control
            .add_signing_key(p, name, sealed, signer.public_armored()?, fingerprint.clone())
            .await?;
        let note = format!("signed by {} and the next key {fingerprint}", repo.fingerprint);
        self.resign(p, repo, note).await
    }

    /// Ends a signing-key rotation: the next key becomes the only key, a new snapshot is
    /// signed by it alone and `key.asc`/`key.gpg` carry it alone.
    ///
    /// # Errors
    /// [`Error::Control`] (conflict when no rotation is under way); store and signing errors.
    pub async fn retire_key(&self, p: &AdminPrincipal, name: &str) -> Result<(Repository, PublishReport)> {
        let repo = self.repository(p, name).await?;
        enabled(&self.inner.control.space(p, &repo.space_id).await?)?;
        let old = repo.fingerprint.clone();
        let repo = self.inner.control.retire_signing_key(p, name).await?;
        let note = format!("signed by {} only; {old} retired", repo.fingerprint);
        self.resign(p, repo, note).await
    }

    /// A snapshot of the current package set signed by the repository's keys as they are now,
    /// then the key files to match.
    async fn resign(&self, p: &AdminPrincipal, repo: Repository, note: String) -> Result<(Repository, PublishReport)> {
        let report = self
            .rewrite(p, &repo, "repo.resigned", |_, sources| {
                Ok((Edit::default(), sources.to_vec(), vec![note]))
            })
            .await?;
        self.put_keys(&repo, &self.keyring(&repo).await?).await?;
        Ok((repo, report))
    }

    async fn repository(&self, p: &AdminPrincipal, name: &str) -> Result<Repository> {
        Ok(self.inner.control.repository(p, name).await?)
    }

    /// The id of the served snapshot, from the store.
    ///
    /// # Errors
    /// [`Error::Store`], [`Error::Corrupt`].
    pub async fn current(&self, repo: &Repository) -> Result<Option<String>> {
        match self.read_all(&format!("{}current", root(repo))).await {
            Ok(b) => {
                let p: Pointer = serde_json::from_slice(&b).map_err(|e| Error::Corrupt(format!("pointer: {e}")))?;
                Ok(Some(p.snapshot))
            }
            Err(Error::Store(rustshare_store::Error::NotFound)) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Drops this node's cached pointer of a repository (another node switched it).
    pub fn forget_pointer(&self, name: &str) {
        self.inner
            .pointers
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .remove(name);
    }

    /// [`Publisher::current`] through a short per-node cache that publishes on this node clear
    /// and that the change feed clears for publishes on other nodes.
    ///
    /// # Errors
    /// As [`Publisher::current`].
    pub async fn current_cached(&self, repo: &Repository) -> Result<Option<String>> {
        if let Some((at, id)) = self
            .inner
            .pointers
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get(&repo.name)
            && self.inner.clock.now().saturating_duration_since(*at) < POINTER_TTL
        {
            return Ok(id.clone());
        }
        let id = self.current(repo).await?;
        self.inner
            .pointers
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .insert(repo.name.clone(), (self.inner.clock.now(), id.clone()));
        Ok(id)
    }

    async fn manifest(&self, repo: &Repository, id: &str) -> Result<Arc<Manifest>> {
        let cached = self.inner.manifests.get(&repo.name).filter(|m| m.info.id == id);
        if let Some(m) = cached {
            return Ok(m);
        }
        let stored = self.stored_manifest(repo, id).await?;
        let StoredManifest {
            info,
            mut packages,
            chunks,
            sources,
            index_sha256,
        } = stored;
        if !chunks.is_empty() {
            let read = self.read_chunks(repo, &chunks).await?;
            let (records, memo, refs) = self
                .blocking(move || {
                    let mut records = Vec::new();
                    let mut ids = HashMap::with_capacity(read.len());
                    let mut refs = Vec::with_capacity(read.len());
                    for (cid, part) in read {
                        ids.insert(crate::records::fingerprint(&part), cid.clone());
                        refs.push((cid, Arc::new(ChunkRefs::of(&part))));
                        records.extend(part);
                    }
                    (records, ids, refs)
                })
                .await?;
            packages = records;
            self.inner.chunks.put(
                &repo.name,
                Arc::new(ChunkMemo {
                    snapshot: id.to_owned(),
                    ids: memo,
                }),
            );
            self.remember_refs(repo, refs);
        }
        let m = Arc::new(Manifest {
            info,
            packages,
            sources,
            index_sha256,
        });
        self.remember_manifest(repo, &m);
        Ok(m)
    }

    /// A snapshot's stored manifest, without reading its record chunks.
    async fn stored_manifest(&self, repo: &Repository, id: &str) -> Result<StoredManifest> {
        let data = match self.read_all(&format!("{}snapshots/{id}/manifest.json", root(repo))).await {
            Err(Error::Store(rustshare_store::Error::NotFound)) => return Err(Error::NoSnapshot(id.to_owned())),
            other => other?,
        };
        self.blocking(move || serde_json::from_slice::<StoredManifest>(&data))
            .await?
            .map_err(|e| Error::Corrupt(format!("manifest {id}: {e}")))
    }

    /// The records of each chunk of `ids`, in order, each checked against its id.
    async fn read_chunks(&self, repo: &Repository, ids: &[String]) -> Result<Vec<(String, Vec<PackageRecord>)>> {
        let base = root(repo);
        futures::stream::iter(ids.iter().cloned())
            .map(|cid| {
                let key = format!("{base}records/{cid}");
                async move {
                    let gz = self.read_all(&key).await?;
                    self.blocking(move || crate::records::decode(&cid, &gz).map(|r| (cid, r)))
                        .await?
                        .map_err(Error::Corrupt)
                }
            })
            .buffered(16)
            .try_collect()
            .await
    }

    /// This node's memo of the record chunks of a snapshot that still exists, for a change whose
    /// parent is `parent`: a chunk it names may be named again without being written again.
    /// Another snapshot than the parent is checked for (retention on another node may have
    /// deleted it, and its chunks with it); under the publish lease nothing deletes it after.
    async fn chunk_memo(&self, repo: &Repository, parent: Option<&str>) -> Option<Arc<ChunkMemo>> {
        let memo = self.inner.chunks.get(&repo.name)?;
        if Some(memo.snapshot.as_str()) == parent {
            return Some(memo);
        }
        let manifest = format!("{}snapshots/{}/manifest.json", root(repo), memo.snapshot);
        self.store().head(&manifest).await.is_ok().then_some(memo)
    }

    /// Adds what chunks refer to to this node's memo of the repository.
    fn remember_refs(&self, repo: &Repository, refs: Vec<(String, Arc<ChunkRefs>)>) {
        let mut all = self.inner.refs.get(&repo.name).map(|m| (*m).clone()).unwrap_or_default();
        all.extend(refs);
        self.inner.refs.put(&repo.name, Arc::new(all));
    }

    /// `m` itself, moved out when nothing else holds it (this node's memo gives its reference
    /// up; the next snapshot's manifest, or `m` given back by [`Self::remember_manifest`],
    /// replaces it), else copied: a change then never holds two copies of 100,000 records.
    fn owned_manifest(&self, repo: &Repository, m: Arc<Manifest>) -> Manifest {
        if let Some(memo) = self.inner.manifests.take(&repo.name)
            && !Arc::ptr_eq(&memo, &m)
        {
            self.inner.manifests.put(&repo.name, memo);
        }
        Arc::try_unwrap(m).unwrap_or_else(|m| (*m).clone())
    }

    fn remember_manifest(&self, repo: &Repository, m: &Arc<Manifest>) {
        self.inner.manifests.put(&repo.name, m.clone());
        self.weigh_memos(&repo.name, m.packages.len());
    }

    // ---- publish ----

    /// Publishes what CI put in the incoming prefix: validates every file, adds the packages to
    /// the current set, writes a new snapshot and switches to it. Any refused file refuses the
    /// whole publish and leaves the repository as it was. With `refresh`, a snapshot is written
    /// even when nothing changed (fresh Date, Valid-Until and signatures, from stored metadata).
    ///
    /// # Errors
    /// [`Error::Rejected`] naming each bad file and why; store, control and signing errors.
    pub async fn publish(&self, p: &AdminPrincipal, name: &str, refresh: bool) -> Result<PublishReport> {
        let repo = self.repository(p, name).await?;
        let _g = self.exclusive(name).await?;
        let space = self.inner.control.space(p, &repo.space_id).await?;
        enabled(&space)?;
        let incoming = format!("{}{}", space.base_prefix, repo.config.incoming_prefix);
        let t = Instant::now();
        let mut marks: Vec<String> = Vec::new();
        let listed = self.list_all(&incoming).await?;
        let parent = match self.current(&repo).await? {
            Some(id) => Some(self.manifest(&repo, &id).await?),
            None => None,
        };
        let mut errors = Vec::new();
        let mut located = Vec::new();
        for e in &listed {
            let rel = e.key.strip_prefix(&incoming).unwrap_or(&e.key).to_owned();
            let parts: Vec<&str> = rel.split('/').collect();
            let (dist, comp) = match parts.as_slice() {
                [_file] => (repo.config.distributions[0].suite.clone(), repo.config.components[0].clone()),
                [d, c, _file] => match repo.config.distribution(d) {
                    Some(dist) if repo.config.components.iter().any(|x| x == c) => (dist.suite.clone(), (*c).to_owned()),
                    _ => {
                        errors.push(format!("{rel}: no distribution {d:?} with component {c:?} in repository {name}"));
                        continue;
                    }
                },
                _ => {
                    errors.push(format!(
                        "{rel}: put .deb files at {0}<file>.deb or {0}<suite>/<component>/<file>.deb",
                        repo.config.incoming_prefix
                    ));
                    continue;
                }
            };
            located.push(((e.key.clone(), rel, dist, comp), e.size));
        }
        // Source packages: each `.dsc` with the files it lists beside it; what no `.dsc` lists
        // and is not a `.deb` is refused.
        let ext = |rel: &str, want: &[&str]| {
            std::path::Path::new(rel)
                .extension()
                .is_some_and(|e| want.iter().any(|w| e.eq_ignore_ascii_case(w)))
        };
        let (changes_files, located): (Vec<_>, Vec<_>) = located.into_iter().partition(|((_, rel, ..), _)| ext(rel, &["changes"]));
        let uploaded: HashMap<String, String> = located.iter().map(|((key, rel, ..), _)| (key.clone(), rel.clone())).collect();
        let (dscs, rest): (Vec<_>, Vec<_>) = located.into_iter().partition(|((_, rel, ..), _)| ext(rel, &["dsc"]));
        let (located, others): (Vec<_>, Vec<_>) = rest.into_iter().partition(|((_, rel, ..), _)| ext(rel, &["deb", "udeb"]));
        let parent_sources = parent.as_ref().map_or(&[][..], |m| &m.sources[..]);
        let staged = self.stage_sources(&repo, dscs, others, parent_sources).await?;
        errors.extend(staged.errors.iter().cloned());
        // Small files in batches (one batched read and one blocking inspection each, so ten
        // thousand small files cost tens of trips to the blocking pool, not tens of thousands),
        // bounded in bytes as in count; larger ones each streamed through the inspector, which
        // hashes as it reads and keeps only the control member. Memory stays bounded by
        // INSPECT_BATCH_BYTES times the parallelism, whatever the packages weigh.
        let mut jobs: Vec<Vec<Located>> = Vec::new();
        let mut batch: Vec<Located> = Vec::new();
        let mut batch_bytes = 0u64;
        for (loc, size) in located {
            if size > SMALL_DEB {
                jobs.push(vec![loc]);
                continue;
            }
            if batch.len() == INSPECT_CHUNK || batch_bytes + size > INSPECT_BATCH_BYTES {
                jobs.push(std::mem::take(&mut batch));
                batch_bytes = 0;
            }
            batch_bytes += size;
            batch.push(loc);
        }
        if !batch.is_empty() {
            jobs.push(batch);
        }
        let sizes: HashMap<String, u64> = listed.iter().map(|e| (e.key.clone(), e.size)).collect();
        let inspected: Vec<Inspected> = futures::stream::iter(jobs)
            .map(|chunk| {
                let this = self.clone();
                let streamed = chunk.len() == 1 && sizes.get(&chunk[0].0).is_some_and(|s| *s > SMALL_DEB);
                async move {
                    if streamed {
                        let Some((key, rel, dist, comp)) = chunk.into_iter().next() else {
                            return Ok(Vec::new());
                        };
                        let r = match this.store().get(&key, None).await {
                            Ok(g) => this.inspect_stream(g).await?.map_err(|e| e.to_string()),
                            Err(e) => Err(format!("cannot read: {e}")),
                        };
                        return Ok(vec![(key, rel, dist, comp, r)]);
                    }
                    let keys = chunk.iter().map(|(key, ..)| key.clone()).collect();
                    let read = this.store().get_bytes_batch(keys, SMALL_DEB).await;
                    this.blocking(move || {
                        chunk
                            .into_iter()
                            .zip(read)
                            .map(|((key, rel, dist, comp), r)| {
                                let r = match r {
                                    Ok((_, data)) => deb::inspect(&data).map_err(|e| e.to_string()),
                                    Err(e) => Err(format!("cannot read: {e}")),
                                };
                                (key, rel, dist, comp, r)
                            })
                            .collect::<Vec<_>>()
                    })
                    .await
                }
            })
            .buffer_unordered(inspect_parallelism())
            .collect::<Vec<Result<Vec<Inspected>>>>()
            .await
            .into_iter()
            .collect::<Result<Vec<_>>>()?
            .into_iter()
            .flatten()
            .collect();
        marks.push(format!("inspect {}", t.elapsed().as_millis()));
        let (mut candidates, refused) = crate::plan::accept(inspected, &repo.config.architectures);
        errors.extend(refused);
        errors.extend(self.check_signed(&repo, changes_files, &uploaded, &candidates).await?);
        let parent_packages = parent.as_ref().map_or(&[][..], |m| &m.packages[..]);
        errors.extend(crate::plan::contradictions(&incoming, parent_packages, &candidates));
        if !errors.is_empty() {
            return Err(Error::Rejected(errors));
        }
        // File lists first (a batch no snapshot names is swept by retention if this publish
        // fails), taken out of the candidates, which the plan then turns into records without
        // copying: at 100,000 packages what inspection made is some hundred megabytes that the
        // rest of the publish need not hold twice.
        let (fresh, batch) = self.save_file_lists(&repo, &mut candidates).await?;
        // The plan takes the parent's records (moved out, not copied).
        let mut parent = parent.map(|m| self.owned_manifest(&repo, m));
        let parent_records = parent.as_mut().map(|m| std::mem::take(&mut m.packages)).unwrap_or_default();
        marks.push(format!("lists {}", t.elapsed().as_millis()));
        drop((uploaded, sizes));
        let base = root(&repo);
        let heads = self
            .store()
            .head_batch(
                crate::plan::pool_paths(&candidates)
                    .into_iter()
                    .map(|p| format!("{base}{p}"))
                    .collect(),
            )
            .await;
        let pool = heads
            .into_iter()
            .map(|h| match h {
                Ok(m) => Ok(PoolFile::Present {
                    size: m.size,
                    etag: m.etag,
                }),
                Err(rustshare_store::Error::NotFound) => Ok(PoolFile::Absent),
                Err(e) => Err(e),
            })
            .collect::<std::result::Result<Vec<_>, _>>()?;
        let Plan {
            packages,
            mut changes,
            unchanged,
            to_copy,
            expected,
        } = crate::plan::plan(
            &incoming,
            &base,
            parent_records,
            candidates,
            &pool,
            repo.config.keep_versions as usize,
        )
        .map_err(Error::Rejected)?;
        marks.push(format!("checks {}", t.elapsed().as_millis()));
        // The new records name the batch that holds their lists.
        let mut packages = packages;
        if let Some(id) = &batch {
            for r in packages.iter_mut().filter(|r| r.lists.is_none() && fresh.contains_key(&r.sha256)) {
                r.lists = Some(id.clone());
            }
        }
        // The pool file is the incoming object itself: the fs store links it (no copy, no new
        // inode); the incoming name is removed only after the switch.
        if let Some(d) = rustshare_control::pause::delay("publish.inspected") {
            tokio::time::sleep(d).await;
        }
        // Each copy makes a pool file that was absent (present ones are reused, never copied);
        // a source package's files are measured instead.
        let pool = self.inner.tallies.take(&repo.name).zip(
            staged
                .to_copy
                .is_empty()
                .then(|| expected.iter().map(|(_, _, d)| d.size).sum::<u64>()),
        );
        self.store().clone_batch(to_copy).await?;
        self.store().clone_batch(staged.to_copy).await?;
        changes.extend(staged.changes);
        rustshare_control::pause::point("publish.pooled");
        marks.push(format!("link {}", t.elapsed().as_millis()));
        // An S3 client may have replaced an incoming object between our read and the link: the
        // pool must hold the bytes that were inspected, or apt sees a Hash Sum mismatch.
        // Checked while the indices are made (reading 100,000 pool files' metadata beside CPU
        // work); nothing is written before it passes.
        let gate = {
            let (this, incoming) = (self.clone(), incoming.clone());
            tokio::spawn(async move { this.verify_pool(&incoming, expected).await })
        };
        let signer = self.keyring(&repo).await?;
        if changes.is_empty() && refresh {
            changes.push("refreshed".into());
        }
        let info = match parent {
            Some(mut kept) if changes.is_empty() && !refresh => {
                // Nothing new: keep serving the current snapshot (its records back in the memo).
                passed(gate).await?;
                kept.packages = packages;
                let info = kept.info.clone();
                self.remember_manifest(&repo, &Arc::new(kept));
                info
            }
            parent => {
                let next = NextSnapshot {
                    parent: parent.map(|m| m.info.id),
                    packages,
                    sources: staged.sources,
                    changes,
                    fresh,
                    pool,
                    gate: Some(gate),
                };
                self.write_snapshot_with(&repo, &signer, next).await?
            }
        };
        // Only after the switch: a crash before it leaves incoming as it was, and the next publish redoes the work.
        marks.push(format!("snapshot {}", t.elapsed().as_millis()));
        let processed: Vec<String> = listed.iter().map(|e| e.key.clone()).collect();
        rustshare_control::pause::point("publish.switched");
        self.store().delete_batch(processed.clone()).await?;
        rustshare_control::pause::point("publish.cleaned");
        let rel: Vec<String> = processed
            .iter()
            .map(|k| k.strip_prefix(&space.base_prefix).unwrap_or(k).to_owned())
            .collect();
        self.inner.control.objects_deleted(&space.id, &rel).await?;
        if space.versioning != rustshare_control::model::Versioning::Unversioned {
            // Consumed for good, older versions too: one left behind would become the key's
            // current version again, and the next publish would take it.
            let freed = self.inner.control.purge_versions(&space.id, rel.clone()).await?;
            self.store()
                .delete_batch(freed.iter().map(|n| space.version_key(n)).collect())
                .await?;
        }
        self.inner.control.audit_admin(
            p,
            &space,
            "repo.published",
            Some(format!(
                "repo={name} snapshot={} packages={} changes={}",
                info.id,
                info.packages,
                info.changes.len()
            )),
        );
        marks.push(format!("cleanup {}", t.elapsed().as_millis()));
        tracing::debug!(repo = name, "publish timings (ms, cumulative): {}", marks.join(", "));
        Ok(PublishReport {
            snapshot: info,
            unchanged: unchanged + staged.unchanged,
        })
    }

    /// The digests of a stored object, streamed (it may be large).
    async fn digest_object(&self, key: &str) -> Result<Digests> {
        let g = self.store().get(key, None).await?;
        let reader = tokio_util::io::SyncIoBridge::new(tokio_util::io::StreamReader::new(g.body));
        self.blocking(move || Digests::of_reader(reader))
            .await?
            .map_err(|e| Error::Corrupt(format!("{key}: {e}")))
    }

    /// Inspects a stored `.deb` as it streams in (only its control member is held in memory).
    async fn inspect_stream(&self, g: rustshare_store::GetObject) -> Result<std::result::Result<deb::Deb, deb::DebError>> {
        let reader = tokio_util::io::SyncIoBridge::new(tokio_util::io::StreamReader::new(g.body));
        self.blocking(move || deb::inspect_reader(reader)).await
    }

    /// Signed uploads: each `.changes` must be signed by an uploader key and every file it lists
    /// must be beside it with the size and SHA-256 it says; with `signed_uploads`, every file of
    /// incoming must be listed by one. Returns why files are refused. A repository without
    /// uploader keys ignores `.changes` files (they are removed with the upload).
    async fn check_signed(
        &self,
        repo: &Repository,
        changes_files: Vec<(Located, u64)>,
        uploaded: &HashMap<String, String>,
        candidates: &[crate::plan::Candidate],
    ) -> Result<Vec<String>> {
        let mut errors = Vec::new();
        let keys = match crate::changes::uploader_keys(&repo.config.uploaders) {
            Ok(k) => k,
            Err(e) => return Ok(vec![e]),
        };
        if keys.is_empty() {
            return Ok(errors);
        }
        // key -> (SHA-256, size, the .changes that lists it)
        let mut signed: HashMap<String, (String, u64, String)> = HashMap::new();
        for ((key, rel, ..), size) in changes_files {
            if size > crate::changes::MAX_CHANGES {
                errors.push(format!("{rel}: a .changes may be at most {} bytes", crate::changes::MAX_CHANGES));
                continue;
            }
            let text = String::from_utf8_lossy(&self.read_all(&key).await?).into_owned();
            let keys = keys.clone();
            let verified = self.blocking(move || crate::changes::verify(&text, &keys)).await?;
            let c = match verified {
                Ok(c) => c,
                Err(e) => {
                    errors.push(format!("{rel}: {e}"));
                    continue;
                }
            };
            tracing::info!(repo = %repo.name, upload = %rel, signer = %c.signer, "signed upload");
            let dir = &key[..key.len() - rel.rsplit('/').next().unwrap_or(&rel).len()];
            for f in c.files {
                let k = format!("{dir}{}", f.name);
                if uploaded.contains_key(&k) {
                    signed.insert(k, (f.sha256, f.size, rel.clone()));
                } else {
                    errors.push(format!("{rel}: {}, listed in it, was not uploaded beside it", f.name));
                }
            }
        }
        let inspected: HashMap<&str, &Digests> = candidates.iter().map(|c| (c.key.as_str(), &c.deb.digests)).collect();
        let mut names: Vec<(&String, &String)> = uploaded.iter().collect();
        names.sort();
        for (key, rel) in names {
            let Some((sha256, size, by)) = signed.get(key) else {
                if repo.config.signed_uploads {
                    errors.push(format!(
                        "{rel}: this repository takes signed uploads only; list it in a .changes signed by an uploader key"
                    ));
                }
                continue;
            };
            // A .deb is compared with the digests of the bytes inspected (and pooled); other
            // files are read once more.
            let got = if let Some(d) = inspected.get(key.as_str()) {
                (*d).clone()
            } else {
                self.digest_object(key).await?
            };
            if got.sha256 != *sha256 || got.size != *size {
                errors.push(format!(
                    "{rel}: {} bytes with SHA-256 {}, but {by} lists {size} bytes with {sha256}",
                    got.size, got.sha256
                ));
            }
        }
        Ok(errors)
    }

    /// Checks each uploaded `.dsc` and the files it lists (beside it in incoming, or already in
    /// the pool from an earlier upload, such as a shared `.orig.tar`), and says what the
    /// publish makes of the source packages. Nothing is written but pool copies to make.
    async fn stage_sources(
        &self,
        repo: &Repository,
        dscs: Vec<(Located, u64)>,
        others: Vec<(Located, u64)>,
        parent: &[SourceRecord],
    ) -> Result<StagedSources> {
        let base = root(repo);
        let mut out = StagedSources {
            sources: parent.to_vec(),
            ..StagedSources::default()
        };
        let others: HashMap<String, String> = others.into_iter().map(|((key, rel, ..), _)| (key, rel)).collect();
        let mut claimed = BTreeSet::new();
        let mut fresh: Vec<SourceRecord> = Vec::new();
        for ((key, rel, dist, comp), size) in dscs {
            if size > crate::dsc::MAX_DSC {
                out.errors
                    .push(format!("{rel}: a .dsc may be at most {} bytes", crate::dsc::MAX_DSC));
                continue;
            }
            let bytes = self.read_all(&key).await?;
            let dsc = match crate::dsc::parse(&String::from_utf8_lossy(&bytes)) {
                Ok(d) => d,
                Err(e) => {
                    out.errors.push(format!("{rel}: {e}"));
                    continue;
                }
            };
            let file = rel.rsplit('/').next().unwrap_or(&rel);
            let want = crate::dsc::file_name(&dsc.source, &dsc.version);
            if file != want {
                out.errors
                    .push(format!("{rel}: a .dsc of {} {} is named {want}", dsc.source, dsc.version));
                continue;
            }
            let dir_key = &key[..key.len() - file.len()];
            let directory = deb::pool_dir(&comp, &dsc.source);
            let d = Digests::of(&bytes);
            let mut files = vec![SourceFile {
                name: file.to_owned(),
                size: d.size,
                md5: d.md5,
                sha256: d.sha256,
            }];
            let mut copies = vec![(key.clone(), format!("{base}{directory}/{file}"))];
            let mut bad = Vec::new();
            for listed in &dsc.files {
                let sibling = format!("{dir_key}{}", listed.name);
                let known = parent
                    .iter()
                    .flat_map(|r| r.files.iter().map(move |f| (r, f)))
                    .find(|(r, f)| r.directory == directory && f.name == listed.name && f.sha256 == listed.sha256 && f.size == listed.size);
                if others.contains_key(&sibling) {
                    claimed.insert(sibling.clone());
                    let got = self.digest_object(&sibling).await?;
                    if got.sha256 != listed.sha256 || got.size != listed.size {
                        bad.push(format!(
                            "{rel}: {} is {} bytes with SHA-256 {}, the .dsc says {} bytes with {}",
                            listed.name, got.size, got.sha256, listed.size, listed.sha256
                        ));
                        continue;
                    }
                    copies.push((sibling, format!("{base}{directory}/{}", listed.name)));
                    files.push(SourceFile {
                        name: listed.name.clone(),
                        size: got.size,
                        md5: got.md5,
                        sha256: got.sha256,
                    });
                } else if let Some((_, f)) = known {
                    // Already in the pool with these bytes (an .orig.tar shared by revisions).
                    files.push(f.clone());
                } else {
                    bad.push(format!("{rel}: {}, listed in the .dsc, was not uploaded beside it", listed.name));
                }
            }
            if !bad.is_empty() {
                out.errors.extend(bad);
                continue;
            }
            let record = SourceRecord {
                dist,
                component: comp,
                package: dsc.source,
                version: dsc.version,
                directory,
                files,
                control: dsc.control,
            };
            let same = |r: &&SourceRecord| {
                r.dist == record.dist && r.component == record.component && r.package == record.package && r.version == record.version
            };
            match parent.iter().find(same) {
                Some(old) if old.files == record.files => out.unchanged += 1,
                Some(_) => out.errors.push(format!(
                    "{rel}: {} {} is already published in {} with other files; publish a new version",
                    record.package, record.version, record.dist
                )),
                None => {
                    // A pool file another source already names with other bytes is refused.
                    for (_, to) in &copies {
                        let path = to.strip_prefix(&base).unwrap_or(to);
                        let clash = parent.iter().chain(&fresh).any(|r| {
                            r.files
                                .iter()
                                .any(|f| format!("{}/{}", r.directory, f.name) == path && !record.files.contains(f))
                        });
                        if clash {
                            out.errors.push(format!("{rel}: the pool already holds {path} with other bytes"));
                        }
                    }
                    out.to_copy.extend(copies);
                    fresh.push(record);
                }
            }
        }
        for (key, rel) in &others {
            if !claimed.contains(key) {
                out.errors.push(format!(
                    "{rel}: not a .deb, and no .dsc uploaded beside it lists it (upload .deb files, or a .dsc with its files)"
                ));
            }
        }
        let keep = repo.config.keep_versions as usize;
        for r in fresh {
            out.changes.push(format!("{}: +{} {} (source)", r.dist, r.package, r.version));
            out.sources.push(r);
        }
        out.sources = crate::select::limit_sources(std::mem::take(&mut out.sources), keep, &mut out.changes);
        Ok(out)
    }

    /// Writes a complete snapshot, then switches the pointer to it, then applies retention.
    async fn write_snapshot(
        &self,
        repo: &Repository,
        signer: &Keyring,
        parent: Option<String>,
        packages: Vec<PackageRecord>,
        sources: Vec<SourceRecord>,
        changes: Vec<String>,
    ) -> Result<SnapshotInfo> {
        let next = NextSnapshot {
            parent,
            packages,
            sources,
            changes,
            fresh: index::FileLists::new(),
            pool: self.inner.tallies.take(&repo.name).map(|t| (t, 0)),
            gate: None,
        };
        self.write_snapshot_with(repo, signer, next).await
    }

    /// The parent snapshot's `Packages` and `Packages.diff/Index` of every index, for the
    /// pdiffs of the next snapshot. An index the parent lacks starts without history.
    async fn parent_indices(&self, repo: &Repository, parent: Option<&str>, outlines: Option<&Outlines>) -> Result<ParentIndices> {
        let Some(pid) = parent else { return Ok(ParentIndices::new()) };
        let base = root(repo);
        let mut wanted = Vec::new();
        for d in &repo.config.distributions {
            for comp in &repo.config.components {
                for arch in &repo.config.architectures {
                    wanted.push(format!("{}/{comp}/binary-{arch}", d.suite));
                }
            }
        }
        let base = &base;
        let has_outline = |at: &str| outlines.is_some_and(|o| o.snapshot == pid && o.by_index.contains_key(at));
        let found: Vec<Option<(String, ParentIndex)>> = futures::stream::iter(wanted)
            .map(|at| async move {
                let dir = format!("{base}snapshots/{pid}/dists/{at}");
                let index = match self.read_all(&format!("{dir}/Packages.diff/Index")).await {
                    Ok(t) => crate::pdiff::DiffIndex::parse(&String::from_utf8_lossy(&t)),
                    Err(Error::Store(rustshare_store::Error::NotFound)) => None,
                    Err(e) => return Err(e),
                };
                if index.is_some() && has_outline(&at) {
                    return Ok(Some((at, ParentIndex { index, text: None })));
                }
                let Some(text) = self.parent_text(&dir).await? else {
                    return Ok(None);
                };
                Ok(Some((at, ParentIndex { index, text: Some(text) })))
            })
            .buffer_unordered(8)
            .try_collect()
            .await?;
        Ok(found.into_iter().flatten().collect())
    }

    /// The `Packages` text of a snapshot's index directory `dir`: stored as it is by snapshots
    /// written before indices were stored compressed only, else unpacked from its `.gz`.
    async fn parent_text(&self, dir: &str) -> Result<Option<String>> {
        let data = match self.read_all(&format!("{dir}/Packages")).await {
            Ok(t) => t,
            Err(Error::Store(rustshare_store::Error::NotFound)) => match self.read_all(&format!("{dir}/Packages.gz")).await {
                Ok(gz) => self
                    .blocking(move || {
                        let mut out = Vec::with_capacity(gz.len() * 6);
                        std::io::Read::read_to_end(&mut flate2::read::MultiGzDecoder::new(&gz[..]), &mut out).map(|_| out)
                    })
                    .await?
                    .map_err(|e| Error::Corrupt(format!("{dir}/Packages.gz: {e}")))?,
                Err(Error::Store(rustshare_store::Error::NotFound)) => return Ok(None),
                Err(e) => return Err(e),
            },
            Err(e) => return Err(e),
        };
        String::from_utf8(data)
            .map(Some)
            .map_err(|e| Error::Corrupt(format!("{dir}/Packages: {e}")))
    }

    /// The file lists of the new candidates (taken out of them), stored beside the pool as one batch
    /// (`lists/<id>`, gzip JSON by SHA-256) so that any node can write `Contents` without
    /// unpacking the packages again; returns them and the batch id the records name.
    async fn save_file_lists(
        &self,
        repo: &Repository,
        candidates: &mut [crate::plan::Candidate],
    ) -> Result<(index::FileLists, Option<String>)> {
        let mut fresh = index::FileLists::new();
        for c in candidates {
            let files = std::mem::take(&mut c.deb.files);
            fresh.entry(c.deb.digests.sha256.clone()).or_insert_with(|| Arc::new(files));
        }
        if fresh.is_empty() {
            return Ok((fresh, None));
        }
        let id = self.put_lists(repo, fresh.clone()).await?;
        Ok((fresh, Some(id)))
    }

    /// Stores `lists` as one batch object; returns its id (a digest of what it holds).
    async fn put_lists(&self, repo: &Repository, lists: index::FileLists) -> Result<String> {
        let (id, gz) = self
            .blocking(move || -> Result<(String, Vec<u8>)> {
                let sorted: std::collections::BTreeMap<&String, &Vec<String>> = lists.iter().map(|(k, v)| (k, v.as_ref())).collect();
                let data = json(&sorted)?;
                let id = Digests::of(&data).sha256[..32].to_owned();
                let gz = index::gzip(&data).map_err(|e| Error::Corrupt(format!("compressing file lists: {e}")))?;
                Ok((id, gz))
            })
            .await??;
        self.put(&format!("{}lists/{id}", root(repo)), gz, "application/gzip").await?;
        Ok(id)
    }

    /// A stored batch of file lists.
    async fn read_lists(&self, repo: &Repository, id: &str) -> Result<Option<index::FileLists>> {
        let key = format!("{}lists/{id}", root(repo));
        let gz = match self.read_all(&key).await {
            Ok(gz) => gz,
            Err(Error::Store(rustshare_store::Error::NotFound)) => return Ok(None),
            Err(e) => return Err(e),
        };
        self.blocking(move || {
            let mut data = Vec::new();
            std::io::Read::read_to_end(&mut flate2::read::GzDecoder::new(&gz[..]), &mut data)
                .map_err(|e| Error::Corrupt(format!("{key}: {e}")))?;
            let map: HashMap<String, Vec<String>> = serde_json::from_slice(&data).map_err(|e| Error::Corrupt(format!("{key}: {e}")))?;
            Ok(Some(map.into_iter().map(|(k, v)| (k, Arc::new(v))).collect()))
        })
        .await?
    }

    /// What every package of `packages` installs: from `fresh` (this publish's candidates),
    /// this node's lists of the repository's last snapshot, else the stored batch a record
    /// names, else the pool file itself (a package published before lists were kept), whose
    /// list is then stored in a new batch that its record names from now on.
    async fn file_lists(
        &self,
        repo: &Repository,
        packages: &mut [PackageRecord],
        mut fresh: index::FileLists,
    ) -> Result<Arc<index::FileLists>> {
        let base = root(repo);
        // The last publish's lists, taken (moved, when nothing else holds them) and brought up
        // to date in place: a change of one package at 100,000 then neither copies nor rebuilds
        // a map of 100,000. Lists of packages that left stay until they outnumber a quarter of
        // the set.
        let mut out = self
            .inner
            .lists
            .take(&repo.name)
            .map(|l| Arc::try_unwrap(l).unwrap_or_else(|shared| (*shared).clone()))
            .unwrap_or_default();
        if out.len() > packages.len() + packages.len() / 4 + 1024 {
            let used: HashSet<&str> = packages.iter().map(|r| r.sha256.as_str()).collect();
            out.retain(|sha, _| used.contains(sha.as_str()));
        }
        out.extend(fresh.drain());
        let mut batches: BTreeSet<String> = BTreeSet::new();
        for r in packages.iter().filter(|r| !out.contains_key(&r.sha256)) {
            if let Some(id) = &r.lists {
                batches.insert(id.clone());
            }
        }
        for id in batches {
            if let Some(batch) = self.read_lists(repo, &id).await? {
                for r in packages.iter() {
                    if r.lists.as_deref() == Some(id.as_str())
                        && !out.contains_key(&r.sha256)
                        && let Some(l) = batch.get(&r.sha256)
                    {
                        out.insert(r.sha256.clone(), l.clone());
                    }
                }
            }
        }
        // Whatever is still unknown is unpacked from the pool once.
        let mut unpack: HashMap<String, String> = HashMap::new();
        for r in packages.iter().filter(|r| !out.contains_key(&r.sha256)) {
            unpack.insert(r.sha256.clone(), format!("{base}{}", r.filename));
        }
        if !unpack.is_empty() {
            let found: index::FileLists = futures::stream::iter(unpack)
                .map(|(sha, pool)| async move {
                    let g = self.store().get(&pool, None).await?;
                    let deb = self.inspect_stream(g).await?.map_err(|e| Error::Corrupt(format!("{pool}: {e}")))?;
                    Ok::<_, Error>((sha, Arc::new(deb.files)))
                })
                .buffer_unordered(8)
                .try_collect()
                .await?;
            let id = self.put_lists(repo, found.clone()).await?;
            for r in packages.iter_mut().filter(|r| found.contains_key(&r.sha256)) {
                r.lists = Some(id.clone());
            }
            out.extend(found);
        }
        let out = Arc::new(out);
        self.inner.lists.put(&repo.name, out.clone());
        Ok(out)
    }

    async fn write_snapshot_with(&self, repo: &Repository, signer: &Keyring, next: NextSnapshot) -> Result<SnapshotInfo> {
        let NextSnapshot {
            parent,
            mut packages,
            mut sources,
            changes,
            fresh,
            pool,
            gate,
        } = next;
        sources.sort_by(|a, b| (&a.dist, &a.component, &a.package, &a.version).cmp(&(&b.dist, &b.component, &b.package, &b.version)));
        let base = root(repo);
        let lists = self.file_lists(repo, &mut packages, fresh).await?;
        let mut now = self.inner.control.now();
        let mut id_ms = now.unix_timestamp_nanos() / 1_000_000;
        if let Some(pid) = parent.as_deref().and_then(|p| p.parse::<i128>().ok()) {
            id_ms = id_ms.max(pid + 1);
            // A snapshot is never dated before its parent, even when this node's clock is
            // behind the node that wrote the parent: apt ignores a Release older than the one
            // it has, silently keeping its clients on the previous packages.
            if let Ok(parent_date) = OffsetDateTime::from_unix_timestamp_nanos(pid * 1_000_000) {
                now = now.max(parent_date);
            }
        }
        let id = format!("{id_ms:016}");
        packages.sort_by(|a, b| {
            (&a.dist, &a.component, &a.package, &a.architecture).cmp(&(&b.dist, &b.component, &b.package, &b.architecture))
        });
        let info = SnapshotInfo {
            id: id.clone(),
            created: now,
            parent,
            packages: packages.len(),
            changes,
        };
        let snap = format!("{base}snapshots/{id}/");
        let cfg = repo.config.clone();
        let signer2 = signer.clone();
        // Shared with the blocking tasks and taken back (a copy of 100,000 records costs more).
        let pk = Arc::new(packages);
        let srcs_all = sources;
        // Index text, compression and signatures are CPU work.
        let t = Instant::now();
        let mut marks: Vec<String> = Vec::new();
        let cache = self.inner.pieces.get(&repo.name).unwrap_or_default();
        let outlines = self.inner.outlines.get(&repo.name);
        let parents = self.parent_indices(repo, info.parent.as_deref(), outlines.as_deref()).await?;
        let name = id.clone();
        let memo = self.chunk_memo(repo, info.parent.as_deref()).await;
        let chunking = {
            let pk = pk.clone();
            self.blocking(move || {
                let t = Instant::now();
                let r = chunk_records(&pk, memo.as_deref());
                tracing::debug!("record chunks: {} ms", t.elapsed().as_millis());
                r
            })
        };
        let pk2 = pk.clone();
        let indexing = self.blocking(move || -> Result<_> {
            let pk = pk2;
            let mut out = Vec::new();
            let mut used = crate::pieces::Cache::new();
            let mut outline = HashMap::new();
            for d in &cfg.distributions {
                let recs: Vec<&PackageRecord> = pk.iter().filter(|r| r.dist == d.suite).collect();
                let srcs: Vec<&SourceRecord> = srcs_all.iter().filter(|r| r.dist == d.suite).collect();
                let t = Instant::now();
                let mut files = index::distribution_indices(&cfg, d, &recs, &srcs, &lists, &cache, &mut used)
                    .map_err(|e| Error::Corrupt(e.to_string()))?;
                let t1 = t.elapsed().as_millis();
                let (patches, carried) = add_pdiffs(&cfg, &d.suite, &mut files, &parents, outlines.as_deref(), &cache, &name)?;
                let t2 = t.elapsed().as_millis();
                for f in files.iter_mut().filter(|f| !f.stored) {
                    // Listed in Release by their digests, never written: the text can go.
                    f.data = Vec::new();
                    if let Some(dir) = f.path.strip_suffix("/Packages") {
                        outline.insert(format!("{}/{dir}", d.suite), std::mem::take(&mut f.outline));
                    }
                }
                let release = crate::sign::normalise(&index::release_text(&cfg, d, &files, now));
                let inrelease = signer2.clearsign(&release)?;
                let gpg = signer2.detached(release.as_bytes())?;
                tracing::debug!("{}: indices {t1} ms, pdiffs {t2}, signed {}", d.suite, t.elapsed().as_millis());
                out.push(DistTree {
                    suite: d.suite.clone(),
                    files,
                    release,
                    inrelease,
                    gpg,
                    patches,
                    carried,
                });
            }
            Ok((out, used, outline, srcs_all))
        });
        let (indexed, chunked) = tokio::join!(indexing, chunking);
        if let Some(gate) = gate {
            passed(gate).await?;
        }
        let (trees, used, outline, sources) = indexed??;
        let chunked = chunked??;
        let packages = Arc::try_unwrap(pk).unwrap_or_else(|shared| (*shared).clone());
        // Kept for the next publish (of this node): only the pieces this snapshot uses, and
        // where they lie in its `Packages` files.
        self.inner.pieces.put(&repo.name, Arc::new(used));
        self.inner.outlines.put(
            &repo.name,
            Arc::new(Outlines {
                snapshot: id.clone(),
                by_index: outline,
            }),
        );
        marks.push(format!("index+sign {}", t.elapsed().as_millis()));
        let mut index_sha256 = BTreeSet::new();
        // (key, data, content type); the MD5s of index files, already computed for Release, go
        // to the store beside them (`md5s`, by key) so it need not hash 40 MB again.
        let mut writes: Vec<(String, Bytes, String)> = Vec::new();
        let mut md5s: HashMap<String, String> = HashMap::new();
        let mut copies: Vec<(String, String)> = Vec::new();
        for DistTree {
            suite,
            files,
            release,
            inrelease,
            gpg,
            patches,
            carried,
        } in trees
        {
            // Patches are served by name and by hash; Release lists only their index. A by-hash
            // name is a second name of the file written (a link in the fs store, a server-side
            // copy in S3), made after the batch.
            for (path, gz) in patches {
                let sha = Digests::of(&gz).sha256;
                let at = format!("{snap}dists/{suite}/{path}");
                if index_sha256.insert(sha.clone()) {
                    copies.push((at.clone(), format!("{base}by-hash/SHA256/{sha}")));
                }
                writes.push((at, Bytes::from(gz), "application/gzip".into()));
            }
            for (sha, path) in carried {
                copies.push((format!("{base}by-hash/SHA256/{sha}"), format!("{snap}dists/{suite}/{path}")));
                index_sha256.insert(sha);
            }
            for f in files.into_iter().filter(|f| f.stored) {
                let data = Bytes::from(f.data);
                let ext = std::path::Path::new(&f.path).extension().and_then(|e| e.to_str()).unwrap_or("");
                let ct = if ext == "gz" {
                    "application/gzip"
                } else if ext == "xz" {
                    "application/x-xz"
                } else {
                    "text/plain; charset=utf-8"
                };
                let at = format!("{snap}dists/{suite}/{}", f.path);
                if index_sha256.insert(f.digests.sha256.clone()) {
                    copies.push((at.clone(), format!("{base}by-hash/SHA256/{}", f.digests.sha256)));
                }
                md5s.insert(at.clone(), f.digests.md5);
                writes.push((at, data, ct.to_owned()));
            }
            writes.push((
                format!("{snap}dists/{suite}/Release"),
                Bytes::from(release),
                "text/plain; charset=utf-8".into(),
            ));
            writes.push((
                format!("{snap}dists/{suite}/InRelease"),
                Bytes::from(inrelease),
                "text/plain; charset=utf-8".into(),
            ));
            writes.push((
                format!("{snap}dists/{suite}/Release.gpg"),
                Bytes::from(gpg),
                "application/pgp-signature".into(),
            ));
        }
        writes.push((format!("{snap}info.json"), Bytes::from(json(&info)?), "application/json".into()));
        for (cid, gz) in chunked.new {
            writes.push((format!("{base}records/{cid}"), Bytes::from(gz), "application/gzip".into()));
        }
        let index_sha256: Vec<String> = index_sha256.into_iter().collect();
        let stored = StoredManifest {
            info: info.clone(),
            packages: Vec::new(),
            chunks: chunked.ids.clone(),
            sources: sources.clone(),
            index_sha256: index_sha256.clone(),
        };
        let manifest = Arc::new(Manifest {
            info: info.clone(),
            packages,
            sources,
            index_sha256,
        });
        let batch = self.store().put_batch_hashed(
            writes
                .into_iter()
                .map(|(key, data, ct)| {
                    let attrs = ObjectAttrs {
                        content_type: Some(ct),
                        ..ObjectAttrs::default()
                    };
                    let md5 = md5s.remove(&key).unwrap_or_default();
                    (key, data, attrs, md5)
                })
                .collect(),
        );
        batch.await?;
        self.store().clone_batch(copies).await?;
        marks.push(format!("write {}", t.elapsed().as_millis()));
        // Last, on its own: a snapshot is complete (kept, offered for rollback) only once its
        // manifest exists, and every other file of it (its record chunks too) is durable by then.
        self.put(&format!("{snap}manifest.json"), json(&stored)?, "application/json")
            .await?;
        self.inner.chunks.put(
            &repo.name,
            Arc::new(ChunkMemo {
                snapshot: id.clone(),
                ids: chunked.memo,
            }),
        );
        self.remember_refs(repo, chunked.refs);
        marks.push(format!("manifest {}", t.elapsed().as_millis()));
        // The switch: one object, written atomically by the store.
        self.put(
            &format!("{base}current"),
            json(&Pointer { snapshot: id.clone() })?,
            "application/json",
        )
        .await?;
        self.forget_pointer(&repo.name);
        self.inner
            .control
            .announce(&rustshare_control::ChangeKind::Repository { name: repo.name.clone() })
            .await;
        self.remember_manifest(repo, &manifest);
        marks.push(format!("switch {}", t.elapsed().as_millis()));
        let pooled = match self.retain(repo, &id, pool.is_none()).await {
            Ok(PoolChange::Measured(bytes)) => Some(bytes),
            Ok(PoolChange::Removed(removed)) => pool.and_then(|(tally, added)| {
                (Some(tally.snapshot.as_str()) == info.parent.as_deref()).then(|| (tally.pool + added).saturating_sub(removed))
            }),
            Err(e) => {
                // The publish itself succeeded; the next one retries the clean-up.
                tracing::warn!(repo = %repo.name, "retention pass failed: {e}");
                None
            }
        };
        marks.push(format!("retain {}", t.elapsed().as_millis()));
        if let Err(e) = self.measure(repo, Some(&id), pooled).await {
            // Left as it was (an over- or under-count until the next publish or reconcile).
            tracing::warn!(repo = %repo.name, "measuring the published bytes failed: {e}");
        }
        marks.push(format!("account {}", t.elapsed().as_millis()));
        tracing::debug!(repo = %repo.name, "snapshot timings (ms, cumulative): {}", marks.join(", "));
        Ok(info)
    }

    /// Every page of a `/`-delimited listing of `prefix`: its objects and its common prefixes.
    async fn list_level(&self, prefix: &str) -> Result<(Vec<rustshare_store::ListEntry>, Vec<String>)> {
        let (mut entries, mut dirs) = (Vec::new(), Vec::new());
        let mut after = None;
        loop {
            let page = self
                .store()
                .list(&ListRequest {
                    prefix: prefix.to_owned(),
                    delimiter: Some("/".into()),
                    start_after: after.take(),
                    max_keys: 1000,
                })
                .await?;
            entries.extend(page.entries);
            dirs.extend(page.common_prefixes);
            if !page.is_truncated {
                return Ok((entries, dirs));
            }
            after = page.next_marker;
        }
    }

    /// Ids of stored snapshots, oldest first.
    async fn snapshot_ids(&self, repo: &Repository) -> Result<Vec<String>> {
        let prefix = format!("{}snapshots/", root(repo));
        let (_, dirs) = self.list_level(&prefix).await?;
        let mut ids: Vec<String> = dirs
            .iter()
            .filter_map(|p| p.strip_prefix(&prefix).and_then(|s| s.strip_suffix('/')).map(str::to_owned))
            .collect();
        ids.sort();
        Ok(ids)
    }

    /// Deletes snapshots beyond the newest `retain` that were superseded longer than
    /// `retain_grace_secs` ago, then the pool, list, record and by-hash files no kept snapshot
    /// refers to. A snapshot without a manifest is an interrupted publish: removed too.
    ///
    /// The pool files to delete are those the dropped snapshots referred to and the kept ones
    /// do not (read from their record chunks, each once, through this node's memo), so a pass
    /// does not list a pool of 100,000 files. With `sweep`, or when a dropped snapshot never
    /// completed (it may have linked files no manifest names), the whole pool is listed
    /// instead and whatever no kept snapshot names goes.
    async fn retain(&self, repo: &Repository, current: &str, sweep: bool) -> Result<PoolChange> {
        let base = root(repo);
        let ids = self.snapshot_ids(repo).await?;
        let keep_n = usize::try_from(repo.config.retain).unwrap_or(10);
        let now_ms = self.inner.control.now().unix_timestamp_nanos() / 1_000_000;
        let grace_ms = i128::from(repo.config.retain_grace_secs) * 1000;
        let heads = self
            .store()
            .head_batch(ids.iter().map(|id| format!("{base}snapshots/{id}/manifest.json")).collect())
            .await;
        let complete: Vec<bool> = heads.iter().map(Result::is_ok).collect();
        let crate::plan::Retention { kept, dropped } = crate::plan::retention(&ids, &complete, current, keep_n, grace_ms, now_ms);
        if dropped.is_empty() && !sweep {
            return Ok(PoolChange::Removed(0));
        }
        let kept_refs = self.references(repo, &kept).await?;
        let interrupted = ids.iter().zip(&complete).any(|(id, done)| !done && dropped.contains(id));
        let dropped_refs = if sweep || interrupted {
            None
        } else {
            Some(self.references(repo, &dropped).await?)
        };
        for id in &dropped {
            let keys = self
                .list_all(&format!("{base}snapshots/{id}/"))
                .await?
                .into_iter()
                .map(|e| e.key)
                .collect();
            self.store().delete_batch(keys).await?;
        }
        let mut unused = Vec::new();
        let change = if let Some(gone) = dropped_refs {
            let gone: Vec<String> = gone.pool.into_keys().filter(|k| !kept_refs.pool.contains_key(k)).collect();
            // Counted only if still there: a sweep may have deleted it already.
            let heads = self.store().head_batch(gone.clone()).await;
            let mut bytes = 0;
            for (key, head) in gone.into_iter().zip(heads) {
                match head {
                    Ok(m) => {
                        bytes += m.size;
                        unused.push(key);
                    }
                    Err(rustshare_store::Error::NotFound) => {}
                    Err(e) => return Err(e.into()),
                }
            }
            PoolChange::Removed(bytes)
        } else {
            let mut remaining = 0;
            for e in self.list_all(&format!("{base}pool/")).await? {
                if kept_refs.pool.contains_key(&e.key) {
                    remaining += e.size;
                } else {
                    unused.push(e.key);
                }
            }
            PoolChange::Measured(remaining)
        };
        for (dir, keep) in [
            ("lists/", &kept_refs.lists),
            ("records/", &kept_refs.chunks),
            ("by-hash/", &kept_refs.hashes),
        ] {
            unused.extend(
                self.list_all(&format!("{base}{dir}"))
                    .await?
                    .into_iter()
                    .filter(|e| !keep.contains(&e.key))
                    .map(|e| e.key),
            );
        }
        self.store().delete_batch(unused).await?;
        // The memo keeps what kept snapshots refer to.
        if let Some(all) = self.inner.refs.get(&repo.name) {
            let prefix = format!("{base}records/");
            let still: HashMap<String, Arc<ChunkRefs>> = all
                .iter()
                .filter(|(cid, _)| kept_refs.chunks.contains(&format!("{prefix}{cid}")))
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect();
            self.inner.refs.put(&repo.name, Arc::new(still));
        }
        Ok(change)
    }

    /// Every stored file the snapshots `ids` refer to (full keys): pool files with their sizes,
    /// file-list batches, record chunks and by-hash files.
    async fn references(&self, repo: &Repository, ids: &[String]) -> Result<Refs> {
        let base = root(repo);
        let mut out = Refs::default();
        for id in ids {
            let m = self.stored_manifest(repo, id).await?;
            let known = self.inner.refs.get(&repo.name).unwrap_or_default();
            let missing: Vec<String> = m
                .chunks
                .iter()
                .filter(|c| !known.contains_key(*c) && !out.chunks.contains(&format!("{base}records/{c}")))
                .cloned()
                .collect();
            let mut found: Vec<(String, Arc<ChunkRefs>)> = Vec::new();
            if !missing.is_empty() {
                for (cid, records) in self.read_chunks(repo, &missing).await? {
                    found.push((cid, Arc::new(ChunkRefs::of(&records))));
                }
                self.remember_refs(repo, found.clone());
            }
            let inline = ChunkRefs::of(&m.packages);
            let mut add = |r: &ChunkRefs| {
                for (f, size) in &r.pool {
                    out.pool.insert(format!("{base}{f}"), *size);
                }
                out.lists.extend(r.lists.iter().map(|l| format!("{base}lists/{l}")));
            };
            add(&inline);
            for cid in &m.chunks {
                if let Some(r) = known.get(cid).or_else(|| found.iter().find(|(c, _)| c == cid).map(|(_, r)| r)) {
                    add(r);
                }
                out.chunks.insert(format!("{base}records/{cid}"));
            }
            for r in &m.sources {
                for f in &r.files {
                    out.pool.insert(format!("{base}{}/{}", r.directory, f.name), f.size);
                }
            }
            out.hashes
                .extend(m.index_sha256.iter().map(|h| format!("{base}by-hash/SHA256/{h}")));
        }
        Ok(out)
    }

    /// Measures what the repository's published data (pool, by-hash, snapshots, keys) takes in
    /// the store and records it against the repository's space: those bytes live outside the
    /// space's keys, and without this a space's quota would not bound them. Returns the bytes.
    ///
    /// # Errors
    /// Store and control errors.
    pub async fn account(&self, repo: &Repository) -> Result<u64> {
        let current = self.current(repo).await?;
        self.measure(repo, current.as_deref(), None).await
    }

    /// Lists the repository's published data (the pool too unless `pool` is given), records the
    /// total against its space and remembers the pool's bytes as of `current`.
    async fn measure(&self, repo: &Repository, current: Option<&str>, pool: Option<u64>) -> Result<u64> {
        let base = root(repo);
        let pool_prefix = format!("{base}pool/");
        let (pool, rest) = if let Some(pool) = pool {
            // Everything beside the pool: snapshots, by-hash, lists, keys, the pointer.
            let (top, dirs) = self.list_level(&base).await?;
            let mut rest = top.iter().map(|e| e.size).sum::<u64>();
            for dir in dirs.iter().filter(|d| **d != pool_prefix) {
                rest += self.list_all(dir).await?.iter().map(|e| e.size).sum::<u64>();
            }
            (pool, rest)
        } else {
            let (mut pool, mut rest) = (0, 0);
            for e in self.list_all(&base).await? {
                if e.key.starts_with(&pool_prefix) {
                    pool += e.size;
                } else {
                    rest += e.size;
                }
            }
            (pool, rest)
        };
        match current {
            Some(id) => self.inner.tallies.put(
                &repo.name,
                Arc::new(Tally {
                    snapshot: id.to_owned(),
                    pool,
                }),
            ),
            None => self.inner.tallies.forget(&repo.name),
        }
        let bytes = pool + rest;
        self.inner.control.repository_published(&repo.name, bytes).await?;
        Ok(bytes)
    }

    /// Retained snapshots, newest first.
    ///
    /// # Errors
    /// Store and control errors.
    pub async fn snapshots(&self, p: &AdminPrincipal, name: &str) -> Result<(Option<String>, Vec<SnapshotInfo>)> {
        let repo = self.repository(p, name).await?;
        let mut out = Vec::new();
        for id in self.snapshot_ids(&repo).await?.into_iter().rev() {
            // A snapshot without its manifest is an interrupted publish: not offered.
            if self
                .store()
                .head(&format!("{}snapshots/{id}/manifest.json", root(&repo)))
                .await
                .is_err()
            {
                continue;
            }
            match self.read_all(&format!("{}snapshots/{id}/info.json", root(&repo))).await {
                Ok(b) => out.push(serde_json::from_slice(&b).map_err(|e| Error::Corrupt(format!("snapshot info: {e}")))?),
                Err(Error::Store(rustshare_store::Error::NotFound)) => {}
                Err(e) => return Err(e),
            }
        }
        Ok((self.current(&repo).await?, out))
    }

    /// Checks that each new pool file holds the bytes that were inspected: size and MD5 from its
    /// metadata when the store kept a plain MD5 ETag (the fs store links, so it always does),
    /// else SHA-256 of its content. Files that differ are removed again (no snapshot refers to
    /// them yet) and the publish is refused, leaving the repository as it was.
    async fn verify_pool(&self, incoming: &str, expected: Vec<(String, String, deb::Digests)>) -> Result<()> {
        let heads = self
            .store()
            .head_batch(expected.iter().map(|(_, dst, _)| dst.clone()).collect())
            .await;
        let mut bad = Vec::new();
        for ((src, dst, d), h) in expected.into_iter().zip(heads) {
            let same = match h {
                Ok(m) if m.size != d.size => false,
                Ok(m) if m.etag.len() == 32 => m.etag == d.md5,
                Ok(_) => {
                    let (_, data) = self.store().get_bytes(&dst, MAX_DEB).await?;
                    let sha = hex::encode(<sha2::Sha256 as sha2::Digest>::digest(&data));
                    sha == d.sha256
                }
                Err(e) => return Err(e.into()),
            };
            if !same {
                bad.push((src, dst));
            }
        }
        if bad.is_empty() {
            return Ok(());
        }
        let errors = bad
            .iter()
            .map(|(src, _)| {
                format!(
                    "{}: changed while it was being published; the repository is unchanged, publish again",
                    src.strip_prefix(incoming).unwrap_or(src)
                )
            })
            .collect();
        self.store().delete_batch(bad.into_iter().map(|(_, dst)| dst).collect()).await?;
        Err(Error::Rejected(errors))
    }

    /// Brings back a retained snapshot's package set as a new snapshot with a fresh Date and
    /// signatures (apt ignores a Release older than one it has seen).
    ///
    /// # Errors
    /// [`Error::NoSnapshot`], store, control and signing errors.
    pub async fn rollback(&self, p: &AdminPrincipal, name: &str, snapshot: &str) -> Result<PublishReport> {
        if snapshot.is_empty() || !snapshot.bytes().all(|b| b.is_ascii_digit()) {
            return Err(Error::NoSnapshot(snapshot.to_owned()));
        }
        let repo = self.repository(p, name).await?;
        let space = self.inner.control.space(p, &repo.space_id).await?;
        enabled(&space)?;
        let _g = self.exclusive(name).await?;
        let target = self.manifest(&repo, snapshot).await?;
        let parent = self.current(&repo).await?;
        let signer = self.keyring(&repo).await?;
        let info = self
            .write_snapshot(
                &repo,
                &signer,
                parent,
                target.packages.clone(),
                target.sources.clone(),
                vec![format!("rollback to {snapshot}")],
            )
            .await?;
        self.inner.control.audit_admin(
            p,
            &space,
            "repo.rollback",
            Some(format!("repo={name} to={snapshot} snapshot={}", info.id)),
        );
        Ok(PublishReport {
            snapshot: info,
            unchanged: 0,
        })
    }

    /// Publishes a snapshot without the packages `selectors` name in `scope` (a package
    /// published by mistake, a withdrawn version). Pool files go when no retained snapshot uses
    /// them, by the retention rules; rollback brings the packages back.
    ///
    /// # Errors
    /// [`Error::Invalid`] for an unknown distribution, component or architecture, nothing
    /// published yet, or a selector that names nothing (nothing is published then); store,
    /// control and signing errors.
    pub async fn remove(&self, p: &AdminPrincipal, name: &str, scope: Scope<'_>, selectors: &[Selector]) -> Result<PublishReport> {
        let repo = self.repository(p, name).await?;
        check_scope(&repo, Some(scope.dist), scope.component, scope.architecture)?;
        let suite = suite_of(&repo, scope.dist);
        let scope = Scope { dist: &suite, ..scope };
        self.rewrite(p, &repo, "repo.removed", |current, sources| {
            if scope.architecture == Some(crate::select::SOURCE) {
                crate::select::remove_sources(sources, scope, selectors).map(|(src, ch)| (Edit::default(), src, ch))
            } else {
                crate::select::remove(current, scope, selectors).map(|edit| (edit, sources.to_vec(), Vec::new()))
            }
        })
        .await
    }

    /// Publishes a snapshot where distribution `to` (and component `to_component`, else the
    /// same) also holds what `selectors` name in `from`, replacing what held the same slots.
    ///
    /// # Errors
    /// As [`Publisher::remove`].
    pub async fn copy(
        &self,
        p: &AdminPrincipal,
        name: &str,
        from: Scope<'_>,
        to: &str,
        to_component: Option<&str>,
        selectors: &[Selector],
    ) -> Result<PublishReport> {
        let repo = self.repository(p, name).await?;
        check_scope(&repo, Some(from.dist), from.component, from.architecture)?;
        check_scope(&repo, Some(to), to_component, None)?;
        let (suite, to) = (suite_of(&repo, from.dist), suite_of(&repo, to));
        let from = Scope { dist: &suite, ..from };
        let keep = repo.config.keep_versions as usize;
        self.rewrite(p, &repo, "repo.copied", |current, sources| {
            if from.architecture == Some(crate::select::SOURCE) {
                crate::select::copy_sources(sources, from, &to, to_component, selectors, keep).map(|(src, ch)| (Edit::default(), src, ch))
            } else {
                crate::select::copy(current, from, &to, to_component, selectors, keep).map(|edit| (edit, sources.to_vec(), Vec::new()))
            }
        })
        .await
    }

    /// Publishes a snapshot where distribution `to` holds exactly what `from` holds ("what is in
    /// testing now becomes stable").
    ///
    /// # Errors
    /// As [`Publisher::remove`].
    pub async fn promote(&self, p: &AdminPrincipal, name: &str, from: &str, to: &str) -> Result<PublishReport> {
        let repo = self.repository(p, name).await?;
        check_scope(&repo, Some(from), None, None)?;
        check_scope(&repo, Some(to), None, None)?;
        let (from, to) = (suite_of(&repo, from), suite_of(&repo, to));
        self.rewrite(p, &repo, "repo.promoted", |current, sources| {
            let edit = crate::select::promote(current, &from, &to, repo.config.keep_versions as usize)?;
            let (sources, changes) = crate::select::promote_sources(sources, &from, &to);
            Ok((edit, sources, changes))
        })
        .await
    }

    /// One snapshot made from the current package set by `change` (a removal, copy or
    /// promotion), under the publish lease; audited as `op`.
    async fn rewrite(
        &self,
        p: &AdminPrincipal,
        repo: &Repository,
        op: &str,
        change: impl FnOnce(&[PackageRecord], &[SourceRecord]) -> std::result::Result<Rewritten, Vec<String>>,
    ) -> Result<PublishReport> {
        let name = &repo.name;
        let space = self.inner.control.space(p, &repo.space_id).await?;
        enabled(&space)?;
        let _g = self.exclusive(name).await?;
        let Some(parent) = self.current(repo).await? else {
            return Err(Error::Invalid(format!("repository {name} has nothing published yet")));
        };
        let current = self.manifest(repo, &parent).await?;
        let (edit, sources, source_changes) = change(&current.packages, &current.sources).map_err(|e| Error::Invalid(e.join("\n")))?;
        let mut kept = self.owned_manifest(repo, current);
        let (packages, mut changes) = edit.apply(std::mem::take(&mut kept.packages));
        changes.extend(source_changes);
        if changes.is_empty() {
            // The records moved out of the memo: it gets them back (the sources did not change).
            let (snapshot, unchanged) = (kept.info.clone(), packages.len());
            kept.packages = packages;
            self.remember_manifest(repo, &Arc::new(kept));
            return Ok(PublishReport { snapshot, unchanged });
        }
        let signer = self.keyring(repo).await?;
        let info = self.write_snapshot(repo, &signer, Some(parent), packages, sources, changes).await?;
        self.inner.control.audit_admin(
            p,
            &space,
            op,
            Some(format!("repo={name} snapshot={} changes={}", info.id, info.changes.join("; "))),
        );
        Ok(PublishReport {
            snapshot: info,
            unchanged: 0,
        })
    }

    /// The published packages of a repository's current snapshot: of one distribution and
    /// architecture or all, answering `query` or all.
    ///
    /// # Errors
    /// [`Error::Invalid`] for an unknown distribution or architecture; store and control errors.
    pub async fn packages(
        &self,
        p: &AdminPrincipal,
        name: &str,
        dist: Option<&str>,
        architecture: Option<&str>,
        query: Option<&Query>,
    ) -> Result<Vec<PackageRecord>> {
        let repo = self.repository(p, name).await?;
        check_scope(&repo, dist, None, architecture)?;
        let Some(id) = self.current(&repo).await? else {
            return Ok(Vec::new());
        };
        let m = self.manifest(&repo, &id).await?;
        // A suite may be named by its codename too.
        let suite = dist.and_then(|d| repo.config.distribution(d)).map(|d| d.suite.as_str());
        // Source packages are listed as architecture `source`, named by their `.dsc`.
        let sources: Vec<PackageRecord> = m
            .sources
            .iter()
            .filter_map(|r| {
                let dsc = r.files.first()?;
                Some(PackageRecord {
                    dist: r.dist.clone(),
                    component: r.component.clone(),
                    package: r.package.clone(),
                    version: r.version.clone(),
                    architecture: crate::select::SOURCE.to_owned(),
                    filename: format!("{}/{}", r.directory, dsc.name),
                    size: dsc.size,
                    md5: dsc.md5.clone(),
                    sha256: dsc.sha256.clone(),
                    control: r.control.clone(),
                    lists: None,
                })
            })
            .collect();
        let mut out: Vec<PackageRecord> = crate::select::matching(&m.packages, suite, architecture, query)
            .into_iter()
            .cloned()
            .collect();
        out.extend(crate::select::matching(&sources, suite, architecture, query).into_iter().cloned());
        Ok(out)
    }

    // ---- the packages face ----

    /// Maps a path under `packages.<domain>/<repo>/` to what serves it. `dists/<suite or
    /// codename>/...` reads the current snapshot; by-hash paths read the content-addressed
    /// store, which holds every retained snapshot's indices.
    ///
    /// # Errors
    /// Store errors reading the pointer.
    pub async fn resolve(&self, repo: &Repository, path: &str) -> Result<Resolved> {
        if path.is_empty() {
            return Ok(Resolved::Page);
        }
        if path == "key.asc" || path == "key.gpg" {
            return Ok(Resolved::Object {
                key: path.to_owned(),
                immutable: false,
            });
        }
        if path.starts_with("pool/") {
            return Ok(Resolved::Object {
                key: path.to_owned(),
                immutable: true,
            });
        }
        let Some(rest) = path.strip_prefix("dists/") else {
            return Ok(Resolved::NotFound);
        };
        let Some((dist, tail)) = rest.split_once('/') else {
            return Ok(Resolved::NotFound);
        };
        let Some(d) = repo.config.distribution(dist) else {
            return Ok(Resolved::NotFound);
        };
        if let Some((_, h)) = tail.split_once("by-hash/SHA256/") {
            if h.len() == 64 && h.bytes().all(|b| b.is_ascii_hexdigit()) {
                return Ok(Resolved::Object {
                    key: format!("by-hash/SHA256/{}", h.to_ascii_lowercase()),
                    immutable: true,
                });
            }
            return Ok(Resolved::NotFound);
        }
        let Some(id) = self.current_cached(repo).await? else {
            return Ok(Resolved::NotFound);
        };
        Ok(Resolved::Object {
            key: format!("snapshots/{id}/dists/{}/{tail}", d.suite),
            immutable: false,
        })
    }

    /// An index Release lists but that is stored compressed only (`Packages`,
    /// `Contents-<arch>`), for a client that asks for it by name: the text unpacked from the
    /// stored `.gz` at `key` (relative to the repository) as it streams, with that file's
    /// ETag. `None` when there is no such `.gz`.
    ///
    /// # Errors
    /// Store errors.
    pub async fn unpacked(&self, repo: &Repository, key: &str) -> Result<Option<(String, rustshare_store::ByteStream)>> {
        const PART: usize = 64 << 10;
        let g = match self.store().get(&format!("{}{key}", root(repo)), None).await {
            Ok(g) => g,
            Err(rustshare_store::Error::NotFound) => return Ok(None),
            Err(e) => return Err(e.into()),
        };
        let etag = g.meta.etag.clone();
        let bridge = tokio_util::io::SyncIoBridge::new(tokio_util::io::StreamReader::new(g.body));
        // A few parts in flight: the text (40 MB at 100,000 packages) is never held whole.
        let (tx, rx) = tokio::sync::mpsc::channel::<std::io::Result<Bytes>>(4);
        tokio::task::spawn_blocking(move || {
            // Made here: the decoder reads the gzip header as it is made, which blocks.
            let mut reader = flate2::read::MultiGzDecoder::new(bridge);
            loop {
                let mut buf = vec![0u8; PART];
                let part = match std::io::Read::read(&mut reader, &mut buf) {
                    Ok(0) => return,
                    Ok(n) => {
                        buf.truncate(n);
                        Ok(Bytes::from(buf))
                    }
                    Err(e) => Err(e),
                };
                let failed = part.is_err();
                if tx.blocking_send(part).is_err() || failed {
                    return;
                }
            }
        });
        let body = futures::stream::unfold(rx, |mut rx| async move { rx.recv().await.map(|part| (part, rx)) });
        Ok(Some((etag, Box::pin(body))))
    }

    /// Stores one uploaded `.deb` in the repository's incoming prefix (for `rustshare repo add`).
    ///
    /// # Errors
    /// [`Error::Invalid`] for a bad name or target, quota and store errors.
    pub async fn stage(&self, p: &AdminPrincipal, name: &str, dist: &str, component: &str, file: &str, upload: Upload) -> Result<()> {
        let Upload { body: data, len } = upload;
        let repo = self.repository(p, name).await?;
        let Some(d) = repo.config.distribution(dist) else {
            return Err(Error::Invalid(format!("repository {name} has no distribution {dist:?}")));
        };
        if !repo.config.components.iter().any(|c| c == component) {
            return Err(Error::Invalid(format!("repository {name} has no component {component:?}")));
        }
        if file.is_empty() || file.contains(['/', '\\', '\0']) || file.starts_with('.') || file.len() > MAX_FILE_NAME {
            return Err(Error::Invalid(format!(
                "{:?} is not a plain file name of at most {MAX_FILE_NAME} bytes",
                file.chars().take(64).collect::<String>()
            )));
        }
        if len > MAX_DEB {
            return Err(Error::Invalid(format!("a package may be at most {MAX_DEB} bytes")));
        }
        let space = self.inner.control.space(p, &repo.space_id).await?;
        enabled(&space)?;
        let rel = format!("{}{}/{component}/{file}", repo.config.incoming_prefix, d.suite);
        rustshare_control::names::key(&rel).map_err(|e| Error::Invalid(format!("{file:?}: {e}")))?;
        // The quota first, then the bytes stream to the store: nothing is held in memory.
        let reservation = self.inner.control.reserve(&space, len).await?;
        let attrs = ObjectAttrs {
            content_type: Some(DEB_TYPE.to_owned()),
            ..ObjectAttrs::default()
        };
        let m = self
            .store()
            .put(&format!("{}{rel}", space.base_prefix), data, Some(len), attrs)
            .await?;
        let rec = rustshare_control::db::ObjectRecord {
            etag: Some(m.etag),
            modified: Some(m.last_modified),
            ..rustshare_control::db::ObjectRecord::sized(len)
        };
        self.inner.control.object_stored(&space.id, &rel, rec).await?;
        // Held until usage counts the object, so a concurrent upload cannot slip past the quota.
        reservation.release().await;
        Ok(())
    }
}

/// A staged file's body and its declared length (the quota is checked against it before the
/// body is read).
pub struct Upload {
    /// The bytes, streamed to the store.
    pub body: rustshare_store::ByteStream,
    /// Content-Length.
    pub len: u64,
}

/// Publishing into a disabled space is refused like every other write to it.
/// The suite a suite or codename names (checked by [`check_scope`] first).
fn suite_of(repo: &Repository, dist: &str) -> String {
    repo.config.distribution(dist).map(|d| d.suite.clone()).unwrap_or_default()
}

/// The distribution, component and architecture an operation names must be the repository's.
fn check_scope(repo: &Repository, dist: Option<&str>, component: Option<&str>, architecture: Option<&str>) -> Result<()> {
    let c = &repo.config;
    if let Some(d) = dist
        && c.distribution(d).is_none()
    {
        let known: Vec<&str> = c.distributions.iter().map(|d| d.suite.as_str()).collect();
        return Err(Error::Invalid(format!(
            "no distribution {d:?} in {} (it has {})",
            repo.name,
            known.join(", ")
        )));
    }
    if let Some(x) = component
        && !c.components.iter().any(|k| k == x)
    {
        return Err(Error::Invalid(format!(
            "no component {x:?} in {} (it has {})",
            repo.name,
            c.components.join(", ")
        )));
    }
    if let Some(a) = architecture
        && a != "all"
        && a != crate::select::SOURCE
        && !c.architectures.iter().any(|k| k == a)
    {
        return Err(Error::Invalid(format!(
            "no architecture {a:?} in {} (it has {}, all, and source for source packages)",
            repo.name,
            c.architectures.join(", ")
        )));
    }
    Ok(())
}

fn enabled(space: &rustshare_control::model::Space) -> Result<()> {
    if space.disabled_at.is_some() {
        return Err(Error::Invalid(format!(
            "space {} is disabled; enable it before publishing",
            space.bucket
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(name: &str) -> PackageRecord {
        PackageRecord {
            dist: "stable".into(),
            component: "main".into(),
            package: name.into(),
            version: "1.0".into(),
            architecture: "amd64".into(),
            filename: format!("pool/main/p/{name}/{name}_1.0_amd64.deb"),
            size: 10,
            md5: "m".into(),
            sha256: format!("s-{name}"),
            control: format!("Package: {name}\nVersion: 1.0\nArchitecture: amd64\n"),
            lists: None,
        }
    }

    /// One `Packages` of `names`: its text, outline and the pieces made.
    fn indexed(names: &[String], cache: &crate::pieces::Cache) -> (String, Vec<crate::pieces::Span>, crate::pieces::Cache) {
        let records: Vec<PackageRecord> = names.iter().map(|n| record(n)).collect();
        let (text, cuts) = index::packages_text_and_cuts(&records, "main", "amd64");
        let mut used = crate::pieces::Cache::new();
        let (_, _, outline) = crate::pieces::compress_indexed(text.as_bytes(), &cuts, cache, &mut used).expect("compress");
        (text, outline, used)
    }

    #[test]
    fn the_memo_budget_forgets_the_repositories_used_longest_ago() {
        let b = MemoBudget::new(300);
        assert!(b.note("a", 100).is_empty());
        assert!(b.note("b", 100).is_empty());
        assert!(b.note("a", 100).is_empty(), "a is used again");
        assert_eq!(b.note("c", 150), ["b"], "350 > 300: the one used longest ago goes");
        assert_eq!(b.note("c", 1000), ["a"], "never the repository being noted");
        assert!(b.note("c", 1000).is_empty());
    }

    #[tokio::test]
    async fn a_publish_past_the_memo_budget_forgets_other_repositories() {
        let dir = tempfile::tempdir().expect("dir");
        let store = Arc::new(FsStore::open(dir.path()).await.expect("store"));
        let f = fixture(store, rustshare_control::clock::system(), serde_json::json!({})).await;
        let publisher = f.publisher.with_memo_budget(1500);
        let other = Arc::new(Manifest {
            info: SnapshotInfo {
                id: "1".into(),
                created: OffsetDateTime::UNIX_EPOCH,
                parent: None,
                packages: 1,
                changes: Vec::new(),
            },
            packages: vec![record("a")],
            sources: Vec::new(),
            index_sha256: Vec::new(),
        });
        let mut named = f.repo.clone();
        named.name = "other".into();
        publisher.remember_manifest(&named, &other);
        assert!(publisher.inner.manifests.get("other").is_some(), "1 KiB fits");
        publisher.remember_manifest(&f.repo, &other);
        assert!(publisher.inner.manifests.get("other").is_none(), "2 KiB do not: the older goes");
        assert!(publisher.inner.manifests.get("tools").is_some());
    }

    #[test]
    fn a_pdiff_from_the_parents_pieces_equals_the_one_from_its_whole_file() {
        let mut names: Vec<String> = (0..3000).map(|i| format!("p{i:05}")).collect();
        let (old, old_outline, pieces) = indexed(&names, &crate::pieces::Cache::new());
        assert!(old_outline.len() > 5, "several pieces: {}", old_outline.len());
        let index = crate::pdiff::next(None, &Digests::of(old.as_bytes()), "0").expect("first").index;
        let parent = ParentIndex {
            index: Some(index.clone()),
            text: None,
        };
        let outlines = Outlines {
            snapshot: "0".into(),
            by_index: HashMap::from([("stable/main/binary-amd64".to_owned(), old_outline)]),
        };
        // One package more in the middle, one fewer a little further on.
        names.insert(1500, "p01499a".into());
        names.remove(1700);
        let (new, outline, _) = indexed(&names, &pieces);
        let at = "stable/main/binary-amd64";
        let part = old_side(Some(&parent), Some(&outlines), at, &new, &outline, &pieces).expect("from the pieces");
        assert!(
            part.old.len() < old.len() / 4,
            "only what changed is unpacked: {} of {}",
            part.old.len(),
            old.len()
        );
        assert!(part.skipped > 0);
        let sums = Digests::of(new.as_bytes());
        let from_pieces = crate::pdiff::next(Some(part), &sums, "1").expect("next");
        let whole = crate::pdiff::next(Some(crate::pdiff::Old::whole(&old, &new, Some(index))), &sums, "1").expect("next");
        assert_eq!(from_pieces, whole);
        let (_, gz) = from_pieces.patch.expect("a patch");
        let mut script = String::new();
        std::io::Read::read_to_string(&mut flate2::read::GzDecoder::new(&gz[..]), &mut script).expect("gunzip");
        assert!(
            crate::pdiff::tests::apply(&old, &script) == new,
            "the patch turns the old file into the new one"
        );
        // Pieces no longer at hand, or an outline of another snapshot: no part (the history
        // starts again) rather than a wrong one.
        assert!(old_side(Some(&parent), Some(&outlines), at, &new, &outline, &crate::pieces::Cache::new()).is_none());
        assert!(old_side(Some(&parent), None, at, &new, &outline, &pieces).is_none());
    }
    use rustshare_store::{
        ByteRange, ByteStream, CompletedPart, FsStore, GetObject, ListPage, ListRequest, ObjectAttrs, ObjectMeta, ObjectStore, PartInfo,
        UploadInfo,
    };

    /// A real fs store in which an S3 client overwrites an incoming object right after the
    /// publisher read it and before it links the pool file: the interleaving the hardening
    /// issue reproduced with boto3 (3 of 5 publishes), made deterministic.
    struct Racing {
        inner: FsStore,
        replacement: std::sync::Mutex<Option<(String, Bytes)>>,
    }

    #[async_trait::async_trait]
    impl ObjectStore for Racing {
        async fn head(&self, key: &str) -> rustshare_store::Result<ObjectMeta> {
            self.inner.head(key).await
        }
        async fn get(&self, key: &str, range: Option<ByteRange>) -> rustshare_store::Result<GetObject> {
            self.inner.get(key, range).await
        }
        async fn put(&self, key: &str, body: ByteStream, size: Option<u64>, attrs: ObjectAttrs) -> rustshare_store::Result<ObjectMeta> {
            self.inner.put(key, body, size, attrs).await
        }
        async fn delete(&self, key: &str) -> rustshare_store::Result<()> {
            self.inner.delete(key).await
        }
        async fn list(&self, req: &ListRequest) -> rustshare_store::Result<ListPage> {
            self.inner.list(req).await
        }
        async fn copy(&self, src: &str, dst: &str, attrs: Option<ObjectAttrs>) -> rustshare_store::Result<ObjectMeta> {
            self.inner.copy(src, dst, attrs).await
        }
        async fn create_multipart(&self, key: &str, attrs: ObjectAttrs) -> rustshare_store::Result<String> {
            self.inner.create_multipart(key, attrs).await
        }
        async fn upload_part(&self, key: &str, id: &str, n: u32, body: ByteStream, size: Option<u64>) -> rustshare_store::Result<PartInfo> {
            self.inner.upload_part(key, id, n, body, size).await
        }
        async fn complete_multipart(&self, key: &str, id: &str, parts: &[CompletedPart]) -> rustshare_store::Result<ObjectMeta> {
            self.inner.complete_multipart(key, id, parts).await
        }
        async fn abort_multipart(&self, key: &str, id: &str) -> rustshare_store::Result<()> {
            self.inner.abort_multipart(key, id).await
        }
        async fn list_parts(&self, key: &str, id: &str) -> rustshare_store::Result<Vec<PartInfo>> {
            self.inner.list_parts(key, id).await
        }
        async fn list_uploads(&self, prefix: &str) -> rustshare_store::Result<Vec<UploadInfo>> {
            self.inner.list_uploads(prefix).await
        }
        async fn health(&self) -> rustshare_store::Result<()> {
            self.inner.health().await
        }
        async fn clone_batch(&self, pairs: Vec<(String, String)>) -> rustshare_store::Result<()> {
            let swap = self.replacement.lock().ok().and_then(|mut r| r.take());
            if let Some((key, data)) = swap {
                let len = data.len() as u64;
                let body: ByteStream = Box::pin(futures::stream::once(async move { Ok(data) }));
                self.inner.put(&key, body, Some(len), ObjectAttrs::default()).await?;
            }
            self.inner.clone_batch(pairs).await
        }
    }

    use crate::deb::testing::deb;

    /// A repository `tools` (stable/bookworm, main, amd64) in a packages space of tenant acme,
    /// on `store` and a control service on `clock`, with `extra` merged into its config.
    struct Fixture {
        publisher: Publisher,
        control: Control,
        op: rustshare_control::model::AdminPrincipal,
        space: rustshare_control::model::Space,
        repo: Repository,
    }

    async fn fixture(store: Arc<dyn ObjectStore>, clock: Arc<dyn rustshare_control::clock::Clock>, extra: serde_json::Value) -> Fixture {
        let control = Control::with_clock(
            Arc::new(rustshare_control::db::SqliteRepo::in_memory().expect("db")),
            rustshare_control::seal::MasterKey::generate(),
            clock,
        );
        let token = control.bootstrap_operator(None).await.expect("bootstrap").expect("token");
        let op = control.authenticate(&token).await.expect("operator");
        control.create_tenant(&op, "acme").await.expect("tenant");
        let space: rustshare_control::NewSpace =
            serde_json::from_value(serde_json::json!({"tenant": "acme", "name": "debs", "purpose": "packages"})).expect("space");
        let space = control.create_space(&op, space).await.expect("space");
        let mut config = serde_json::json!({
            "distributions": [{"suite": "stable", "codename": "bookworm"}],
            "components": ["main"], "architectures": ["amd64"], "origin": "t", "label": "t",
            "incoming_prefix": "incoming/tools/", "retain": 5
        });
        if let (Some(c), Some(e)) = (config.as_object_mut(), extra.as_object()) {
            c.extend(e.clone());
        }
        let config: RepositoryConfig = serde_json::from_value(config).expect("config");
        let publisher = Publisher::new(store, control.clone());
        let repo = publisher
            .create(&op, &space.bucket, "tools", config, None)
            .await
            .expect("repository");
        Fixture {
            publisher,
            control,
            op,
            space,
            repo,
        }
    }

    /// Puts `data` into the repository's incoming prefix as `name`.
    async fn upload(store: &dyn ObjectStore, f: &Fixture, name: &str, data: Bytes) {
        let len = data.len() as u64;
        let body: ByteStream = Box::pin(futures::stream::once(async move { Ok(data) }));
        let key = format!("{}incoming/tools/{name}", f.space.base_prefix);
        store.put(&key, body, Some(len), ObjectAttrs::default()).await.expect("upload");
    }

    #[tokio::test]
    async fn an_incoming_file_replaced_during_publish_is_refused_and_the_pool_keeps_nothing() {
        let dir = tempfile::tempdir().expect("dir");
        let store = Arc::new(Racing {
            inner: FsStore::open(dir.path()).await.expect("store"),
            replacement: std::sync::Mutex::new(None),
        });
        let f = fixture(store.clone(), rustshare_control::clock::system(), serde_json::json!({})).await;
        let Fixture {
            publisher,
            op,
            space,
            repo,
            ..
        } = &f;
        let incoming = format!("{}incoming/tools/x.deb", space.base_prefix);
        let first = deb("xt", "1.0", b"build one");
        let len = first.len() as u64;
        let body: ByteStream = Box::pin(futures::stream::once(async move { Ok(first) }));
        store.put(&incoming, body, Some(len), ObjectAttrs::default()).await.expect("upload");
        // Between the publisher's read and its link, the same name gets another build.
        *store.replacement.lock().expect("lock") = Some((incoming.clone(), deb("xt", "1.0", b"build two, other bytes")));
        let r = publisher.publish(op, "tools", false).await;
        match r {
            Err(Error::Rejected(e)) => assert!(e[0].contains("changed while it was being published"), "{e:?}"),
            other => panic!("publish of a replaced file must be refused, got {other:?}"),
        }
        let pool = format!("{}pool/main/x/xt/xt_1.0_amd64.deb", root(repo));
        assert!(
            matches!(store.head(&pool).await, Err(rustshare_store::Error::NotFound)),
            "no pool file left behind"
        );
        // Published again, the new bytes are inspected and linked together.
        let report = publisher.publish(op, "tools", false).await.expect("second publish");
        assert_eq!(report.snapshot.packages, 1);
        let m = store.head(&pool).await.expect("pool file");
        let (_, data) = store.get_bytes(&pool, 1 << 20).await.expect("read");
        assert_eq!(m.size, data.len() as u64);
        assert_eq!(
            deb::inspect(&data).expect("deb").digests.sha256,
            hex::encode(<sha2::Sha256 as sha2::Digest>::digest(&data))
        );
    }

    /// Dates come from the control service's clock: a refresh three days on re-signs with the
    /// new Date and Valid-Until, and a node whose clock is behind never dates a snapshot before
    /// its parent (apt would ignore it and keep the older packages).
    #[tokio::test]
    async fn release_dates_follow_the_clock_and_never_go_back() {
        use rustshare_control::clock::Clock as _;
        let dir = tempfile::tempdir().expect("dir");
        let store = Arc::new(FsStore::open(dir.path()).await.expect("store"));
        let clock = rustshare_control::clock::ManualClock::new();
        let f = fixture(store.clone(), clock.clone(), serde_json::json!({"valid_until_days": 7})).await;
        upload(&*store, &f, "x.deb", deb("xt", "1.0", b"one")).await;
        let Fixture { publisher, op, repo, .. } = &f;
        let first = publisher.publish(op, "tools", false).await.expect("publish").snapshot;
        assert_eq!(first.created, clock.wall());

        let release = || async {
            let Resolved::Object { key, .. } = publisher.resolve(repo, "dists/stable/Release").await.expect("resolve") else {
                panic!("no Release")
            };
            // Keys the packages face serves are relative to the repository's root.
            let (_, text) = store.get_bytes(&format!("{}{key}", root(repo)), 1 << 20).await.expect("read");
            let text = String::from_utf8(text.to_vec()).expect("utf-8");
            let field = |name: &str| {
                let line = text.lines().find_map(|l| l.strip_prefix(name)).expect("field");
                let line = line.trim().replace(" UTC", " +0000");
                OffsetDateTime::parse(&line, &time::format_description::well_known::Rfc2822).expect("date")
            };
            (field("Date:"), field("Valid-Until:"))
        };
        let (d1, v1) = release().await;
        assert_eq!((d1, v1 - d1), (clock.wall(), time::Duration::days(7)));

        clock.advance(Duration::from_hours(72));
        let refreshed = publisher.publish(op, "tools", true).await.expect("refresh").snapshot;
        let (d2, v2) = release().await;
        assert_eq!((d2 - d1, v2 - v1), (time::Duration::days(3), time::Duration::days(3)));
        assert!(refreshed.id > first.id);

        // This node's clock falls ten seconds behind the one that wrote the last snapshot.
        clock.rewind(Duration::from_secs(10));
        let behind = publisher.publish(op, "tools", true).await.expect("refresh").snapshot;
        let (d3, _) = release().await;
        assert_eq!(d3, d2, "dated at its parent's date, not before it");
        assert!(behind.id > refreshed.id, "snapshot ids still grow");
    }

    /// A publish waits while another node holds the repository's lease, and gives up by the
    /// control clock, not the system's: the end-to-end test no longer has to wait two minutes
    /// (or sleep at all) to see either.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_publish_waits_for_another_nodes_lease_by_the_clock() {
        let dir = tempfile::tempdir().expect("dir");
        let store = Arc::new(FsStore::open(dir.path()).await.expect("store"));
        let clock = rustshare_control::clock::ManualClock::new();
        let f = fixture(store.clone(), clock.clone(), serde_json::json!({})).await;
        upload(&*store, &f, "late.deb", deb("late", "1.0", b"one")).await;
        let Fixture {
            publisher,
            control,
            op,
            repo,
            ..
        } = &f;
        let before = publisher.current(repo).await.expect("current");
        // Another node publishes this repository (its lease outlives the wait).
        let other = control
            .try_lease("publish:tools", Duration::from_secs(3600))
            .await
            .expect("lease")
            .expect("free");
        let (p, o) = (publisher.clone(), op.clone());
        let waiting = tokio::spawn(async move { p.publish(&o, "tools", false).await });
        // Move the clock past the wait, a step at a time, until the publish answers.
        for _ in 0..500 {
            if waiting.is_finished() {
                break;
            }
            clock.advance(PUBLISH_WAIT / 2);
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        match waiting.await.expect("task") {
            Err(Error::Control(rustshare_control::Error::Conflict(m))) => assert!(m.contains("another node"), "{m}"),
            other => panic!("a publish must not go ahead while another node holds the lease: {other:?}"),
        }
        assert_eq!(publisher.current(repo).await.expect("current"), before, "nothing was published");

        // Once the other node is done (its release is written in the background, and the
        // publish retries until it lands), the same publish goes through.
        drop(other);
        let done = publisher.publish(op, "tools", false).await.expect("publish");
        assert_eq!(done.snapshot.packages, 1);
    }

    /// The bytes recorded against the space after every kind of change equal a full listing of
    /// the repository's data, though only the first publish on a node lists the pool: adds,
    /// a removal, retention deleting pool files, a rollback, and a publish on another node.
    #[tokio::test]
    async fn published_bytes_stay_exact_without_listing_the_pool_again() {
        let dir = tempfile::tempdir().expect("dir");
        let store = Arc::new(FsStore::open(dir.path()).await.expect("store"));
        let clock = rustshare_control::clock::ManualClock::new();
        let f = fixture(
            store.clone(),
            clock.clone(),
            serde_json::json!({"retain": 2, "retain_grace_secs": 60}),
        )
        .await;
        let Fixture {
            publisher,
            control,
            op,
            space,
            repo,
        } = &f;
        let check = |step: &'static str| {
            let (store, control, op, space, repo) = (store.clone(), control.clone(), op.clone(), space.clone(), repo.clone());
            async move {
                let listed: u64 = store.list_all(&root(&repo)).await.expect("list").iter().map(|e| e.size).sum();
                let (_, usage) = control.usage(&op, &space.id).await.expect("usage");
                assert_eq!(usage.published_bytes, listed, "after {step}");
                listed
            }
        };
        upload(&*store, &f, "a.deb", deb("aa", "1.0", &[7u8; 5000])).await;
        publisher.publish(op, "tools", false).await.expect("publish a");
        check("the first publish").await;
        let first = publisher.current(repo).await.expect("current").expect("snapshot");
        upload(&*store, &f, "b.deb", deb("bb", "1.0", &[8u8; 9000])).await;
        publisher.publish(op, "tools", false).await.expect("publish b");
        check("an add").await;
        let scope = Scope {
            dist: "stable",
            component: None,
            architecture: None,
        };
        publisher
            .remove(op, "tools", scope, &[Selector::parse("aa").expect("selector")])
            .await
            .expect("remove a");
        check("a removal").await;
        // Past the grace, retention drops the snapshots beyond two and a's pool file with them.
        clock.advance(Duration::from_secs(120));
        upload(&*store, &f, "c.deb", deb("cc", "1.0", b"c")).await;
        publisher.publish(op, "tools", false).await.expect("publish c");
        let pool_a = format!("{}pool/main/a/aa/aa_1.0_amd64.deb", root(repo));
        assert!(store.head(&pool_a).await.is_err(), "retention deleted a's pool file");
        let before = check("retention").await;
        assert!(
            publisher
                .snapshots(op, "tools")
                .await
                .expect("snapshots")
                .1
                .iter()
                .all(|s| s.id != first)
        );
        let kept = publisher.snapshots(op, "tools").await.expect("snapshots").1;
        publisher.rollback(op, "tools", &kept[1].id).await.expect("rollback");
        check("a rollback").await;
        // Another node (a second publisher, with no tally) publishes; this node's tally is then
        // of an older snapshot and the next publish here measures the pool again.
        let other = Publisher::new(store.clone(), control.clone());
        upload(&*store, &f, "d.deb", deb("dd", "1.0", &[9u8; 3000])).await;
        other.publish(op, "tools", false).await.expect("publish on the other node");
        check("the other node's publish").await;
        upload(&*store, &f, "e.deb", deb("ee", "1.0", b"e")).await;
        publisher.publish(op, "tools", false).await.expect("publish e");
        assert!(check("a publish after the other node's").await > before);
    }

    /// A snapshot written before record chunks (its records inline in manifest.json) is read
    /// by a node that starts cold, which publishes on top of it; a pool file no snapshot names
    /// (a publish killed after linking) is swept by that node's first publish.
    #[tokio::test]
    async fn a_node_without_the_parents_pieces_diffs_against_its_unpacked_gz() {
        let dir = tempfile::tempdir().expect("dir");
        let store = Arc::new(FsStore::open(dir.path()).await.expect("store"));
        let f = fixture(store.clone(), rustshare_control::clock::system(), serde_json::json!({})).await;
        let (op, repo) = (&f.op, &f.repo);
        upload(&*store, &f, "aa.deb", deb("aa", "1.0", b"one")).await;
        f.publisher.publish(op, "tools", false).await.expect("publish");
        upload(&*store, &f, "bb.deb", deb("bb", "1.0", b"two")).await;
        f.publisher.publish(op, "tools", false).await.expect("publish");
        let dir_of = |id: &str| format!("{}snapshots/{id}/dists/stable/main/binary-amd64/", root(repo));
        let parent = f.publisher.current(repo).await.expect("current").expect("snapshot");
        assert!(
            store.head(&format!("{}Packages", dir_of(&parent))).await.is_err(),
            "stored compressed only"
        );
        // Another node, which never saw the parent's pieces, publishes the next change.
        let cold = Publisher::new(store.clone(), f.control.clone());
        upload(&*store, &f, "cc.deb", deb("cc", "1.0", b"three")).await;
        cold.publish(op, "tools", false).await.expect("publish on a cold node");
        let now = cold.current(repo).await.expect("current").expect("snapshot");
        let (_, index) = store
            .get_bytes(&format!("{}Packages.diff/Index", dir_of(&now)), 1 << 20)
            .await
            .expect("index");
        let index = crate::pdiff::DiffIndex::parse(&String::from_utf8_lossy(&index)).expect("parses");
        assert_eq!(index.patches.len(), 2, "the history goes on across nodes");
        let (_, gz) = store
            .get_bytes(&format!("{}Packages.gz", dir_of(&parent)), 1 << 20)
            .await
            .expect("parent");
        let mut old = String::new();
        std::io::Read::read_to_string(&mut flate2::read::MultiGzDecoder::new(&gz[..]), &mut old).expect("gunzip");
        let (_, gz) = store
            .get_bytes(&format!("{}Packages.gz", dir_of(&now)), 1 << 20)
            .await
            .expect("new");
        let mut new = String::new();
        std::io::Read::read_to_string(&mut flate2::read::MultiGzDecoder::new(&gz[..]), &mut new).expect("gunzip");
        let last = index.patches.last().expect("patch");
        let (_, patch) = store
            .get_bytes(&format!("{}Packages.diff/{}.gz", dir_of(&now), last.name), 1 << 20)
            .await
            .expect("patch");
        let mut script = String::new();
        std::io::Read::read_to_string(&mut flate2::read::GzDecoder::new(&patch[..]), &mut script).expect("gunzip");
        assert!(
            crate::pdiff::tests::apply(&old, &script) == new,
            "the patch turns the parent's file into the new one"
        );
    }

    #[tokio::test]
    async fn inline_manifests_are_read_and_a_cold_node_sweeps_orphans() {
        let dir = tempfile::tempdir().expect("dir");
        let store = Arc::new(FsStore::open(dir.path()).await.expect("store"));
        let f = fixture(store.clone(), rustshare_control::clock::system(), serde_json::json!({})).await;
        let Fixture {
            publisher,
            control,
            op,
            space,
            repo,
        } = &f;
        upload(&*store, &f, "aa.deb", deb("aa", "1.0", b"one")).await;
        publisher.publish(op, "tools", false).await.expect("publish");
        // Rewrite the current manifest as the old format and drop the chunks.
        let id = publisher.current(repo).await.expect("current").expect("snapshot");
        let m = publisher.manifest(repo, &id).await.expect("manifest");
        assert_eq!(m.packages.len(), 1);
        let old = serde_json::to_vec(&*m).expect("json");
        let key = format!("{}snapshots/{id}/manifest.json", root(repo));
        let body: ByteStream = Box::pin(futures::stream::once(async move { Ok(Bytes::from(old)) }));
        store.put(&key, body, None, ObjectAttrs::default()).await.expect("old manifest");
        for e in store.list_all(&format!("{}records/", root(repo))).await.expect("list") {
            store.delete(&e.key).await.expect("delete chunk");
        }
        let orphan = format!("{}pool/main/z/zz/zz_9_amd64.deb", root(repo));
        let body: ByteStream = Box::pin(futures::stream::once(async { Ok(Bytes::from_static(b"orphan")) }));
        store.put(&orphan, body, None, ObjectAttrs::default()).await.expect("orphan");
        let cold = Publisher::new(store.clone(), control.clone());
        upload(&*store, &f, "bb.deb", deb("bb", "1.0", b"two")).await;
        cold.publish(op, "tools", false).await.expect("publish on the old format");
        let now = cold.current(repo).await.expect("current").expect("snapshot");
        let m = Publisher::new(store.clone(), control.clone())
            .manifest(repo, &now)
            .await
            .expect("manifest");
        assert_eq!(m.packages.iter().map(|r| r.package.as_str()).collect::<Vec<_>>(), ["aa", "bb"]);
        assert!(store.head(&orphan).await.is_err(), "the orphan was swept");
        let listed: u64 = store.list_all(&root(repo)).await.expect("list").iter().map(|e| e.size).sum();
        let (_, usage) = control.usage(op, &space.id).await.expect("usage");
        assert_eq!(usage.published_bytes, listed);
        // The old snapshot is still readable (rollback offers it).
        assert_eq!(cold.manifest(repo, &id).await.expect("old").packages.len(), 1);
    }
}
