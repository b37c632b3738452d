// CPU imresize: the two table-driven passes of sr_kernels/imresize.h with OpenMP.
//
// Work decomposition
//   rows pass (along H): one work item = one output row of one slab ((n, c) plane, or a whole
//     image n when the layout is NHWC and (W, C) merge into one contiguous run of W*C). The row
//     is computed in blocks of kBlock contiguous elements: for each tap, acc[0..kBlock) +=
//     w * src_row[0..kBlock), a broadcast multiply-add over 8 AVX2 registers of accumulators;
//     then single vectors, and the last < 8 columns (or strided rows) in scalar float64.
//   cols pass (along W): one work item = kLanes lines (a line = the W pixels of one (n, c, y)).
//     The lines are transposed into a [W][kLanes] tile (converted to the accumulation type once),
//     then every output pixel is acc[0..kLanes) += w * tile[index][0..kLanes): again a
//     broadcast multiply-add over contiguous lanes, whatever the tap indices are (mirror edges
//     included). uint8 NCHW output: 8 outputs x 8 lanes are transposed in registers and
//     written as 8-byte runs. Channels innermost (NHWC): a group is floor(kLanes / C) whole
//     pixel rows (lane = row * C + channel; 15 of 16 lanes for RGB), so no two threads write
//     the same output row; uint8 outputs are staged kStageOutputs at a time as [o][kLanes]
//     bytes (4 KB: the stage stays in L1) and copied out one pixel per 4-byte move (RGB with
//     AVX2: 8 pixels of every row per 32-bit-word transpose, byte shuffles and one store, from
//     8-output blocks staged in the order [0 4 1 5 2 6 3 7]; AVX-512: 16 pixels of every row
//     per four 64-byte loads and byte permutes), and RGB tiles are loaded one 4-byte load per
//     pixel. Outputs whose taps read consecutive tile columns (all but a few at the borders)
//     use fixed offsets (staged NHWC rows: in a loop of their own, no per-output test).
// Cost per output element: `taps` multiply-adds (taps = 4 for upscaling, about 4/scale + 1 when
//   downscaling with antialias); bytes: each input element is read once per pass from memory
//   (the rows it feeds stay in L1/L2) and each output written once. The x4 downscale is
//   compute-bound (18 taps), the upscale store-bound.
// Accumulation: float32 for uint8, float32, float16, bfloat16 (float32 weights); float64 for
//   float64. uint8 must round exactly like MATLAB's double (round half away from zero, clamp),
//   so each uint8 output whose float32 sum lies within tie_margin of a .5 tie (a proven bound
//   on |float32 sum - float64 sum|, sr_kernels/imresize.h) is recomputed in float64, in tap
//   order without FMA, i.e. with the reference's arithmetic: about 1e-3 of the outputs at x4.
// SIMD: the hot loops are compiled for the baseline x86-64 target and with AVX2 + FMA, and the
//   uint8 ones also with AVX-512 (F, BW, VBMI: 16-float registers), chosen at run time
//   (cpu_isa; the extension itself is built for the baseline target). The float32 sums use FMA
//   (the tie margin bounds FMA evaluation too); the float64 paths never do (intrinsics only, and
//   the build passes -ffp-contract=off): they round every product and sum separately, in tap
//   order, exactly as the reference does, so uint8 results equal the reference's even on exact
//   .5 ties (which occur at scales such as 3.5, where weights and pixel sums are rationals that
//   can land on n + 1/2).
// uint8 rounding (AVX2, AVX-512): round to nearest, the tie flag from |sum - nearest| (exact),
//   the clamp to [0, 255] by the saturating packs (AVX-512: max with 0, unsigned narrowing).
//   AVX2 rounds 32 bytes at a time where it can (round32: two cols-pass outputs, 32 rows-pass
//   outputs): one pack chain and one branch on the lane-wise maximum tie distance.
// AVX2, uint8 NHWC (CPUs without AVX-512 run it; torch's uint8 antialiased bicubic is AVX2
//   code too): the x4 RGB upscale (510x339 -> 2040x1356) profiled at about 75% cols pass, of
//   which ~55% sums + rounding, ~25% the 4-byte copy-out moves, ~10% tile loads. Rounding two
//   outputs per round32, the word-transpose copy-out and the run loop without a per-output
//   test (table fields in locals, StageTable: the uint8 stores may alias a ResizeTable) took
//   it from 0.96x to 1.15x F.interpolate(bicubic, antialias) (3.31 -> 2.57 ms, torch 2.96 ms)
//   and the x4 downscale (2040x1356 RGB) from 1.03x to 1.15x (round32 in the rows pass); 2
//   cores, interleaved rounds, medians; AVX-512 1.21x -> 1.22x (up), 1.27x -> 1.28x (down), NCHW
//   unchanged or better. A 16-byte-load + byte-shuffle RGB tile fill measured no gain (the
//   tile stores bound it) and was left out.
// Scratch: each thread of the cols pass allocates its tile (W * kLanes values) and, for uint8
//   NHWC, its staging buffer (min(out_len, kStageOutputs) * kLanes bytes) once per call.
#if defined(__x86_64__) || defined(__i386__)
// GCC 12's AVX-512 headers build undefined registers from self-initialised locals, which warn
// (-Wmaybe-uninitialized) wherever they are inlined; the state applies to the header's lines.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <immintrin.h>
#pragma GCC diagnostic pop
#endif

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <type_traits>
#include <vector>

#include "cpu_isa.h"
#include "sr_kernels/imresize.h"

#if SR_X86_MULTIVERSION
#define SR_TARGET_AVX2 __attribute__((target("avx2,fma")))
#define SR_FLATTEN_AVX2 __attribute__((target("avx2,fma"), flatten))
#define SR_TARGET_AVX512 __attribute__((target("avx512f,avx512bw,avx512vbmi,avx2,fma")))
#define SR_FLATTEN_AVX512 __attribute__((target("avx512f,avx512bw,avx512vbmi,avx2,fma"), flatten))
#else
#define SR_TARGET_AVX2
#define SR_FLATTEN_AVX2
#define SR_TARGET_AVX512
#define SR_FLATTEN_AVX512
#endif

#if defined(__GNUC__)
#define SR_ALWAYS_INLINE inline __attribute__((always_inline))
#else
#define SR_ALWAYS_INLINE inline
#endif

