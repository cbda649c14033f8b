//! Rebuilds when a migration changes: `sqlx::migrate!` embeds the files of
//! `migrations/`, and the compiler does not watch them by itself.

fn main() {
    println!("cargo:rerun-if-changed=migrations");
}
