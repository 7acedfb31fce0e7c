//! The in-memory store keeps the `Store` contract, and every flow over it completes once.

use twostep_enrollment::memory::MemoryStore;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_memory_store_conforms() {
    twostep_enrollment::conformance::run(|| async { MemoryStore::default() }).await;
}
