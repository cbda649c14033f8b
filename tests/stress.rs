//! Concurrency stress (see `common/stress.rs`) on the in-memory stores and,
//! with their features, SQLite and PostgreSQL.

mod common;
#[cfg(any(feature = "sqlite", feature = "postgres"))]
mod sql_support;

use pin_activation::{InMemoryPinStore, InMemoryUserStore};

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn stress_in_memory() {
    common::stress::stress(InMemoryUserStore::new(), InMemoryPinStore::new(), 12, 60).await;
}

#[cfg(feature = "sqlite")]
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn stress_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("stress.db").display());
    let store = pin_activation::SqliteStore::connect(&url).await.unwrap();
    store.migrate().await.unwrap();
    common::stress::stress(store.clone(), store, 8, 40).await;
}

#[cfg(feature = "postgres")]
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn stress_postgres() {
    let Some(schema) = sql_support::pg::schema("stress_postgres").await else {
        return;
    };
    let store = schema.store("stress_postgres").await;
    common::stress::stress(store.clone(), store.clone(), 8, 40).await;
    store.pool().close().await;
    schema.drop().await;
}
