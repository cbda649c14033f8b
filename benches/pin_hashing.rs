//! PIN hashing per preset: the crate's hasher (pooled memory, off the
//! executor) side by side with plain RustCrypto `argon2` called the default
//! way (`hash_password_into`, a fresh allocation per hash), and the bare
//! computation the hasher performs (`hash::argon2id_into`, `crate_raw`). Same parameters,
//! same 32-byte output. The reference C implementation is compared in
//! `benches/reference/` (a separate crate, so this one never needs libclang).
//!
//! ```sh
//! cargo bench --bench pin_hashing
//! ```

use argon2::{Algorithm, Argon2, Params, Version};
use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use pin_activation::HashPreset;
use pin_activation::hash::{Hasher, Keyring};

const PRESETS: [(&str, HashPreset); 3] = [
    ("testing", HashPreset::Testing),
    ("owasp", HashPreset::Owasp),
    ("rfc9106_low_memory", HashPreset::Rfc9106LowMemory),
];

fn bench(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    for (op, is_verify) in [("hash", false), ("verify", true)] {
        let mut group = c.benchmark_group(format!("pin_{op}"));
        group.sample_size(20);
        for (name, preset) in PRESETS {
            let hasher = Hasher::new(preset, Keyring::none(), 1, None).unwrap();
            let stored = rt.block_on(hasher.hash(b"004271")).unwrap();
            group.bench_with_input(BenchmarkId::new("crate", name), &preset, |b, _| {
                b.to_async(&rt).iter(|| async {
                    if is_verify {
                        assert!(hasher.verify(b"004271", &stored).await.unwrap().matches);
                    } else {
                        hasher.hash(b"004271").await.unwrap();
                    }
                })
            });
            let (m, t, p) = preset.costs();
            let plain = Argon2::new(
                Algorithm::Argon2id,
                Version::V0x13,
                Params::new(m, t, p, Some(32)).unwrap(),
            );
            // the same computation on this thread, no hand-off, no PHC string
            let params = Params::new(m, t, p, Some(32)).unwrap();
            let mut memory = vec![argon2::Block::new(); params.block_count()];
            group.bench_with_input(BenchmarkId::new("crate_raw", name), &preset, |b, _| {
                b.iter(|| {
                    let mut out = [0u8; 32];
                    pin_activation::hash::argon2id_into(
                        &params,
                        None,
                        b"004271",
                        b"saltsaltsaltsalt",
                        &mut out,
                        &mut memory,
                    )
                    .unwrap();
                    out
                })
            });
            // verification is the same computation plus a compare
            group.bench_with_input(BenchmarkId::new("argon2_default", name), &preset, |b, _| {
                b.iter(|| {
                    let mut out = [0u8; 32];
                    plain
                        .hash_password_into(b"004271", b"saltsaltsaltsalt", &mut out)
                        .unwrap();
                    out
                })
            });
        }
        group.finish();
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
