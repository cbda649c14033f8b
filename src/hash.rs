//! Argon2id hashing of PINs and passwords, off the async executor and
//! bounded in concurrency.
//!
//! - Presets: [`HashPreset::Owasp`] (m=19456 KiB, t=2, p=1, the default),
//!   [`HashPreset::Rfc9106LowMemory`] (m=64 MiB, t=3, p=4) and
//!   [`HashPreset::Testing`] (m=64 KiB, t=1, p=1: **insecure**, only for
//!   test suites).
//! - Output is a standard PHC string (`$argon2id$v=19$m=…,t=…,p=…[,keyid=…]$salt$hash`),
//!   so hashes stay readable by any argon2 implementation that knows the pepper.
//! - An optional pepper (argon2's keyed mode) carries a key id in the PHC
//!   string; retired keys stay in the [`Keyring`] to verify old hashes, and a
//!   hash made with another key or other parameters is reported as needing a
//!   rehash.
//! - Every hash runs in `tokio::task::spawn_blocking` behind a semaphore, so a
//!   burst of sign-ins queues instead of stalling the runtime or allocating
//!   one argon2 memory area per request. Memory areas are pooled (at most one
//!   per permit), which saves the page faults of a fresh 19 MiB allocation on
//!   every hash.
//! - Verification recomputes the hash and compares with `subtle`.

use std::fmt;
use std::str::FromStr;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use argon2::password_hash::phc::{Output, ParamsString, PasswordHash, Salt};
use argon2::{Algorithm, Argon2, Block, KeyId, Params, Version};
use serde::{Deserialize, Serialize};
use subtle::ConstantTimeEq;
use tokio::sync::Semaphore;

#[cfg(target_arch = "x86_64")]
mod avx2;
use zeroize::Zeroizing;

/// Length of every hash output, in bytes.
pub const OUTPUT_LEN: usize = 32;
const SALT_LEN: usize = 16;

/// Named argon2id parameter sets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "preset")]
#[non_exhaustive]
pub enum HashPreset {
    /// OWASP Password Storage Cheat Sheet: m=19456 KiB, t=2, p=1 (about
    /// 19 MiB per hash). The default.
    #[default]
    Owasp,
    /// RFC 9106's second recommended option: m=64 MiB, t=3, p=4.
    Rfc9106LowMemory,
    /// m=64 KiB, t=1, p=1. **Insecure**: a few microseconds per guess. For
    /// test suites only.
    Testing,
    /// Explicit parameters.
    Custom {
        /// Memory in KiB.
        m_kib: u32,
        /// Passes.
        t: u32,
        /// Lanes.
        p: u32,
    },
}

impl HashPreset {
    /// The preset's `(m_kib, t, p)`.
    pub fn costs(&self) -> (u32, u32, u32) {
        match *self {
            HashPreset::Owasp => (19_456, 2, 1),
            HashPreset::Rfc9106LowMemory => (65_536, 3, 4),
            HashPreset::Testing => (64, 1, 1),
            HashPreset::Custom { m_kib, t, p } => (m_kib, t, p),
        }
    }

    /// Memory used by one hash, in bytes.
    pub fn memory_bytes(&self) -> usize {
        self.costs().0 as usize * 1024
    }

    /// The argon2 parameters, without key id.
    ///
    /// # Errors
    /// [`HashError`] when custom costs are outside argon2's limits.
    pub fn params(&self) -> Result<Params, HashError> {
        let (m, t, p) = self.costs();
        Params::new(m, t, p, Some(OUTPUT_LEN)).map_err(HashError::argon2)
    }
}

/// A server-side secret mixed into every hash (argon2's keyed mode), with an
/// id recorded in the PHC string so keys can rotate.
#[derive(Clone)]
pub struct Pepper {
    key_id: String,
    secret: Zeroizing<Vec<u8>>,
}

