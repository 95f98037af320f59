//! Dynamic int8 matrix products: the reduced-precision path of the fused engine (`--engine fused-int8`).
//!
//! `y = x · W` with `W` quantized once, per output column (symmetric i8, `s_w[n] = max_k |W[k, n]| / 127`), and
//! `x` quantized per row when the product runs (asymmetric u8: `s_x[m] = (max − min) / 255` over the row and 0,
//! zero point `z[m]`; `/ 127` for the opt-in `avx2-7bit` kernel, see below). The products are summed exactly in
//! i32 and turned back into f32 once:
//!
//! `y[m, n] ≈ s_x[m] · s_w[n] · (Σ_k q_x[m, k] · q_w[k, n] − z[m] · Σ_k q_w[k, n])`
//!
//! Per-row and per-column scales (ONNX Runtime's `quantize_dynamic` uses one scale per tensor) keep the error of
//! a row independent of the other rows of the batch, so a sentence's labels do not depend on its batch mates.
//!
//! The kernel is chosen at run time: AMX (`tdpbusd`: a 16 × 64 u8 tile times a 64 × 16 i8 tile summed into 16 × 16
//! i32 per instruction, on Intel Xeon 4th generation and later, once Linux grants the process the tile state),
//! AVX-512 VNNI (`vpdpbusd`: 64 u8 × i8 products summed into 16 i32 lanes per instruction), AVX-VNNI (the same
//! instruction on 256-bit registers, on CPUs without AVX-512 such as Intel's client cores since Alder Lake), AVX2
//! (`vpmaddwd` on values widened to i16), or a portable loop. All of them sum the same quantized values exactly, so
//! they give the same outputs. One more AVX2 kernel is used only
//! when named (`KRE_INT8_KERNEL=avx2-7bit`): `vpmaddubsw` (32 u8 × i8 products summed in pairs into i16 lanes, then
//! `vpmaddwd` by 1 into i32), about 1.3× the `avx2` kernel's speed. A pair of 8-bit products can reach
//! 2 · 255 · 127 = 64,770, past i16, so there activations get 7 bits (0..=127: pairs stay within 32,258, sums exact),
//! which moves more labels of a trained classifier (docs/performance.md); saturating pairs (ONNX Runtime's AVX2
//! path) or 7-bit weights (its `reduce_range`) moved more still. Each kernel's sums equal a direct loop's over the
//! same quantized values (tests check every available kernel).
use rayon::prelude::*;

/// Which int8 dot-product kernel runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Int8Kernel {
    /// AMX-TILE + AMX-INT8 (with AVX2 + FMA for quantizing and dequantizing).
    Amx,
    /// AVX-512 F + BW + VNNI.
    Avx512Vnni,
    /// AVX-VNNI (256-bit `vpdpbusd`, VEX-encoded), with AVX2 + FMA for quantizing and dequantizing.
    AvxVnni,
    /// AVX2 (with FMA for the quantization of activations).
    Avx2,
    /// AVX2 with `vpmaddubsw` and 7-bit activations: faster than [`Int8Kernel::Avx2`], less accurate; only when
    /// named by [`Int8Kernel::CAP_VAR`].
    Avx2SevenBit,
    /// Any CPU.
    Portable,
}

impl Int8Kernel {
    /// The fastest kernel this CPU runs, or no faster than the one named by the environment variable
    /// [`Int8Kernel::CAP_VAR`] (`avx512-vnni`, `avx-vnni`, `avx2`, `portable`; as PyTorch's `ATEN_CPU_CAPABILITY`): to time or check a
    /// narrower kernel on a wider CPU; `avx2-7bit` picks that kernel. An unknown name is ignored with a warning.
    pub fn detect() -> Int8Kernel {
        let cap = std::env::var(Self::CAP_VAR).ok().and_then(|name| {
            let kernel = Self::from_name(&name);
            if kernel.is_none() {
                tracing::warn!(
                    "{}={name:?} is not amx, avx512-vnni, avx-vnni, avx2, avx2-7bit or portable; ignored",
                    Self::CAP_VAR
                );
            }
            kernel
        });
        Self::fastest_up_to(cap)
    }

    /// The fastest kernel this CPU runs that is no wider than `cap` (`cap` itself where it is the opt-in
    /// [`Int8Kernel::Avx2SevenBit`] and runs here).
    pub fn fastest_up_to(cap: Option<Int8Kernel>) -> Int8Kernel {
        if cap == Some(Int8Kernel::Avx2SevenBit) && Int8Kernel::Avx2SevenBit.is_available() {
            return Int8Kernel::Avx2SevenBit;
        }
        [Int8Kernel::Amx, Int8Kernel::Avx512Vnni, Int8Kernel::AvxVnni, Int8Kernel::Avx2]
            .into_iter()
            .filter(|k| cap.is_none_or(|cap| k.rank() <= cap.rank()))
            .find(|k| k.is_available())
            .unwrap_or(Int8Kernel::Portable)
    }

    /// The environment variable that caps [`Int8Kernel::detect`].
    pub const CAP_VAR: &'static str = "KRE_INT8_KERNEL";

    /// The kernel of an [`Int8Kernel::as_str`] name.
    pub fn from_name(name: &str) -> Option<Int8Kernel> {
        Int8Kernel::ALL.into_iter().find(|k| k.as_str() == name)
    }

    /// Every kernel, widest first.
    pub const ALL: [Int8Kernel; 6] = [
        Int8Kernel::Amx,
        Int8Kernel::Avx512Vnni,
        Int8Kernel::AvxVnni,
        Int8Kernel::Avx2SevenBit,
        Int8Kernel::Avx2,
        Int8Kernel::Portable,
    ];

    /// Wider kernels rank higher.
    fn rank(self) -> u8 {
        match self {
            Int8Kernel::Portable => 0,
            Int8Kernel::Avx2 | Int8Kernel::Avx2SevenBit => 1,
            Int8Kernel::AvxVnni => 2,
            Int8Kernel::Avx512Vnni => 3,
            Int8Kernel::Amx => 4,
        }
    }

    /// Whether this CPU can run the kernel.
    pub fn is_available(self) -> bool {
        match self {
            #[cfg(target_arch = "x86_64")]
            Int8Kernel::Amx => {
                is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma") && x86::amx_is_permitted()
            }
            #[cfg(target_arch = "x86_64")]
            Int8Kernel::Avx512Vnni => {
                is_x86_feature_detected!("avx512f")
                    && is_x86_feature_detected!("avx512bw")
                    && is_x86_feature_detected!("avx512vnni")
            }
            #[cfg(target_arch = "x86_64")]
            Int8Kernel::AvxVnni => {
                is_x86_feature_detected!("avx2")
                    && is_x86_feature_detected!("fma")
                    && is_x86_feature_detected!("avxvnni")
            }
            #[cfg(target_arch = "x86_64")]
            Int8Kernel::Avx2 | Int8Kernel::Avx2SevenBit => {
                is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma")
            }
            Int8Kernel::Portable => true,
            #[allow(unreachable_patterns)]
            _ => false,
        }
    }

