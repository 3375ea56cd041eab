//! The embedded filesystem backend.
//!
//! Layout under the root:
//! - `objects/<seg>/<seg>/<last>@o`: one file per object, segments percent-encoded
//!   ([`crate::key`]). The file is the object's bytes followed by a JSON metadata trailer,
//!   its length (u32 LE) and a magic; data first means range reads need no offset arithmetic
//!   and writes can stream before the ETag is known.
//! - `tmp/`: files being written. A write becomes visible by one `rename`, after `fsync`.
//! - `uploads/<id>/`: `info.json` and `<n>.part` files of multipart uploads.

use std::io::SeekFrom;
use std::path::{Path, PathBuf};

use async_trait::async_trait;
use futures::StreamExt;
use md5::{Digest, Md5};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use tokio::fs;
use tokio::io::{AsyncReadExt, AsyncSeekExt, AsyncWriteExt, BufWriter};
use tokio_util::io::ReaderStream;

use crate::key::{self, OBJECT_SUFFIX};
use crate::types::paginate;
use crate::{
    ByteRange, ByteStream, CompletedPart, Error, GetObject, ListEntry, ListPage, ListRequest, ObjectAttrs, ObjectMeta, ObjectStore,
    PartInfo, Result, UploadInfo, multipart_etag,
};

const MAGIC: &[u8; 4] = b"RSO1";
const TRAILER_FIXED: u64 = 8;
/// S3's smallest part size, for every part but the last.
pub const MIN_PART_SIZE: u64 = 5 * 1024 * 1024;
const READ_CHUNK: usize = 256 * 1024;

/// Objects in a local directory.
#[derive(Debug, Clone)]
pub struct FsStore {
    root: PathBuf,
}

#[derive(Serialize, Deserialize)]
struct UploadRecord {
    key: String,
    attrs: ObjectAttrs,
    #[serde(with = "time::serde::rfc3339")]
    initiated: OffsetDateTime,
}

/// Removes a temporary file unless the write it belongs to was committed, so a failed or
/// cancelled upload (client gone, future dropped) leaves nothing behind.
struct TempGuard(Option<PathBuf>);

impl TempGuard {
    fn disarm(&mut self) {
        self.0 = None;
    }
}

impl Drop for TempGuard {
    fn drop(&mut self) {
        if let Some(p) = self.0.take() {
            let _ = std::fs::remove_file(p);
        }
    }
}

impl FsStore {
    /// The directory a listing of `prefix` walks (the deepest one the prefix fully names) and
    /// the key prefix of what is found there.
    fn list_root(&self, prefix: &str) -> Result<(PathBuf, String)> {
        key::validate_prefix(prefix)?;
        // Walk only below the deepest directory the prefix fully names.
        let (dir_key, _) = prefix.rsplit_once('/').unwrap_or(("", ""));
        let mut dir = self.root.join("objects");
        let mut base = String::new();
        if prefix.contains('/') {
            for seg in dir_key.split('/') {
                dir.push(if seg.is_empty() {
                    key::EMPTY_SEGMENT.to_owned()
                } else {
                    key::encode_segment(seg)
                });
                base.push_str(seg);
                base.push('/');
            }
        } else {
            // Whole tree.
        }
        // Defence in depth: whatever the validator let through, the walk stays under the root.
        let objects = self.root.join("objects");
        let inside = dir
            .strip_prefix(&objects)
            .is_ok_and(|rel| rel.components().all(|c| matches!(c, std::path::Component::Normal(_))));
        if !inside {
            return Err(Error::InvalidKey("prefix leaves the store"));
        }
        Ok((dir, base))
    }

    /// Opens (creating if needed) a store rooted at `root`, and clears temporary files that a
    /// crash may have left.
    ///
    /// # Errors
    /// [`Error::Io`] if the directories cannot be created.
    pub async fn open(root: impl Into<PathBuf>) -> Result<Self> {
        let root = root.into();
        for d in ["objects", "tmp", "uploads"] {
            fs::create_dir_all(root.join(d))
                .await
                .map_err(Error::io(format!("creating {}", root.join(d).display())))?;
        }
        let tmp = root.join("tmp");
        if let Ok(mut rd) = fs::read_dir(&tmp).await {
            while let Ok(Some(e)) = rd.next_entry().await {
                let _ = fs::remove_file(e.path()).await;
            }
        }
        Ok(Self { root })
    }

    /// [`FsStore::open`] for callers outside a runtime (tests, tools).
    ///
    /// # Errors
    /// [`Error::Io`] if the directories cannot be created.
    pub fn open_sync(root: impl Into<PathBuf>) -> Result<Self> {
        let root = root.into();
        for d in ["objects", "tmp", "uploads"] {
            std::fs::create_dir_all(root.join(d)).map_err(Error::io(format!("creating {}", root.join(d).display())))?;
        }
        Ok(Self { root })
    }

    fn object_path(&self, key: &str) -> Result<PathBuf> {
        let mut p = self.root.join("objects");
        p.extend(key::fs_components(key)?);
        Ok(p)
    }