impl Pepper {
    /// A pepper with a key id of 1 to 8 ASCII letters, digits, `-` or `_`, and
    /// a secret of 16 to 64 bytes.
    ///
    /// # Errors
    /// [`HashError`] when the id or the secret is out of range.
    pub fn new(key_id: &str, secret: impl Into<Vec<u8>>) -> Result<Self, HashError> {
        let secret = Zeroizing::new(secret.into());
        let id_ok = (1..=KeyId::MAX_LEN).contains(&key_id.len())
            && key_id
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        if !id_ok {
            return Err(HashError::new(HashErrorKind::BadPepper, None));
        }
        if !(16..=64).contains(&secret.len()) {
            return Err(HashError::new(HashErrorKind::BadPepper, None));
        }
        Ok(Self {
            key_id: key_id.to_owned(),
            secret,
        })
    }

    /// The key id (not secret).
    pub fn key_id(&self) -> &str {
        &self.key_id
    }
}

impl fmt::Debug for Pepper {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Pepper")
            .field("key_id", &self.key_id)
            .finish_non_exhaustive()
    }
}

/// The current pepper (used for new hashes) and retired ones (still accepted
/// when verifying).
#[derive(Debug, Clone, Default)]
pub struct Keyring {
    current: Option<Pepper>,
    retired: Vec<Pepper>,
}

impl Keyring {
    /// No pepper.
    pub fn none() -> Self {
        Self::default()
    }

    /// New hashes use `current`.
    pub fn with_current(current: Pepper) -> Self {
        Self {
            current: Some(current),
            retired: Vec::new(),
        }
    }

    /// Keeps `pepper` for verifying hashes made with it.
    pub fn retire(mut self, pepper: Pepper) -> Self {
        self.retired.push(pepper);
        self
    }

    fn find(&self, key_id: &[u8]) -> Option<&Pepper> {
        self.current
            .iter()
            .chain(&self.retired)
            .find(|p| p.key_id.as_bytes() == key_id)
    }
}

/// What kind of hashing failure happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum HashErrorKind {
    /// A stored hash is not an argon2id PHC string this crate can read.
    MalformedHash,
    /// A stored hash names a pepper key id that is not in the keyring.
    UnknownKey,
    /// The pepper's id or secret is out of range.
    BadPepper,
    /// argon2 refused its inputs or parameters.
    Argon2,
    /// The blocking hash task did not complete (runtime shutting down).
    TaskFailed,
}

impl fmt::Display for HashErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            HashErrorKind::MalformedHash => "a stored hash is not an argon2id PHC string this crate reads",
            HashErrorKind::UnknownKey => "a stored hash names a pepper key id that is not in the keyring",
            HashErrorKind::BadPepper => {
                "a pepper needs a key id of 1 to 8 ASCII letters, digits, '-' or '_' and a secret of 16 to 64 bytes"
            }
            HashErrorKind::Argon2 => "argon2 refused its inputs or parameters",
            HashErrorKind::TaskFailed => "the blocking hash task did not complete",
        })
    }
}

/// A hashing failure. Never carries the secret being hashed.
#[derive(Debug, thiserror::Error)]
#[error("password hashing failed: {kind}")]
pub struct HashError {
    kind: HashErrorKind,
    #[source]
    source: Option<Box<dyn std::error::Error + Send + Sync>>,
}

impl HashError {
    fn new(kind: HashErrorKind, source: Option<Box<dyn std::error::Error + Send + Sync>>) -> Self {
        Self { kind, source }
    }

    fn argon2(e: argon2::Error) -> Self {
        Self::new(HashErrorKind::Argon2, Some(Box::new(e)))
    }

    fn malformed() -> Self {
        Self::new(HashErrorKind::MalformedHash, None)
    }

    /// The kind of failure.
    pub fn kind(&self) -> HashErrorKind {
        self.kind
    }
}

/// Outcome of checking a secret against a stored hash.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Verification {
    /// The secret matches.
    pub matches: bool,
    /// The hash was made with other parameters or another pepper key than
    /// the current ones.
    pub needs_rehash: bool,
}

/// Counters of the hashing work done so far.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct HashStats {
    /// Argon2 computations run, of every kind below.
    pub computed: u64,
    /// New hashes made (PINs, passwords, rehashes).
    pub hashed: u64,
    /// Secrets checked against a stored hash.
    pub verified: u64,
    /// Dummy checks spent so a refusal costs as much as a check.
    pub equal_work: u64,
    /// The most computations ever running at the same time.
    pub peak_in_flight: usize,
    /// The configured bound on computations at the same time.
    pub limit: usize,
}

