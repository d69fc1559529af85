//! The blob store: the media seam. Bytes are kept under their content
//! address (the SHA-256 of what is stored), so the same bytes uploaded twice
//! are kept once; who may read them is the database's business, not this
//! one's. Two implementations behind `object_store`'s trait: a local
//! directory (the default, one server) and an S3-compatible bucket (several
//! servers sharing one).

use super::MediaError;
use bytes::Bytes;
use futures::StreamExt;
use futures::stream::BoxStream;
use object_store::path::Path as BlobPath;
use object_store::{GetOptions, GetRange, ObjectStore, ObjectStoreExt, PutPayload, WriteMultipart};
use std::ops::Range;
use std::sync::Arc;
use tokio::io::AsyncReadExt;

/// Bytes read from a file per multipart part: big files never sit in memory
/// whole, and S3 wants parts of at least 5 MiB.
const PART_BYTES: usize = 5 * 1024 * 1024;

/// Where blobs live.
#[derive(Clone)]
pub struct Blobs {
    store: Arc<dyn ObjectStore>,
    /// For the log: the directory or bucket.
    pub what: String,
}

/// Part of a blob on its way out.
pub struct BlobRead {
    pub stream: BoxStream<'static, Result<Bytes, MediaError>>,
    /// The bytes the stream covers.
    pub range: Range<u64>,
}

impl Blobs {
    /// `s3://BUCKET[/PREFIX]` (settings from the AWS_* environment), or a
    /// directory path, created if missing.
    pub fn open(location: &str) -> Result<Self, MediaError> {
        let store: Arc<dyn ObjectStore> = if let Some(place) = location.strip_prefix("s3://") {
            let (bucket, prefix) = place.split_once('/').unwrap_or((place, ""));
            let s3 = object_store::aws::AmazonS3Builder::from_env()
                .with_bucket_name(bucket)
                .build()
                .map_err(|source| MediaError::OpenStore {
                    location: location.to_owned(),
                    source,
                })?;
            let prefix = prefix.trim_matches('/');
            if prefix.is_empty() {
                Arc::new(s3)
            } else {
                Arc::new(object_store::prefix::PrefixStore::new(s3, prefix))
            }
        } else {
            std::fs::create_dir_all(location).map_err(|source| MediaError::CreateDir {
                location: location.to_owned(),
                source,
            })?;
            let local = object_store::local::LocalFileSystem::new_with_prefix(location)
                .map_err(|source| MediaError::OpenStore {
                    location: location.to_owned(),
                    source,
                })?
                .with_automatic_cleanup(true);
            Arc::new(local)
        };
        Ok(Self {
            store,
            what: location.to_owned(),
        })
    }

    /// `ab/cd/abcd...`: two levels of fan-out keep directories small.
    fn path(hash: &str) -> BlobPath {
        let (a, b) = (
            &hash[..2.min(hash.len())],
            &hash[2.min(hash.len())..4.min(hash.len())],
        );
        BlobPath::from(format!("{a}/{b}/{hash}"))
    }

    async fn exists(&self, hash: &str) -> Result<bool, MediaError> {
        match self.store.head(&Self::path(hash)).await {
            Ok(_) => Ok(true),
            Err(object_store::Error::NotFound { .. }) => Ok(false),
            Err(err) => Err(err.into()),
        }
    }

    /// Keeps `bytes` as `hash` (nothing to do if it is kept already).
    pub async fn put_bytes(&self, hash: &str, bytes: Vec<u8>) -> Result<(), MediaError> {
        if self.exists(hash).await? {
            return Ok(());
        }
        self.store
            .put(&Self::path(hash), PutPayload::from(bytes))
            .await?;
        Ok(())
    }

    /// Keeps the file at `file` as `hash`, a part at a time.
    pub async fn put_file(&self, hash: &str, file: &std::path::Path) -> Result<(), MediaError> {
        if self.exists(hash).await? {
            return Ok(());
        }
        let upload = self.store.put_multipart(&Self::path(hash)).await?;
        let mut writer = WriteMultipart::new_with_chunk_size(upload, PART_BYTES);
        let mut file = tokio::fs::File::open(file).await?;
        let mut buf = vec![0u8; 256 * 1024];
        loop {
            let read = match file.read(&mut buf).await {
                Ok(0) => break,
                Ok(read) => read,
                Err(err) => {
                    let _ = writer.abort().await;
                    return Err(err.into());
                }
            };
            if let Err(err) = writer.wait_for_capacity(2).await {
                return Err(err.into());
            }
            writer.write(&buf[..read]);
        }
        writer.finish().await?;
        Ok(())
    }

    /// Blob `hash`, all of it or `range` of it.
    pub async fn get(&self, hash: &str, range: Option<Range<u64>>) -> Result<BlobRead, MediaError> {
        let options = GetOptions::new().with_range(range.map(GetRange::Bounded));
        let got = match self.store.get_opts(&Self::path(hash), options).await {
            Ok(got) => got,
            Err(object_store::Error::NotFound { .. }) => return Err(MediaError::NotFound),
            Err(err) => return Err(err.into()),
        };
        let range = got.range.clone();
        Ok(BlobRead {
            stream: got
                .into_stream()
                .map(|r| r.map_err(MediaError::from))
                .boxed(),
            range,
        })
    }

    /// The size of blob `hash`.
    pub async fn size(&self, hash: &str) -> Result<u64, MediaError> {
        match self.store.head(&Self::path(hash)).await {
            Ok(meta) => Ok(meta.size),
            Err(object_store::Error::NotFound { .. }) => Err(MediaError::NotFound),
            Err(err) => Err(err.into()),
        }
    }

    pub async fn delete(&self, hash: &str) -> Result<(), MediaError> {
        match self.store.delete(&Self::path(hash)).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(err) => Err(err.into()),
        }
    }

    /// How many blobs are kept (for tests and operators; it lists them all).
    pub async fn count(&self) -> Result<usize, MediaError> {
        let mut listed = self.store.list(None);
        let mut count = 0;
        while let Some(meta) = listed.next().await {
            meta?;
            count += 1;
        }
        Ok(count)
    }
}