namespace sr {
namespace {

// ---------------------------------------------------------------------------------------------
// Storage types and conversions (torch-free).

struct Half {
  uint16_t bits;
};
struct BFloat16 {
  uint16_t bits;
};

SR_ALWAYS_INLINE float bits_to_float(uint32_t bits) {
  float f;
  std::memcpy(&f, &bits, sizeof(f));
  return f;
}

SR_ALWAYS_INLINE uint32_t float_to_bits(float f) {
  uint32_t bits;
  std::memcpy(&bits, &f, sizeof(bits));
  return bits;
}

inline float half_to_float(uint16_t h) {
  const uint32_t sign = (static_cast<uint32_t>(h) & 0x8000u) << 16;
  const uint32_t exponent = (h >> 10) & 0x1fu;
  const uint32_t mantissa = h & 0x3ffu;
  if (exponent == 0) {  // zero or subnormal: mantissa * 2^-24, exact in float
    const float magnitude = static_cast<float>(mantissa) * 5.9604644775390625e-8f;
    return bits_to_float(float_to_bits(magnitude) | sign);
  }
  if (exponent == 31) return bits_to_float(sign | 0x7f800000u | (mantissa << 13));
  return bits_to_float(sign | ((exponent + 112) << 23) | (mantissa << 13));
}

inline uint16_t float_to_half(float f) {  // round to nearest even
  uint32_t x = float_to_bits(f);
  const uint16_t sign = static_cast<uint16_t>((x >> 16) & 0x8000u);
  x &= 0x7fffffffu;
  if (x >= 0x7f800000u) return sign | (x > 0x7f800000u ? 0x7e00u : 0x7c00u);
  if (x >= 0x477ff000u) return sign | 0x7c00u;            // >= 65520 rounds to infinity
  if (x < 0x38800000u) {                                  // below 2^-14: subnormal half
    const float scaled = bits_to_float(x) * 16777216.0f;  // exact: times 2^24
    return sign | static_cast<uint16_t>(std::nearbyint(scaled));
  }
  return sign | static_cast<uint16_t>((x + 0xfffu + ((x >> 13) & 1u) - 0x38000000u) >> 13);
}

inline float bfloat16_to_float(uint16_t b) { return bits_to_float(static_cast<uint32_t>(b) << 16); }

inline uint16_t float_to_bfloat16(float f) {  // round to nearest even
  const uint32_t x = float_to_bits(f);
  if ((x & 0x7fffffffu) > 0x7f800000u) return static_cast<uint16_t>((x >> 16) | 0x40u);  // NaN
  return static_cast<uint16_t>((x + 0x7fffu + ((x >> 16) & 1u)) >> 16);
}

template <typename Acc>
SR_ALWAYS_INLINE Acc load(const uint8_t* p) {
  return static_cast<Acc>(*p);
}
template <typename Acc>
SR_ALWAYS_INLINE Acc load(const float* p) {
  return static_cast<Acc>(*p);
}
template <typename Acc>
SR_ALWAYS_INLINE Acc load(const double* p) {
  return static_cast<Acc>(*p);
}
template <typename Acc>
SR_ALWAYS_INLINE Acc load(const Half* p) {
  return static_cast<Acc>(half_to_float(p->bits));
}
template <typename Acc>
SR_ALWAYS_INLINE Acc load(const BFloat16* p) {
  return static_cast<Acc>(bfloat16_to_float(p->bits));
}

// MATLAB's double -> uint8: round half away from zero, saturate. Clamping first is equivalent
// and keeps the truncation well defined; frac is exact for doubles in [0, 256).
SR_ALWAYS_INLINE void store(uint8_t* p, double v) {
  v = v < 0.0 ? 0.0 : (v > 255.0 ? 255.0 : v);
  const int32_t whole = static_cast<int32_t>(v);
  *p = static_cast<uint8_t>(whole + (v - static_cast<double>(whole) >= 0.5 ? 1 : 0));
}
SR_ALWAYS_INLINE void store(float* p, float v) { *p = v; }
SR_ALWAYS_INLINE void store(double* p, double v) { *p = v; }
SR_ALWAYS_INLINE void store(Half* p, float v) { p->bits = float_to_half(v); }
SR_ALWAYS_INLINE void store(BFloat16* p, float v) { p->bits = float_to_bfloat16(v); }

template <typename Acc>
SR_ALWAYS_INLINE const Acc* table_weights(const ResizeTable& t);
template <>
SR_ALWAYS_INLINE const double* table_weights<double>(const ResizeTable& t) {
  return t.weight;
}
template <>
SR_ALWAYS_INLINE const float* table_weights<float>(const ResizeTable& t) {
  return t.weight_f32;
}

// ---------------------------------------------------------------------------------------------
// 32-byte SIMD vectors through GCC vector extensions: AVX2 registers in the AVX2 clones, pairs
// of SSE2 registers in the baseline build.

template <typename Acc>
struct Simd;
template <>
struct Simd<double> {
  typedef double V __attribute__((vector_size(32)));
  typedef int64_t Mask __attribute__((vector_size(32)));
  typedef uint8_t Bytes __attribute__((vector_size(4)));
  typedef int32_t Ints __attribute__((vector_size(16)));
  static constexpr int kLanes = 4;
};
template <>
struct Simd<float> {
  typedef float V __attribute__((vector_size(32)));
  typedef int32_t Mask __attribute__((vector_size(32)));
  typedef uint8_t Bytes __attribute__((vector_size(8)));
  typedef int32_t Ints __attribute__((vector_size(32)));
  static constexpr int kLanes = 8;
};

template <typename Acc>
using VecOf = typename Simd<Acc>::V;

template <typename Acc>
SR_ALWAYS_INLINE VecOf<Acc> vload(const uint8_t* p) {
  typename Simd<Acc>::Bytes bytes;
  std::memcpy(&bytes, p, sizeof(bytes));
  // Through int32 lanes: zero-extend + int->float conversion instructions (a direct
  // conversion is lowered lane by lane).
  return __builtin_convertvector(__builtin_convertvector(bytes, typename Simd<Acc>::Ints),
                                 VecOf<Acc>);
}
template <typename Acc>
SR_ALWAYS_INLINE VecOf<Acc> vload(const Acc* p) {
  VecOf<Acc> v;
  std::memcpy(&v, p, sizeof(v));
  return v;
}
template <typename Acc, typename T>
SR_ALWAYS_INLINE VecOf<Acc> vload_lanes(const T* p) {  // float16 / bfloat16: lane by lane
  Acc lanes[Simd<Acc>::kLanes];
  for (int i = 0; i < Simd<Acc>::kLanes; ++i) lanes[i] = load<Acc>(p + i);
  VecOf<Acc> v;
  std::memcpy(&v, lanes, sizeof(v));
  return v;
}
template <typename Acc>
SR_ALWAYS_INLINE VecOf<Acc> vload(const Half* p) {
  return vload_lanes<Acc>(p);
}
template <typename Acc>
SR_ALWAYS_INLINE VecOf<Acc> vload(const BFloat16* p) {
  return vload_lanes<Acc>(p);
}

// uint8 rounding of a whole vector, as store(uint8_t*, double) does per element.
template <typename Acc>
SR_ALWAYS_INLINE typename Simd<Acc>::Bytes round_bytes(VecOf<Acc> v) {
  using Mask = typename Simd<Acc>::Mask;
  const VecOf<Acc> zero = VecOf<Acc>{} + Acc(0), top = VecOf<Acc>{} + Acc(255);
  v = v < zero ? zero : v;
  v = v > top ? top : v;
  Mask whole = __builtin_convertvector(v, Mask);  // truncation = floor for v >= 0
  const VecOf<Acc> frac = v - __builtin_convertvector(whole, VecOf<Acc>);
  whole -= (frac >= Acc(0.5));  // the comparison gives -1 where true
  return __builtin_convertvector(whole, typename Simd<Acc>::Bytes);
}

SR_ALWAYS_INLINE void vstore(uint8_t* p, VecOf<double> v) {
  const auto bytes = round_bytes<double>(v);
  std::memcpy(p, &bytes, sizeof(bytes));
}
template <typename Acc>
SR_ALWAYS_INLINE void vstore(Acc* p, VecOf<Acc> v) {
  std::memcpy(p, &v, sizeof(v));
}
template <typename T>
SR_ALWAYS_INLINE void vstore_lanes(T* p, VecOf<float> v) {  // float16 / bfloat16: lane by lane
  float lanes[Simd<float>::kLanes];
  std::memcpy(lanes, &v, sizeof(v));
  for (int i = 0; i < Simd<float>::kLanes; ++i) store(p + i, lanes[i]);
}
SR_ALWAYS_INLINE void vstore(Half* p, VecOf<float> v) { vstore_lanes(p, v); }
SR_ALWAYS_INLINE void vstore(BFloat16* p, VecOf<float> v) { vstore_lanes(p, v); }

// Instruction-set policies: the byte <-> floating-point conversions that GCC's vector
// extensions lower lane by lane get intrinsics in the AVX2 clones.
struct IsaBase {
  // acc + w * x (float32 sums: an FMA in the AVX2 clones; float64 sums never, see the header).
  template <typename Acc>
  static SR_ALWAYS_INLINE VecOf<Acc> madd(VecOf<Acc> acc, VecOf<Acc> w, VecOf<Acc> x) {
    return acc + w * x;
  }
  template <typename Acc, typename T>
  static SR_ALWAYS_INLINE VecOf<Acc> load(const T* p) {
    return vload<Acc>(p);
  }
  template <typename T, typename Acc>
  static SR_ALWAYS_INLINE void save(T* p, VecOf<Acc> v) {
    vstore(p, v);
  }
  static SR_ALWAYS_INLINE Simd<double>::Bytes round4(VecOf<double> v) {
    return round_bytes<double>(v);
  }
  static constexpr bool kPixels3 = false;    // no pixels3: the caller converts byte by byte
  static constexpr bool kWide = false;       // no 16-float registers (see IsaAvx512)
  static constexpr bool kUnstage3 = false;   // no unstage3 (see IsaAvx512)
  static constexpr bool kRound32 = false;    // no round32 (see IsaAvx2)
  static constexpr bool kRgbBlocks = false;  // no unstage_rgb8 (see IsaAvx2)
  static void pixels3(const uint8_t*, int64_t, float*, int64_t) {}
  // uint8 rounding of a float32 sum, plus a bit mask of the lanes within `margin` of a .5 tie
  // (those must be recomputed in float64).
  static SR_ALWAYS_INLINE uint32_t round8(VecOf<float> v, float margin, Simd<float>::Bytes* bytes) {
    float lanes[8];
    std::memcpy(lanes, &v, sizeof(v));
    uint8_t out[8];
    uint32_t near = 0;
    for (int i = 0; i < 8; ++i) {
      float x = lanes[i] < 0.0f ? 0.0f : (lanes[i] > 255.0f ? 255.0f : lanes[i]);
      const int32_t whole = static_cast<int32_t>(x);
      const float frac = x - static_cast<float>(whole);
      const float distance = frac > 0.5f ? frac - 0.5f : 0.5f - frac;
      near |= (distance <= margin ? 1u : 0u) << i;
      out[i] = static_cast<uint8_t>(whole + (frac >= 0.5f ? 1 : 0));
    }
    std::memcpy(bytes, out, sizeof(out));
    return near;
  }
  // round8 of two vectors into 16 bytes; bit i of the mask is output i.
  static SR_ALWAYS_INLINE uint32_t round16(VecOf<float> v0, VecOf<float> v1, float margin,
                                           uint8_t* bytes) {
    Simd<float>::Bytes half[2];
    const uint32_t near = round8(v0, margin, &half[0]) | (round8(v1, margin, &half[1]) << 8);
    std::memcpy(bytes, half, sizeof(half));
    return near;
  }
};

#if SR_X86_MULTIVERSION
// Byte-shuffle controls of IsaAvx2::unstage_rgb8: control[rr][w] moves pixel row rr's bytes
// found in 32-bit word w of the 16 staged bytes (staged byte 3 rr + c) of output j (bytes
// 4 j..4 j + 3 of the shuffled register, in each 128-bit lane) to byte 3 j + c; others to 0.
struct RgbPick {
  alignas(32) uint8_t control[5][4][32];
};
constexpr RgbPick make_rgb_pick() {
  RgbPick p{};
  for (int rr = 0; rr < 5; ++rr) {
    for (int w = 0; w < 4; ++w) {
      for (int i = 0; i < 32; ++i) p.control[rr][w][i] = 0x80;
    }
    for (int j = 0; j < 4; ++j) {
      for (int c = 0; c < 3; ++c) {
        const int byte = 3 * rr + c;
        for (int lane = 0; lane < 2; ++lane) {
          p.control[rr][byte / 4][16 * lane + 3 * j + c] = static_cast<uint8_t>(4 * j + byte % 4);
        }
      }
    }
  }
  return p;
}
constexpr RgbPick kRgbPick = make_rgb_pick();

// Byte-permute indices of IsaAvx512::unstage3 (a table, not built per call: the cols pass calls
// it once per kStageOutputs outputs). index[rr][j] for j < 24: output j / 3 (of 8), channel
// j % 3 -> byte 16 * (j / 3) + 3 rr + j % 3 of the register pair; bytes 24..47 repeat it for
// the second pair.
struct RgbPermute {
  alignas(64) uint8_t index[5][64];
};
constexpr RgbPermute make_rgb_permute() {
  RgbPermute p{};
  for (int rr = 0; rr < 5; ++rr) {
    for (int j = 0; j < 64; ++j) {
      p.index[rr][j] = j < 48 ? static_cast<uint8_t>(16 * ((j % 24) / 3) + 3 * rr + j % 3) : 0;
    }
  }
  return p;
}
constexpr RgbPermute kRgbPermute = make_rgb_permute();

struct IsaAvx2 {
  // tile[x * lanes + c] = row[x * 3 + c] for c < 3, x < width: one 4-byte load and one 4-float
  // store per pixel (tile[x * lanes + 3] receives the next pixel's first byte: the caller fills
  // the rows of a tile in ascending lane order, so the next row overwrites it).
  static constexpr bool kPixels3 = true;
  static constexpr bool kWide = false;
  static constexpr bool kUnstage3 = false;
  SR_TARGET_AVX2 static inline void pixels3(const uint8_t* row, int64_t width, float* tile,
                                            int64_t lanes) {
    int64_t x = 0;
#pragma GCC unroll 4
    for (; x + 1 < width; ++x) {  // the last pixel's 4-byte load would read past the row
      int32_t word;
      std::memcpy(&word, row + 3 * x, sizeof(word));
      _mm_storeu_ps(tile + x * lanes, _mm_cvtepi32_ps(_mm_cvtepu8_epi32(_mm_cvtsi32_si128(word))));
    }
    for (int64_t c = 0; c < 3; ++c) tile[x * lanes + c] = static_cast<float>(row[x * 3 + c]);
  }
  template <typename Acc>
  SR_TARGET_AVX2 static inline VecOf<Acc> madd(VecOf<Acc> acc, VecOf<Acc> w, VecOf<Acc> x) {
    if constexpr (std::is_same_v<Acc, float>) {
      return reinterpret_cast<VecOf<float>>(_mm256_fmadd_ps(
          reinterpret_cast<__m256>(w), reinterpret_cast<__m256>(x), reinterpret_cast<__m256>(acc)));
    } else {
      return acc + w * x;
    }
  }
  template <typename Acc, typename T>
  SR_TARGET_AVX2 static inline VecOf<Acc> load(const T* p) {
    if constexpr (std::is_same_v<T, uint8_t> && std::is_same_v<Acc, double>) {
      int32_t word;
      std::memcpy(&word, p, sizeof(word));
      return reinterpret_cast<VecOf<double>>(
          _mm256_cvtepi32_pd(_mm_cvtepu8_epi32(_mm_cvtsi32_si128(word))));
    } else if constexpr (std::is_same_v<T, uint8_t>) {
      const __m128i bytes = _mm_loadl_epi64(reinterpret_cast<const __m128i*>(p));
      return reinterpret_cast<VecOf<float>>(_mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(bytes)));
    } else {
      return vload<Acc>(p);
    }
  }
  template <typename T, typename Acc>
  SR_TARGET_AVX2 static inline void save(T* p, VecOf<Acc> v) {
    if constexpr (std::is_same_v<T, uint8_t>) {
      const auto bytes = round4(v);
      std::memcpy(p, &bytes, sizeof(bytes));
    } else {
      vstore(p, v);
    }
  }
  // clamp to [0, 255], round half away from zero (trunc + (frac >= 0.5)), pack to 4 bytes.
  SR_TARGET_AVX2 static inline Simd<double>::Bytes round4(VecOf<double> v) {
    __m256d x = reinterpret_cast<__m256d>(v);
    x = _mm256_min_pd(_mm256_max_pd(x, _mm256_setzero_pd()), _mm256_set1_pd(255.0));
    const __m256d whole = _mm256_round_pd(x, _MM_FROUND_TO_ZERO | _MM_FROUND_NO_EXC);
    const __m256d up = _mm256_cmp_pd(_mm256_sub_pd(x, whole), _mm256_set1_pd(0.5), _CMP_GE_OQ);
    const __m256d rounded = _mm256_add_pd(whole, _mm256_and_pd(up, _mm256_set1_pd(1.0)));
    const __m128i ints = _mm256_cvttpd_epi32(rounded);
    const __m128i bytes = _mm_packus_epi16(_mm_packus_epi32(ints, ints), _mm_setzero_si128());
    const int32_t word = _mm_cvtsi128_si32(bytes);
    Simd<double>::Bytes out;
    std::memcpy(&out, &word, sizeof(out));
    return out;
  }
  // Same bytes and flags, fewer instructions: round to nearest even equals round half away from
  // zero except on exact ties, and every sum within `margin` of a tie is flagged (|x - rint(x)|
  // >= 0.5 - margin, computed exactly; the threshold rounded down) and redone in float64. The
  // clamp to [0, 255] is the saturation of the two packs (the sums of uint8 inputs with
  // normalised weights are far below 2^31; a negative sum gives 0, as the clamp does).
  SR_TARGET_AVX2 static inline uint32_t round8(VecOf<float> v, float margin,
                                               Simd<float>::Bytes* bytes) {
    const __m256 x = reinterpret_cast<__m256>(v);
    const __m256 nearest = _mm256_round_ps(x, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    const __m256 distance = _mm256_andnot_ps(_mm256_set1_ps(-0.0f), _mm256_sub_ps(x, nearest));
    const float threshold = bits_to_float(float_to_bits(0.5f - margin) - 1);  // positive
    const int near =
        _mm256_movemask_ps(_mm256_cmp_ps(distance, _mm256_set1_ps(threshold), _CMP_GE_OQ));
    const __m256i ints = _mm256_cvttps_epi32(nearest);
    const __m128i words =
        _mm_packus_epi32(_mm256_castsi256_si128(ints), _mm256_extracti128_si256(ints, 1));
    const __m128i packed = _mm_packus_epi16(words, words);
    _mm_storel_epi64(reinterpret_cast<__m128i*>(bytes), packed);
    return static_cast<uint32_t>(near);
  }
  // round8 of two vectors into 16 bytes with one pack chain and one test of the tie flags
  // (almost always clear); bit i of the mask is output i.
  SR_TARGET_AVX2 static inline uint32_t round16(VecOf<float> v0, VecOf<float> v1, float margin,
                                                uint8_t* bytes) {
    const __m256 x0 = reinterpret_cast<__m256>(v0), x1 = reinterpret_cast<__m256>(v1);
    const __m256 n0 = _mm256_round_ps(x0, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    const __m256 n1 = _mm256_round_ps(x1, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    const __m256 sign = _mm256_set1_ps(-0.0f);
    const __m256 threshold = _mm256_set1_ps(bits_to_float(float_to_bits(0.5f - margin) - 1));
    const __m256 near0 =
        _mm256_cmp_ps(_mm256_andnot_ps(sign, _mm256_sub_ps(x0, n0)), threshold, _CMP_GE_OQ);
    const __m256 near1 =
        _mm256_cmp_ps(_mm256_andnot_ps(sign, _mm256_sub_ps(x1, n1)), threshold, _CMP_GE_OQ);
    // int32 -> uint16 packs lane-interleaved ([v0 0-3, v1 0-3 | v0 4-7, v1 4-7]); the 64-bit
    // permute restores [v0 | v1] before the uint16 -> uint8 pack.
    const __m256i words = _mm256_permute4x64_epi64(
        _mm256_packus_epi32(_mm256_cvttps_epi32(n0), _mm256_cvttps_epi32(n1)), 0xd8);
    const __m128i packed =
        _mm_packus_epi16(_mm256_castsi256_si128(words), _mm256_extracti128_si256(words, 1));
    _mm_storeu_si128(reinterpret_cast<__m128i*>(bytes), packed);
    if (_mm256_testz_ps(_mm256_or_ps(near0, near1), _mm256_or_ps(near0, near1))) return 0;
    return static_cast<uint32_t>(_mm256_movemask_ps(near0)) |
           (static_cast<uint32_t>(_mm256_movemask_ps(near1)) << 8);
  }
  // round8 of four vectors into 32 bytes (bit i of the mask is byte i) with one pack chain and
  // one tie test (on the lane-wise maximum distance) per 32 bytes instead of per 16: two outputs
  // of the cols pass (v0, v1: output o; v2, v3: the next), 32 outputs of the rows pass.
  static constexpr bool kRound32 = true;
  SR_TARGET_AVX2 static inline uint32_t round32(VecOf<float> v0, VecOf<float> v1, VecOf<float> v2,
                                                VecOf<float> v3, float margin, uint8_t* bytes) {
    const __m256 x[4] = {reinterpret_cast<__m256>(v0), reinterpret_cast<__m256>(v1),
                         reinterpret_cast<__m256>(v2), reinterpret_cast<__m256>(v3)};
    const __m256 sign = _mm256_set1_ps(-0.0f);
    __m256 n[4], d[4];
    for (int i = 0; i < 4; ++i) {
      n[i] = _mm256_round_ps(x[i], _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
      d[i] = _mm256_andnot_ps(sign, _mm256_sub_ps(x[i], n[i]));
    }
    // Two int32 -> uint16 packs and one uint16 -> uint8 pack leave the 32-bit groups as
    // [v0 0-3, v1 0-3, v2 0-3, v3 0-3 | v0 4-7, v1 4-7, v2 4-7, v3 4-7]; vpermd restores order.
    const __m256i w01 = _mm256_packus_epi32(_mm256_cvttps_epi32(n[0]), _mm256_cvttps_epi32(n[1]));
    const __m256i w23 = _mm256_packus_epi32(_mm256_cvttps_epi32(n[2]), _mm256_cvttps_epi32(n[3]));
    const __m256i packed = _mm256_permutevar8x32_epi32(_mm256_packus_epi16(w01, w23),
                                                       _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(bytes), packed);
    const __m256 threshold = _mm256_set1_ps(bits_to_float(float_to_bits(0.5f - margin) - 1));
    const __m256 far = _mm256_max_ps(_mm256_max_ps(d[0], d[1]), _mm256_max_ps(d[2], d[3]));
    if (_mm256_movemask_ps(_mm256_cmp_ps(far, threshold, _CMP_GE_OQ)) == 0) return 0;
    uint32_t near = 0;
    for (int i = 0; i < 4; ++i) {
      near |= static_cast<uint32_t>(_mm256_movemask_ps(_mm256_cmp_ps(d[i], threshold, _CMP_GE_OQ)))
              << (8 * i);
    }
    return near;
  }
  // unstage (below) for RGB (5 pixel rows of 3 channels per group), 8 outputs at a time, from
  // 8-output blocks whose 16-byte slots hold outputs [0 4 1 5 2 6 3 7] (stage_outputs with
  // `rgb`): each 32-byte load then holds outputs j and j + 4, a 4 x 4 transpose of 32-bit words
  // in each 128-bit lane gathers word w of outputs 0-3 | 4-7 in one register, pixel row rr's
  // 3 bytes per output are picked from one or two of those by byte shuffles (kRgbPick), and
  // vpermd joins the two lanes' 12 bytes: 5 stores per 8 outputs instead of 40 4-byte moves.
  // `room`: outputs from dst to the end of the row (a full 32-byte store when it fits).
  static constexpr bool kRgbBlocks = true;
  SR_TARGET_AVX2 static inline int64_t unstage_rgb8(const uint8_t* stage, int64_t len, int64_t rows,
                                                    uint8_t* dst, const int64_t* base,
                                                    int64_t room) {
    const __m256i join = _mm256_setr_epi32(0, 1, 2, 4, 5, 6, 7, 7);
    int64_t o = 0;
    for (; o + 8 <= len; o += 8) {
      const __m256i* block = reinterpret_cast<const __m256i*>(stage + o * 16);
      const __m256i y0 = _mm256_loadu_si256(block), y1 = _mm256_loadu_si256(block + 1);
      const __m256i y2 = _mm256_loadu_si256(block + 2), y3 = _mm256_loadu_si256(block + 3);
      const __m256i a = _mm256_unpacklo_epi32(y0, y1), b = _mm256_unpackhi_epi32(y0, y1);
      const __m256i c = _mm256_unpacklo_epi32(y2, y3), d = _mm256_unpackhi_epi32(y2, y3);
      const __m256i word[4] = {_mm256_unpacklo_epi64(a, c), _mm256_unpackhi_epi64(a, c),
                               _mm256_unpacklo_epi64(b, d), _mm256_unpackhi_epi64(b, d)};
      const bool whole = 3 * (o + 8) + 8 <= 3 * room;  // the 8 bytes past the 24 are in the row
      // Unrolled (rows <= 5), so the word indices are constants and word[] stays in registers.
#pragma GCC unroll 5
      for (int rr = 0; rr < 5; ++rr) {
        if (rr == rows) break;
        const int w0 = 3 * rr / 4, w1 = (3 * rr + 2) / 4;
        __m256i pixels = _mm256_shuffle_epi8(word[w0], load_pick(rr, w0));
        if (w1 != w0) {
          pixels = _mm256_or_si256(pixels, _mm256_shuffle_epi8(word[w1], load_pick(rr, w1)));
        }
        pixels = _mm256_permutevar8x32_epi32(pixels, join);
        uint8_t* to = dst + base[rr * 3] + o * 3;
        if (whole) {
          _mm256_storeu_si256(reinterpret_cast<__m256i*>(to), pixels);
        } else {
          _mm_storeu_si128(reinterpret_cast<__m128i*>(to), _mm256_castsi256_si128(pixels));
          _mm_storel_epi64(reinterpret_cast<__m128i*>(to + 16),
                           _mm256_extracti128_si256(pixels, 1));
        }
      }
    }
    return o;  // the caller copies outputs o.. (fewer than 8, in natural order)
  }
  SR_TARGET_AVX2 static inline __m256i load_pick(int64_t rr, int64_t w) {
    return _mm256_load_si256(reinterpret_cast<const __m256i*>(kRgbPick.control[rr][w]));
  }
};

// AVX-512 (F, BW, VBMI: Ice Lake, Sapphire Rapids, Zen 4 and later) for the uint8 hot loops:
// 16 float32 sums per register (half the multiply-adds, one rounding chain per 16 outputs) and
// the RGB unstaging as byte permutes; everything else is IsaAvx2's.
struct IsaAvx512 : IsaAvx2 {
  static constexpr bool kWide = true;
  static constexpr bool kRgbBlocks = false;  // its own unstage3
  using Wide = __m512;
  static constexpr int64_t kWideLanes = 16;
  SR_TARGET_AVX512 static inline Wide wide_zero() { return _mm512_setzero_ps(); }
  SR_TARGET_AVX512 static inline Wide wide_madd(Wide acc, float w, Wide x) {
    return _mm512_fmadd_ps(_mm512_set1_ps(w), x, acc);
  }
  SR_TARGET_AVX512 static inline Wide wide_load(const float* p) { return _mm512_loadu_ps(p); }
  SR_TARGET_AVX512 static inline Wide wide_load(const uint8_t* p) {
    return _mm512_cvtepi32_ps(
        _mm512_cvtepu8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p))));
  }
  // round16 of one register: clamp-free (max with 0, then the unsigned-saturating narrowing
  // clamps at 255), the tie flags as a mask register.
  SR_TARGET_AVX512 static inline uint32_t wide_round16(Wide x, float margin, uint8_t* bytes) {
    const __m512 nearest = _mm512_roundscale_ps(x, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    const __m512 threshold = _mm512_set1_ps(bits_to_float(float_to_bits(0.5f - margin) - 1));
    const __mmask16 near =
        _mm512_cmp_ps_mask(_mm512_abs_ps(_mm512_sub_ps(x, nearest)), threshold, _CMP_GE_OQ);
    const __m512i ints = _mm512_max_epi32(_mm512_cvttps_epi32(nearest), _mm512_setzero_si512());
    _mm_storeu_si128(reinterpret_cast<__m128i*>(bytes), _mm512_cvtusepi32_epi8(ints));
    return near;
  }
  // unstage (below) for RGB, 16 outputs at a time: the 256 staged bytes of outputs o..o+15 are
  // four registers; pixel row rr's 48 bytes are two two-register byte permutes (outputs o..o+7
  // from the first pair, o+8..o+15 from the second) and two masked stores.
  static constexpr bool kUnstage3 = true;
  SR_TARGET_AVX512 static inline int64_t unstage3(const uint8_t* stage, int64_t out_len,
                                                  int64_t rows, uint8_t* dst, const int64_t* base) {
    const __mmask64 low = (1ull << 24) - 1, high = ((1ull << 48) - 1) & ~low;
    int64_t o = 0;
    for (; o + 16 <= out_len; o += 16) {
      const uint8_t* block = stage + o * 16;
      const __m512i b0 = _mm512_loadu_si512(block), b1 = _mm512_loadu_si512(block + 64);
      const __m512i b2 = _mm512_loadu_si512(block + 128), b3 = _mm512_loadu_si512(block + 192);
      for (int64_t rr = 0; rr < rows; ++rr) {
        const __m512i pick = _mm512_load_si512(kRgbPermute.index[rr]);
        uint8_t* to = dst + base[rr * 3] + o * 3;
        _mm512_mask_storeu_epi8(to, low, _mm512_permutex2var_epi8(b0, pick, b1));
        _mm512_mask_storeu_epi8(to, high, _mm512_permutex2var_epi8(b2, pick, b3));
      }
    }
    return o;  // the caller copies outputs o.. (fewer than 16)
  }
};
#endif

// ---------------------------------------------------------------------------------------------
// Rows pass (along H).

struct RowsGeometry {
  int64_t slabs;         // independent planes
  int64_t slab_div;      // slab s -> (s / slab_div, s % slab_div) = (n, c); 1 when merged
  int64_t src_n, src_c;  // strides of the two slab coordinates in src
  int64_t mid_n, mid_c;
  int64_t src_row, mid_row;  // H strides
  int64_t run;               // contiguous-ish elements per row
  int64_t src_step, mid_step;
};

constexpr int kRowVectors = 8;  // accumulators per block: 8 ymm (or zmm) registers

// uint8 outputs j0 + (set bits of near) of a rows-pass row, recomputed in float64 (tap order, no
// FMA: the reference's arithmetic), so the bytes are those of a float64 evaluation.
template <typename In>
SR_ALWAYS_INLINE void redo_rows(const In* base, uint8_t* out, int64_t src_row, const int32_t* index,
                                const double* weight64, int64_t taps, int64_t j0, uint32_t near) {
  while (near != 0) {
    const int64_t j = j0 + __builtin_ctz(near);
    near &= near - 1;
    double exact = 0.0;
    for (int64_t k = 0; k < taps; ++k) {
      exact = exact + weight64[k] * static_cast<double>(base[index[k] * src_row + j]);
    }
    store(out + j, exact);
  }
}

// uint8 rows block of kRowVectors 16-float registers (Isa::kWide).
template <typename Isa>
SR_ALWAYS_INLINE void rows_block_wide(const uint8_t* base, uint8_t* out, const RowsGeometry& g,
                                      const ResizeTable& t, const int32_t* index,
                                      const float* weight, const double* weight64, int64_t j0) {
  constexpr int64_t kLanes = Isa::kWideLanes;
  const int64_t taps = t.taps;
  const float margin = t.tie_margin;
  typename Isa::Wide acc[kRowVectors];
#pragma GCC unroll 8
  for (int v = 0; v < kRowVectors; ++v) acc[v] = Isa::wide_zero();
  for (int64_t k = 0; k < taps; ++k) {
    const uint8_t* row = base + index[k] * g.src_row + j0;
#pragma GCC unroll 8
    for (int v = 0; v < kRowVectors; ++v) {
      acc[v] = Isa::wide_madd(acc[v], weight[k], Isa::wide_load(row + v * kLanes));
    }
  }
  for (int v = 0; v < kRowVectors; ++v) {
    const uint32_t near = Isa::wide_round16(acc[v], margin, out + j0 + v * kLanes);
    redo_rows(base, out, g.src_row, index, weight64, taps, j0 + v * kLanes, near);
  }
}

// One block of kVecs vectors of the row: acc += w * row for each tap, then rounded or stored.
template <typename Isa, typename In, typename Mid, typename Acc, int kVecs>
SR_ALWAYS_INLINE void rows_block(const In* base, Mid* out, const RowsGeometry& g,
                                 const ResizeTable& t, const int32_t* index, const Acc* weight,
                                 const double* weight64, int64_t j0) {
  using V = VecOf<Acc>;
  constexpr int64_t kLanes = Simd<Acc>::kLanes;
  const int64_t taps = t.taps;
  const float margin = t.tie_margin;
  V acc[kVecs];
#pragma GCC unroll 8
  for (int v = 0; v < kVecs; ++v) acc[v] = V{} + Acc(0);
  for (int64_t k = 0; k < taps; ++k) {
    const In* row = base + index[k] * g.src_row + j0;
    const V w = weight[k] - V{};  // a broadcast: x - 0 folds to x (x + 0 does not)
#pragma GCC unroll 8
    for (int v = 0; v < kVecs; ++v) {
      acc[v] = Isa::template madd<Acc>(acc[v], w, Isa::template load<Acc>(row + v * kLanes));
    }
  }
  if constexpr (std::is_same_v<Mid, uint8_t>) {
    // float32 sums; outputs near a .5 tie are redone in float64 (redo_rows).
    constexpr int kStep = kVecs % 4 == 0 && Isa::kRound32 ? 4 : (kVecs % 2 == 0 ? 2 : 1);
    for (int v = 0; v < kVecs; v += kStep) {  // kStep vectors rounded together
      uint32_t near;
      if constexpr (kStep == 4) {
        near =
            Isa::round32(acc[v], acc[v + 1], acc[v + 2], acc[v + 3], margin, out + j0 + v * kLanes);
      } else if constexpr (kStep == 2) {
        near = Isa::round16(acc[v], acc[v + 1], margin, out + j0 + v * kLanes);
      } else {
        typename Simd<float>::Bytes bytes;
        near = Isa::round8(acc[v], margin, &bytes);
        std::memcpy(out + j0 + v * kLanes, &bytes, sizeof(bytes));
      }
      redo_rows(base, out, g.src_row, index, weight64, taps, j0 + v * kLanes, near);
    }
  } else {
#pragma GCC unroll 8
    for (int v = 0; v < kVecs; ++v) Isa::template save<Mid, Acc>(out + j0 + v * kLanes, acc[v]);
  }
}

template <typename Isa, typename In, typename Mid, typename Acc>
SR_ALWAYS_INLINE void rows_item(const In* src, Mid* mid, const RowsGeometry& g,
                                const ResizeTable& t, int64_t item) {
  constexpr int64_t kLanes = Simd<Acc>::kLanes;
  constexpr int64_t kBlock = kLanes * kRowVectors;
  const int64_t s = item / t.out_len;
  const int64_t y = item % t.out_len;
  const int64_t n = s / g.slab_div, c = s % g.slab_div;
  const In* base = src + n * g.src_n + c * g.src_c;
  Mid* out = mid + n * g.mid_n + c * g.mid_c + y * g.mid_row;
  const int32_t* index = t.index + y * t.taps;
  const Acc* weight = table_weights<Acc>(t) + y * t.taps;
  const double* weight64 = t.weight + y * t.taps;
  const int64_t taps = t.taps;
  const bool unit = g.src_step == 1 && g.mid_step == 1;
  int64_t j0 = 0;
  if constexpr (Isa::kWide && std::is_same_v<In, uint8_t> && std::is_same_v<Mid, uint8_t>) {
    constexpr int64_t kWideBlock = Isa::kWideLanes * kRowVectors;
    for (; unit && j0 + kWideBlock <= g.run; j0 += kWideBlock) {
      rows_block_wide<Isa>(base, out, g, t, index, weight, weight64, j0);
    }
  }
  if (unit) {
    for (; j0 + kBlock <= g.run; j0 += kBlock) {
      rows_block<Isa, In, Mid, Acc, kRowVectors>(base, out, g, t, index, weight, weight64, j0);
    }
    for (; j0 + kLanes <= g.run; j0 += kLanes) {  // single vectors before the scalar tail
      rows_block<Isa, In, Mid, Acc, 1>(base, out, g, t, index, weight, weight64, j0);
    }
  }
  constexpr int64_t kTail = kBlock;
  for (; j0 < g.run; j0 += kTail) {  // tail, or strided rows
    // uint8: float64 sums here (the reference's arithmetic), no tie check needed.
    using TailAcc = std::conditional_t<std::is_same_v<Mid, uint8_t>, double, Acc>;
    const TailAcc* tail_weight = table_weights<TailAcc>(t) + y * t.taps;
    const int64_t count = std::min(kTail, g.run - j0);
    TailAcc acc[kTail];
    for (int64_t j = 0; j < count; ++j) acc[j] = TailAcc(0);
    for (int64_t k = 0; k < taps; ++k) {
      const In* row = base + index[k] * g.src_row + j0 * g.src_step;
      const TailAcc w = tail_weight[k];
      for (int64_t j = 0; j < count; ++j) acc[j] += w * load<TailAcc>(row + j * g.src_step);
    }
    for (int64_t j = 0; j < count; ++j) store(out + (j0 + j) * g.mid_step, acc[j]);
  }
}

template <typename In, typename Mid, typename Acc>
void rows_items_base(const In* src, Mid* mid, const RowsGeometry& g, const ResizeTable& t,
                     int64_t begin, int64_t end) {
  for (int64_t item = begin; item < end; ++item) {
    rows_item<IsaBase, In, Mid, Acc>(src, mid, g, t, item);
  }
}

#if SR_X86_MULTIVERSION
template <typename In, typename Mid, typename Acc>
SR_FLATTEN_AVX512 void rows_items_avx512(const In* src, Mid* mid, const RowsGeometry& g,
                                         const ResizeTable& t, int64_t begin, int64_t end) {
  for (int64_t item = begin; item < end; ++item) {
    rows_item<IsaAvx512, In, Mid, Acc>(src, mid, g, t, item);
  }
}

template <typename In, typename Mid, typename Acc>
SR_FLATTEN_AVX2 void rows_items_avx2(const In* src, Mid* mid, const RowsGeometry& g,
                                     const ResizeTable& t, int64_t begin, int64_t end) {
  for (int64_t item = begin; item < end; ++item) {
    rows_item<IsaAvx2, In, Mid, Acc>(src, mid, g, t, item);
  }
}
#endif

RowsGeometry rows_geometry(const Tensor4d& s, const Tensor4d& m) {
  RowsGeometry g{};
  const int64_t channels = s.size[1], width = s.size[3];
  // NHWC: (W, C) is one contiguous run of W*C elements in both tensors.
  const bool merge = channels > 1 && s.stride[1] == 1 && m.stride[1] == 1 &&
                     s.stride[3] == channels && m.stride[3] == channels;
  g.src_row = s.stride[2];
  g.mid_row = m.stride[2];
  if (merge) {
    g.slabs = s.size[0];
    g.slab_div = 1;
    g.src_n = s.stride[0];
    g.mid_n = m.stride[0];
    g.src_c = g.mid_c = 0;
    g.run = width * channels;
    g.src_step = g.mid_step = 1;
  } else {
    g.slabs = s.size[0] * channels;
    g.slab_div = channels;
    g.src_n = s.stride[0];
    g.src_c = s.stride[1];
    g.mid_n = m.stride[0];
    g.mid_c = m.stride[1];
    g.run = width;
    g.src_step = s.stride[3];
    g.mid_step = m.stride[3];
  }
  return g;
}

template <typename In, typename Mid, typename Acc>
void rows_pass(const In* src, const Tensor4d& sd, Mid* mid, const Tensor4d& md,
               const ResizeTable& t) {
  const RowsGeometry g = rows_geometry(sd, md);
  const int64_t items = g.slabs * t.out_len;
  const int64_t work = items * g.run * t.taps;
  const CpuIsa isa = cpu_isa();
  // Dynamic chunks of about 64K multiply-adds: a thread that the OS preempts (shared CPUs)
  // does not hold the others up at the end of the pass.
  const int64_t per_item = std::max<int64_t>(1, g.run * t.taps);
  const int64_t chunk = std::max<int64_t>(1, (1 << 16) / per_item);
  const int64_t chunks = (items + chunk - 1) / chunk;
#pragma omp parallel for schedule(dynamic, 1) if (work > (1 << 17))
  for (int64_t i = 0; i < chunks; ++i) {
    const int64_t begin = i * chunk, end = std::min(items, begin + chunk);
#if SR_X86_MULTIVERSION
    // AVX-512 code for uint8 only: the other dtypes would run the AVX2 loops there anyway.
    bool done = false;
    if constexpr (std::is_same_v<In, uint8_t>) {
      if (isa == CpuIsa::kAvx512) {
        rows_items_avx512<In, Mid, Acc>(src, mid, g, t, begin, end);
        done = true;
      }
    }
    if (done) {
    } else if (isa != CpuIsa::kBase) {
      rows_items_avx2<In, Mid, Acc>(src, mid, g, t, begin, end);
    } else {
      rows_items_base<In, Mid, Acc>(src, mid, g, t, begin, end);
    }
#else
    (void)isa;
    rows_items_base<In, Mid, Acc>(src, mid, g, t, begin, end);
#endif
  }
}

// ---------------------------------------------------------------------------------------------
// Cols pass (along W).

struct ColsGeometry {
  int64_t lines;          // N * C * H lines
  int64_t inner, middle;  // line l -> (n, a, b): b = l % inner, a = (l / inner) % middle
  int64_t mid_n, mid_a, mid_b;
  int64_t dst_n, dst_a, dst_b;
  int64_t mid_step, dst_step;  // W strides
  int64_t width;               // input width
  int64_t per_group;           // lines per group: cols_lanes, or whole pixel rows for NHWC
  bool pack;                   // uint8 NHWC rows: outputs staged, then copied pixel by pixel
  // Outputs [run_begin, run_end) read consecutive input columns (index[o][k] = index[o][0] + k):
  // all but a few near the borders, where the edge rule folds the indices.
  int64_t run_begin, run_end;
};

template <typename Acc>
constexpr int64_t cols_lanes() {
  return 2 * Simd<Acc>::kLanes;  // 8 doubles or 16 floats: two vectors
}

// uint8 NHWC rows (ColsGeometry::pack) are staged and copied out this many outputs at a time
// (a multiple of 16 for IsaAvx512::unstage3).
constexpr int64_t kStageOutputs = 256;

template <typename Acc, typename Out>
SR_ALWAYS_INLINE void scatter(Out* out, const int64_t* base, int64_t count, VecOf<Acc> v) {
  Acc lanes[Simd<Acc>::kLanes];
  std::memcpy(lanes, &v, sizeof(v));
  for (int64_t r = 0; r < count; ++r) store(out + base[r], lanes[r]);
}

// block[i][j] = byte of lane j for output i -> out[base[j] + i] for i, j < 8 (SSE2, baseline).
SR_ALWAYS_INLINE void store_transposed8(const Simd<float>::Bytes block[8], uint8_t* out,
                                        const int64_t* base) {
#if !(defined(__x86_64__) || defined(__i386__))
  for (int j = 0; j < 8; ++j) {
    for (int i = 0; i < 8; ++i) out[base[j] + i] = block[i][j];
  }
#else
  __m128i rows[8];
  for (int i = 0; i < 8; ++i)
    rows[i] = _mm_loadl_epi64(reinterpret_cast<const __m128i*>(block + i));
  const __m128i x0 = _mm_unpacklo_epi8(rows[0], rows[1]), x1 = _mm_unpacklo_epi8(rows[2], rows[3]);
  const __m128i x2 = _mm_unpacklo_epi8(rows[4], rows[5]), x3 = _mm_unpacklo_epi8(rows[6], rows[7]);
  const __m128i y0 = _mm_unpacklo_epi16(x0, x1), y1 = _mm_unpackhi_epi16(x0, x1);
  const __m128i y2 = _mm_unpacklo_epi16(x2, x3), y3 = _mm_unpackhi_epi16(x2, x3);
  const __m128i z[4] = {_mm_unpacklo_epi32(y0, y2), _mm_unpackhi_epi32(y0, y2),
                        _mm_unpacklo_epi32(y1, y3), _mm_unpackhi_epi32(y1, y3)};
  for (int j = 0; j < 8; ++j) {
    const __m128i line = (j & 1) ? _mm_unpackhi_epi64(z[j / 2], z[j / 2]) : z[j / 2];
    _mm_storel_epi64(reinterpret_cast<__m128i*>(out + base[j]), line);
  }
#endif
}

// stage[o * kLanes + lane] -> the `rows` pixel rows of dst (channels innermost, `channels` per
// pixel, lanes rr * channels + c): one pixel's channels per copy.
// Outputs before `first` are done already.
SR_ALWAYS_INLINE void unstage(const uint8_t* stage, int64_t lanes, int64_t out_len,
                              int64_t channels, int64_t rows, uint8_t* dst, const int64_t* base,
                              int64_t first) {
  for (int64_t rr = 0; rr < rows; ++rr) {
    const uint8_t* from = stage + rr * channels;
    uint8_t* to = dst + base[rr * channels];
    int64_t o = first;
    if (channels == 3) {  // 4-byte moves, each overwriting the previous one's spare byte
#pragma GCC unroll 8
      for (; o + 1 < out_len; ++o) std::memcpy(to + o * 3, from + o * lanes, 4);
    }
    for (; o < out_len; ++o) {
      for (int64_t c = 0; c < channels; ++c) to[o * channels + c] = from[o * lanes + c];
    }
  }
}

// The two accumulator vectors (kLanes lanes) of one output of the cols pass: the sum over taps
// of weight[k] * tile[index[k]][lane]. kTaps > 0 fixes the tap count at compile time (unrolled);
// 0 reads it from `taps`. `run`: the taps read consecutive columns from index[0] on (fixed
// offsets instead of an index load per tap).
template <typename Isa, typename Acc, int kTaps>
SR_ALWAYS_INLINE void column_sums(const Acc* tile, const int32_t* index, const Acc* weight,
                                  int64_t taps, bool run, VecOf<Acc>* acc0, VecOf<Acc>* acc1) {
  using V = VecOf<Acc>;
  constexpr int64_t kVec = Simd<Acc>::kLanes;
  constexpr int64_t kLanes = cols_lanes<Acc>();
  const int64_t count = kTaps > 0 ? kTaps : taps;
  V sum0 = V{} + Acc(0), sum1 = V{} + Acc(0);
  if (run) {
    const Acc* column = tile + static_cast<int64_t>(index[0]) * kLanes;
#pragma GCC unroll 4
    for (int64_t k = 0; k < count; ++k) {
      const V w = weight[k] - V{};  // a broadcast: x - 0 folds to x (x + 0 does not)
      sum0 = Isa::template madd<Acc>(sum0, w, vload<Acc>(column + k * kLanes));
      sum1 = Isa::template madd<Acc>(sum1, w, vload<Acc>(column + k * kLanes + kVec));
    }
  } else {
#pragma GCC unroll 4
    for (int64_t k = 0; k < count; ++k) {
      const Acc* column = tile + static_cast<int64_t>(index[k]) * kLanes;
      const V w = weight[k] - V{};
      sum0 = Isa::template madd<Acc>(sum0, w, vload<Acc>(column));
      sum1 = Isa::template madd<Acc>(sum1, w, vload<Acc>(column + kVec));
    }
  }
  *acc0 = sum0;
  *acc1 = sum1;
}

// The 16 float32 sums of one output of the cols pass in one register (Isa::kWide); `run`: the
// taps read consecutive columns from index[0] on.
template <typename Isa, int kTaps>
SR_ALWAYS_INLINE typename Isa::Wide column_sums_wide(const float* tile, const int32_t* index,
                                                     const float* weight, int64_t taps, bool run) {
  constexpr int64_t kLanes = cols_lanes<float>();
  const int64_t count = kTaps > 0 ? kTaps : taps;
  typename Isa::Wide sum = Isa::wide_zero();
  if (run) {
    const float* column = tile + static_cast<int64_t>(index[0]) * kLanes;
#pragma GCC unroll 4
    for (int64_t k = 0; k < count; ++k) {
      sum = Isa::wide_madd(sum, weight[k], Isa::wide_load(column + k * kLanes));
    }
  } else {
#pragma GCC unroll 4
    for (int64_t k = 0; k < count; ++k) {
      sum = Isa::wide_madd(sum, weight[k],
                           Isa::wide_load(tile + static_cast<int64_t>(index[k]) * kLanes));
    }
  }
  return sum;
}

// The table of the cols pass as locals: the staged uint8 stores may alias anything, so fields
// read through a ResizeTable reference would be reloaded (and the tie threshold rebuilt) for
// every output.
struct StageTable {
  const int32_t* index;
  const float* weight;
  const double* weight64;
  int64_t taps;
  float margin;
};

// The float64 sum of a cols-pass output (taps `index`, weights `weight64`) in tile lane `lane`:
// tap order, no FMA, the reference's arithmetic (see the header). What a uint8 output near a
// .5 tie is recomputed with.
template <typename Acc>
SR_ALWAYS_INLINE double exact_column_sum(const Acc* tile, const int32_t* index,
                                         const double* weight64, int64_t taps, int64_t lane) {
  constexpr int64_t kLanes = cols_lanes<Acc>();
  double exact = 0.0;
  for (int64_t k = 0; k < taps; ++k) {
    exact = exact + weight64[k] * static_cast<double>(tile[index[k] * kLanes + lane]);
  }
  return exact;
}

// float64 redo of the lanes in `near` of output o of the cols pass, staged at `out`.
SR_ALWAYS_INLINE void redo_staged(const float* tile, const StageTable& t, int64_t o, uint32_t near,
                                  uint8_t* out) {
  const int32_t* index = t.index + o * t.taps;
  const double* weight64 = t.weight64 + o * t.taps;
  for (; near != 0; near &= near - 1) {
    const int64_t r = __builtin_ctz(near);
    store(out + r, exact_column_sum(tile, index, weight64, t.taps, r));
  }
}

// Outputs o_a and o_b of the cols pass rounded together (Isa::round32) into the 16-byte slots
// at out_a and out_a + 16, with the float64 redo; `used`: the lanes that are not padding.
template <typename Isa, int kTaps, bool kRun>
SR_ALWAYS_INLINE void stage_pair(const float* tile, const StageTable& t, uint32_t used, int64_t o_a,
                                 int64_t o_b, uint8_t* out_a) {
  VecOf<float> acc[4];
  column_sums<Isa, float, kTaps>(tile, t.index + o_a * t.taps, t.weight + o_a * t.taps, t.taps,
                                 kRun, &acc[0], &acc[1]);
  column_sums<Isa, float, kTaps>(tile, t.index + o_b * t.taps, t.weight + o_b * t.taps, t.taps,
                                 kRun, &acc[2], &acc[3]);
  const uint32_t near = Isa::round32(acc[0], acc[1], acc[2], acc[3], t.margin, out_a);
  if (near != 0) {
    redo_staged(tile, t, o_a, near & used, out_a);
    redo_staged(tile, t, o_b, (near >> 16) & used, out_a + cols_lanes<float>());
  }
}

// uint8 outputs [begin, end) of a channels-innermost group (ColsGeometry::pack), staged at
// `to` as [o - begin][16] bytes; lanes >= `lanes` are padding. kRun: every output's taps read
// consecutive tile columns (a compile-time flag: no per-output test in the loop). `rgb`
// (Isa::kRgbBlocks only): whole blocks of 8 outputs are staged in unstage_rgb8's order.
template <typename Isa, int kTaps, bool kRun>
SR_ALWAYS_INLINE void stage_outputs(const float* tile, const StageTable& t, int64_t lanes, bool rgb,
                                    int64_t begin, int64_t end, uint8_t* to) {
  constexpr int64_t kLanes = cols_lanes<float>();
  const uint32_t used = (1u << lanes) - 1;
  int64_t o = begin;
  if constexpr (!Isa::kWide && Isa::kRound32) {  // two outputs per rounding (AVX2)
    if (Isa::kRgbBlocks && rgb) {
      for (; o + 8 <= end; o += 8) {
        uint8_t* block = to + (o - begin) * kLanes;
        for (int64_t i = 0; i < 4; ++i) {
          stage_pair<Isa, kTaps, kRun>(tile, t, used, o + i, o + 4 + i, block + 2 * i * kLanes);
        }
      }
    } else {
      for (; o + 2 <= end; o += 2) {
        stage_pair<Isa, kTaps, kRun>(tile, t, used, o, o + 1, to + (o - begin) * kLanes);
      }
    }
  }
  for (; o < end; ++o) {
    const int32_t* index = t.index + o * t.taps;
    const float* weight = t.weight + o * t.taps;
    uint8_t* out = to + (o - begin) * kLanes;
    uint32_t near;
    if constexpr (Isa::kWide) {
      near = Isa::wide_round16(column_sums_wide<Isa, kTaps>(tile, index, weight, t.taps, kRun),
                               t.margin, out);
    } else {
      VecOf<float> acc0, acc1;
      column_sums<Isa, float, kTaps>(tile, index, weight, t.taps, kRun, &acc0, &acc1);
      near = Isa::round16(acc0, acc1, t.margin, out);
    }
    if (near != 0) redo_staged(tile, t, o, near & used, out);
  }
}

template <typename Isa, typename Mid, typename Out, typename Acc, int kTaps>
SR_ALWAYS_INLINE void cols_group(const Mid* mid, Out* dst, const ColsGeometry& g,
                                 const ResizeTable& t, int64_t group, Acc* tile, uint8_t* stage) {
  using V = VecOf<Acc>;
  constexpr int64_t kVec = Simd<Acc>::kLanes;
  constexpr int64_t kLanes = cols_lanes<Acc>();
  const int64_t first = group * g.per_group;
  const int64_t count = std::min(g.per_group, g.lines - first);
  int64_t mid_base[kLanes], dst_base[kLanes];
  for (int64_t r = 0; r < kLanes; ++r) {
    const int64_t line = first + std::min(r, count - 1);  // pad with the last line
    const int64_t b = line % g.inner, a = (line / g.inner) % g.middle,
                  n = line / (g.inner * g.middle);
    mid_base[r] = n * g.mid_n + a * g.mid_a + b * g.mid_b;
    dst_base[r] = n * g.dst_n + a * g.dst_a + b * g.dst_b;
  }
  bool tiled = false;
  if constexpr (std::is_same_v<Mid, uint8_t> && std::is_same_v<Acc, float> && Isa::kPixels3) {
    if (g.pack && g.inner == 3 && g.mid_step == 3 && g.mid_b == 1) {  // RGB pixel rows
      const int64_t rows = count / 3;
      for (int64_t rr = 0; rr < kLanes / 3; ++rr) {  // rows past the last: copies of it
        Isa::pixels3(mid + mid_base[std::min(rr, rows - 1) * 3], g.width, tile + rr * 3, kLanes);
      }
      tiled = true;
    }
  }
  for (int64_t r = 0; r < kLanes && !tiled; ++r) {
    const Mid* line = mid + mid_base[r];
    for (int64_t x = 0; x < g.width; ++x) tile[x * kLanes + r] = load<Acc>(line + x * g.mid_step);
  }
  const Acc* weights = table_weights<Acc>(t);
  // Locals, not reloads of t: stores through the uint8 output may alias anything.
  const int64_t taps = kTaps > 0 ? kTaps : t.taps;
  const int64_t out_len = t.out_len;
  const float margin = t.tie_margin;
  const int64_t low = std::min(count, kVec), high = count - low;
  int64_t o = 0;
  if constexpr (std::is_same_v<Out, uint8_t>) {
    if (g.pack) {  // NHWC: the group holds whole pixel rows; bytes staged as [o][kLanes]
      const int64_t rows = count / g.inner;
      // Chunks of kStageOutputs outputs: the stage stays in L1 (4 KB, not out_len * 16 bytes:
      // 32 KB at 2040 outputs) between staging and copying out.
      // RGB on AVX2: blocks of 8 outputs for unstage_rgb8, so the run's ends are moved to
      // block boundaries (outputs moved out of the run take the general path).
      const bool rgb = Isa::kRgbBlocks && g.inner == 3;
      const int64_t align = rgb ? 8 : 1;
      const StageTable table{t.index, t.weight_f32, t.weight, taps, margin};
      for (int64_t c0 = 0; c0 < out_len; c0 += kStageOutputs) {
        const int64_t c1 = std::min(out_len, c0 + kStageOutputs);
        // The run [run_begin, run_end) without a per-output test.
        int64_t r0 = std::clamp(g.run_begin, c0, c1), r1 = std::clamp(g.run_end, r0, c1);
        r0 = std::min(c1, c0 + (r0 - c0 + align - 1) / align * align);
        r1 = std::max(r0, c0 + (r1 - c0) / align * align);
        stage_outputs<Isa, kTaps, false>(tile, table, count, rgb, c0, r0, stage);
        stage_outputs<Isa, kTaps, true>(tile, table, count, rgb, r0, r1,
                                        stage + (r0 - c0) * kLanes);
        stage_outputs<Isa, kTaps, false>(tile, table, count, rgb, r1, c1,
                                         stage + (r1 - c0) * kLanes);
        uint8_t* to = dst + c0 * g.inner;
        int64_t first = 0;
        if constexpr (Isa::kUnstage3 && kLanes == 16) {
          if (g.inner == 3) first = Isa::unstage3(stage, c1 - c0, rows, to, dst_base);
        }
        if constexpr (Isa::kRgbBlocks && kLanes == 16) {
          if (rgb) first = Isa::unstage_rgb8(stage, c1 - c0, rows, to, dst_base, out_len - c0);
        }
        unstage(stage, kLanes, c1 - c0, g.inner, rows, to, dst_base, first);
      }
      return;
    }
    // Lines with unit output stride (NCHW) and a full group: 8 outputs x 16 lanes of bytes are
    // transposed in registers and written as 8-byte runs, instead of 128 single-byte stores.
    if (g.dst_step == 1 && count == kLanes) {
      for (; o + 8 <= out_len; o += 8) {
        typename Simd<float>::Bytes block[2][8];
        uint32_t near[2][8];
        for (int64_t i = 0; i < 8; ++i) {
          const int32_t* index = t.index + (o + i) * taps;
          const Acc* weight = weights + (o + i) * taps;
          const bool run = o + i >= g.run_begin && o + i < g.run_end;
          V acc0, acc1;
          column_sums<Isa, Acc, kTaps>(tile, index, weight, taps, run, &acc0, &acc1);
          near[0][i] = Isa::round8(acc0, margin, &block[0][i]);
          near[1][i] = Isa::round8(acc1, margin, &block[1][i]);
        }
        for (int half = 0; half < 2; ++half) {
          store_transposed8(block[half], dst + o, dst_base + half * kVec);
          for (int64_t i = 0; i < 8; ++i) {
            for (uint32_t m = near[half][i]; m != 0; m &= m - 1) {  // float64 redo near ties
              const int64_t r = __builtin_ctz(m);
              const double exact = exact_column_sum(
                  tile, t.index + (o + i) * taps, t.weight + (o + i) * taps, taps, half * kVec + r);
              store(dst + o + i + dst_base[half * kVec + r], exact);
            }
          }
        }
      }
    }
  }
  for (; o < out_len; ++o) {
    const int32_t* index = t.index + o * taps;
    const Acc* weight = weights + o * taps;
    const bool run = o >= g.run_begin && o < g.run_end;
    V acc0, acc1;
    column_sums<Isa, Acc, kTaps>(tile, index, weight, taps, run, &acc0, &acc1);
    Out* out = dst + o * g.dst_step;
    if constexpr (std::is_same_v<Out, uint8_t>) {
      const V both[2] = {acc0, acc1};
      for (int half = 0; half < 2; ++half) {
        const int64_t lanes = half == 0 ? low : high;
        if (lanes <= 0) break;
        typename Simd<float>::Bytes bytes;
        uint32_t near = Isa::round8(both[half], margin, &bytes);
        const int64_t* bases = dst_base + half * kVec;
        for (int64_t r = 0; r < lanes; ++r) out[bases[r]] = bytes[r];
        near &= (1u << lanes) - 1;
        while (near != 0) {  // float64 redo near .5 ties (see rows_item)
          const int64_t r = __builtin_ctz(near);
          near &= near - 1;
          store(out + bases[r],
                exact_column_sum(tile, index, t.weight + o * taps, taps, half * kVec + r));
        }
      }
    } else {
      scatter<Acc>(out, dst_base, low, acc0);
      if (high > 0) scatter<Acc>(out, dst_base + kVec, high, acc1);
    }
  }
}

// Groups [begin, end) of the cols pass; every upscale (4 taps) gets the tap loop unrolled.
template <typename Isa, typename Mid, typename Out, typename Acc>
SR_ALWAYS_INLINE void cols_groups(const Mid* mid, Out* dst, const ColsGeometry& g,
                                  const ResizeTable& t, int64_t begin, int64_t end, Acc* tile,
                                  uint8_t* stage) {
  if (t.taps == 4) {
    for (int64_t group = begin; group < end; ++group) {
      cols_group<Isa, Mid, Out, Acc, 4>(mid, dst, g, t, group, tile, stage);
    }
  } else {
    for (int64_t group = begin; group < end; ++group) {
      cols_group<Isa, Mid, Out, Acc, 0>(mid, dst, g, t, group, tile, stage);
    }
  }
}

template <typename Mid, typename Out, typename Acc>
void cols_groups_base(const Mid* mid, Out* dst, const ColsGeometry& g, const ResizeTable& t,
                      int64_t begin, int64_t end, Acc* tile, uint8_t* stage) {
  for (int64_t group = begin; group < end; ++group) {
    cols_group<IsaBase, Mid, Out, Acc, 0>(mid, dst, g, t, group, tile, stage);
  }
}

#if SR_X86_MULTIVERSION
template <typename Mid, typename Out, typename Acc>
SR_FLATTEN_AVX512 void cols_groups_avx512(const Mid* mid, Out* dst, const ColsGeometry& g,
                                          const ResizeTable& t, int64_t begin, int64_t end,
                                          Acc* tile, uint8_t* stage) {
  cols_groups<IsaAvx512>(mid, dst, g, t, begin, end, tile, stage);
}

template <typename Mid, typename Out, typename Acc>
SR_FLATTEN_AVX2 void cols_groups_avx2(const Mid* mid, Out* dst, const ColsGeometry& g,
                                      const ResizeTable& t, int64_t begin, int64_t end, Acc* tile,
                                      uint8_t* stage) {
  cols_groups<IsaAvx2>(mid, dst, g, t, begin, end, tile, stage);
}
#endif

ColsGeometry cols_geometry(const Tensor4d& m, const Tensor4d& d, int64_t lanes, bool bytes) {
  ColsGeometry g{};
  const int64_t channels = m.size[1], height = m.size[2];
  g.lines = m.size[0] * channels * height;
  g.mid_n = m.stride[0];
  g.dst_n = d.stride[0];
  g.mid_step = m.stride[3];
  g.dst_step = d.stride[3];
  g.width = m.size[3];
  g.per_group = lanes;
  g.pack = false;
  // Neighbouring lanes should be neighbours in memory: channels innermost for NHWC.
  if (m.stride[1] < m.stride[2]) {
    g.inner = channels, g.middle = height;
    g.mid_b = m.stride[1], g.mid_a = m.stride[2];
    g.dst_b = d.stride[1], g.dst_a = d.stride[2];
    // Groups of whole pixel rows (all channels of one (n, y) in one group): no two threads
    // write the same output row, and uint8 rows are written from a staging buffer.
    if (channels <= lanes) {
      g.per_group = lanes / channels * channels;
      g.pack = bytes && channels > 1 && g.dst_b == 1 && g.dst_step == channels;
    }
  } else {
    g.inner = height, g.middle = channels;
    g.mid_b = m.stride[2], g.mid_a = m.stride[1];
    g.dst_b = d.stride[2], g.dst_a = d.stride[1];
  }
  return g;
}

void consecutive_run(const ResizeTable& t, int64_t* begin, int64_t* end) {
  auto consecutive = [&t](int64_t o) {
    const int32_t* index = t.index + o * t.taps;
    for (int64_t k = 1; k < t.taps; ++k) {
      if (index[k] != index[0] + k) return false;
    }
    return true;
  };
  int64_t o = 0;
  while (o < t.out_len && !consecutive(o)) ++o;
  *begin = o;
  while (o < t.out_len && consecutive(o)) ++o;
  *end = o;
}

template <typename Mid, typename Out, typename Acc>
void cols_pass(const Mid* mid, const Tensor4d& md, Out* dst, const Tensor4d& dd,
               const ResizeTable& t) {
  constexpr int64_t kLanes = cols_lanes<Acc>();
  ColsGeometry g = cols_geometry(md, dd, kLanes, std::is_same_v<Out, uint8_t>);
  consecutive_run(t, &g.run_begin, &g.run_end);
  const int64_t groups = (g.lines + g.per_group - 1) / g.per_group;
  const int64_t work = g.lines * t.out_len * t.taps;
  const CpuIsa isa = cpu_isa();
  const int64_t per_group = std::max<int64_t>(1, g.per_group * t.out_len * t.taps);
  const int64_t chunk = std::max<int64_t>(1, (1 << 16) / per_group);
  const int64_t chunks = (groups + chunk - 1) / chunk;
#pragma omp parallel if (work > (1 << 17))
  {
    std::vector<Acc> tile(static_cast<size_t>(g.width * kLanes));
    std::vector<uint8_t> stage(
        g.pack ? static_cast<size_t>(std::min(t.out_len, kStageOutputs) * kLanes) : 0);
#pragma omp for schedule(dynamic, 1)
    for (int64_t i = 0; i < chunks; ++i) {
      const int64_t begin = i * chunk, end = std::min(groups, begin + chunk);
#if SR_X86_MULTIVERSION
      // AVX-512 for the uint8 channels-innermost rows (g.pack) only, as in rows_pass.
      bool done = false;
      if constexpr (std::is_same_v<Out, uint8_t>) {
        if (isa == CpuIsa::kAvx512 && g.pack) {
          cols_groups_avx512<Mid, Out, Acc>(mid, dst, g, t, begin, end, tile.data(), stage.data());
          done = true;
        }
      }
      if (done) {
      } else if (isa != CpuIsa::kBase) {
        cols_groups_avx2<Mid, Out, Acc>(mid, dst, g, t, begin, end, tile.data(), stage.data());
      } else {
        cols_groups_base<Mid, Out, Acc>(mid, dst, g, t, begin, end, tile.data(), stage.data());
      }
#else
      (void)isa;
      cols_groups_base<Mid, Out, Acc>(mid, dst, g, t, begin, end, tile.data(), stage.data());
#endif
    }
  }
}

// A table that copies: one tap of weight 1 at the output's own index (every scale-1 axis;
// MATLAB indexes instead of resizing there). Its pass is exact (w * x = x, uint8 rounds x to x).
bool is_identity(const ResizeTable& t) {
  if (t.taps != 1 || t.in_len != t.out_len) return false;
  for (int64_t o = 0; o < t.out_len; ++o) {
    if (t.index[o] != o || t.weight[o] != 1.0) return false;
  }
  return true;
}

template <typename T, typename Mid, typename Acc>
void run(const void* src, const Tensor4d& sd, void* mid, const Tensor4d& md, void* dst,
         const Tensor4d& dd, const ResizeTable& rows, const ResizeTable& cols) {
  const T* in = static_cast<const T*>(src);
  T* out = static_cast<T*>(dst);
  // An identity pass is skipped where the other pass can read or write T itself (Mid == T:
  // uint8, float32, float64): a one-axis resize then costs one pass, not two.
  if constexpr (std::is_same_v<T, Mid>) {
    if (is_identity(cols)) {  // also when both are: one copying pass
      rows_pass<T, T, Acc>(in, sd, out, dd, rows);
      return;
    }
    if (is_identity(rows)) {
      cols_pass<T, T, Acc>(in, sd, out, dd, cols);
      return;
    }
  }
  rows_pass<T, Mid, Acc>(in, sd, static_cast<Mid*>(mid), md, rows);
  cols_pass<Mid, T, Acc>(static_cast<const Mid*>(mid), md, out, dd, cols);
}

bool valid(const Tensor4d& src, const Tensor4d& mid, const Tensor4d& dst, const ResizeTable& rows,
           const ResizeTable& cols) {
  for (int d = 0; d < 4; ++d) {
    if (src.size[d] < 0 || mid.size[d] < 0 || dst.size[d] < 0) return false;
  }
  return rows.taps >= 1 && cols.taps >= 1 && rows.in_len == src.size[2] &&
         rows.out_len == mid.size[2] && cols.in_len == mid.size[3] && cols.out_len == dst.size[3] &&
         mid.size[3] == src.size[3] && dst.size[2] == mid.size[2] && src.size[0] == dst.size[0] &&
         src.size[1] == dst.size[1];
}

}  // namespace

const char* imresize_cpu_isa() {
  switch (cpu_isa()) {
    case CpuIsa::kAvx512:
      return "avx512";
    case CpuIsa::kAvx2:
      return "avx2";
    case CpuIsa::kBase:
      break;
  }
  return "base";
}

Status imresize_cpu(ImresizeDtype dtype, const void* src, const Tensor4d& src_desc, void* mid,
                    const Tensor4d& mid_desc, void* dst, const Tensor4d& dst_desc,
                    const ResizeTable& rows, const ResizeTable& cols) {
  if (!valid(src_desc, mid_desc, dst_desc, rows, cols)) return Status::kInvalidArgument;
  for (int d = 0; d < 4; ++d) {
    if (dst_desc.size[d] == 0) return Status::kOk;
  }
  switch (dtype) {
    case ImresizeDtype::kUInt8:
      run<uint8_t, uint8_t, float>(src, src_desc, mid, mid_desc, dst, dst_desc, rows, cols);
      return Status::kOk;
    case ImresizeDtype::kFloat32:
      run<float, float, float>(src, src_desc, mid, mid_desc, dst, dst_desc, rows, cols);
      return Status::kOk;
    case ImresizeDtype::kFloat64:
      run<double, double, double>(src, src_desc, mid, mid_desc, dst, dst_desc, rows, cols);
      return Status::kOk;
    case ImresizeDtype::kFloat16:
      run<Half, float, float>(src, src_desc, mid, mid_desc, dst, dst_desc, rows, cols);
      return Status::kOk;
    case ImresizeDtype::kBFloat16:
      run<BFloat16, float, float>(src, src_desc, mid, mid_desc, dst, dst_desc, rows, cols);
      return Status::kOk;
  }
  return Status::kInvalidArgument;
}

}  // namespace sr