/// Notified around every argon2 computation, on the thread that runs it.
/// For tests and metrics.
pub trait HashProbe: Send + Sync + 'static {
    /// A computation starts on the current thread.
    fn started(&self);
    /// The computation on the current thread ended.
    fn finished(&self);
}

/// Argon2id hasher shared by the service. Cheap to clone.
#[derive(Clone)]
pub struct Hasher {
    inner: Arc<Inner>,
}

struct Inner {
    params: Params,
    keyring: Keyring,
    permits: Arc<Semaphore>,
    limit: usize,
    pool: Mutex<Vec<Vec<Block>>>,
    dummy: PasswordHash,
    computed: AtomicU64,
    hashed: AtomicU64,
    verified: AtomicU64,
    equal_work: AtomicU64,
    in_flight: AtomicUsize,
    peak: AtomicUsize,
    probe: Option<Arc<dyn HashProbe>>,
    block_function: BlockFunction,
}

/// Which argon2 implementation computes a hash.
#[derive(Clone, Copy)]
enum BlockFunction {
    /// The crate's AVX2 block function (`hash/avx2.rs`), for single-lane
    /// parameters on CPUs with AVX2.
    #[cfg(target_arch = "x86_64")]
    Avx2(pulp::x86::V3),
    /// The `argon2` crate (portable, AVX2-autovectorized; rayon lanes with
    /// the `parallel` feature).
    Argon2Crate,
}

impl BlockFunction {
    fn detect() -> Self {
        // Without optimizations (a plain `cargo run` or `cargo test`) the
        // crate's own AVX2 code would run at opt-level 0, about 80 times
        // slower than the `argon2` crate, which a `[profile.dev.package]`
        // override keeps at opt-level 3 (see the README). The bits are the
        // same either way (tested in `hash/avx2.rs`).
        if cfg!(debug_assertions) {
            return Self::Argon2Crate;
        }
        #[cfg(target_arch = "x86_64")]
        if let Some(simd) = avx2::detect() {
            return Self::Avx2(simd);
        }
        Self::Argon2Crate
    }

    /// The implementation for `params`: lanes run in parallel only in the
    /// `argon2` crate, so p > 1 stays there when the `parallel` feature is on.
    fn for_params(self, params: &Params) -> Self {
        if params.p_cost() > 1 && cfg!(feature = "parallel") {
            Self::Argon2Crate
        } else {
            self
        }
    }

    fn name(self) -> &'static str {
        match self {
            #[cfg(target_arch = "x86_64")]
            Self::Avx2(_) => "avx2",
            Self::Argon2Crate => "argon2-crate",
        }
    }
}

impl fmt::Debug for Hasher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Hasher")
            .field("params", &self.inner.params)
            .field("keyring", &self.inner.keyring)
            .field("limit", &self.inner.limit)
            .field("block_function", &self.block_function())
            .finish_non_exhaustive()
    }
}

impl Hasher {
    /// A hasher for `preset`, running at most `max_concurrent` computations
    /// at once (at least 1).
    ///
    /// Computes one hash up front (a dummy used to spend equal work on
    /// refusals), on the calling thread.
    ///
    /// # Errors
    /// [`HashError`] for invalid parameters.
    pub fn new(
        preset: HashPreset,
        keyring: Keyring,
        max_concurrent: usize,
        probe: Option<Arc<dyn HashProbe>>,
    ) -> Result<Self, HashError> {
        let limit = max_concurrent.max(1);
        let mut params = preset.params()?;
        if let Some(pepper) = &keyring.current {
            let (m, t, p) = preset.costs();
            params = argon2::ParamsBuilder::new()
                .m_cost(m)
                .t_cost(t)
                .p_cost(p)
                .output_len(OUTPUT_LEN)
                .keyid(KeyId::new(pepper.key_id.as_bytes()).map_err(HashError::argon2)?)
                .build()
                .map_err(HashError::argon2)?;
        }
        let mut inner = Inner {
            params,
            keyring,
            permits: Arc::new(Semaphore::new(limit)),
            limit,
            pool: Mutex::new(Vec::new()),
            dummy: placeholder_hash(),
            computed: AtomicU64::new(0),
            hashed: AtomicU64::new(0),
            verified: AtomicU64::new(0),
            equal_work: AtomicU64::new(0),
            in_flight: AtomicUsize::new(0),
            peak: AtomicUsize::new(0),
            probe: None,
            block_function: BlockFunction::detect(),
        };
        let dummy_secret: [u8; 16] = rand::random();
        inner.dummy = inner.hash_blocking(&dummy_secret)?;
        inner.computed.store(0, Ordering::Relaxed);
        inner.hashed.store(0, Ordering::Relaxed);
        inner.peak.store(0, Ordering::Relaxed);
        inner.probe = probe;
        Ok(Self { inner: Arc::new(inner) })
    }