    fn upload_dir(&self, upload_id: &str) -> Result<PathBuf> {
        // Upload ids are ours (32 hex digits); anything else could name a path outside `uploads/`.
        if upload_id.len() != 32 || !upload_id.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(Error::NoSuchUpload);
        }
        Ok(self.root.join("uploads").join(upload_id))
    }

    fn temp_path(&self) -> PathBuf {
        self.root.join("tmp").join(uuid::Uuid::new_v4().simple().to_string())
    }

    /// Streams `body` into a new temporary file, appends the trailer `make_meta` builds from the
    /// MD5 and size, syncs, and returns the armed guard with the metadata.
    async fn write_temp<M: Serialize>(
        &self,
        mut body: ByteStream,
        size: Option<u64>,
        make_meta: impl FnOnce(String, u64) -> M,
    ) -> Result<(TempGuard, M)> {
        let tmp = self.temp_path();
        let file = fs::File::create(&tmp).await.map_err(Error::io("creating temporary file"))?;
        let guard = TempGuard(Some(tmp));
        let mut w = BufWriter::with_capacity(READ_CHUNK, file);
        let mut md5 = Md5::new();
        let mut n: u64 = 0;
        while let Some(chunk) = body.next().await {
            let chunk = chunk.map_err(Error::Body)?;
            md5.update(&chunk);
            n += chunk.len() as u64;
            if let Some(s) = size
                && n > s
            {
                return Err(Error::SizeMismatch { declared: s, actual: n });
            }
            w.write_all(&chunk).await.map_err(Error::io("writing temporary file"))?;
        }
        if let Some(s) = size
            && n != s
        {
            return Err(Error::SizeMismatch { declared: s, actual: n });
        }
        let meta = make_meta(hex::encode(md5.finalize()), n);
        finish_file(w, &meta).await?;
        Ok((guard, meta))
    }

    /// Moves a finished temporary file into place, creating parent directories; retries once
    /// if a concurrent delete pruned a parent in between.
    async fn commit(&self, mut guard: TempGuard, dest: &Path) -> Result<()> {
        let Some(tmp) = guard.0.clone() else { return Ok(()) };
        let parent = dest.parent().unwrap_or(&self.root);
        for attempt in 0..3 {
            fs::create_dir_all(parent).await.map_err(Error::io("creating object directory"))?;
            match fs::rename(&tmp, dest).await {
                Ok(()) => {
                    guard.disarm();
                    sync_dir(parent).await;
                    return Ok(());
                }
                Err(e) if e.kind() == std::io::ErrorKind::NotFound && attempt < 2 => {}
                Err(e) if e.kind() == std::io::ErrorKind::IsADirectory || e.raw_os_error() == Some(39) => {
                    return Err(Error::InvalidKey("key collides with an existing directory"));
                }
                Err(e) => return Err(Error::io("committing object")(e)),
            }
        }
        Err(Error::Io {
            context: "committing object".into(),
            source: std::io::ErrorKind::NotFound.into(),
        })
    }

    async fn prune_dirs(&self, mut dir: Option<&Path>) {
        let stop = self.root.join("objects");
        while let Some(d) = dir {
            if d == stop || !d.starts_with(&stop) || fs::remove_dir(d).await.is_err() {
                break;
            }
            dir = d.parent();
        }
    }

    async fn read_upload(&self, key: &str, upload_id: &str) -> Result<(PathBuf, UploadRecord)> {
        let dir = self.upload_dir(upload_id)?;
        let raw = match fs::read(dir.join("info.json")).await {
            Ok(r) => r,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Err(Error::NoSuchUpload),
            Err(e) => return Err(Error::io("reading upload")(e)),
        };
        let rec: UploadRecord = serde_json::from_slice(&raw).map_err(|e| Error::Backend(format!("corrupt upload record: {e}")))?;
        if rec.key != key {
            return Err(Error::NoSuchUpload);
        }
        Ok((dir, rec))
    }

    /// `read` on each key's file, all in one blocking call; answers in the order of `keys`.
    async fn each_file<T: Send + 'static>(&self, keys: &[String], read: impl Fn(&Path) -> Result<T> + Send + 'static) -> Vec<Result<T>> {
        let paths: Vec<Result<PathBuf>> = keys.iter().map(|k| self.object_path(k)).collect();
        let n = paths.len();
        tokio::task::spawn_blocking(move || paths.into_iter().map(|p| p.and_then(|p| read(&p))).collect())
            .await
            .unwrap_or_else(|e| (0..n).map(|_| Err(Error::Backend(format!("reader failed: {e}")))).collect())
    }

    async fn parts(&self, dir: &Path) -> Result<Vec<PartInfo>> {
        let mut out = Vec::new();
        let mut rd = fs::read_dir(dir).await.map_err(Error::io("listing parts"))?;
        while let Some(e) = rd.next_entry().await.map_err(Error::io("listing parts"))? {
            let name = e.file_name();
            if name.to_string_lossy().ends_with(".part") {
                let (_, info, _) = open_with_meta::<PartInfo>(&e.path()).await?;
                out.push(info);
            }
        }
        out.sort_by_key(|p| p.part_number);
        Ok(out)
    }
}

async fn finish_file<M: Serialize>(mut w: BufWriter<fs::File>, meta: &M) -> Result<()> {
    let json = serde_json::to_vec(meta).map_err(|e| Error::Backend(format!("encoding metadata: {e}")))?;
    let len = u32::try_from(json.len()).map_err(|_| Error::Backend("metadata too large".into()))?;
    w.write_all(&json).await.map_err(Error::io("writing metadata"))?;
    w.write_all(&len.to_le_bytes()).await.map_err(Error::io("writing metadata"))?;
    w.write_all(MAGIC).await.map_err(Error::io("writing metadata"))?;
    w.flush().await.map_err(Error::io("flushing object"))?;
    w.get_mut().sync_all().await.map_err(Error::io("syncing object"))?;
    Ok(())
}

