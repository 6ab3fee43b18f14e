//! One contract for every thread store, the public suite `remedy::testing::conformance::thread`
//! (the first parent of a thread holds, in every process; racing first messages keep one
//! parent), run against memory, files (two handles on one directory, as two processes on one
//! machine) and, when `AWS_ENDPOINT_URL` is set (moto, see `scripts/test.sh`), DynamoDB; without
//! it the DynamoDB part says it did not run.

use std::sync::Arc;

use remedy::store::{FileThreads, MemoryThreads, ThreadKey, ThreadStore};
use remedy::testing::conformance;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_thread_store_keeps_the_first_parent() {
    let memory: Arc<dyn ThreadStore> = Arc::new(MemoryThreads::new());
    conformance::thread::all(Arc::clone(&memory), memory)
        .await
        .unwrap();

    let dir = tempfile::tempdir().unwrap();
    let a: Arc<dyn ThreadStore> = Arc::new(FileThreads::open(dir.path()).unwrap());
    let b: Arc<dyn ThreadStore> = Arc::new(FileThreads::open(dir.path()).unwrap());
    conformance::thread::all(a, b).await.unwrap();

    #[cfg(feature = "aws")]
    match std::env::var("AWS_ENDPOINT_URL") {
        Ok(url) => {
            use remedy::aws::{AwsSettings, StateTable};
            let settings = AwsSettings::default()
                .with_endpoint_url(url)
                .with_region("us-east-1")
                .with_static_credentials("testing", "testing");
            let name = format!("thread-conformance-{}", std::process::id());
            let one = StateTable::new(&settings, &name, 1).await;
            one.init().await.unwrap();
            let two = StateTable::new(&settings, &name, 1).await;
            conformance::thread::all(Arc::new(one.threads()), Arc::new(two.threads()))
                .await
                .unwrap();
        }
        Err(_) => eprintln!(
            "dynamodb threads not tested: AWS_ENDPOINT_URL is not set (run scripts/test.sh)"
        ),
    }
}

#[tokio::test]
async fn a_file_thread_outlives_its_process_and_ignores_a_garbled_file() {
    let dir = tempfile::tempdir().unwrap();
    let key = ThreadKey::new("slack:C1", "finding-1");
    FileThreads::open(dir.path())
        .unwrap()
        .set_parent(&key, "1700000000.000100")
        .await
        .unwrap();
    // A new handle, as after a restart.
    let again = FileThreads::open(dir.path()).unwrap();
    assert_eq!(
        again.parent(&key).await.unwrap().as_deref(),
        Some("1700000000.000100")
    );
    // The file is named by a digest, never by the finding's text.
    let names: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    assert_eq!(names, [key.digest()]);
    std::fs::write(dir.path().join(key.digest()), "bad\nparent\u{7}").unwrap();
    assert_eq!(again.parent(&key).await.unwrap(), None);
}
