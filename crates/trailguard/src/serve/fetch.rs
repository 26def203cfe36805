//! Fetching objects from S3 ahead of their turn. A worker works its messages one at a time; while it
//! scans and commits one message's objects, the next message's GetObject calls already run on the
//! runtime, so the wait for S3 and the work on the previous object overlap instead of adding up.
//!
//! The contract: a fetch started ahead gives exactly what fetching in turn would (the same call, the
//! same errors, reported by the same code when the object's turn comes); it is only a head start. At
//! most [`AHEAD_OBJECTS`] objects of one message are fetched ahead, and none larger than
//! [`AHEAD_MAX_BYTES`] when the notification gives the size, so memory stays bounded. An object the
//! store already holds (known ETag) is not fetched ahead; what is not taken is aborted when the
//! batch ends ([`Ahead::clear`]) or the worker stops.

use std::collections::HashMap;

use tokio::task::JoinHandle;

use super::message::ObjectRef;
use crate::fix::aws::api_error;

/// The most objects of one message fetched ahead (a CloudTrail notification may name several).
pub(crate) const AHEAD_OBJECTS: usize = 4;

/// An object whose notification says it is larger than this is fetched in turn only.
pub(crate) const AHEAD_MAX_BYTES: u64 = 64 * 1024 * 1024;

/// One object's body and ETag (without quotes), or why it could not be read.
pub(crate) type Fetched = Result<(Vec<u8>, Option<String>), String>;

/// The GetObject call of one object, as a task the runtime can run while the worker does other work.
pub(crate) async fn get_object(s3: aws_sdk_s3::Client, bucket: String, key: String) -> Fetched {
    let out = s3
        .get_object()
        .bucket(bucket)
        .key(key)
        .send()
        .await
        .map_err(|e| api_error("GetObject", &e).to_string())?;
    let etag = out.e_tag().map(super::message::plain_etag);
    let data = out
        .body
        .collect()
        .await
        .map_err(|e| format!("cannot read the object's body: {}", super::chain(e)))?;
    Ok((data.to_vec(), etag))
}

/// The fetches started ahead by one worker, keyed by bucket and key.
#[derive(Default)]
pub(crate) struct Ahead {
    started: HashMap<(String, String), JoinHandle<Fetched>>,
}

impl Ahead {
    /// Whether the object may be fetched ahead (not already started, not too large).
    pub(crate) fn wants(&self, object: &ObjectRef) -> bool {
        self.started.len() < AHEAD_OBJECTS
            && object.size.is_none_or(|size| size <= AHEAD_MAX_BYTES)
            && !self
                .started
                .contains_key(&(object.bucket.clone(), object.key.clone()))
    }

    pub(crate) fn start(&mut self, object: &ObjectRef, fetch: JoinHandle<Fetched>) {
        self.started
            .insert((object.bucket.clone(), object.key.clone()), fetch);
    }

    /// The fetch started for this object, if any; the caller waits for it.
    pub(crate) fn take(&mut self, object: &ObjectRef) -> Option<JoinHandle<Fetched>> {
        self.started
            .remove(&(object.bucket.clone(), object.key.clone()))
    }

    /// Aborts every fetch not taken.
    pub(crate) fn clear(&mut self) {
        for (_, fetch) in self.started.drain() {
            fetch.abort();
        }
    }
}

impl Drop for Ahead {
    fn drop(&mut self) {
        self.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn object(key: &str, size: Option<u64>) -> ObjectRef {
        ObjectRef {
            bucket: "trail".to_owned(),
            key: key.to_owned(),
            size,
            etag: None,
            version_id: None,
        }
    }

    #[test]
    fn at_most_a_few_objects_of_bounded_size_are_fetched_ahead_and_each_once() {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        let done = |n: u8| runtime.spawn(async move { Ok((vec![n], None)) });
        let mut ahead = Ahead::default();
        assert!(!ahead.wants(&object("big", Some(AHEAD_MAX_BYTES + 1))));
        assert!(ahead.wants(&object("small", Some(AHEAD_MAX_BYTES))));
        assert!(ahead.wants(&object("unsized", None)));

        ahead.start(&object("a", None), done(1));
        assert!(!ahead.wants(&object("a", None)), "started once");
        for key in 1..AHEAD_OBJECTS {
            ahead.start(&object(&key.to_string(), None), done(2));
        }
        assert!(!ahead.wants(&object("one more", None)), "bounded");

        let started = ahead.take(&object("a", None)).expect("started");
        assert_eq!(runtime.block_on(started).unwrap(), Ok((vec![1], None)));
        assert!(ahead.take(&object("a", None)).is_none(), "taken once");
        assert!(ahead.wants(&object("one more", None)), "room again");

        ahead.clear();
        assert!(ahead.take(&object("1", None)).is_none());
    }
}