    /// Which implementation computes this hasher's hashes: `"avx2"` (the
    /// crate's AVX2 block function, single-lane presets on CPUs with AVX2,
    /// in builds without `debug_assertions`) or `"argon2-crate"` (RustCrypto
    /// `argon2`). Both give the same bits.
    pub fn block_function(&self) -> &'static str {
        self.inner.block_function.for_params(&self.inner.params).name()
    }

    /// Hashes `secret` into a PHC string.
    ///
    /// # Errors
    /// [`HashError`] if argon2 fails or the blocking task is lost.
    pub async fn hash(&self, secret: &[u8]) -> Result<String, HashError> {
        let secret = Zeroizing::new(secret.to_vec());
        self.run(move |inner| {
            inner.hashed.fetch_add(1, Ordering::SeqCst);
            inner.hash_blocking(&secret).map(|h| h.to_string())
        })
        .await
    }

    /// Checks `secret` against a stored PHC string, in constant time.
    ///
    /// # Errors
    /// [`HashError`] if the stored hash is unreadable or names an unknown key.
    pub async fn verify(&self, secret: &[u8], stored: &str) -> Result<Verification, HashError> {
        let parsed = PasswordHash::new(stored).map_err(|_| HashError::malformed())?;
        let secret = Zeroizing::new(secret.to_vec());
        self.run(move |inner| {
            inner.verified.fetch_add(1, Ordering::SeqCst);
            inner.verify_blocking(&secret, &parsed)
        })
        .await
    }

    /// Spends exactly the work of one [`verify`](Self::verify) at the current
    /// parameters, and throws the result away. Used so that refusals that
    /// need no check (unknown user, dead PIN, locked account) cost the same
    /// as a wrong guess.
    ///
    /// # Errors
    /// [`HashError`] only if the blocking task is lost.
    pub async fn spend_equal_work(&self) -> Result<(), HashError> {
        let secret: [u8; 16] = rand::random();
        self.run(move |inner| {
            inner.equal_work.fetch_add(1, Ordering::SeqCst);
            inner.verify_blocking(&secret, &inner.dummy).map(drop)
        })
        .await
    }

    /// Counters of the work done so far.
    pub fn stats(&self) -> HashStats {
        HashStats {
            computed: self.inner.computed.load(Ordering::SeqCst),
            hashed: self.inner.hashed.load(Ordering::SeqCst),
            verified: self.inner.verified.load(Ordering::SeqCst),
            equal_work: self.inner.equal_work.load(Ordering::SeqCst),
            peak_in_flight: self.inner.peak.load(Ordering::SeqCst),
            limit: self.inner.limit,
        }
    }

    async fn run<T, F>(&self, job: F) -> Result<T, HashError>
    where
        T: Send + 'static,
        F: FnOnce(&Inner) -> Result<T, HashError> + Send + 'static,
    {
        let permit = Arc::clone(&self.inner.permits)
            .acquire_owned()
            .await
            .map_err(|e| HashError::new(HashErrorKind::TaskFailed, Some(Box::new(e))))?;
        let inner = Arc::clone(&self.inner);
        tokio::task::spawn_blocking(move || {
            let _permit = permit; // held until the computation ends, even if the caller is gone
            job(&inner)
        })
        .await
        .map_err(|e| HashError::new(HashErrorKind::TaskFailed, Some(Box::new(e))))?
    }
}