    /// Name for logs and benchmark ids.
    pub fn as_str(self) -> &'static str {
        match self {
            Int8Kernel::Amx => "amx",
            Int8Kernel::Avx512Vnni => "avx512-vnni",
            Int8Kernel::AvxVnni => "avx-vnni",
            Int8Kernel::Avx2 => "avx2",
            Int8Kernel::Avx2SevenBit => "avx2-7bit",
            Int8Kernel::Portable => "portable",
        }
    }

    /// Rows of one register tile.
    fn tile_rows(self) -> usize {
        match self {
            Int8Kernel::Amx => 32,
            Int8Kernel::Avx512Vnni => 8,
            Int8Kernel::AvxVnni | Int8Kernel::Avx2 => 6,
            Int8Kernel::Avx2SevenBit => AVX2_SEVEN_BIT_TILE_ROWS,
            Int8Kernel::Portable => 1,
        }
    }

    /// The largest quantized activation: 255, or 127 where pairs of products must fit i16 (`vpmaddubsw`).
    fn activation_max(self) -> u8 {
        match self {
            Int8Kernel::Avx2SevenBit => 127,
            Int8Kernel::Amx
            | Int8Kernel::Avx512Vnni
            | Int8Kernel::AvxVnni
            | Int8Kernel::Avx2
            | Int8Kernel::Portable => 255,
        }
    }

    /// Columns of one packed weight panel.
    fn panel_cols(self) -> usize {
        match self {
            Int8Kernel::Amx | Int8Kernel::Avx512Vnni | Int8Kernel::Portable => 32,
            Int8Kernel::AvxVnni | Int8Kernel::Avx2 | Int8Kernel::Avx2SevenBit => 16,
        }
    }

    /// Consecutive `k` values one 32-bit lane holds: four u8/i8 (the VNNI layout, which AMX and `avx2-7bit`
    /// share) or two i16.
    fn k_group(self) -> usize {
        match self {
            Int8Kernel::Amx
            | Int8Kernel::Avx512Vnni
            | Int8Kernel::AvxVnni
            | Int8Kernel::Avx2SevenBit
            | Int8Kernel::Portable => 4,
            Int8Kernel::Avx2 => 2,
        }
    }

    /// Whether quantizing and dequantizing use AVX-512 (F + BW; every CPU with VNNI or AMX has them).
    fn quantizes_with_avx512(self) -> bool {
        #[cfg(target_arch = "x86_64")]
        if matches!(self, Int8Kernel::Amx | Int8Kernel::Avx512Vnni) {
            return is_x86_feature_detected!("avx512f") && is_x86_feature_detected!("avx512bw");
        }
        false
    }

    /// What `k` is padded to (with zeros): the k group, or a whole tile row of 64 bytes for AMX.
    fn k_align(self) -> usize {
        match self {
            Int8Kernel::Amx => 64,
            _ => self.k_group(),
        }
    }
}

/// Rows of the `avx2-7bit` register tile: 4 × 16 columns keeps its 8 accumulators, 2 panel vectors, the
/// broadcast, the ones and a product in the 16 ymm registers.
const AVX2_SEVEN_BIT_TILE_ROWS: usize = 4;
/// Rows of `x` quantized and multiplied together: a multiple of every tile height (32, 8, 6, 4, 1); its u8 rows (up
/// to 96 × 3072 B) and one weight panel stay in L2 while the panels stream past.
pub const BLOCK_ROWS: usize = 96;
/// Largest tile: 32 rows × 32 columns of i32 sums (AMX: four 16 × 16 tiles).
const MAX_TILE: usize = 32 * 32;

/// 64 bytes on a cache-line boundary: AMX loads tile rows of 64 bytes, and VNNI panel loads are 64 bytes.
#[derive(Clone, Copy, Debug)]
#[repr(C, align(64))]
struct CacheLine([u8; 64]);

/// A zero-initialised byte buffer that starts on a cache line.
#[derive(Clone, Debug, Default)]
struct AlignedBytes {
    lines: Vec<CacheLine>,
    len: usize,
}

impl AlignedBytes {
    /// Resizes to `len` bytes, keeping what the first bytes held (new bytes are zero).
    fn resize_for(&mut self, len: usize) {
        self.lines.resize(len.div_ceil(64), CacheLine([0; 64]));
        self.len = len;
    }

    fn bytes(&self) -> &[u8] {
        // SAFETY: `lines` holds at least `len` initialised bytes; `CacheLine` is plain bytes.
        unsafe { std::slice::from_raw_parts(self.lines.as_ptr().cast(), self.len) }
    }

    fn bytes_mut(&mut self) -> &mut [u8] {
        // SAFETY: as in `bytes`, borrowed mutably.
        unsafe { std::slice::from_raw_parts_mut(self.lines.as_mut_ptr().cast(), self.len) }
    }

    /// The bytes as i8 (weights).
    fn signed(&self) -> &[i8] {
        // SAFETY: u8 and i8 have the same size and alignment.
        unsafe { std::slice::from_raw_parts(self.lines.as_ptr().cast(), self.len) }
    }
}

/// A `[k, n]` weight matrix quantized to i8 per column and packed for one kernel.
#[derive(Debug, Clone)]
pub struct Int8Matrix {
    k: usize,
    n: usize,
    /// `k` rounded up to the kernel's [`Int8Kernel::k_align`].
    k_padded: usize,
    kernel: Int8Kernel,
    /// `[panel][k / group][column in panel][k % group]`; i8 values (i16 for AVX2), zero in the padding.
    packed_i8: AlignedBytes,
    packed_i16: Vec<i16>,
    scales: Vec<f32>,
    column_sums: Vec<i32>,
    activations: ActivationPrecision,
}

thread_local! {
    /// [`Int8Matrix::product`]'s buffers on each pool thread, kept between calls (rayon's `for_each_init` would make
    /// new ones for every split of the work).
    static SCRATCH: std::cell::RefCell<Int8Scratch> = Default::default();
}

/// Where the dequantized product goes.
#[derive(Clone, Copy, Debug)]
pub enum Output<'a> {
    /// `dst += x · W`.
    Accumulate,
    /// `dst = (residual +) bias + x · W`: `dst` is only written; `residual` is `[rows, n]` like `dst`, `bias` `[n]`.
    Bias { bias: &'a [f32], residual: Option<&'a [f32]> },
}

/// Per-thread buffers of one row block, kept between products by callers that run their own row blocks
/// ([`Int8Matrix::product_on_this_thread`]).
#[derive(Default)]
pub struct Int8Scratch {
    /// The first quantization of the block's rows and, for [`ActivationPrecision::TwoPassInt8`], that of its
    /// rounding error.
    passes: [QuantizedRows; 2],
    /// One row's rounding error.
    error: Vec<f32>,
}

/// A block of rows quantized to u8 (widened to i16 for the AVX2 kernel), with each row's scale and zero point.
#[derive(Default)]
struct QuantizedRows {
    x_u8: AlignedBytes,
    x_i16: Vec<i16>,
    scales: Vec<f32>,
    zeros: Vec<i32>,
}

impl QuantizedRows {
    /// Room for `padded_rows` rows of `kp` values, the rows from `rows` on zero.
    fn reset(&mut self, rows: usize, padded_rows: usize, kp: usize) {
        // Only the padding needs zeros (each real row is overwritten, its `k..kp` tail zeroed, when quantized).
        self.x_u8.resize_for(padded_rows * kp);
        self.x_u8.bytes_mut()[rows * kp..].fill(0);
        self.scales.clear();
        self.scales.resize(padded_rows, 0.0);
        self.zeros.clear();
        self.zeros.resize(padded_rows, 0);
    }

    /// Quantizes `x` (`k` values) into row `r`.
    fn quantize(&mut self, r: usize, x: &[f32], kp: usize, kernel: Int8Kernel) {
        let row = &mut self.x_u8.bytes_mut()[r * kp..(r + 1) * kp];
        row[x.len()..].fill(0);
        let (scale, zero) = quantize_row(x, &mut row[..x.len()], kernel);
        self.scales[r] = scale;
        self.zeros[r] = zero;
    }