/// Writes a batch: every temporary file, one filesystem sync, every rename, one more sync. Each
/// object is still atomic (its data is durable before its name appears) without two syncs each.
fn write_batch(root: &Path, jobs: Vec<(PathBuf, PathBuf, bytes::Bytes, ObjectAttrs)>, known: Option<Vec<String>>) -> Result<()> {
    use std::io::Write as _;
    let etags = known.unwrap_or_else(|| batch_etags(&jobs));
    let mut guards = Vec::with_capacity(jobs.len());
    let mut renames = Vec::with_capacity(jobs.len());
    for ((dest, tmp, data, attrs), etag) in jobs.into_iter().zip(etags) {
        let meta = ObjectMeta {
            size: data.len() as u64,
            etag,
            last_modified: now(),
            attrs,
        };
        let json = serde_json::to_vec(&meta).map_err(|e| Error::Backend(format!("encoding metadata: {e}")))?;
        let len = u32::try_from(json.len()).map_err(|_| Error::Backend("metadata too large".into()))?;
        let mut f = std::io::BufWriter::new(std::fs::File::create(&tmp).map_err(Error::io("creating temporary file"))?);
        guards.push(TempGuard(Some(tmp.clone())));
        for part in [&data[..], &json, &len.to_le_bytes(), MAGIC] {
            f.write_all(part).map_err(Error::io("writing temporary file"))?;
        }
        f.flush().map_err(Error::io("writing temporary file"))?;
        renames.push((tmp, dest));
    }
    let sync = || -> Result<()> {
        let f = std::fs::File::open(root).map_err(Error::io("syncing the store"))?;
        rustix::fs::syncfs(&f).map_err(|e| Error::io("syncing the store")(e.into()))
    };
    sync()?;
    let mut made = std::collections::HashSet::new();
    for ((tmp, dest), guard) in renames.into_iter().zip(guards.iter_mut()) {
        if let Some(parent) = dest.parent()
            && made.insert(parent.to_path_buf())
        {
            std::fs::create_dir_all(parent).map_err(Error::io("creating object directory"))?;
        }
        match std::fs::rename(&tmp, &dest) {
            Ok(()) => guard.disarm(),
            Err(e) if e.kind() == std::io::ErrorKind::IsADirectory || e.raw_os_error() == Some(39) => {
                return Err(Error::InvalidKey("key collides with an existing directory"));
            }
            Err(e) => return Err(Error::io("committing object")(e)),
        }
    }
    sync()
}

/// Up to this many links, [`FsStore::clone_batch`] syncs each directory it linked into; more,
/// the whole filesystem once.
const SYNC_DIRS_UP_TO: usize = 16;

/// Links each `(src, dst, tmp)`: `dst` becomes a second name of `src`'s file.
fn link_run(jobs: &[(PathBuf, PathBuf, PathBuf)]) -> Result<()> {
    // Objects are never modified in place (every write replaces the file), so two names for one
    // file stay two independent objects.
    let mut made = std::collections::HashSet::new();
    for (src, dst, tmp) in jobs {
        if let Some(parent) = dst.parent()
            && made.insert(parent.to_path_buf())
        {
            std::fs::create_dir_all(parent).map_err(Error::io("creating object directory"))?;
        }
        // A link appears whole, so a new name needs no temporary; an existing one is replaced
        // through a temporary link and a rename.
        match std::fs::hard_link(src, dst) {
            Ok(()) => continue,
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound && !src.exists() => return Err(Error::NotFound),
            Err(e) => return Err(Error::io("linking object")(e)),
        }
        match std::fs::hard_link(src, tmp) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Err(Error::NotFound),
            Err(e) => return Err(Error::io("linking object")(e)),
        }
        let mut guard = TempGuard(Some(tmp.clone()));
        std::fs::rename(tmp, dst).map_err(Error::io("committing object"))?;
        guard.disarm();
    }
    Ok(())
}