fn placeholder_hash() -> PasswordHash {
    PasswordHash {
        algorithm: argon2::ARGON2ID_IDENT,
        version: None,
        params: ParamsString::new(),
        salt: None,
        hash: None,
    }
}

impl Inner {
    fn hash_blocking(&self, secret: &[u8]) -> Result<PasswordHash, HashError> {
        let salt_bytes: [u8; SALT_LEN] = rand::random();
        let pepper = self.keyring.current.as_ref().map(|p| p.secret.as_slice());
        let mut out = Zeroizing::new([0u8; OUTPUT_LEN]);
        self.compute(secret, &salt_bytes, &self.params, pepper, out.as_mut())?;
        Ok(PasswordHash {
            algorithm: argon2::ARGON2ID_IDENT,
            version: Some(Version::V0x13.into()),
            params: ParamsString::try_from(&self.params).map_err(|_| HashError::malformed())?,
            salt: Some(Salt::new(&salt_bytes).map_err(|_| HashError::malformed())?),
            hash: Some(Output::new(out.as_ref()).map_err(|_| HashError::malformed())?),
        })
    }

    fn verify_blocking(&self, secret: &[u8], stored: &PasswordHash) -> Result<Verification, HashError> {
        if stored.algorithm != argon2::ARGON2ID_IDENT || stored.version != Some(Version::V0x13.into()) {
            return Err(HashError::malformed());
        }
        let params = Params::try_from(stored).map_err(|_| HashError::malformed())?;
        let (salt, expected) = match (&stored.salt, &stored.hash) {
            (Some(s), Some(h)) if h.len() == OUTPUT_LEN => (s, h),
            _ => return Err(HashError::malformed()),
        };
        let pepper = match params.keyid() {
            [] => None,
            id => Some(
                self.keyring
                    .find(id)
                    .ok_or_else(|| HashError::new(HashErrorKind::UnknownKey, None))?
                    .secret
                    .as_slice(),
            ),
        };
        let mut out = Zeroizing::new([0u8; OUTPUT_LEN]);
        self.compute(secret, salt.as_ref(), &params, pepper, out.as_mut())?;
        let matches: bool = out.as_slice().ct_eq(expected.as_bytes()).into();
        let needs_rehash = params.m_cost() != self.params.m_cost()
            || params.t_cost() != self.params.t_cost()
            || params.p_cost() != self.params.p_cost()
            || params.keyid() != self.params.keyid();
        Ok(Verification { matches, needs_rehash })
    }

    fn compute(
        &self,
        secret: &[u8],
        salt: &[u8],
        params: &Params,
        pepper: Option<&[u8]>,
        out: &mut [u8],
    ) -> Result<(), HashError> {
        // A stored hash may ask for any amount of memory; refuse hashes far
        // above what this hasher was configured for, so a tampered row cannot
        // make the server allocate gigabytes.
        if params.m_cost() > self.params.m_cost().saturating_mul(4).max(65_536)
            || params.t_cost() > self.params.t_cost().saturating_mul(4).max(16)
        {
            return Err(HashError::malformed());
        }
        let blocks = params.block_count();
        let mut memory = self.take_memory(blocks);

        let now = self.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
        self.peak.fetch_max(now, Ordering::SeqCst);
        self.computed.fetch_add(1, Ordering::SeqCst);
        if let Some(probe) = &self.probe {
            probe.started();
        }
        let result = argon2id(self.block_function, params, pepper, secret, salt, out, &mut memory[..]);
        if let Some(probe) = &self.probe {
            probe.finished();
        }
        self.in_flight.fetch_sub(1, Ordering::SeqCst);

        self.return_memory(memory);
        result.map_err(HashError::argon2)
    }

    fn take_memory(&self, blocks: usize) -> Vec<Block> {
        let mut pool = self.pool.lock().unwrap_or_else(PoisonError::into_inner);
        match pool.iter().position(|m| m.len() == blocks) {
            Some(i) => pool.swap_remove(i),
            None => vec![Block::new(); blocks],
        }
    }