    /// `x − dequantize(row r)` into `error`.
    fn rounding_error(&self, r: usize, x: &[f32], kp: usize, error: &mut Vec<f32>) {
        let (scale, zero) = (self.scales[r], self.zeros[r]);
        error.clear();
        error.extend(x.iter().zip(&self.x_u8.bytes()[r * kp..]).map(|(&v, &q)| v - scale * (q as i32 - zero) as f32));
    }
}

/// How finely activations are quantized for the int8 products.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum ActivationPrecision {
    /// One 8-bit quantization per row.
    #[default]
    Int8,
    /// Two 8-bit quantizations per row, the second of the first one's rounding error: about 16 bits (the error of
    /// the pair is a 255th of one step of the first), for twice the integer products. With the weights still in 8
    /// bits: "W8A16".
    TwoPassInt8,
}

impl Int8Matrix {
    /// Quantizes the row-major `[k, n]` matrix for the fastest kernel of this CPU.
    pub fn new(weight: &[f32], k: usize, n: usize) -> Int8Matrix {
        Int8Matrix::with_kernel(weight, k, n, Int8Kernel::detect())
    }

    /// Quantizes for `kernel`, which must be available on this CPU (tests compare kernels).
    pub fn with_kernel(weight: &[f32], k: usize, n: usize, kernel: Int8Kernel) -> Int8Matrix {
        assert_eq!(weight.len(), k * n, "weight is not [k, n]");
        assert!(kernel.is_available(), "the {} kernel does not run on this CPU", kernel.as_str());
        let mut scales = vec![0.0f32; n];
        for row in weight.chunks_exact(n.max(1)) {
            for (s, w) in scales.iter_mut().zip(row) {
                *s = s.max(w.abs());
            }
        }
        for s in &mut scales {
            *s = if *s > 0.0 { *s / 127.0 } else { 1.0 };
        }
        let quantized: Vec<i8> = weight
            .chunks_exact(n.max(1))
            .flat_map(|row| row.iter().zip(&scales).map(|(w, s)| (w / s).round().clamp(-127.0, 127.0) as i8))
            .collect();
        let q = |kk: usize, c: usize| quantized[kk * n + c];
        let mut column_sums = vec![0i32; n];
        for row in quantized.chunks_exact(n.max(1)) {
            for (sum, &v) in column_sums.iter_mut().zip(row) {
                *sum += v as i32;
            }
        }
        let (nr, group) = (kernel.panel_cols(), kernel.k_group());
        let k_padded = k.div_ceil(kernel.k_align()) * kernel.k_align();
        let panels = n.div_ceil(nr);
        let index =
            |kk: usize, c: usize| (c / nr) * k_padded * nr + (kk / group) * nr * group + (c % nr) * group + kk % group;
        let mut packed_i8 = AlignedBytes::default();
        packed_i8.resize_for(panels * k_padded * nr);
        let bytes = packed_i8.bytes_mut();
        for kk in 0..k {
            for c in 0..n {
                bytes[index(kk, c)] = q(kk, c) as u8;
            }
        }
        let packed_i16 = match kernel {
            Int8Kernel::Avx2 => std::mem::take(&mut packed_i8).signed().iter().map(|&v| v as i16).collect(),
            _ => Vec::new(),
        };
        let activations = ActivationPrecision::Int8;
        Int8Matrix { k, n, k_padded, kernel, packed_i8, packed_i16, scales, column_sums, activations }
    }

    /// The kernel this matrix was packed for.
    pub fn kernel(&self) -> Int8Kernel {
        self.kernel
    }

    /// How the products quantize activations from now on.
    pub fn set_activation_precision(&mut self, precision: ActivationPrecision) {
        self.activations = precision;
    }

    /// How the products quantize activations.
    pub fn activation_precision(&self) -> ActivationPrecision {
        self.activations
    }

    /// `dst[rows, n] += x[rows, k] · W`, both row-major, with `x` quantized per row; row blocks run in parallel on
    /// the current rayon pool.
    pub fn accumulate(&self, dst: &mut [f32], x: &[f32], rows: usize) {
        self.product(dst, x, rows, Output::Accumulate);
    }

    /// `x[rows, k] · W` into `dst[rows, n]` as `output` says, row blocks in parallel on the current rayon pool.
    pub fn product(&self, dst: &mut [f32], x: &[f32], rows: usize, output: Output) {
        let (k, n) = (self.k, self.n);
        self.check_shapes(dst, x, rows, output);
        if rows == 0 || n == 0 {
            return;
        }
        dst[..rows * n].par_chunks_mut(BLOCK_ROWS * n).enumerate().for_each(|(i, dst)| {
            let first = i * BLOCK_ROWS;
            let block_rows = dst.len() / n;
            let x = &x[first * k..(first + block_rows) * k];
            SCRATCH.with_borrow_mut(|s| self.block(s, dst, x, output.rows(first * n, block_rows * n)));
        });
    }

    /// [`Int8Matrix::product`] on the calling thread only, with the caller's scratch buffers: for callers that
    /// run several products on one block of rows while it is in cache (the fused engine's feed-forward).
    pub fn product_on_this_thread(&self, s: &mut Int8Scratch, dst: &mut [f32], x: &[f32], rows: usize, output: Output) {
        let (k, n) = (self.k, self.n);
        self.check_shapes(dst, x, rows, output);
        for first in (0..rows).step_by(BLOCK_ROWS) {
            let block_rows = BLOCK_ROWS.min(rows - first);
            let dst = &mut dst[first * n..(first + block_rows) * n];
            self.block(s, dst, &x[first * k..(first + block_rows) * k], output.rows(first * n, block_rows * n));
        }
    }

    fn check_shapes(&self, dst: &[f32], x: &[f32], rows: usize, output: Output) {
        let (k, n) = (self.k, self.n);
        assert!(dst.len() >= rows * n && x.len() >= rows * k, "dst or x is shorter than {rows} rows");
        if let Output::Bias { bias, residual } = output {
            assert!(bias.len() == n, "bias has {} values for {n} columns", bias.len());
            assert!(residual.is_none_or(|r| r.len() >= rows * n), "residual is shorter than {rows} rows");
        }
    }

