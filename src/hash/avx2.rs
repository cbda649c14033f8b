//! Argon2id (version 0x13) with an AVX2 block function, used by [`super`]
//! when the CPU has AVX2: for single-lane hashes (the `Owasp` and `Testing`
//! presets), and for p > 1 too, lane after lane, when the `parallel` feature
//! (rayon lanes in the `argon2` crate) is off. The same algorithm as the `argon2` crate and RFC 9106, with the
//! reference C implementation's AVX2 scheduling of the BLAKE2b-based block
//! function: a block lives in 32 256-bit registers, two rows (or two column
//! pairs) at a time, and the previous block stays in registers from one
//! block to the next instead of being reloaded.
//!
//! No `unsafe` here: the intrinsics are reached through `pulp`'s `V3` token,
//! which proves at run time that the CPU has AVX2 and makes them safe to
//! call; every function below is `#[inline(always)]` so that it is compiled
//! inside `pulp`'s AVX2-enabled entry point.
//!
//! Checked bit for bit against the `argon2` crate (many parameter sets, with
//! and without a secret and associated data, dirty reused memory) and the
//! RFC 9106 test vector in the tests at the end of this file.

use core::arch::x86_64::__m256i;

use argon2::{Block, Params};
use blake2::digest::block_api::{UpdateCore, VariableOutputCore};
use blake2::digest::block_buffer::LazyBuffer;
use blake2::{Blake2b512, Blake2bVarCore, Digest};
use pulp::x86::V3;
use zeroize::Zeroize;

type R = __m256i;
/// 128 words per block, 4 per register.
const HW: usize = 32;
const WORDS: usize = 128;
/// Sync points (slices) per pass.
const SLICES: usize = 4;

/// The AVX2 token, when this CPU has AVX2 (and the rest of x86-64-v3).
pub(super) fn detect() -> Option<V3> {
    V3::try_new()
}

#[inline(always)]
fn reg(w: [u64; 4]) -> R {
    pulp::cast::<[u64; 4], R>(w)
}

#[inline(always)]
fn words(r: R) -> [u64; 4] {
    pulp::cast::<R, [u64; 4]>(r)
}

#[inline(always)]
fn load(b: &Block) -> [R; HW] {
    let w: &[u64] = b.as_ref();
    core::array::from_fn(|i| reg([w[4 * i], w[4 * i + 1], w[4 * i + 2], w[4 * i + 3]]))
}

#[inline(always)]
fn store(b: &mut Block, v: &[R; HW]) {
    let w: &mut [u64] = b.as_mut();
    for (i, r) in v.iter().enumerate() {
        w[4 * i..4 * i + 4].copy_from_slice(&words(*r));
    }
}

#[derive(Clone, Copy)]
struct K {
    s: V3,
    r24: R,
    r16: R,
}