/// The MD5 ETags of a batch: on every core, and once for items that share one buffer (the
/// publisher writes each index file under two names from one `Bytes`).
fn batch_etags(jobs: &[(PathBuf, PathBuf, bytes::Bytes, ObjectAttrs)]) -> Vec<String> {
    let mut first: std::collections::HashMap<(usize, usize), usize> = std::collections::HashMap::new();
    let owner: Vec<usize> = jobs
        .iter()
        .enumerate()
        .map(|(i, (_, _, d, _))| *first.entry((d.as_ptr() as usize, d.len())).or_insert(i))
        .collect();
    let unique: Vec<usize> = (0..jobs.len()).filter(|i| owner[*i] == *i).collect();
    let threads = std::thread::available_parallelism().map_or(1, std::num::NonZero::get);
    // Largest first, dealt round-robin, so the threads finish together.
    let mut order = unique.clone();
    order.sort_by_key(|i| std::cmp::Reverse(jobs[*i].2.len()));
    let mut digests: Vec<Option<String>> = vec![None; jobs.len()];
    std::thread::scope(|s| {
        let handles: Vec<_> = (0..threads)
            .map(|t| {
                let mine: Vec<usize> = order.iter().copied().skip(t).step_by(threads).collect();
                s.spawn(move || {
                    mine.into_iter()
                        .map(|i| (i, hex::encode(Md5::digest(&jobs[i].2))))
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        for h in handles {
            for (i, d) in h.join().unwrap_or_default() {
                digests[i] = Some(d);
            }
        }
    });
    owner
        .iter()
        .map(|o| digests[*o].clone().unwrap_or_else(|| hex::encode(Md5::digest(&jobs[*o].2))))
        .collect()
}

async fn sync_dir(dir: &Path) {
    if let Ok(f) = fs::File::open(dir).await {
        let _ = f.sync_all().await;
    }
}

/// Opens an object file and reads its trailer: the file, its metadata and the data length.
/// Opens an object (or part) file and reads its metadata trailer with positioned reads, all in
/// the calling thread; returns the file, the metadata and the data length.
fn open_meta_sync<M: for<'de> Deserialize<'de>>(path: &Path) -> Result<(std::fs::File, M, u64)> {
    use std::os::unix::fs::FileExt;
    let f = match std::fs::File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound || e.raw_os_error() == Some(20) => return Err(Error::NotFound),
        Err(e) if e.kind() == std::io::ErrorKind::IsADirectory => return Err(Error::NotFound),
        Err(e) => return Err(Error::io("opening object")(e)),
    };
    let corrupt = |what: &str| Error::Backend(format!("corrupt object file {}: {what}", path.display()));
    let total = f.metadata().map_err(Error::io("reading object"))?.len();
    if total < TRAILER_FIXED {
        return Err(corrupt("too short"));
    }
    let mut fixed = [0u8; 8];
    f.read_exact_at(&mut fixed, total - TRAILER_FIXED)
        .map_err(Error::io("reading object"))?;
    if &fixed[4..] != MAGIC {
        return Err(corrupt("bad magic"));
    }
    let meta_len = u64::from(u32::from_le_bytes([fixed[0], fixed[1], fixed[2], fixed[3]]));
    let data_len = total
        .checked_sub(TRAILER_FIXED + meta_len)
        .ok_or_else(|| corrupt("bad trailer length"))?;
    let mut json = vec![0u8; usize::try_from(meta_len).map_err(|_| corrupt("trailer too large"))?];
    f.read_exact_at(&mut json, data_len).map_err(Error::io("reading object"))?;
    let meta = serde_json::from_slice(&json).map_err(|e| corrupt(&e.to_string()))?;
    Ok((f, meta, data_len))
}

/// [`open_meta_sync`] in one trip to the blocking pool (tokio's file calls would take one each).
async fn open_with_meta<M: for<'de> Deserialize<'de> + Send + 'static>(path: &Path) -> Result<(fs::File, M, u64)> {
    let p = path.to_path_buf();
    let (f, meta, len) = tokio::task::spawn_blocking(move || open_meta_sync::<M>(&p))
        .await
        .map_err(|e| Error::Backend(format!("reader failed: {e}")))??;
    Ok((fs::File::from_std(f), meta, len))
}

/// One entry of an object directory: a subdirectory (its path and key) or an object file.
enum Entry {
    Dir(PathBuf, String),
    Object(PathBuf, String),
}

impl Entry {
    /// The key (an object) or key prefix (a directory) it sorts by.
    fn order(&self) -> &str {
        match self {
            Entry::Dir(_, k) | Entry::Object(_, k) => k,
        }
    }
}

/// The entries of object directory `dir`, keys prefixed with `base`; a missing directory is
/// empty, and names that are neither are skipped.
fn entries(dir: &Path, base: &str) -> Result<Vec<Entry>> {
    let rd = match std::fs::read_dir(dir) {
        Ok(rd) => rd,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(Error::io("listing objects")(e)),
    };
    let mut out = Vec::new();
    for e in rd {
        let e = e.map_err(Error::io("listing objects"))?;
        let name = e.file_name().to_string_lossy().into_owned();
        let ft = e.file_type().map_err(Error::io("listing objects"))?;
        if ft.is_dir() {
            if let Some(seg) = key::dir_segment(&name) {
                out.push(Entry::Dir(e.path(), format!("{base}{seg}/")));
            }
        } else if let Some(stem) = name.strip_suffix(OBJECT_SUFFIX)
            && let Some(seg) = key::decode_segment(stem)
        {
            out.push(Entry::Object(e.path(), format!("{base}{seg}")));
        }
    }
    Ok(out)
}

/// Object files below `dir`, keys prefixed with `base`, depth first, until `visit` says stop.
fn walk(dir: PathBuf, base: String, mut visit: impl FnMut(String, PathBuf) -> std::ops::ControlFlow<()>) -> Result<()> {
    let mut stack = vec![(dir, base)];
    while let Some((dir, base)) = stack.pop() {
        for e in entries(&dir, &base)? {
            match e {
                Entry::Dir(path, key) => stack.push((path, key)),
                Entry::Object(path, key) => {
                    if visit(key, path).is_break() {
                        return Ok(());
                    }
                }
            }
        }
    }
    Ok(())
}

/// Object files below `dir`, keys prefixed with `base`, depth first; a missing directory is empty.
fn walk_sync(dir: PathBuf, base: String, out: &mut Vec<(String, PathBuf)>) -> Result<()> {
    walk(dir, base, |key, path| {
        out.push((key, path));
        std::ops::ControlFlow::Continue(())
    })
}

/// Up to `want` objects below `dir` (keys prefixed with `base`) in key order, those starting
/// with `prefix` and after `after`: directories wholly before the marker or outside the prefix
/// are not read. A directory sorts by its key prefix (ending in `/`), which puts it after the
/// object of the same name and before every longer sibling, as its keys sort.
fn walk_ordered(dir: &Path, base: &str, prefix: &str, after: Option<&str>, want: usize, out: &mut Vec<(String, PathBuf)>) -> Result<()> {
    let mut es = entries(dir, base)?;
    es.sort_by(|a, b| a.order().cmp(b.order()));
    for e in es {
        if out.len() >= want {
            return Ok(());
        }
        match e {
            Entry::Object(path, key) => {
                if key.starts_with(prefix) && after.is_none_or(|a| key.as_str() > a) {
                    out.push((key, path));
                }
            }
            Entry::Dir(path, below) => {
                let may_match = below.starts_with(prefix) || prefix.starts_with(below.as_str());
                // Every key below starts with `below`: all of them sort before a marker that is
                // greater and does not start with it.
                let passed = after.is_some_and(|a| a > below.as_str() && !a.starts_with(below.as_str()));
                if may_match && !passed {
                    walk_ordered(&path, &below, prefix, after, want, out)?;
                }
            }
        }
    }
    Ok(())
}

/// The listing of one level for a `/` delimiter: the objects in `dir`, and for each directory
/// below it that the prefix fully covers, one object inside it standing for the whole
/// directory (the page rolls it up into the common prefix; an object is looked for, because a
/// directory without one is no prefix). Listing a space's top level so reads each directory
/// down to its first object, not every object below.
fn walk_level(dir: &Path, base: &str, prefix: &str, out: &mut Vec<(String, PathBuf)>) -> Result<()> {
    for e in entries(dir, base)? {
        match e {
            // `dir` is the deepest directory the prefix fully names, so a directory the prefix
            // does not cover holds no key that matches it.
            Entry::Dir(path, key) if key.starts_with(prefix) => walk(path, key, |key, path| {
                out.push((key, path));
                std::ops::ControlFlow::Break(())
            })?,
            Entry::Dir(..) => {}
            Entry::Object(path, key) => out.push((key, path)),
        }
    }
    Ok(())
}

fn file_stream(file: fs::File, len: u64) -> ByteStream {
    Box::pin(ReaderStream::with_capacity(file.take(len), READ_CHUNK))
}

/// Reads a whole object file and splits off its metadata trailer.
fn read_whole(path: &Path, limit: u64) -> Result<(ObjectMeta, bytes::Bytes)> {
    let raw = match std::fs::read(path) {
        Ok(r) => r,
        Err(e) if matches!(e.kind(), std::io::ErrorKind::NotFound | std::io::ErrorKind::IsADirectory) || e.raw_os_error() == Some(20) => {
            return Err(Error::NotFound);
        }
        Err(e) => return Err(Error::io("reading object")(e)),
    };
    let corrupt = |what: &str| Error::Backend(format!("corrupt object file {}: {what}", path.display()));
    let total = raw.len();
    let fixed_at = total.checked_sub(8).ok_or_else(|| corrupt("too short"))?;
    if &raw[fixed_at + 4..] != MAGIC {
        return Err(corrupt("bad magic"));
    }
    let meta_len = u32::from_le_bytes([raw[fixed_at], raw[fixed_at + 1], raw[fixed_at + 2], raw[fixed_at + 3]]) as usize;
    let data_len = fixed_at.checked_sub(meta_len).ok_or_else(|| corrupt("bad trailer length"))?;
    let meta: ObjectMeta = serde_json::from_slice(&raw[data_len..fixed_at]).map_err(|e| corrupt(&e.to_string()))?;
    if meta.size > limit {
        return Err(Error::Backend(format!("object is {} bytes, more than {limit}", meta.size)));
    }
    let mut raw = raw;
    raw.truncate(data_len);
    Ok((meta, bytes::Bytes::from(raw)))
}

#[async_trait]
impl ObjectStore for FsStore {
    async fn head(&self, key: &str) -> Result<ObjectMeta> {
        let (_, meta, _) = open_with_meta::<ObjectMeta>(&self.object_path(key)?).await?;
        Ok(meta)
    }

    async fn get(&self, key: &str, range: Option<ByteRange>) -> Result<GetObject> {
        let (mut f, meta, len) = open_with_meta::<ObjectMeta>(&self.object_path(key)?).await?;
        let range = range.map(|r| r.resolve(len)).transpose()?;
        let (start, n) = match range {
            Some((a, b)) => (a, b - a + 1),
            None => (0, len),
        };
        f.seek(SeekFrom::Start(start)).await.map_err(Error::io("reading object"))?;
        Ok(GetObject {
            meta,
            range,
            body: file_stream(f, n),
        })
    }

    async fn get_bytes(&self, key: &str, limit: u64) -> Result<(ObjectMeta, bytes::Bytes)> {
        let path = self.object_path(key)?;
        tokio::task::spawn_blocking(move || read_whole(&path, limit))
            .await
            .map_err(|e| Error::Backend(format!("reader failed: {e}")))?
    }

    async fn get_bytes_batch(&self, keys: Vec<String>, limit: u64) -> Vec<Result<(ObjectMeta, bytes::Bytes)>> {
        self.each_file(&keys, move |p| read_whole(p, limit)).await
    }

    async fn head_batch(&self, keys: Vec<String>) -> Vec<Result<ObjectMeta>> {
        self.each_file(&keys, |p| open_meta_sync::<ObjectMeta>(p).map(|(_, m, _)| m)).await
    }

    async fn put_batch(&self, items: Vec<(String, bytes::Bytes, ObjectAttrs)>) -> Result<()> {
        let mut jobs = Vec::with_capacity(items.len());
        for (key, data, attrs) in items {
            jobs.push((self.object_path(&key)?, self.temp_path(), data, attrs));
        }
        let root = self.root.clone();
        tokio::task::spawn_blocking(move || write_batch(&root, jobs, None))
            .await
            .map_err(|e| Error::Backend(format!("batch writer failed: {e}")))?
    }

    async fn put_batch_hashed(&self, items: Vec<(String, bytes::Bytes, ObjectAttrs, String)>) -> Result<()> {
        let mut jobs = Vec::with_capacity(items.len());
        let mut etags = Vec::with_capacity(items.len());
        for (key, data, attrs, md5) in items {
            // An ETag is 32 lower-case hex digits; anything else is hashed here.
            let md5 = if md5.len() == 32 && md5.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)) {
                md5
            } else {
                hex::encode(Md5::digest(&data))
            };
            debug_assert_eq!(md5, hex::encode(Md5::digest(&data)), "the caller's MD5 of {key}");
            jobs.push((self.object_path(&key)?, self.temp_path(), data, attrs));
            etags.push(md5);
        }
        let root = self.root.clone();
        tokio::task::spawn_blocking(move || write_batch(&root, jobs, Some(etags)))
            .await
            .map_err(|e| Error::Backend(format!("batch writer failed: {e}")))?
    }

    async fn clone_batch(&self, pairs: Vec<(String, String)>) -> Result<()> {
        let mut jobs = Vec::with_capacity(pairs.len());
        for (src, dst) in &pairs {
            jobs.push((self.object_path(src)?, self.object_path(dst)?, self.temp_path()));
        }
        let root = self.root.clone();
        tokio::task::spawn_blocking(move || {
            // Linking is directory work the kernel does in parallel (100,000 new pool
            // directories and links for a Debian-sized publish): a run of the pairs per core.
            let threads = std::thread::available_parallelism().map_or(1, std::num::NonZero::get).min(8);
            let per = jobs.len().div_ceil(threads).max(1);
            std::thread::scope(|s| {
                let handles: Vec<_> = jobs.chunks(per).map(|run| s.spawn(move || link_run(run))).collect();
                handles.into_iter().try_for_each(|h| {
                    h.join()
                        .unwrap_or_else(|_| Err(Error::Backend("batch link thread panicked".into())))
                })
            })?;
            // A few links (a versioned write keeping the current version) make their directories
            // durable one by one; a publish's thousands sync the filesystem once instead.
            if jobs.len() <= SYNC_DIRS_UP_TO {
                let dirs: std::collections::BTreeSet<&Path> = jobs.iter().filter_map(|(_, dst, _)| dst.parent()).collect();
                for d in dirs {
                    std::fs::File::open(d)
                        .and_then(|f| f.sync_all())
                        .map_err(Error::io("syncing an object directory"))?;
                }
                return Ok(());
            }
            let f = std::fs::File::open(&root).map_err(Error::io("syncing the store"))?;
            rustix::fs::syncfs(&f).map_err(|e| Error::io("syncing the store")(e.into()))
        })
        .await
        .map_err(|e| Error::Backend(format!("batch link failed: {e}")))?
    }

    async fn delete_batch(&self, keys: Vec<String>) -> Result<()> {
        let stop = self.root.join("objects");
        let mut paths = Vec::with_capacity(keys.len());
        for k in &keys {
            paths.push(self.object_path(k)?);
        }
        tokio::task::spawn_blocking(move || {
            for p in paths {
                match std::fs::remove_file(&p) {
                    Ok(()) => {
                        let mut dir = p.parent();
                        while let Some(d) = dir {
                            if d == stop || !d.starts_with(&stop) || std::fs::remove_dir(d).is_err() {
                                break;
                            }
                            dir = d.parent();
                        }
                    }
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound || e.raw_os_error() == Some(20) => {}
                    Err(e) => return Err(Error::io("deleting object")(e)),
                }
            }
            Ok(())
        })
        .await
        .map_err(|e| Error::Backend(format!("batch delete failed: {e}")))?
    }

    async fn put(&self, key: &str, body: ByteStream, size: Option<u64>, attrs: ObjectAttrs) -> Result<ObjectMeta> {
        let dest = self.object_path(key)?;
        let (guard, meta) = self
            .write_temp(body, size, |etag, size| ObjectMeta {
                size,
                etag,
                last_modified: now(),
                attrs,
            })
            .await?;
        self.commit(guard, &dest).await?;
        Ok(meta)
    }

    async fn delete(&self, key: &str) -> Result<()> {
        let path = self.object_path(key)?;
        match fs::remove_file(&path).await {
            Ok(()) => {
                self.prune_dirs(path.parent()).await;
                Ok(())
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound || e.raw_os_error() == Some(20) => Ok(()),
            Err(e) => Err(Error::io("deleting object")(e)),
        }
    }

    async fn list(&self, req: &ListRequest) -> Result<ListPage> {
        if let Some(a) = &req.start_after {
            key::validate_prefix(a)?;
        }
        let (dir, base) = self.list_root(&req.prefix)?;
        let req = req.clone();
        // The walk and the page's metadata in one blocking call: per-file async IO would make
        // several trips to the blocking pool for every object listed.
        tokio::task::spawn_blocking(move || {
            let mut found = Vec::new();
            match req.delimiter.as_deref() {
                Some("/") => walk_level(&dir, &base, &req.prefix, &mut found)?,
                // A page of a flat listing reads the tree in key order from its marker and stops
                // after one more object than it shows: paging through 100,000 objects had walked
                // them all once per page (ListObjectsV2 at 4,000 keys/s).
                None => {
                    let want = req.max_keys.clamp(1, 1000) + 1;
                    walk_ordered(&dir, &base, &req.prefix, req.start_after.as_deref(), want, &mut found)?;
                }
                Some(_) => walk_sync(dir, base, &mut found)?,
            }
            found.sort_by(|a, b| a.0.cmp(&b.0));
            let entries = found
                .iter()
                .map(|(k, _)| ListEntry {
                    key: k.clone(),
                    size: 0,
                    etag: String::new(),
                    last_modified: OffsetDateTime::UNIX_EPOCH,
                })
                .collect();
            let mut page = paginate(entries, &req);
            let paths: std::collections::HashMap<String, PathBuf> = found.into_iter().collect();
            for e in &mut page.entries {
                // Objects deleted since the walk simply keep placeholder metadata out of the page.
                if let Some(Ok((_, m, _))) = paths.get(&e.key).map(|p| open_meta_sync::<ObjectMeta>(p)) {
                    e.size = m.size;
                    e.etag = m.etag;
                    e.last_modified = m.last_modified;
                }
            }
            Ok(page)
        })
        .await
        .map_err(|e| Error::Backend(format!("listing failed: {e}")))?
    }

    /// One walk for the whole listing: [`ObjectStore::list`] walks the tree below the prefix
    /// for every page of 1,000, so paging through 100,000 objects walked them a hundred times
    /// (measured: 103 s to list a 100,000-package repository, which a publish does to account
    /// for its bytes).
    async fn list_all(&self, prefix: &str) -> Result<Vec<ListEntry>> {
        let (dir, base) = self.list_root(prefix)?;
        let prefix = prefix.to_owned();
        tokio::task::spawn_blocking(move || {
            let mut found = Vec::new();
            walk_sync(dir, base, &mut found)?;
            found.retain(|(k, _)| k.starts_with(&prefix));
            found.sort_by(|a, b| a.0.cmp(&b.0));
            Ok(found
                .into_iter()
                .filter_map(|(key, path)| {
                    // An object deleted since the walk is not listed.
                    let (_, m, _) = open_meta_sync::<ObjectMeta>(&path).ok()?;
                    Some(ListEntry {
                        key,
                        size: m.size,
                        etag: m.etag,
                        last_modified: m.last_modified,
                    })
                })
                .collect())
        })
        .await
        .map_err(|e| Error::Backend(format!("listing failed: {e}")))?
    }

    async fn copy(&self, src: &str, dst: &str, attrs: Option<ObjectAttrs>) -> Result<ObjectMeta> {
        let got = self.get(src, None).await?;
        let size = got.meta.size;
        let attrs = attrs.unwrap_or(got.meta.attrs);
        self.put(dst, got.body, Some(size), attrs).await
    }

    async fn create_multipart(&self, key: &str, attrs: ObjectAttrs) -> Result<String> {
        key::validate(key)?;
        self.object_path(key)?;
        let id = uuid::Uuid::new_v4().simple().to_string();
        let dir = self.upload_dir(&id)?;
        fs::create_dir_all(&dir).await.map_err(Error::io("creating upload"))?;
        let rec = UploadRecord {
            key: key.to_owned(),
            attrs,
            initiated: now(),
        };
        let json = serde_json::to_vec(&rec).map_err(|e| Error::Backend(e.to_string()))?;
        fs::write(dir.join("info.json"), json).await.map_err(Error::io("creating upload"))?;
        Ok(id)
    }

    async fn upload_part(&self, key: &str, upload_id: &str, part_number: u32, body: ByteStream, size: Option<u64>) -> Result<PartInfo> {
        if !(1..=10_000).contains(&part_number) {
            return Err(Error::InvalidPart(format!("part number {part_number} is outside 1..=10000")));
        }
        let (dir, _) = self.read_upload(key, upload_id).await?;
        let (guard, info) = self
            .write_temp(body, size, |etag, size| PartInfo {
                part_number,
                etag,
                size,
                last_modified: now(),
            })
            .await?;
        // The upload may have been aborted while the part streamed in.
        if fs::metadata(dir.join("info.json")).await.is_err() {
            return Err(Error::NoSuchUpload);
        }
        self.commit(guard, &dir.join(format!("{part_number}.part"))).await?;
        Ok(info)
    }

    async fn complete_multipart(&self, key: &str, upload_id: &str, parts: &[CompletedPart]) -> Result<ObjectMeta> {
        let (dir, rec) = self.read_upload(key, upload_id).await?;
        if parts.is_empty() {
            return Err(Error::InvalidPart("no parts given".into()));
        }
        if parts.windows(2).any(|w| w[0].part_number >= w[1].part_number) {
            return Err(Error::InvalidPartOrder);
        }
        let stored = self.parts(&dir).await?;
        let mut chosen = Vec::with_capacity(parts.len());
        for (i, p) in parts.iter().enumerate() {
            let s = stored
                .iter()
                .find(|s| s.part_number == p.part_number)
                .ok_or_else(|| Error::InvalidPart(format!("part {} was not uploaded", p.part_number)))?;
            if s.etag != p.etag.trim_matches('"') {
                return Err(Error::InvalidPart(format!("part {} has a different ETag", p.part_number)));
            }
            if i + 1 < parts.len() && s.size < MIN_PART_SIZE {
                return Err(Error::InvalidPart(format!(
                    "EntityTooSmall: part {} is smaller than 5 MiB",
                    p.part_number
                )));
            }
            chosen.push(s.clone());
        }
        let etags: Vec<&str> = chosen.iter().map(|p| p.etag.as_str()).collect();
        let etag = multipart_etag(&etags)?;
        let size: u64 = chosen.iter().map(|p| p.size).sum();
        let tmp = self.temp_path();
        let file = fs::File::create(&tmp).await.map_err(Error::io("creating temporary file"))?;
        let guard = TempGuard(Some(tmp));
        let mut w = BufWriter::with_capacity(READ_CHUNK, file);
        for p in &chosen {
            let (mut f, _, len) = open_with_meta::<PartInfo>(&dir.join(format!("{}.part", p.part_number))).await?;
            f.seek(SeekFrom::Start(0)).await.map_err(Error::io("reading part"))?;
            let mut r = f.take(len);
            tokio::io::copy(&mut r, &mut w).await.map_err(Error::io("assembling parts"))?;
        }
        let meta = ObjectMeta {
            size,
            etag,
            last_modified: now(),
            attrs: rec.attrs,
        };
        finish_file(w, &meta).await?;
        let dest = self.object_path(key)?;
        self.commit(guard, &dest).await?;
        let _ = fs::remove_dir_all(&dir).await;
        Ok(meta)
    }

    async fn abort_multipart(&self, key: &str, upload_id: &str) -> Result<()> {
        let (dir, _) = self.read_upload(key, upload_id).await?;
        fs::remove_dir_all(&dir).await.map_err(Error::io("aborting upload"))
    }

    async fn list_parts(&self, key: &str, upload_id: &str) -> Result<Vec<PartInfo>> {
        let (dir, _) = self.read_upload(key, upload_id).await?;
        self.parts(&dir).await
    }

    async fn list_uploads(&self, prefix: &str) -> Result<Vec<UploadInfo>> {
        let mut out = Vec::new();
        let mut rd = fs::read_dir(self.root.join("uploads"))
            .await
            .map_err(Error::io("listing uploads"))?;
        while let Some(e) = rd.next_entry().await.map_err(Error::io("listing uploads"))? {
            let Ok(raw) = fs::read(e.path().join("info.json")).await else {
                continue;
            };
            let Ok(rec) = serde_json::from_slice::<UploadRecord>(&raw) else {
                continue;
            };
            if rec.key.starts_with(prefix) {
                out.push(UploadInfo {
                    key: rec.key,
                    upload_id: e.file_name().to_string_lossy().into_owned(),
                    initiated: rec.initiated,
                });
            }
        }
        out.sort_by(|a, b| (&a.key, a.initiated).cmp(&(&b.key, b.initiated)));
        Ok(out)
    }

    async fn health(&self) -> Result<()> {
        fs::metadata(self.root.join("objects"))
            .await
            .map(|_| ())
            .map_err(Error::io("checking store root"))
    }
}

fn now() -> OffsetDateTime {
    // S3 reports whole seconds; keeping sub-seconds would make Last-Modified and
    // If-Modified-Since comparisons disagree.
    let t = OffsetDateTime::now_utc();
    t.replace_nanosecond(0).unwrap_or(t)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The fs store alone (no validator in front of it) never walks outside its root.
    #[tokio::test]
    async fn listing_never_leaves_the_root() {
        let dir = tempfile::tempdir().expect("tempdir");
        let root = dir.path().join("store");
        let st = FsStore::open(&root).await.expect("open");
        // A decoy the walk would find if `..` were joined into the path.
        std::fs::create_dir_all(dir.path().join("outside")).expect("decoy dir");
        std::fs::write(dir.path().join("outside").join("secret@o"), b"x").expect("decoy");
        let body = || -> ByteStream { Box::pin(futures::stream::iter([Ok::<_, std::io::Error>(bytes::Bytes::from_static(b"hi"))])) };
        st.put("t/s/a.txt", body(), Some(2), ObjectAttrs::default()).await.expect("put");
        for prefix in ["../", "../../", "t/../../", "t/s/../../../outside/", "..", "/", "t/\0/"] {
            let req = ListRequest {
                prefix: prefix.to_owned(),
                delimiter: Some("/".into()),
                start_after: None,
                max_keys: 1000,
            };
            assert!(matches!(st.list(&req).await, Err(Error::InvalidKey(_))), "{prefix:?} was listed");
        }
        let req = ListRequest {
            prefix: "t/".into(),
            delimiter: None,
            start_after: Some("t/../../x".into()),
            max_keys: 1000,
        };
        assert!(matches!(st.list(&req).await, Err(Error::InvalidKey(_))));
        let ok = ListRequest {
            prefix: "t/s/".into(),
            delimiter: None,
            start_after: None,
            max_keys: 1000,
        };
        let page = st.list(&ok).await.expect("list");
        assert_eq!(page.entries.iter().map(|e| e.key.as_str()).collect::<Vec<_>>(), ["t/s/a.txt"]);
    }

    proptest::proptest! {
        #![proptest_config(proptest::test_runner::Config { cases: 128, ..Default::default() })]

        /// Whatever prefix and marker a caller passes, a listing either is refused or walks and
        /// returns only what lies under the prefix inside the root: never the decoy beside it.
        #[test]
        fn no_listing_leaves_the_root(
            segs in proptest::collection::vec(proptest::prop_oneof![
                proptest::strategy::Just("..".to_owned()),
                proptest::strategy::Just(".".to_owned()),
                proptest::strategy::Just(String::new()),
                proptest::strategy::Just("t".to_owned()),
                proptest::strategy::Just("outside".to_owned()),
                "[a-z./\\\\%]{0,4}",
            ], 0..6),
            marker in proptest::option::of("[a-z./]{0,8}"),
        ) {
            let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
            let dir = tempfile::tempdir().expect("tempdir");
            let root = dir.path().join("store");
            rt.block_on(async {
                let st = FsStore::open(&root).await.expect("open");
                std::fs::create_dir_all(dir.path().join("outside")).expect("decoy dir");
                std::fs::write(dir.path().join("outside").join("secret@o"), b"x").expect("decoy");
                let body: ByteStream = Box::pin(futures::stream::iter([Ok::<_, std::io::Error>(bytes::Bytes::from_static(b"hi"))]));
                st.put("t/a", body, Some(2), ObjectAttrs::default()).await.expect("put");
                let prefix = segs.join("/");
                let req = ListRequest { prefix: prefix.clone(), delimiter: Some("/".into()), start_after: marker, max_keys: 1000 };
                if let Ok(page) = st.list(&req).await {
                    for k in page.entries.iter().map(|e| &e.key).chain(page.common_prefixes.iter()) {
                        assert!(k.starts_with(&prefix), "{k:?} outside prefix {prefix:?}");
                        assert!(!k.contains("secret") && !k.contains(".."), "{k:?} listed for {prefix:?}");
                    }
                }
            });
        }
    }
}