    /// One block of at most [`BLOCK_ROWS`] rows: quantize them, then for each weight panel run the register tiles.
    fn block(&self, s: &mut Int8Scratch, dst: &mut [f32], x: &[f32], output: Output) {
        let (k, n, kp) = (self.k, self.n, self.k_padded);
        let rows = x.len() / k.max(1);
        let mr = self.kernel.tile_rows();
        let padded_rows = rows.div_ceil(mr) * mr;
        let passes = match self.activations {
            ActivationPrecision::Int8 => 1,
            ActivationPrecision::TwoPassInt8 => 2,
        };
        let Int8Scratch { passes: [first, second], error } = s;
        first.reset(rows, padded_rows, kp);
        if passes == 2 {
            second.reset(rows, padded_rows, kp);
        }
        for r in 0..rows {
            let x = &x[r * k..(r + 1) * k];
            first.quantize(r, x, kp, self.kernel);
            if passes == 2 {
                first.rounding_error(r, x, kp, error);
                second.quantize(r, error, kp, self.kernel);
            }
        }
        if self.kernel == Int8Kernel::Avx2 {
            for pass in &mut s.passes[..passes] {
                pass.x_i16.clear();
                pass.x_i16.extend(pass.x_u8.bytes().iter().map(|&v| v as i16));
            }
        }
        // The tile shapes stay configured for the whole block and are released when it ends.
        #[cfg(target_arch = "x86_64")]
        let _tiles = (self.kernel == Int8Kernel::Amx).then(|| {
            // SAFETY: the AMX kernel is available (checked when packing), so the process may use the tile state.
            unsafe { x86::AmxTiles::configure() }
        });
        let nr = self.kernel.panel_cols();
        let mut tile = [0i32; MAX_TILE];
        for panel in 0..n.div_ceil(nr) {
            let col0 = panel * nr;
            let cols = nr.min(n - col0);
            let (w_scales, w_sums) = (&self.scales[col0..col0 + cols], &self.column_sums[col0..col0 + cols]);
            for row0 in (0..rows).step_by(mr) {
                let tile_rows = mr.min(rows - row0);
                // The tile's output rows are a row stride apart, which the hardware prefetcher does not follow;
                // without this the epilogue waits on memory about as long as the tile computes.
                for m in row0..row0 + tile_rows {
                    prefetch(&dst[m * n + col0..m * n + col0 + cols]);
                }
                for (i, pass) in s.passes[..passes].iter().enumerate() {
                    self.tile(pass, panel, row0, &mut tile);
                    for r in 0..tile_rows {
                        let m = row0 + r;
                        let at = m * n + col0..m * n + col0 + cols;
                        let base = match output {
                            // The second pass adds onto what the first wrote.
                            _ if i > 0 => Base::Dst,
                            Output::Accumulate => Base::Dst,
                            Output::Bias { bias, residual: None } => Base::Bias(&bias[col0..col0 + cols]),
                            Output::Bias { bias, residual: Some(residual) } => {
                                Base::BiasResidual(&bias[col0..col0 + cols], &residual[at.clone()])
                            }
                        };
                        let sums = &tile[r * nr..r * nr + cols];
                        let (row_scale, zero) = (pass.scales[m], pass.zeros[m]);
                        let quantized = Quantized { sums, row_scale, zero, w_scales, w_sums };
                        dequantize_into(&mut dst[at], quantized, base, self.kernel);
                    }
                }
            }
        }
    }

    /// i32 sums of rows `row0 .. row0 + tile_rows` of the quantized block against one panel, `[tile_rows][panel_cols]`.
    fn tile(&self, s: &QuantizedRows, panel: usize, row0: usize, out: &mut [i32; MAX_TILE]) {
        let (kp, nr) = (self.k_padded, self.kernel.panel_cols());
        let panel_len = kp * nr;
        match self.kernel {
            #[cfg(target_arch = "x86_64")]
            Int8Kernel::Amx => {
                let a = &s.x_u8.bytes()[row0 * kp..(row0 + 32) * kp];
                let b = &self.packed_i8.signed()[panel * panel_len..(panel + 1) * panel_len];
                // SAFETY: `block` configured the tiles (`AmxTiles`); `a` holds 32 rows of kp bytes and `b` one
                // panel of kp × 32 bytes, kp a multiple of 64.
                unsafe { x86::tile_amx(a, b, kp, out) }
            }
            #[cfg(target_arch = "x86_64")]
            Int8Kernel::Avx512Vnni => {
                let a = &s.x_u8.bytes()[row0 * kp..(row0 + 8) * kp];
                let b = &self.packed_i8.signed()[panel * panel_len..(panel + 1) * panel_len];
                // SAFETY: the kernel is available (checked when packing); `a` holds 8 rows of kp bytes and `b`
                // one panel of kp × 32 bytes, kp a multiple of 4.
                unsafe { x86::tile_avx512_vnni(a, b, kp, out) }
            }
            #[cfg(target_arch = "x86_64")]
            Int8Kernel::AvxVnni => {
                let a = &s.x_u8.bytes()[row0 * kp..(row0 + 6) * kp];
                let b = &self.packed_i8.signed()[panel * panel_len..(panel + 1) * panel_len];
                // SAFETY: the kernel is available (checked when packing); `a` holds 6 rows of kp bytes and `b` one
                // panel of kp × 16 bytes, kp a multiple of 4.
                unsafe { x86::tile_avx_vnni(a, b, kp, out) }
            }
            #[cfg(target_arch = "x86_64")]
            Int8Kernel::Avx2 => {
                let a = &s.x_i16[row0 * kp..(row0 + 6) * kp];
                let b = &self.packed_i16[panel * panel_len..(panel + 1) * panel_len];
                // SAFETY: as above with 6 rows of kp i16 and a panel of kp × 16 i16, kp a multiple of 2.
                unsafe { x86::tile_avx2(a, b, kp, out) }
            }
            #[cfg(target_arch = "x86_64")]
            Int8Kernel::Avx2SevenBit => {
                let a = &s.x_u8.bytes()[row0 * kp..(row0 + AVX2_SEVEN_BIT_TILE_ROWS) * kp];
                let b = &self.packed_i8.signed()[panel * panel_len..(panel + 1) * panel_len];
                // SAFETY: as above with AVX2_SEVEN_BIT_TILE_ROWS rows of kp bytes, values ≤ 127, and a panel of
                // kp × 16 bytes, kp a multiple of 4.
                unsafe { x86::tile_avx2_seven_bit(a, b, kp, out) }
            }
            _ => {
                let a = &s.x_u8.bytes()[row0 * kp..(row0 + 1) * kp];
                let b = &self.packed_i8.signed()[panel * panel_len..(panel + 1) * panel_len];
                out[..nr].fill(0);
                for (a4, b4) in a.chunks_exact(4).zip(b.chunks_exact(4 * nr)) {
                    for (o, w) in out[..nr].iter_mut().zip(b4.chunks_exact(4)) {
                        *o += a4.iter().zip(w).map(|(&x, &w)| x as i32 * w as i32).sum::<i32>();
                    }
                }
            }
        }
    }
}

/// Asks for the cache lines of `values` (one per 16 floats).
#[inline(always)]
fn prefetch(values: &[f32]) {
    #[cfg(target_arch = "x86_64")]
    for chunk in values.chunks(16) {
        // SAFETY: prefetching is a hint; the address is inside `values`.
        unsafe { std::arch::x86_64::_mm_prefetch::<{ std::arch::x86_64::_MM_HINT_T0 }>(chunk.as_ptr().cast()) };
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = values;
}

impl<'a> Output<'a> {
    /// The part of the output that belongs to `len` values of `dst` from `start`.
    fn rows(self, start: usize, len: usize) -> Output<'a> {
        match self {
            Output::Bias { bias, residual } => {
                Output::Bias { bias, residual: residual.map(|r| &r[start..start + len]) }
            }
            Output::Accumulate => Output::Accumulate,
        }
    }
}

/// What one row of dequantized sums is added to.
#[derive(Clone, Copy)]
enum Base<'a> {
    Dst,
    Bias(&'a [f32]),
    BiasResidual(&'a [f32], &'a [f32]),
}

/// One row of a tile's i32 sums with what turns them back into f32.
#[derive(Clone, Copy)]
struct Quantized<'a> {
    sums: &'a [i32],
    row_scale: f32,
    zero: i32,
    w_scales: &'a [f32],
    w_sums: &'a [i32],
}

/// `out[c] = base[c] + row_scale · w_scales[c] · (sums[c] − zero · w_sums[c])`, `base` being `out` itself, the
/// bias, or residual + bias.
fn dequantize_into(out: &mut [f32], q: Quantized, base: Base, kernel: Int8Kernel) {
    #[cfg(target_arch = "x86_64")]
    match kernel {
        // SAFETY: AVX-512 F checked by `quantizes_with_avx512`; every SIMD kernel implies AVX2 + FMA.
        _ if kernel.quantizes_with_avx512() => return unsafe { x86::dequantize_into_avx512(out, q, base) },
        // SAFETY: every SIMD kernel implies AVX2 + FMA, checked when the matrix was packed.
        Int8Kernel::Portable => {}
        _ => return unsafe { x86::dequantize_into_avx2(out, q, base) },
    }
    let _ = kernel;
    dequantize_values(out, q, base)
}