impl K {
    #[inline(always)]
    fn new(s: V3) -> Self {
        let r24 = s.avx._mm256_setr_epi8(
            3, 4, 5, 6, 7, 0, 1, 2, 11, 12, 13, 14, 15, 8, 9, 10, 3, 4, 5, 6, 7, 0, 1, 2, 11, 12, 13, 14, 15, 8, 9, 10,
        );
        let r16 = s.avx._mm256_setr_epi8(
            2, 3, 4, 5, 6, 7, 0, 1, 10, 11, 12, 13, 14, 15, 8, 9, 2, 3, 4, 5, 6, 7, 0, 1, 10, 11, 12, 13, 14, 15, 8, 9,
        );
        K { s, r24, r16 }
    }
    #[inline(always)]
    fn fbla(self, a: R, b: R) -> R {
        let x = self.s.avx2;
        let ml = x._mm256_mul_epu32(a, b);
        x._mm256_add_epi64(a, x._mm256_add_epi64(b, x._mm256_add_epi64(ml, ml)))
    }
    #[inline(always)]
    fn g1(self, a: &mut R, b: &mut R, c: &mut R, d: &mut R) {
        let x = self.s.avx2;
        *a = self.fbla(*a, *b);
        *d = x._mm256_shuffle_epi32::<0xB1>(x._mm256_xor_si256(*d, *a));
        *c = self.fbla(*c, *d);
        *b = x._mm256_shuffle_epi8(x._mm256_xor_si256(*b, *c), self.r24);
    }
    #[inline(always)]
    fn g2(self, a: &mut R, b: &mut R, c: &mut R, d: &mut R) {
        let x = self.s.avx2;
        *a = self.fbla(*a, *b);
        *d = x._mm256_shuffle_epi8(x._mm256_xor_si256(*d, *a), self.r16);
        *c = self.fbla(*c, *d);
        let t = x._mm256_xor_si256(*b, *c);
        *b = x._mm256_xor_si256(x._mm256_srli_epi64::<63>(t), x._mm256_add_epi64(t, t));
    }
    /// The column (or diagonal) step of a BLAKE2b round on both halves of
    /// `q` = `[a0, a1, b0, b1, c0, c1, d0, d1]`.
    #[inline(always)]
    fn g_both(self, q: &mut [R; 8]) {
        let [a0, a1, b0, b1, c0, c1, d0, d1] = q;
        self.g1(a0, b0, c0, d0);
        self.g1(a1, b1, c1, d1);
        self.g2(a0, b0, c0, d0);
        self.g2(a1, b1, c1, d1);
    }
    /// One BLAKE2b round on the eight registers `v[idx]`: the column step,
    /// `diagonalize`, the diagonal step, `undiagonalize`.
    #[inline(always)]
    fn round<D: Fn(Self, &mut [R; 8]), U: Fn(Self, &mut [R; 8])>(
        self,
        v: &mut [R; HW],
        idx: [usize; 8],
        diagonalize: D,
        undiagonalize: U,
    ) {
        let mut q = idx.map(|i| v[i]);
        self.g_both(&mut q);
        diagonalize(self, &mut q);
        self.g_both(&mut q);
        undiagonalize(self, &mut q);
        for (i, r) in idx.into_iter().zip(q) {
            v[i] = r;
        }
    }
    /// Rows: each half is one row of 16 words; rotate b, c, d by 1, 2, 3 lanes.
    #[inline(always)]
    fn diagonalize_rows(self, q: &mut [R; 8]) {
        let x = self.s.avx2;
        for h in 0..2 {
            q[2 + h] = x._mm256_permute4x64_epi64::<0x39>(q[2 + h]);
            q[4 + h] = x._mm256_permute4x64_epi64::<0x4E>(q[4 + h]);
            q[6 + h] = x._mm256_permute4x64_epi64::<0x93>(q[6 + h]);
        }
    }
    #[inline(always)]
    fn undiagonalize_rows(self, q: &mut [R; 8]) {
        let x = self.s.avx2;
        for h in 0..2 {
            q[2 + h] = x._mm256_permute4x64_epi64::<0x93>(q[2 + h]);
            q[4 + h] = x._mm256_permute4x64_epi64::<0x4E>(q[4 + h]);
            q[6 + h] = x._mm256_permute4x64_epi64::<0x39>(q[6 + h]);
        }
    }
    /// Columns: two column pairs spread over eight rows, so the diagonal
    /// words cross the two halves (blend, then swap the 64-bit pairs).
    #[inline(always)]
    fn diagonalize_columns(self, q: &mut [R; 8]) {
        let x = self.s.avx2;
        let [_, _, b0, b1, c0, c1, d0, d1] = q;
        let (t1, t2) = (
            x._mm256_blend_epi32::<0xCC>(*b0, *b1),
            x._mm256_blend_epi32::<0x33>(*b0, *b1),
        );
        *b0 = x._mm256_permute4x64_epi64::<0xB1>(t2);
        *b1 = x._mm256_permute4x64_epi64::<0xB1>(t1);
        core::mem::swap(c0, c1);
        let (t1, t2) = (
            x._mm256_blend_epi32::<0xCC>(*d0, *d1),
            x._mm256_blend_epi32::<0x33>(*d0, *d1),
        );
        *d0 = x._mm256_permute4x64_epi64::<0xB1>(t1);
        *d1 = x._mm256_permute4x64_epi64::<0xB1>(t2);
    }
    #[inline(always)]
    fn undiagonalize_columns(self, q: &mut [R; 8]) {
        let x = self.s.avx2;
        let [_, _, b0, b1, c0, c1, d0, d1] = q;
        let (t1, t2) = (
            x._mm256_blend_epi32::<0xCC>(*b0, *b1),
            x._mm256_blend_epi32::<0x33>(*b0, *b1),
        );
        *b0 = x._mm256_permute4x64_epi64::<0xB1>(t1);
        *b1 = x._mm256_permute4x64_epi64::<0xB1>(t2);
        core::mem::swap(c0, c1);
        let (t1, t2) = (
            x._mm256_blend_epi32::<0x33>(*d0, *d1),
            x._mm256_blend_epi32::<0xCC>(*d0, *d1),
        );
        *d0 = x._mm256_permute4x64_epi64::<0xB1>(t1);
        *d1 = x._mm256_permute4x64_epi64::<0xB1>(t2);
    }
    /// state = P(state ^ refb) ^ state ^ refb [^ old]
    #[inline(always)]
    fn fill_block(self, state: &mut [R; HW], refb: &[R; HW], old: Option<&[R; HW]>) {
        let x = self.s.avx2;
        let mut xy = *refb;
        for i in 0..HW {
            state[i] = x._mm256_xor_si256(state[i], refb[i]);
            xy[i] = match old {
                Some(o) => x._mm256_xor_si256(state[i], o[i]),
                None => state[i],
            };
        }
        for i in 0..4 {
            self.round(
                state,
                [
                    8 * i,
                    8 * i + 4,
                    8 * i + 1,
                    8 * i + 5,
                    8 * i + 2,
                    8 * i + 6,
                    8 * i + 3,
                    8 * i + 7,
                ],
                Self::diagonalize_rows,
                Self::undiagonalize_rows,
            );
        }
        for i in 0..4 {
            self.round(
                state,
                [i, 4 + i, 8 + i, 12 + i, 16 + i, 20 + i, 24 + i, 28 + i],
                Self::diagonalize_columns,
                Self::undiagonalize_columns,
            );
        }
        for i in 0..HW {
            state[i] = x._mm256_xor_si256(state[i], xy[i]);
        }
    }
}