    fn return_memory(&self, memory: Vec<Block>) {
        // Only areas of the current size are kept, at most one per permit,
        // so pooled memory never exceeds limit x preset memory.
        if memory.len() != self.params.block_count() {
            return;
        }
        let mut pool = self.pool.lock().unwrap_or_else(PoisonError::into_inner);
        if pool.len() < self.limit {
            pool.push(memory);
        }
    }
}

/// One argon2id computation with `block_function` (or the `argon2` crate
/// where that does not apply to `params`).
fn argon2id(
    block_function: BlockFunction,
    params: &Params,
    pepper: Option<&[u8]>,
    secret: &[u8],
    salt: &[u8],
    out: &mut [u8],
    memory: &mut [Block],
) -> Result<(), argon2::Error> {
    match block_function.for_params(params) {
        #[cfg(target_arch = "x86_64")]
        BlockFunction::Avx2(simd) => avx2::hash_into(simd, params, pepper, secret, salt, out, memory),
        BlockFunction::Argon2Crate => match pepper {
            Some(key) => Argon2::new_with_secret(key, Algorithm::Argon2id, Version::V0x13, params.clone()),
            None => Ok(Argon2::new(Algorithm::Argon2id, Version::V0x13, params.clone())),
        }
        .and_then(|ctx| ctx.hash_password_into_with_memory(secret, salt, out, memory)),
    }
}

/// The bare argon2id computation a [`Hasher`] performs for `params`, on the
/// calling thread, in `memory` (at least `params.block_count()` blocks), with
/// the same implementation the hasher picks (see [`Hasher::block_function`]):
/// no semaphore, no blocking-pool hand-off, no PHC string. For benchmarks
/// that compare the service with the hashing it does.
///
/// # Errors
/// [`HashError`] for a salt, output or memory the parameters refuse.
pub fn argon2id_into(
    params: &Params,
    pepper: Option<&[u8]>,
    secret: &[u8],
    salt: &[u8],
    out: &mut [u8],
    memory: &mut [Block],
) -> Result<(), HashError> {
    argon2id(BlockFunction::detect(), params, pepper, secret, salt, out, memory).map_err(HashError::argon2)
}

