//! The crate's `Owasp` (and other presets') hash next to the reference C
//! argon2 (argon2-kdf) and plain RustCrypto argon2, in one run, same
//! parameters, same 32-byte output. Build the C side with AVX2:
//! `ARGON2_KDF_C_COMPILER_FLAGS=-march=native cargo bench`.

use argon2::{Algorithm, Argon2, Params, Version};
use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use pin_activation::HashPreset;
use pin_activation::hash::{Hasher, Keyring};

fn bench(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let mut group = c.benchmark_group("argon2id_hash");
    group.sample_size(30);
    for (name, preset) in [
        ("owasp", HashPreset::Owasp),
        ("rfc9106_low_memory", HashPreset::Rfc9106LowMemory),
        ("testing", HashPreset::Testing),
    ] {
        let (m, t, p) = preset.costs();
        let hasher = Hasher::new(preset, Keyring::none(), 1, None).unwrap();
        eprintln!("{name}: the crate hashes with its {} block function", hasher.block_function());
        group.bench_function(BenchmarkId::new("crate", name), |b| {
            b.to_async(&rt).iter(|| async { hasher.hash(b"004271").await.unwrap() })
        });
        let plain = Argon2::new(Algorithm::Argon2id, Version::V0x13, Params::new(m, t, p, Some(32)).unwrap());
        group.bench_function(BenchmarkId::new("rustcrypto_default", name), |b| {
            b.iter(|| {
                let mut out = [0u8; 32];
                plain.hash_password_into(b"004271", b"saltsaltsaltsalt", &mut out).unwrap();
                out
            })
        });
        let mut memory = vec![argon2::Block::new(); Params::new(m, t, p, Some(32)).unwrap().block_count()];
        group.bench_function(BenchmarkId::new("rustcrypto_reused_memory", name), |b| {
            b.iter(|| {
                let mut out = [0u8; 32];
                plain.hash_password_into_with_memory(b"004271", b"saltsaltsaltsalt", &mut out, &mut memory[..]).unwrap();
                out
            })
        });
        let salt = *b"saltsaltsaltsalt";
        // same parameters, same bits: the C side computes what the Rust sides compute
        let c_out = argon2_kdf::Hasher::new()
            .algorithm(argon2_kdf::Algorithm::Argon2id)
            .custom_salt(&salt)
            .hash_length(32)
            .iterations(t)
            .memory_cost_kib(m)
            .threads(p)
            .hash(b"004271")
            .unwrap();
        let mut rust_out = [0u8; 32];
        plain.hash_password_into(b"004271", &salt, &mut rust_out).unwrap();
        assert_eq!(c_out.as_bytes(), &rust_out[..], "{name}: C and Rust disagree");
        group.bench_function(BenchmarkId::new("reference_c", name), |b| {
            b.iter(|| {
                argon2_kdf::Hasher::new()
                    .algorithm(argon2_kdf::Algorithm::Argon2id)
                    .custom_salt(&salt)
                    .hash_length(32)
                    .iterations(t)
                    .memory_cost_kib(m)
                    .threads(p)
                    .hash(b"004271")
                    .unwrap()
                    .as_bytes()
                    .len()
            })
        });
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