#[inline(always)]
fn dequantize_values(out: &mut [f32], q: Quantized, base: Base) {
    let Quantized { sums, row_scale, zero, w_scales, w_sums } = q;
    // Zipped iterators (no indexing) so that the loops vectorize without bounds checks.
    let values =
        sums.iter().zip(w_scales).zip(w_sums).map(|((&sum, &ws), &cs)| row_scale * ws * (sum - zero * cs) as f32);
    match base {
        Base::Dst => out.iter_mut().zip(values).for_each(|(o, v)| *o += v),
        Base::Bias(bias) => out.iter_mut().zip(bias).zip(values).for_each(|((o, b), v)| *o = b + v),
        // (residual + bias) first: the order the separate bias pass used.
        Base::BiasResidual(bias, residual) => {
            out.iter_mut().zip(residual).zip(bias).zip(values).for_each(|(((o, r), b), v)| *o = (r + b) + v)
        }
    }
}

/// Quantizes one row to `0..=kernel.activation_max()` with its own scale and zero point (the range always includes
/// 0, so zero padding and ReLU zeros are exact); returns `(scale, zero point)`.
fn quantize_row(x: &[f32], out: &mut [u8], kernel: Int8Kernel) -> (f32, i32) {
    let max = kernel.activation_max();
    #[cfg(target_arch = "x86_64")]
    match kernel {
        // SAFETY: AVX-512 F + BW checked by `quantizes_with_avx512`; every SIMD kernel implies AVX2 + FMA.
        _ if kernel.quantizes_with_avx512() => return unsafe { x86::quantize_row_avx512(x, out, max) },
        Int8Kernel::Portable => {}
        // SAFETY: every SIMD kernel implies AVX2 + FMA, checked when the matrix was packed.
        _ => return unsafe { x86::quantize_row_avx2(x, out, max) },
    }
    quantize_row_portable(x, out, max)
}

/// The portable [`quantize_row`], to `0..=max`.
fn quantize_row_portable(x: &[f32], out: &mut [u8], max: u8) -> (f32, i32) {
    let (scale, zero) = row_range(x, max);
    if scale == 0.0 {
        out.fill(0);
        return (0.0, 0);
    }
    quantize_values(x, out, scale, zero, max);
    (scale, zero)
}

/// `(scale, zero point)` of a row quantized to `0..=levels`: the range spans the row's values and 0; `(0, 0)` for
/// an all-zero (or non-finite) row, whose values then all quantize to 0.
#[inline(always)]
fn row_range(x: &[f32], levels: u8) -> (f32, i32) {
    row_range_in_lanes::<8>(x, levels)
}

/// [`row_range`] with `L` running minima and maxima (the vector width it is compiled for); NaN never wins a
/// comparison, so the result does not depend on `L`.
#[inline(always)]
fn row_range_in_lanes<const L: usize>(x: &[f32], levels: u8) -> (f32, i32) {
    let (mut lo, mut hi) = ([0.0f32; L], [0.0f32; L]);
    let chunks = x.chunks_exact(L);
    let tail = chunks.remainder();
    for c in chunks {
        for i in 0..L {
            lo[i] = if c[i] < lo[i] { c[i] } else { lo[i] };
            hi[i] = if c[i] > hi[i] { c[i] } else { hi[i] };
        }
    }
    let (mut min, mut max) = (0.0f32, 0.0f32);
    for &v in lo.iter().chain(tail) {
        min = min.min(v);
    }
    for &v in hi.iter().chain(tail) {
        max = max.max(v);
    }
    let range = max - min;
    if range <= 0.0 || !range.is_finite() {
        return (0.0, 0);
    }
    let levels = levels as f32;
    let scale = range / levels;
    (scale, (-min / scale).round().clamp(0.0, levels) as i32)
}

/// `q = clamp(round_ties_even(x / scale) + zero, 0, max)`, as the SIMD path computes it (`x · (1/scale) + zero`
/// fused, then rounded).
fn quantize_values(x: &[f32], out: &mut [u8], scale: f32, zero: i32, max: u8) {
    let (inverse, zero, max) = (1.0 / scale, zero as f32, max as f32);
    for (o, &v) in out.iter_mut().zip(x) {
        *o = v.mul_add(inverse, zero).round_ties_even().clamp(0.0, max) as u8;
    }
}

#[cfg(target_arch = "x86_64")]
mod x86 {
    use super::MAX_TILE;
    use std::arch::asm;
    use std::arch::x86_64::*;
    use std::sync::OnceLock;

    /// Whether the CPU has AMX-TILE and AMX-INT8 and the OS lets this process use the tile data: Linux (5.16 and
    /// later) keeps that state off until a process asks for it once (`arch_prctl(ARCH_REQ_XCOMP_PERM,
    /// XFEATURE_XTILEDATA)`); the permission then holds for all its threads.
    pub(super) fn amx_is_permitted() -> bool {
        static PERMITTED: OnceLock<bool> = OnceLock::new();
        *PERMITTED.get_or_init(|| {
            // CPUID leaf 7: EDX bit 24 AMX-TILE, bit 25 AMX-INT8.
            let leaf7 = __cpuid_count(7, 0);
            let has_amx = (leaf7.edx >> 24) & 1 == 1 && (leaf7.edx >> 25) & 1 == 1;
            has_amx && request_tile_data()
        })
    }

    #[cfg(target_os = "linux")]
    fn request_tile_data() -> bool {
        const ARCH_REQ_XCOMP_PERM: libc::c_long = 0x1023;
        const XFEATURE_XTILEDATA: libc::c_long = 18;
        // SAFETY: a plain system call with integer arguments; it fails (non-zero) where the kernel lacks AMX support.
        let status = unsafe { libc::syscall(libc::SYS_arch_prctl, ARCH_REQ_XCOMP_PERM, XFEATURE_XTILEDATA) };
        if status != 0 {
            tracing::debug!("the kernel did not grant AMX tile data; int8 uses AVX-512 VNNI or AVX2");
        }
        status == 0
    }

    #[cfg(not(target_os = "linux"))]
    fn request_tile_data() -> bool {
        false
    }

    /// The tile shapes of [`tile_amx`] loaded into this thread; released (tile state back to its initial, cheap
    /// to save, value) when dropped.
    pub(super) struct AmxTiles(());

    impl AmxTiles {
        /// Every tile 16 rows × 64 bytes: tmm0..=3 the four i32 blocks of the 32 × 32 output, tmm4/5 the two row
        /// halves of the activations, tmm6/7 the two column halves of the panel.
        ///
        /// # Safety
        /// [`amx_is_permitted`] must have returned true.
        pub(super) unsafe fn configure() -> AmxTiles {
            let mut config = super::CacheLine([0; 64]);
            config.0[0] = 1; // palette 1
            for tile in 0..8 {
                config.0[16 + 2 * tile] = 64; // bytes per row (u16, little-endian)
                config.0[48 + tile] = 16; // rows
            }
            // SAFETY: a valid palette-1 configuration; AMX is permitted (caller).
            unsafe { asm!("ldtilecfg [{}]", in(reg) config.0.as_ptr(), options(nostack, readonly)) };
            AmxTiles(())
        }
    }