impl FromStr for HashPreset {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().replace(['-', '_'], "").as_str() {
            "owasp" => Ok(HashPreset::Owasp),
            "rfc9106lowmemory" | "rfc9106" => Ok(HashPreset::Rfc9106LowMemory),
            "testing" => Ok(HashPreset::Testing),
            other => Err(format!(
                "unknown hash preset {other:?} (owasp, rfc9106-low-memory, testing)"
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use argon2::{PasswordHasher, PasswordVerifier};

    fn testing() -> Hasher {
        Hasher::new(HashPreset::Testing, Keyring::none(), 2, None).unwrap()
    }

    #[tokio::test]
    async fn round_trip_and_wrong_secret() {
        let h = testing();
        let phc = h.hash(b"004271").await.unwrap();
        assert!(phc.starts_with("$argon2id$v=19$m=64,t=1,p=1$"), "{phc}");
        assert!(h.verify(b"004271", &phc).await.unwrap().matches);
        assert!(!h.verify(b"004272", &phc).await.unwrap().matches);
        assert!(!h.verify(b"004271", &phc).await.unwrap().needs_rehash);
        let stats = h.stats();
        assert_eq!(
            (stats.computed, stats.hashed, stats.verified, stats.equal_work),
            (4, 1, 3, 0)
        );
        h.spend_equal_work().await.unwrap();
        assert_eq!((h.stats().computed, h.stats().equal_work), (5, 1));
    }

    #[tokio::test]
    async fn agrees_with_plain_argon2_crate_both_ways() {
        let h = testing();
        // ours -> theirs
        let phc = h.hash(b"728639").await.unwrap();
        let plain = Argon2::new(
            Algorithm::Argon2id,
            Version::V0x13,
            HashPreset::Testing.params().unwrap(),
        );
        plain
            .verify_password(b"728639", &PasswordHash::new(&phc).unwrap())
            .unwrap();
        // theirs -> ours
        let theirs = plain
            .hash_password_with_salt(b"728639", b"saltsaltsaltsalt")
            .unwrap()
            .to_string();
        assert!(h.verify(b"728639", &theirs).await.unwrap().matches);
        assert!(!h.verify(b"728630", &theirs).await.unwrap().matches);
    }

    /// RFC 9106 section 5.3 (Argon2id) test vector, through the `argon2`
    /// crate's reused-memory call and through `argon2id_into` (the
    /// computation the hasher performs, its AVX2 block function where the
    /// CPU has AVX2 and the `parallel` feature is off, else the crate).
    #[test]
    fn rfc9106_argon2id_vector() {
        let params = argon2::ParamsBuilder::new()
            .m_cost(32)
            .t_cost(3)
            .p_cost(4)
            .output_len(32)
            .data(argon2::AssociatedData::new(&[0x04; 12]).unwrap())
            .build()
            .unwrap();
        let ctx = Argon2::new_with_secret(&[0x03; 8], Algorithm::Argon2id, Version::V0x13, params.clone()).unwrap();
        let mut memory = vec![Block::new(); params.block_count()];
        let mut out = [0u8; 32];
        ctx.hash_password_into_with_memory(&[0x01; 32], &[0x02; 16], &mut out, &mut memory[..])
            .unwrap();
        assert_eq!(
            crate::pin::hex(&out),
            "0d640df58d78766c08c037a34a8b53c9d01ef0452d75b65eb52520e96b01e659"
        );
        // a reused (dirty) memory area gives the same answer
        let mut again = [0u8; 32];
        ctx.hash_password_into_with_memory(&[0x01; 32], &[0x02; 16], &mut again, &mut memory[..])
            .unwrap();
        assert_eq!(out, again);
        let mut ours = [0u8; 32];
        argon2id_into(
            &params,
            Some(&[0x03; 8]),
            &[0x01; 32],
            &[0x02; 16],
            &mut ours,
            &mut memory[..],
        )
        .unwrap();
        assert_eq!(out, ours);
    }

    #[tokio::test]
    async fn pepper_rotation() {
        let k1 = Pepper::new("k1", [7u8; 32]).unwrap();
        let k2 = Pepper::new("k2", [9u8; 32]).unwrap();
        let old = Hasher::new(HashPreset::Testing, Keyring::with_current(k1.clone()), 1, None).unwrap();
        let phc = old.hash(b"123987").await.unwrap();
        assert!(phc.contains("keyid="), "{phc}");

        let rotated = Hasher::new(
            HashPreset::Testing,
            Keyring::with_current(k2.clone()).retire(k1),
            1,
            None,
        )
        .unwrap();
        let v = rotated.verify(b"123987", &phc).await.unwrap();
        assert!(v.matches && v.needs_rehash);

        let lost = Hasher::new(HashPreset::Testing, Keyring::with_current(k2), 1, None).unwrap();
        assert_eq!(
            lost.verify(b"123987", &phc).await.unwrap_err().kind(),
            HashErrorKind::UnknownKey
        );

        // without the pepper the plain crate cannot check it
        let plain = Argon2::new(
            Algorithm::Argon2id,
            Version::V0x13,
            HashPreset::Testing.params().unwrap(),
        );
        assert!(
            plain
                .verify_password(b"123987", &PasswordHash::new(&phc).unwrap())
                .is_err()
        );
        assert!(!format!("{:?}", Pepper::new("k9", [1u8; 16]).unwrap()).contains("1, 1"));
    }

    #[tokio::test]
    async fn changed_parameters_need_rehash_and_bad_hashes_are_errors() {
        let h = testing();
        let other = Hasher::new(HashPreset::Custom { m_kib: 128, t: 1, p: 1 }, Keyring::none(), 1, None).unwrap();
        let phc = other.hash(b"pw").await.unwrap();
        let v = h.verify(b"pw", &phc).await.unwrap();
        assert!(v.matches && v.needs_rehash);
        for bad in [
            "",
            "plain",
            "$argon2i$v=19$m=64,t=1,p=1$c2FsdHNhbHQ$aGFzaA",
            "$argon2id$v=19$m=999999999,t=1,p=1$c2FsdHNhbHRzYWx0$YWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWE",
        ] {
            assert!(h.verify(b"pw", bad).await.is_err(), "{bad}");
        }
    }
}
