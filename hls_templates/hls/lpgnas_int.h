// lpgnas_int.h -- integer types and the one re-quantisation rule of lpgnas, for the generated HLS C++.
//
// Type choice (documented in docs/hls.md):
//  * Under Vitis HLS (__SYNTHESIS__ defined) or with -DLPGNAS_AP_INT, lp_int<W>/lp_uint<W> are Xilinx's
//    ap_int<W>/ap_uint<W>, so storage and accumulators get exactly the widths the generator computed.
//  * Otherwise (plain g++, the C simulation lpgnas runs) they are the smallest <cstdint> type holding W bits,
//    and every accumulator is int64_t. The generator refuses formats whose accumulator bound exceeds
//    62 bits (the golden model's int64 limit), so no intermediate below can overflow.
// All arithmetic on values goes through int64_t, so both paths compute the same integers as
// lpgnas/golden.py. Only the g++ path is verified by lpgnas' tests (sim/csim.py).
#ifndef LPGNAS_INT_H
#define LPGNAS_INT_H

#include <cstdint>

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
template <int W> using lp_acc = int64_t;
#endif

// Any value of magnitude >= 2^LP_SATURATION_BITS saturates every format (formats have <= 32 bits);
// mirrors lpgnas.numfmt.SATURATION_BITS.
#define LP_SATURATION_BITS 34

// Re-quantise an accumulator: shift > 0 rounds half up, (acc + 2^(shift-1)) >> shift (arithmetic shift);
// shift < 0 shifts left, clamping first so the result cannot overflow yet saturates exactly;
// then saturate to [qmin, qmax]. |acc| < 2^61 is guaranteed by the generator's bound check.
static inline int64_t lp_requant(int64_t acc, int shift, int64_t qmin, int64_t qmax) {
    if (shift >= 62) {
        acc = 0;  // (acc + 2^(shift-1)) >> shift == 0 for every |acc| < 2^61
    } else if (shift > 0) {
        acc = (acc + (int64_t(1) << (shift - 1))) >> shift;
    } else if (shift < 0) {
        const int sh = -shift < LP_SATURATION_BITS ? -shift : LP_SATURATION_BITS;
        const int64_t lim = int64_t(1) << (LP_SATURATION_BITS - sh);
        acc = acc < -lim ? -lim : acc > lim ? lim : acc;
        acc = acc * (int64_t(1) << sh);
    }
    return acc < qmin ? qmin : acc > qmax ? qmax : acc;
}

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
