//! The store conformance suite against the in-memory adapters.

use std::sync::Arc;

use pin_activation::{InMemoryPinStore, InMemoryUserStore, testing};

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn in_memory_stores_keep_the_contract() {
    testing::run_all(Arc::new(InMemoryUserStore::new()), Arc::new(InMemoryPinStore::new())).await;
}