/// Refreshes the address block of data-independent addressing.
#[inline(always)]
fn next_addresses(k: K, addresses: &mut [u64; WORDS], input: &mut [u64; WORDS]) {
    input[6] = input[6].wrapping_add(1);
    let zero = [reg([0; 4]); HW];
    let input_regs: [R; HW] =
        core::array::from_fn(|i| reg([input[4 * i], input[4 * i + 1], input[4 * i + 2], input[4 * i + 3]]));
    let mut once = zero;
    k.fill_block(&mut once, &input_regs, None);
    let mut twice = zero;
    k.fill_block(&mut twice, &once, None);
    for (i, r) in twice.iter().enumerate() {
        addresses[4 * i..4 * i + 4].copy_from_slice(&words(*r));
    }
}

/// The filling passes, run inside `pulp`'s AVX2 entry point.
struct Fill<'a> {
    simd: V3,
    memory: &'a mut [Block],
    passes: usize,
    lanes: usize,
    lane_len: usize,
}

impl pulp::NullaryFnOnce for Fill<'_> {
    type Output = ();

    #[inline(always)]
    fn call(self) {
        let Fill {
            simd,
            memory,
            passes,
            lanes,
            lane_len,
        } = self;
        let k = K::new(simd);
        let seg = lane_len / SLICES;
        let total = (lane_len * lanes) as u64;
        for pass in 0..passes {
            for slice in 0..SLICES {
                for lane in 0..lanes {
                    // Argon2id: data-independent addresses in the first half of the first pass
                    let independent = pass == 0 && slice < SLICES / 2;
                    let mut addresses = [0u64; WORDS];
                    let mut input = [0u64; WORDS];
                    if independent {
                        input[..6].copy_from_slice(&[pass as u64, lane as u64, slice as u64, total, passes as u64, 2]);
                    }
                    let first = if pass == 0 && slice == 0 { 2 } else { 0 };
                    if independent && first == 2 {
                        next_addresses(k, &mut addresses, &mut input);
                    }
                    let base = lane * lane_len + slice * seg;
                    let prev = if slice == 0 && first == 0 {
                        base + lane_len - 1
                    } else {
                        base + first - 1
                    };
                    // the previous block stays in `state` from one block to the next
                    let mut state = load(&memory[prev]);
                    for block in first..seg {
                        let cur = base + block;
                        let rand = if independent {
                            let i = block % WORDS;
                            if i == 0 {
                                next_addresses(k, &mut addresses, &mut input);
                            }
                            addresses[i]
                        } else {
                            words(state[0])[0]
                        };
                        let ref_lane = if pass == 0 && slice == 0 {
                            lane
                        } else {
                            (rand >> 32) as usize % lanes
                        };
                        let area = if pass == 0 {
                            if slice == 0 {
                                block - 1
                            } else if ref_lane == lane {
                                slice * seg + block - 1
                            } else {
                                slice * seg - usize::from(block == 0)
                            }
                        } else if ref_lane == lane {
                            lane_len - seg + block - 1
                        } else {
                            lane_len - seg - usize::from(block == 0)
                        };
                        let low = rand & 0xFFFF_FFFF;
                        let low = (low * low) >> 32;
                        let relative = area - 1 - ((area as u64 * low) >> 32) as usize;
                        let start = if pass != 0 && slice != SLICES - 1 {
                            (slice + 1) * seg
                        } else {
                            0
                        };
                        let reference = load(&memory[ref_lane * lane_len + (start + relative) % lane_len]);
                        if pass == 0 {
                            k.fill_block(&mut state, &reference, None);
                        } else {
                            let old = load(&memory[cur]);
                            k.fill_block(&mut state, &reference, Some(&old));
                        }
                        store(&mut memory[cur], &state);
                    }
                }
            }
        }
    }
}

