//! The crate's `Owasp` (and other presets') hash next to the reference C
//! argon2 (argon2-kdf) and plain RustCrypto argon2, in one run, same
//! parameters, same 32-byte output. Build the C side with AVX2:
//! `ARGON2_KDF_C_COMPILER_FLAGS=-march=native cargo bench`.
//!
//! The C library's call allocates its memory area for every hash and wipes
//! it before freeing it; the crate's hasher pools its areas. So the crate is
//! also timed the C library's way (`crate_raw_fresh_wiped_memory`).

use argon2::{Algorithm, Argon2, Params, Version};
use criterion::{BenchmarkId, Criterion, criterion_group};
use pin_activation::HashPreset;
use pin_activation::hash::{Hasher, Keyring};

const SALT: [u8; 16] = *b"saltsaltsaltsalt";

/// One hash through the reference C library's default call (it allocates
/// its memory area and wipes it before freeing it).
fn c_hash(preset: HashPreset) -> Vec<u8> {
    let (m, t, p) = preset.costs();
    argon2_kdf::Hasher::new()
        .algorithm(argon2_kdf::Algorithm::Argon2id)
        .custom_salt(&SALT)
        .hash_length(32)
        .iterations(t)
        .memory_cost_kib(m)
        .threads(p)
        .hash(b"004271")
        .unwrap()
        .as_bytes()
        .to_vec()
}

/// The crate's bare computation done the C library's way: a fresh area per
/// hash, wiped before it is freed.
fn crate_fresh_wiped(params: &Params) -> [u8; 32] {
    use zeroize::Zeroize;
    let mut out = [0u8; 32];
    let mut memory = vec![argon2::Block::new(); params.block_count()];
    pin_activation::hash::argon2id_into(params, None, b"004271", &SALT, &mut out, &mut memory).unwrap();
    memory.zeroize();
    out
}

fn bench(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let mut group = c.benchmark_group("argon2id_hash");
    group.sample_size(30);
    for (name, preset) in [
        ("owasp", HashPreset::Owasp),
        ("rfc9106_low_memory", HashPreset::Rfc9106LowMemory),
        ("testing", HashPreset::Testing),
    ] {
        let (m, t, p) = preset.costs();
        let hasher = Hasher::new(preset, Keyring::none(), 1, None).unwrap();
        eprintln!(
            "{name}: the crate hashes with its {} block function",
            hasher.block_function()
        );
        group.bench_function(BenchmarkId::new("crate", name), |b| {
            b.to_async(&rt).iter(|| async { hasher.hash(b"004271").await.unwrap() })
        });
        let plain = Argon2::new(
            Algorithm::Argon2id,
            Version::V0x13,
            Params::new(m, t, p, Some(32)).unwrap(),
        );
        group.bench_function(BenchmarkId::new("rustcrypto_default", name), |b| {
            b.iter(|| {
                let mut out = [0u8; 32];
                plain
                    .hash_password_into(b"004271", b"saltsaltsaltsalt", &mut out)
                    .unwrap();
                out
            })
        });
        let mut memory = vec![argon2::Block::new(); Params::new(m, t, p, Some(32)).unwrap().block_count()];
        group.bench_function(BenchmarkId::new("rustcrypto_reused_memory", name), |b| {
            b.iter(|| {
                let mut out = [0u8; 32];
                plain
                    .hash_password_into_with_memory(b"004271", b"saltsaltsaltsalt", &mut out, &mut memory[..])
                    .unwrap();
                out
            })
        });
        let salt = SALT;
        // same parameters, same bits: the C side computes what the Rust sides compute
        let c_out = c_hash(preset);
        let mut rust_out = [0u8; 32];
        plain.hash_password_into(b"004271", &salt, &mut rust_out).unwrap();
        assert_eq!(&c_out[..], &rust_out[..], "{name}: C and RustCrypto disagree");
        let params = Params::new(m, t, p, Some(32)).unwrap();
        let mut crate_out = [0u8; 32];
        let mut crate_memory = vec![argon2::Block::new(); params.block_count()];
        pin_activation::hash::argon2id_into(&params, None, b"004271", &salt, &mut crate_out, &mut crate_memory)
            .unwrap();
        assert_eq!(&c_out[..], &crate_out[..], "{name}: C and the crate disagree");
        // The crate's computation alone, memory reused (as its hasher pools it)...
        group.bench_function(BenchmarkId::new("crate_raw_reused_memory", name), |b| {
            b.iter(|| {
                let mut out = [0u8; 32];
                pin_activation::hash::argon2id_into(&params, None, b"004271", &salt, &mut out, &mut crate_memory)
                    .unwrap();
                out
            })
        });
        // ...and as the C library's default call works: a fresh area per
        // hash, wiped before it is freed.
        group.bench_function(BenchmarkId::new("crate_raw_fresh_wiped_memory", name), |b| {
            b.iter(|| crate_fresh_wiped(&params))
        });
        group.bench_function(BenchmarkId::new("reference_c", name), |b| {
            b.iter(|| c_hash(preset).len())
        });
    }
    group.finish();
}

/// Crate / C at `Owasp`, measured interleaved so that the machine's drift
/// (15-20% between runs on the development VM) hits both sides alike: 100
/// rounds, each timing one hash of every kind in a rotating order; the
/// median of the per-round ratios to the C hash.
fn interleaved_owasp() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let (m, t, p) = HashPreset::Owasp.costs();
    let hasher = Hasher::new(HashPreset::Owasp, Keyring::none(), 1, None).unwrap();
    let params = Params::new(m, t, p, Some(32)).unwrap();
    let mut reused = vec![argon2::Block::new(); params.block_count()];
    let salt = SALT;
    let names = [
        "crate (Hasher::hash)",
        "crate raw, reused memory",
        "crate raw, fresh wiped memory",
    ];
    let mut ratios: [Vec<f64>; 3] = Default::default();
    for round in 0..105 {
        let mut times = [0.0f64; 4];
        for k in 0..4 {
            let which = (round + k) % 4;
            let started = std::time::Instant::now();
            match which {
                0 => drop(c_hash(HashPreset::Owasp)),
                1 => drop(rt.block_on(hasher.hash(b"004271")).unwrap()),
                2 => {
                    let mut out = [0u8; 32];
                    pin_activation::hash::argon2id_into(&params, None, b"004271", &salt, &mut out, &mut reused)
                        .unwrap();
                }
                _ => drop(crate_fresh_wiped(&params)),
            }
            times[which] = started.elapsed().as_secs_f64();
        }
        if round >= 5 {
            for k in 0..3 {
                ratios[k].push(times[k + 1] / times[0]);
            }
        }
    }
    println!("Owasp, 100 interleaved rounds, median per-round ratio to the reference C (AVX2) hash:");
    for (name, r) in names.iter().zip(ratios.iter_mut()) {
        r.sort_by(f64::total_cmp);
        println!("  {name}: {:.3} (p25 {:.3}, p75 {:.3})", r[50], r[25], r[75]);
    }
}

criterion_group!(benches, bench);

fn main() {
    benches();
    criterion::Criterion::default().configure_from_args().final_summary();
    interleaved_owasp();
}