    impl Drop for AmxTiles {
        fn drop(&mut self) {
            // SAFETY: the tiles were configured by this thread (`configure`).
            unsafe { asm!("tilerelease", options(nostack, nomem)) };
        }
    }

    /// 32 rows × 32 columns with the tiles of [`AmxTiles`]: per 64 `k`, load two 16-row halves of `a` (row stride
    /// kp) and the two 16-column halves of the panel (one row per group of 4 `k`, stride 128 bytes), then four
    /// `tdpbusd`; the four i32 tiles are stored into `out` as `[32][32]`.
    ///
    /// # Safety
    /// The tiles are configured ([`AmxTiles::configure`]) on this thread; `a` holds 32 rows of `kp` bytes, `b` a
    /// panel of `kp × 32` bytes, `kp` a non-zero multiple of 64.
    pub(super) unsafe fn tile_amx(a: &[u8], b: &[i8], kp: usize, out: &mut [i32; MAX_TILE]) {
        assert!(a.len() >= 32 * kp && b.len() >= 32 * kp && kp.is_multiple_of(64) && kp > 0);
        let a = a.as_ptr();
        let c = out.as_mut_ptr();
        // SAFETY: every load stays within `a` (32 × kp) and `b` (kp / 64 steps of 2,048 bytes), every store within
        // `out` (32 rows of 128 bytes); the caller configured the tiles.
        unsafe {
            asm!(
                "tilezero tmm0",
                "tilezero tmm1",
                "tilezero tmm2",
                "tilezero tmm3",
                "2:",
                "tileloadd tmm4, [{a0} + {sa}*1]",
                "tileloadd tmm5, [{a1} + {sa}*1]",
                "tileloadd tmm6, [{b} + {s128}*1]",
                "tileloadd tmm7, [{b} + {s128}*1 + 64]",
                "tdpbusd tmm0, tmm4, tmm6",
                "tdpbusd tmm1, tmm4, tmm7",
                "tdpbusd tmm2, tmm5, tmm6",
                "tdpbusd tmm3, tmm5, tmm7",
                "add {a0}, 64",
                "add {a1}, 64",
                "add {b}, 2048",
                "dec {steps}",
                "jnz 2b",
                "tilestored [{c0} + {s128}*1], tmm0",
                "tilestored [{c0} + {s128}*1 + 64], tmm1",
                "tilestored [{c1} + {s128}*1], tmm2",
                "tilestored [{c1} + {s128}*1 + 64], tmm3",
                a0 = inout(reg) a => _,
                a1 = inout(reg) a.add(16 * kp) => _,
                b = inout(reg) b.as_ptr() => _,
                steps = inout(reg) kp / 64 => _,
                sa = in(reg) kp,
                s128 = in(reg) 128usize,
                c0 = in(reg) c,
                c1 = in(reg) c.add(16 * 32),
                options(nostack),
            );
        }
    }