/// BLAKE2b with a variable output length, argon2's `H'`.
fn blake2b_long(inputs: &[&[u8]], out: &mut [u8]) {
    let Ok(len) = u32::try_from(out.len()) else {
        return;
    };
    let len = len.to_le_bytes();
    if let Ok(mut core) = Blake2bVarCore::new(out.len()) {
        let mut buf = LazyBuffer::new(&len);
        for input in inputs {
            buf.digest_blocks(input, |blocks| core.update_blocks(blocks));
        }
        let mut full = Default::default();
        core.finalize_variable_core(&mut buf, &mut full);
        out.copy_from_slice(&full[..out.len()]);
        full.zeroize();
        return;
    }
    let mut digest = Blake2b512::new();
    digest.update(len);
    for input in inputs {
        digest.update(input);
    }
    let mut last = digest.finalize();
    let (head, mut rest) = out.split_at_mut(32);
    head.copy_from_slice(&last[..32]);
    while rest.len() > 64 {
        let (chunk, tail) = rest.split_at_mut(32);
        rest = tail;
        last = Blake2b512::digest(last);
        chunk.copy_from_slice(&last[..32]);
    }
    if let Ok(mut core) = Blake2bVarCore::new(rest.len()) {
        let mut buf = LazyBuffer::new(&last);
        let mut full = Default::default();
        core.finalize_variable_core(&mut buf, &mut full);
        rest.copy_from_slice(&full[..rest.len()]);
        full.zeroize();
    }
    last.zeroize();
}

