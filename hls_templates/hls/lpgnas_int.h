// lpgnas_int.h -- integer types and the one re-quantisation rule of lpgnas, for the generated HLS C++.
//
// Type choice (documented in docs/hls.md):
//  * Under Vitis HLS (__SYNTHESIS__ defined) or with -DLPGNAS_AP_INT, lp_int<W>/lp_uint<W> are Xilinx's
//    ap_int<W>/ap_uint<W>, so storage and accumulators get exactly the widths the generator computed.
//  * Otherwise (plain g++, the C simulation lpgnas runs) they are the smallest <cstdint> type holding W bits,
//    and an accumulator whose bound W fits in LP_INT64_SAFE_BITS ({{ int64_safe_bits }}, the golden model's int64 limit) is
//    int64_t, a wider one __int128 (exact up to LP_WIDE_SAFE_BITS = {{ wide_safe_bits }} bits; the generator refuses wider
//    bounds), so no accumulator can overflow.
// Products of two codes (<= 32 bits each) are int64_t; every sum and re-quantisation of them happens in
// the accumulator's type, so both paths compute the same integers as lpgnas/golden.py.
#ifndef LPGNAS_INT_H
#define LPGNAS_INT_H

#include <cstdint>

// accumulator bound (bits, sign included) up to which int64_t is exact (lpgnas.numfmt.INT64_SAFE_BITS)
#define LP_INT64_SAFE_BITS {{ int64_safe_bits }}

#if defined(__SYNTHESIS__) || defined(LPGNAS_AP_INT)
#include <ap_int.h>
template <int W> using lp_int = ap_int<W>;
template <int W> using lp_uint = ap_uint<W>;
template <int W> using lp_acc = ap_int<W>;
#else
#include <type_traits>
template <int W, bool S> struct lp_int_select {
    static_assert(W >= 1 && W <= 64, "lpgnas: integer widths are 1..64 bits");
    using type = std::conditional_t<(W <= 8), std::conditional_t<S, int8_t, uint8_t>,
                 std::conditional_t<(W <= 16), std::conditional_t<S, int16_t, uint16_t>,
                 std::conditional_t<(W <= 32), std::conditional_t<S, int32_t, uint32_t>,
                                    std::conditional_t<S, int64_t, uint64_t>>>>;
};
template <int W> using lp_int = typename lp_int_select<W, true>::type;
template <int W> using lp_uint = typename lp_int_select<W, false>::type;
// accumulator bound up to which __int128 is exact (hls_writer.WIDE_SAFE_BITS)
#define LP_WIDE_SAFE_BITS {{ wide_safe_bits }}
__extension__ typedef __int128 lp_int128;  // a GCC / Clang extension (__extension__: quiet under -pedantic)
template <int W> using lp_acc = std::conditional_t<(W <= LP_INT64_SAFE_BITS), int64_t, lp_int128>;
#endif

// Any value of magnitude >= 2^LP_SATURATION_BITS saturates every format (formats have <= 32 bits);
// lpgnas.numfmt.SATURATION_BITS.
#define LP_SATURATION_BITS {{ saturation_bits }}

// Re-quantise an accumulator of type T with |acc| < 2^(BOUND-1) (BOUND bits, sign included, at most two
// bits fewer than T holds): shift > 0 rounds half up, (acc + 2^(shift-1)) >> shift (arithmetic shift);
// shift < 0 shifts left, clamping first so the result cannot overflow yet saturates exactly;
// then saturate to [qmin, qmax].
template <typename T, int BOUND>
static inline int64_t lp_requant_bounded(T acc, int shift, int64_t qmin, int64_t qmax) {
    if (shift >= BOUND) {
        acc = 0;  // (acc + 2^(shift-1)) >> shift == 0 for every |acc| < 2^(BOUND-1)
    } else if (shift > 0) {
        acc = (acc + (T(1) << (shift - 1))) >> shift;
    } else if (shift < 0) {
        const int sh = -shift < LP_SATURATION_BITS ? -shift : LP_SATURATION_BITS;
        const T lim = T(1) << (LP_SATURATION_BITS - sh), neg_lim = -lim;
        if (acc < neg_lim) acc = neg_lim;
        if (acc > lim) acc = lim;
        acc = acc * (T(1) << sh);
    }
    return acc < qmin ? qmin : acc > qmax ? qmax : int64_t(acc);
}

// |acc| < 2^61: the generator's bound check (int64_t accumulators, products of two codes)
static inline int64_t lp_requant(int64_t acc, int shift, int64_t qmin, int64_t qmax) {
    return lp_requant_bounded<int64_t, LP_INT64_SAFE_BITS>(acc, shift, qmin, qmax);
}
#if defined(__SYNTHESIS__) || defined(LPGNAS_AP_INT)
// an ap_int accumulator: computed with at least 64 bits, and 2 bits of headroom beyond its bound W
template <int W>
static inline int64_t lp_requant(ap_int<W> acc, int shift, int64_t qmin, int64_t qmax) {
    constexpr int B = W > LP_INT64_SAFE_BITS ? W : LP_INT64_SAFE_BITS;
    return lp_requant_bounded<ap_int<B + 2>, B>(ap_int<B + 2>(acc), shift, qmin, qmax);
}
#else
// |acc| < 2^125: the generator's bound check (__int128 accumulators)
static inline int64_t lp_requant(lp_int128 acc, int shift, int64_t qmin, int64_t qmax) {
    return lp_requant_bounded<lp_int128, LP_WIDE_SAFE_BITS>(acc, shift, qmin, qmax);
}
#endif

// Entry of a function table (lpgnas/tables.py): clamp(q >> shift, lo, hi) - lo (arithmetic shift = floor).
static inline int lp_table_index(int64_t q, int shift, int64_t lo, int64_t hi) {
    const int64_t k = q >> shift;
    return int((k < lo ? lo : k > hi ? hi : k) - lo);
}

// Leaky ReLU with a fixed-point slope: q if q >= 0 else round_half_up(q * slope / 2^frac).
static inline int64_t lp_leaky(int64_t q, int64_t slope, int frac) {
    return q >= 0 ? q : (q * slope + (int64_t(1) << (frac - 1))) >> frac;
}

#endif  // LPGNAS_INT_H