    /// [`super::quantize_row_portable`]'s range pass, then 32 values per step: scale and shift, convert with
    /// round-to-nearest-even, narrow to u8 with saturating packs (which clamp to 0..=255), then clamp to `max`.
    #[target_feature(enable = "avx2,fma")]
    pub(super) unsafe fn quantize_row_avx2(x: &[f32], out: &mut [u8], max: u8) -> (f32, i32) {
        let (scale, zero) = super::row_range(x, max);
        if scale == 0.0 {
            out.fill(0);
            return (0.0, 0);
        }
        let (inverse, shift) = (_mm256_set1_ps(1.0 / scale), _mm256_set1_ps(zero as f32));
        // packs work within 128-bit halves; this restores the order of the 32 values.
        let order = _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7);
        let ceiling = _mm256_set1_epi8(max as i8);
        let full = x.len() / 32 * 32;
        let (src, dst) = (x.as_ptr(), out.as_mut_ptr());
        let mut i = 0;
        while i < full {
            let q = |j: usize| _mm256_cvtps_epi32(_mm256_fmadd_ps(_mm256_loadu_ps(src.add(i + j)), inverse, shift));
            let low = _mm256_packs_epi32(q(0), q(8));
            let high = _mm256_packs_epi32(q(16), q(24));
            let bytes = _mm256_permutevar8x32_epi32(_mm256_packus_epi16(low, high), order);
            let bytes = _mm256_min_epu8(bytes, ceiling);
            _mm256_storeu_si256(dst.add(i) as *mut __m256i, bytes);
            i += 32;
        }
        super::quantize_values(&x[full..], &mut out[full..], scale, zero, max);
        (scale, zero)
    }

    /// [`quantize_row_avx2`] 16 values per step: convert with round-to-nearest-even, clamp below at 0, narrow
    /// with unsigned saturation (`vpmovusdb`, which clamps at 255), then clamp to `max`.
    #[target_feature(enable = "avx512f,avx512bw,avx2,fma")]
    pub(super) unsafe fn quantize_row_avx512(x: &[f32], out: &mut [u8], max: u8) -> (f32, i32) {
        let (scale, zero) = super::row_range_in_lanes::<16>(x, max);
        if scale == 0.0 {
            out.fill(0);
            return (0.0, 0);
        }
        let (inverse, shift) = (_mm512_set1_ps(1.0 / scale), _mm512_set1_ps(zero as f32));
        let (floor, ceiling) = (_mm512_setzero_si512(), _mm_set1_epi8(max as i8));
        let full = x.len() / 16 * 16;
        let (src, dst) = (x.as_ptr(), out.as_mut_ptr());
        let mut i = 0;
        while i < full {
            let q = _mm512_cvtps_epi32(_mm512_fmadd_ps(_mm512_loadu_ps(src.add(i)), inverse, shift));
            let bytes = _mm512_cvtusepi32_epi8(_mm512_max_epi32(q, floor));
            _mm_storeu_si128(dst.add(i) as *mut __m128i, _mm_min_epu8(bytes, ceiling));
            i += 16;
        }
        super::quantize_values(&x[full..], &mut out[full..], scale, zero, max);
        (scale, zero)
    }

    #[target_feature(enable = "avx2,fma")]
    pub(super) unsafe fn dequantize_into_avx2(out: &mut [f32], q: super::Quantized, base: super::Base) {
        super::dequantize_values(out, q, base)
    }

    #[target_feature(enable = "avx512f,avx2,fma")]
    pub(super) unsafe fn dequantize_into_avx512(out: &mut [f32], q: super::Quantized, base: super::Base) {
        super::dequantize_values(out, q, base)
    }

    /// 8 rows × 32 columns: per group of 4 `k`, two panel loads, eight 4-byte broadcasts, sixteen `vpdpbusd`.
    #[target_feature(enable = "avx512f,avx512bw,avx512vnni")]
    pub(super) unsafe fn tile_avx512_vnni(a: &[u8], b: &[i8], kp: usize, out: &mut [i32; MAX_TILE]) {
        debug_assert!(a.len() >= 8 * kp && b.len() >= 32 * kp && kp.is_multiple_of(4));
        let (a, b) = (a.as_ptr(), b.as_ptr());
        let mut acc = [_mm512_setzero_si512(); 16];
        for g in 0..kp / 4 {
            let b0 = _mm512_loadu_si512(b.add(g * 128) as *const _);
            let b1 = _mm512_loadu_si512(b.add(g * 128 + 64) as *const _);
            for r in 0..8 {
                let x = _mm512_set1_epi32((a.add(r * kp + g * 4) as *const i32).read_unaligned());
                acc[2 * r] = _mm512_dpbusd_epi32(acc[2 * r], x, b0);
                acc[2 * r + 1] = _mm512_dpbusd_epi32(acc[2 * r + 1], x, b1);
            }
        }
        for (i, v) in acc.iter().enumerate() {
            _mm512_storeu_si512(out.as_mut_ptr().add(i * 16) as *mut _, *v);
        }
    }

    /// 6 rows × 16 columns: per group of 4 `k`, two panel loads, six 4-byte broadcasts, twelve `vpdpbusd` (12
    /// accumulators, 2 panel vectors and the broadcast fill 15 of the 16 ymm registers).
    #[target_feature(enable = "avx2,avxvnni")]
    pub(super) unsafe fn tile_avx_vnni(a: &[u8], b: &[i8], kp: usize, out: &mut [i32; MAX_TILE]) {
        debug_assert!(a.len() >= 6 * kp && b.len() >= 16 * kp && kp.is_multiple_of(4));
        let (a, b) = (a.as_ptr(), b.as_ptr());
        let mut acc = [_mm256_setzero_si256(); 12];
        for g in 0..kp / 4 {
            let b0 = _mm256_loadu_si256(b.add(g * 64) as *const _);
            let b1 = _mm256_loadu_si256(b.add(g * 64 + 32) as *const _);
            for r in 0..6 {
                let x = _mm256_set1_epi32((a.add(r * kp + g * 4) as *const i32).read_unaligned());
                acc[2 * r] = _mm256_dpbusd_avx_epi32(acc[2 * r], x, b0);
                acc[2 * r + 1] = _mm256_dpbusd_avx_epi32(acc[2 * r + 1], x, b1);
            }
        }
        for (i, v) in acc.iter().enumerate() {
            _mm256_storeu_si256(out.as_mut_ptr().add(i * 8) as *mut _, *v);
        }
    }

    /// 6 rows × 16 columns: per pair of `k`, two panel loads, six broadcasts, twelve `vpmaddwd` + adds.
    #[target_feature(enable = "avx2")]
    pub(super) unsafe fn tile_avx2(a: &[i16], b: &[i16], kp: usize, out: &mut [i32; MAX_TILE]) {
        debug_assert!(a.len() >= 6 * kp && b.len() >= 16 * kp && kp.is_multiple_of(2));
        let (a, b) = (a.as_ptr(), b.as_ptr());
        let mut acc = [_mm256_setzero_si256(); 12];
        for g in 0..kp / 2 {
            let b0 = _mm256_loadu_si256(b.add(g * 32) as *const _);
            let b1 = _mm256_loadu_si256(b.add(g * 32 + 16) as *const _);
            for r in 0..6 {
                let x = _mm256_set1_epi32((a.add(r * kp + g * 2) as *const i32).read_unaligned());
                acc[2 * r] = _mm256_add_epi32(acc[2 * r], _mm256_madd_epi16(x, b0));
                acc[2 * r + 1] = _mm256_add_epi32(acc[2 * r + 1], _mm256_madd_epi16(x, b1));
            }
        }
        for (i, v) in acc.iter().enumerate() {
            _mm256_storeu_si256(out.as_mut_ptr().add(i * 8) as *mut _, *v);
        }
    }

    /// [`super::AVX2_SEVEN_BIT_TILE_ROWS`] rows × 16 columns: per group of 4 `k`, two panel loads (8 columns × 4
    /// bytes each), a 4-byte broadcast per row, and per row and panel vector `vpmaddubsw` (u8 × i8 pairs → i16,
    /// exact for activations ≤ 127), `vpmaddwd` by 1 (pairs of i16 → i32) and an add.
    #[target_feature(enable = "avx2")]
    pub(super) unsafe fn tile_avx2_seven_bit(a: &[u8], b: &[i8], kp: usize, out: &mut [i32; MAX_TILE]) {
        const R: usize = super::AVX2_SEVEN_BIT_TILE_ROWS;
        debug_assert!(a.len() >= R * kp && b.len() >= 16 * kp && kp.is_multiple_of(4));
        let (a, b) = (a.as_ptr(), b.as_ptr());
        let ones = _mm256_set1_epi16(1);
        let mut acc = [_mm256_setzero_si256(); 2 * R];
        for g in 0..kp / 4 {
            let b0 = _mm256_loadu_si256(b.add(g * 64) as *const _);
            let b1 = _mm256_loadu_si256(b.add(g * 64 + 32) as *const _);
            for r in 0..R {
                let x = _mm256_set1_epi32((a.add(r * kp + g * 4) as *const i32).read_unaligned());
                let p0 = _mm256_madd_epi16(_mm256_maddubs_epi16(x, b0), ones);
                let p1 = _mm256_madd_epi16(_mm256_maddubs_epi16(x, b1), ones);
                acc[2 * r] = _mm256_add_epi32(acc[2 * r], p0);
                acc[2 * r + 1] = _mm256_add_epi32(acc[2 * r + 1], p1);
            }
        }
        for (i, v) in acc.iter().enumerate() {
            _mm256_storeu_si256(out.as_mut_ptr().add(i * 8) as *mut _, *v);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pseudo_random(len: usize, seed: u32) -> Vec<f32> {
        let mut s = seed.wrapping_mul(2_654_435_761).max(1);
        (0..len)
            .map(|_| {
                s ^= s << 13;
                s ^= s >> 17;
                s ^= s << 5;
                (s as f32 / u32::MAX as f32) * 2.0 - 1.0
            })
            .collect()
    }

    /// The same quantization and sums written as a direct triple loop, independent of packing and tiles.
    fn direct(w: &[f32], x: &[f32], rows: usize, k: usize, n: usize, kernel: Int8Kernel) -> Vec<f32> {
        direct_with(w, x, rows, k, n, kernel, ActivationPrecision::Int8)
    }

    /// [`direct`] with two-pass activations: the second pass quantizes `x − dequantize(first)`.
    fn direct_with(
        w: &[f32],
        x: &[f32],
        rows: usize,
        k: usize,
        n: usize,
        kernel: Int8Kernel,
        precision: ActivationPrecision,
    ) -> Vec<f32> {
        let scales: Vec<f32> = (0..n)
            .map(|c| (0..k).map(|kk| w[kk * n + c].abs()).fold(0.0, f32::max) / 127.0)
            .map(|s| if s > 0.0 { s } else { 1.0 })
            .collect();
        let qw = |kk: usize, c: usize| (w[kk * n + c] / scales[c]).round().clamp(-127.0, 127.0) as i32;
        let mut y = vec![0.0f32; rows * n];
        for m in 0..rows {
            let mut row = x[m * k..(m + 1) * k].to_vec();
            let passes = if precision == ActivationPrecision::TwoPassInt8 { 2 } else { 1 };
            for _ in 0..passes {
                let mut q = vec![0u8; k];
                let (sx, z) = quantize_row_portable(&row, &mut q, kernel.activation_max());
                for c in 0..n {
                    let sum: i32 = (0..k).map(|kk| (q[kk] as i32 - z) * qw(kk, c)).sum();
                    y[m * n + c] += sx * scales[c] * sum as f32;
                }
                for (v, &q) in row.iter_mut().zip(&q) {
                    *v -= sx * (q as i32 - z) as f32;
                }
            }
        }
        y
    }

    #[test]
    fn a_cap_names_the_widest_kernel_allowed() {
        for k in Int8Kernel::ALL {
            assert_eq!(Int8Kernel::from_name(k.as_str()), Some(k));
            let chosen = Int8Kernel::fastest_up_to(Some(k));
            assert!(chosen.rank() <= k.rank() && chosen.is_available(), "{k:?} → {chosen:?}");
            if k.is_available() {
                assert_eq!(chosen, k);
            }
        }
        assert_eq!(Int8Kernel::from_name("sse"), None);
        assert_eq!(Int8Kernel::fastest_up_to(None), Int8Kernel::fastest_up_to(Some(Int8Kernel::ALL[0])));
    }

    #[test]
    fn every_available_kernel_gives_the_direct_loops_sums() {
        // Odd sizes: partial tiles, partial panels, k not a multiple of 4, more than one row block.
        for (rows, k, n) in [(1, 3, 5), (7, 33, 40), (200, 70, 97), (13, 768, 64)] {
            let w = pseudo_random(k * n, 7 + k as u32);
            let mut x = pseudo_random(rows * k, 11 + n as u32);
            x[0] = 0.0;
            if rows > 3 {
                x[2 * k..3 * k].fill(0.0); // an all-zero row
            }
            for kernel in Int8Kernel::ALL {
                if !kernel.is_available() {
                    eprintln!("{} not available here", kernel.as_str());
                    continue;
                }
                let want = direct(&w, &x, rows, k, n, kernel);
                let m = Int8Matrix::with_kernel(&w, k, n, kernel);
                let mut got = vec![1.0f32; rows * n];
                m.accumulate(&mut got, &x, rows);
                for (i, (g, w)) in got.iter().zip(&want).enumerate() {
                    assert!(
                        (g - 1.0 - w).abs() <= 1e-5 * (1.0 + w.abs()),
                        "{} {rows}×{k}×{n} [{i}]: {g} vs 1 + {w}",
                        kernel.as_str()
                    );
                }
            }
        }
    }

    #[test]
    fn two_pass_activations_give_the_direct_loops_sums_and_a_tenth_of_the_error() {
        let (rows, k, n) = (BLOCK_ROWS + 7, 130, 40);
        let (w, x) = (pseudo_random(k * n, 29), pseudo_random(rows * k, 31));
        let one_pass = direct(&w, &x, rows, k, n, Int8Kernel::Portable);
        for kernel in Int8Kernel::ALL.into_iter().filter(|k| k.is_available()) {
            let want = direct_with(&w, &x, rows, k, n, kernel, ActivationPrecision::TwoPassInt8);
            let mut m = Int8Matrix::with_kernel(&w, k, n, kernel);
            m.set_activation_precision(ActivationPrecision::TwoPassInt8);
            let mut got = vec![0.0f32; rows * n];
            m.accumulate(&mut got, &x, rows);
            for (i, (g, w)) in got.iter().zip(&want).enumerate() {
                assert!((g - w).abs() <= 1e-5 * (1.0 + w.abs()), "{} [{i}]: {g} vs {w}", kernel.as_str());
            }
        }
        // Against the f32 product with the same (quantized) weights, the activations' share of the error.
        let exact_x: Vec<f32> = {
            let scales: Vec<f32> =
                (0..n).map(|c| (0..k).map(|kk| w[kk * n + c].abs()).fold(0.0, f32::max) / 127.0).collect();
            let qw: Vec<f32> =
                (0..k * n).map(|i| (w[i] / scales[i % n]).round().clamp(-127.0, 127.0) * scales[i % n]).collect();
            (0..rows * n).map(|i| (0..k).map(|kk| x[(i / n) * k + kk] * qw[kk * n + i % n]).sum::<f32>()).collect()
        };
        let two_pass = direct_with(&w, &x, rows, k, n, Int8Kernel::Portable, ActivationPrecision::TwoPassInt8);
        let error = |y: &[f32]| y.iter().zip(&exact_x).map(|(a, b)| ((a - b) as f64).powi(2)).sum::<f64>().sqrt();
        let (e1, e2) = (error(&one_pass), error(&two_pass));
        assert!(e2 < e1 / 10.0, "two passes {e2} vs one {e1}");
    }

    #[test]
    fn products_at_the_largest_quantized_values_are_summed_exactly() {
        // Rows of 1.0 quantize to each kernel's largest activation and columns of ±1.0 to ±127: for avx2-7bit
        // every `vpmaddubsw` pair is 2 · 127 · 127 = 32,258, the most i16 can take without saturating.
        let (rows, k, n) = (5, 256, 24);
        let w: Vec<f32> = (0..k * n).map(|i| if (i % n) % 3 == 0 { -1.0 } else { 1.0 }).collect();
        let x = vec![1.0f32; rows * k];
        for kernel in Int8Kernel::ALL {
            if !kernel.is_available() {
                continue;
            }
            let m = Int8Matrix::with_kernel(&w, k, n, kernel);
            let mut got = vec![0.0f32; rows * n];
            m.accumulate(&mut got, &x, rows);
            for (i, g) in got.iter().enumerate() {
                let want = if (i % n) % 3 == 0 { -(k as f32) } else { k as f32 };
                assert!((g - want).abs() <= 1e-4 * k as f32, "{} [{i}]: {g} vs {want}", kernel.as_str());
            }
        }
    }

    #[test]
    fn bias_and_residual_outputs_equal_adding_onto_them_first() {
        let (rows, k, n) = (2 * BLOCK_ROWS + 5, 70, 45);
        let (w, x) = (pseudo_random(k * n, 13), pseudo_random(rows * k, 17));
        let (bias, residual) = (pseudo_random(n, 19), pseudo_random(rows * n, 23));
        for kernel in Int8Kernel::ALL.into_iter().filter(|k| k.is_available()) {
            let m = Int8Matrix::with_kernel(&w, k, n, kernel);
            let mut want = residual.clone();
            want.chunks_mut(n).for_each(|row| row.iter_mut().zip(&bias).for_each(|(v, b)| *v += b));
            m.accumulate(&mut want, &x, rows);
            let mut got = vec![f32::NAN; rows * n];
            m.product(&mut got, &x, rows, Output::Bias { bias: &bias, residual: Some(&residual) });
            assert!(got == want, "{}: bias + residual output", kernel.as_str());
            let mut serial = vec![f32::NAN; rows * n];
            let output = Output::Bias { bias: &bias, residual: Some(&residual) };
            m.product_on_this_thread(&mut Int8Scratch::default(), &mut serial, &x, rows, output);
            assert!(serial == want, "{}: on this thread", kernel.as_str());
            let mut biased = vec![f32::NAN; rows * n];
            m.product(&mut biased, &x, rows, Output::Bias { bias: &bias, residual: None });
            let mut want = bias.repeat(rows);
            m.accumulate(&mut want, &x, rows);
            assert!(biased == want, "{}: bias output", kernel.as_str());
        }
    }

    #[test]
    fn the_int8_product_is_close_to_the_f32_product() {
        let (rows, k, n) = (64, 384, 96);
        let (w, x) = (pseudo_random(k * n, 3), pseudo_random(rows * k, 5));
        let m = Int8Matrix::new(&w, k, n);
        let mut got = vec![0.0f32; rows * n];
        m.accumulate(&mut got, &x, rows);
        let (mut err, mut norm) = (0.0f64, 0.0f64);
        for r in 0..rows {
            for c in 0..n {
                let exact: f32 = (0..k).map(|kk| x[r * k + kk] * w[kk * n + c]).sum();
                err += ((got[r * n + c] - exact) as f64).powi(2);
                norm += (exact as f64).powi(2);
            }
        }
        let relative = (err / norm).sqrt();
        // 8-bit weights and activations: about 1 % relative error for uniform values.
        assert!(relative < 0.02, "relative error {relative}");
        assert!(relative > 0.0, "the product was not quantized");
    }
}