/// Argon2id v0x13 of `pwd` into `out`, in `memory` (at least
/// `params.block_count()` blocks; it may hold an earlier hash's blocks).
/// Inputs are checked as the `argon2` crate checks them.
pub(super) fn hash_into(
    simd: V3,
    params: &Params,
    secret: Option<&[u8]>,
    pwd: &[u8],
    salt: &[u8],
    out: &mut [u8],
    memory: &mut [Block],
) -> Result<(), argon2::Error> {
    // the `argon2` crate's checks, in its order (`new_with_secret`, then
    // `hash_password_into_with_memory`)
    let too_long = |n: usize| u32::try_from(n).is_err();
    if secret.is_some_and(|s| too_long(s.len())) {
        return Err(argon2::Error::SecretTooLong);
    }
    if out.len() < params.output_len().unwrap_or(Params::MIN_OUTPUT_LEN) {
        return Err(argon2::Error::OutputTooShort);
    }
    if out.len() > params.output_len().unwrap_or(Params::MAX_OUTPUT_LEN) || too_long(out.len()) {
        return Err(argon2::Error::OutputTooLong);
    }
    if too_long(pwd.len()) {
        return Err(argon2::Error::PwdTooLong);
    }
    if salt.len() < argon2::MIN_SALT_LEN {
        return Err(argon2::Error::SaltTooShort);
    }
    if too_long(salt.len()) {
        return Err(argon2::Error::SaltTooLong);
    }
    let lanes = params.p_cost() as usize;
    let lane_len = params.block_count() / lanes;
    let memory = memory
        .get_mut(..params.block_count())
        .ok_or(argon2::Error::MemoryTooLittle)?;

    let mut h0 = {
        let mut d = Blake2b512::new();
        for v in [
            params.p_cost(),
            out.len() as u32,
            params.m_cost(),
            params.t_cost(),
            0x13,
            2,
        ] {
            d.update(v.to_le_bytes());
        }
        for field in [pwd, salt, secret.unwrap_or_default(), params.data()] {
            d.update((field.len() as u32).to_le_bytes());
            d.update(field);
        }
        d.finalize()
    };
    let mut bytes = [0u8; Block::SIZE];
    for lane in 0..lanes {
        for i in 0..2u32 {
            blake2b_long(
                &[h0.as_ref(), &i.to_le_bytes(), &(lane as u32).to_le_bytes()],
                &mut bytes,
            );
            let block: &mut [u64] = memory[lane * lane_len + i as usize].as_mut();
            for (w, chunk) in block.iter_mut().zip(bytes.chunks_exact(8)) {
                let mut le = [0u8; 8];
                le.copy_from_slice(chunk);
                *w = u64::from_le_bytes(le);
            }
        }
    }
    h0.zeroize();

    simd.vectorize(Fill {
        simd,
        memory: &mut *memory,
        passes: params.t_cost() as usize,
        lanes,
        lane_len,
    });

    let mut last = [0u64; WORDS];
    for lane in 0..lanes {
        let block: &[u64] = memory[lane * lane_len + lane_len - 1].as_ref();
        for (acc, w) in last.iter_mut().zip(block) {
            *acc ^= w;
        }
    }
    for (chunk, w) in bytes.chunks_exact_mut(8).zip(last.iter()) {
        chunk.copy_from_slice(&w.to_le_bytes());
    }
    blake2b_long(&[&bytes], out);
    bytes.zeroize();
    last.zeroize();
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use argon2::{Algorithm, Argon2, AssociatedData, ParamsBuilder, Version};

    fn plain(params: &Params, secret: Option<&[u8]>, pwd: &[u8], salt: &[u8]) -> Vec<u8> {
        let ctx = match secret {
            Some(s) => Argon2::new_with_secret(s, Algorithm::Argon2id, Version::V0x13, params.clone()).unwrap(),
            None => Argon2::new(Algorithm::Argon2id, Version::V0x13, params.clone()),
        };
        let mut out = vec![0u8; params.output_len().unwrap_or(32)];
        ctx.hash_password_into(pwd, salt, &mut out).unwrap();
        out
    }

    fn ours(
        simd: V3,
        params: &Params,
        secret: Option<&[u8]>,
        pwd: &[u8],
        salt: &[u8],
        memory: &mut Vec<Block>,
    ) -> Vec<u8> {
        if memory.len() < params.block_count() {
            memory.resize(params.block_count(), Block::new());
        }
        let mut out = vec![0u8; params.output_len().unwrap_or(32)];
        hash_into(simd, params, secret, pwd, salt, &mut out, memory).unwrap();
        out
    }

    /// The AVX2 token; without AVX2 the tests skip with the reason, except
    /// under `CI=true`, where a machine without AVX2 would leave the block
    /// function untested, so they fail.
    fn simd() -> Option<V3> {
        let simd = detect();
        if simd.is_none() {
            let in_ci = std::env::var("CI").is_ok_and(|v| v == "true" || v == "1");
            assert!(
                !in_ci,
                "CI=true but this CPU has no AVX2: the AVX2 block function would go untested"
            );
            eprintln!("SKIPPED: this CPU has no AVX2; the AVX2 block function is not used here");
        }
        simd
    }

    #[test]
    fn rfc9106_argon2id_vector() {
        let Some(simd) = simd() else { return };
        let params = ParamsBuilder::new()
            .m_cost(32)
            .t_cost(3)
            .p_cost(4)
            .output_len(32)
            .data(AssociatedData::new(&[0x04; 12]).unwrap())
            .build()
            .unwrap();
        let mut memory = Vec::new();
        let out = ours(simd, &params, Some(&[0x03; 8]), &[0x01; 32], &[0x02; 16], &mut memory);
        assert_eq!(
            crate::pin::hex(&out),
            "0d640df58d78766c08c037a34a8b53c9d01ef0452d75b65eb52520e96b01e659"
        );
    }

    #[test]
    fn bit_for_bit_with_the_argon2_crate() {
        let Some(simd) = simd() else { return };
        // one dirty memory area for every case, as the hasher's pool reuses it
        let mut memory = Vec::new();
        for (m, t, p, out_len) in [
            (8, 1, 1, 32),
            (64, 1, 1, 32),
            (64, 2, 1, 4),
            (100, 3, 1, 64),
            (256, 1, 2, 32),
            (1024, 2, 1, 65),
            (2048, 1, 4, 128),
            (4099, 2, 3, 32),
            (19_456, 2, 1, 32),
        ] {
            let params = ParamsBuilder::new()
                .m_cost(m)
                .t_cost(t)
                .p_cost(p)
                .output_len(out_len)
                .build()
                .unwrap();
            for (secret, pwd, salt) in [
                (None, &b"004271"[..], &b"saltsaltsaltsalt"[..]),
                (Some(&b"pepper key"[..]), &b""[..], &b"8bytes!!"[..]),
                (None, &[0xFF; 300][..], &[0u8; 64][..]),
            ] {
                assert_eq!(
                    ours(simd, &params, secret, pwd, salt, &mut memory),
                    plain(&params, secret, pwd, salt),
                    "m={m} t={t} p={p} out={out_len} secret={}",
                    secret.is_some()
                );
            }
        }
    }

    #[test]
    fn refuses_what_the_argon2_crate_refuses() {
        let Some(simd) = simd() else { return };
        let params = ParamsBuilder::new().m_cost(64).t_cost(1).p_cost(1).build().unwrap();
        let mut memory = vec![Block::new(); 64];
        let mut out = [0u8; 32];
        assert_eq!(
            hash_into(simd, &params, None, b"x", b"short", &mut out, &mut memory),
            Err(argon2::Error::SaltTooShort)
        );
        assert_eq!(
            hash_into(simd, &params, None, b"x", b"saltsalt", &mut out[..3], &mut memory),
            Err(argon2::Error::OutputTooShort)
        );
        // an output length fixed by the parameters is enforced both ways, as the crate does
        let fixed = ParamsBuilder::new()
            .m_cost(64)
            .t_cost(1)
            .p_cost(1)
            .output_len(32)
            .build()
            .unwrap();
        let ctx = Argon2::new(Algorithm::Argon2id, Version::V0x13, fixed.clone());
        for len in [16, 31, 33, 64] {
            let mut ours_out = vec![0u8; len];
            let mut theirs_out = vec![0u8; len];
            assert_eq!(
                hash_into(simd, &fixed, None, b"x", b"saltsalt", &mut ours_out, &mut memory),
                ctx.hash_password_into(b"x", b"saltsalt", &mut theirs_out),
                "output of {len} bytes"
            );
        }
        // two faults at once: the same one reported first
        let mut short = [0u8; 3];
        assert_eq!(
            hash_into(simd, &fixed, None, b"x", b"short", &mut short, &mut memory),
            ctx.hash_password_into(b"x", b"short", &mut short)
        );
        assert_eq!(
            hash_into(simd, &params, None, b"x", b"saltsalt", &mut out, &mut memory[..63]),
            Err(argon2::Error::MemoryTooLittle)
        );
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(256))]
        /// Random small parameters and inputs, one dirty memory area: the
        /// same bits as the `argon2` crate every time.
        #[test]
        fn random_parameters_agree_with_the_argon2_crate(
            m in 8u32..300,
            t in 1u32..4,
            p in 1u32..5,
            out_len in 4usize..80,
            pwd in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..40),
            salt in proptest::collection::vec(proptest::prelude::any::<u8>(), 8..40),
            secret in proptest::option::of(proptest::collection::vec(proptest::prelude::any::<u8>(), 1..33)),
        ) {
            let Some(simd) = simd() else { return Ok(()) };
            let m = m.max(8 * p);
            let params = ParamsBuilder::new().m_cost(m).t_cost(t).p_cost(p).output_len(out_len).build().unwrap();
            let mut memory = vec![Block::new(); params.block_count() + 3];
            memory.iter_mut().for_each(|b| b.as_mut().fill(0xA5A5_A5A5_A5A5_A5A5));
            let mut out = vec![0u8; out_len];
            hash_into(simd, &params, secret.as_deref(), &pwd, &salt, &mut out, &mut memory).unwrap();
            proptest::prop_assert_eq!(out, plain(&params, secret.as_deref(), &pwd, &salt));
        }
    }
}
