//! The in-memory store keeps the `Store` contract, and every flow over it completes once.

use twostep_enrollment::memory::MemoryStore;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_memory_store_conforms() {
    twostep_enrollment::conformance::run(|| async { MemoryStore::default() }).await;
}

/// Two handles on one in-memory store: shared `Arc`s, as a server's tasks hold it.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_handles_on_the_memory_store_race_fairly() {
    twostep_enrollment::conformance::races_between_handles(|| async {
        let store = std::sync::Arc::new(MemoryStore::default());
        (std::sync::Arc::clone(&store), store)
    })
    .await;
}
