// bit2hls kernels: the masked pool of a particle-level model (docs/particles.md).
//
// Φ's outputs of every particle slot are pooled over the real particles only (mask 1); a padded
// slot contributes nothing, whatever Φ computed for it. The pooled type pool_T has Φ's
// fractional bits and a range proven to hold any subset of the particles (sum: N times Φ's
// range with 0; max: Φ's range with 0), so every assignment below is exact.
#ifndef NNET_B2H_POOL_H_
#define NNET_B2H_POOL_H_

#include "ap_fixed.h"
#include "ap_int.h"

namespace nnet {

#include "nnet_b2h_common.h"

// acc = 0 (the pool of a jet without particles).
template <class pool_T, int L> void b2h_pool_init(pool_T acc[L]) {
    #pragma HLS INLINE
    for (int j = 0; j < L; j++) {
        #pragma HLS UNROLL
        acc[j] = 0;
    }
}

// Masked sum: acc += y when the slot holds a real particle.
template <class phi_T, class pool_T, int L>
void b2h_pool_sum(const ap_uint<1> real, const phi_T y[L], pool_T acc[L]) {
    #pragma HLS INLINE
    for (int j = 0; j < L; j++) {
        #pragma HLS UNROLL
        if (real) acc[j] = acc[j] + y[j];
    }
}

// Masked max: acc = y at the first real particle, max(acc, y) at the next ones; `any` says
// whether a real particle came before. A jet without particles keeps acc = 0.
template <class phi_T, class pool_T, int L>
void b2h_pool_max(const ap_uint<1> real, bool &any, const phi_T y[L], pool_T acc[L]) {
    #pragma HLS INLINE
    for (int j = 0; j < L; j++) {
        #pragma HLS UNROLL
        if (real && (!any || y[j] > acc[j])) acc[j] = y[j];
    }
    if (real) any = true;
}

// Masked mean (docs/arithmetic.md, "Mean pool"): with S the code of a feature's masked sum and
// c the number of real particles, the pooled code is sgn(S) * floor(n * recip / 2^SHIFT),
// n = |S| * 2^(EXTRA+1) + c, recip = M_c from bit2hls' table: S * 2^EXTRA / c rounded to the
// nearest integer, exactly, for every S of the proven range (WN bits hold n, WM bits M_c, WC
// bits c). A jet without particles has S = 0 and c = 0, so n = 0 and the pool is 0.
template <class acc_T, class pool_T, int L, int EXTRA, int SHIFT, int WN, int WM, int WC>
void b2h_pool_mean(const acc_T acc[L], const ap_uint<WC> count, const ap_uint<WM> recip,
                   pool_T out[L]) {
    #pragma HLS INLINE
    for (int j = 0; j < L; j++) {
        #pragma HLS UNROLL
        auto s = b2h_signed(b2h_code(acc[j]));
        ap_uint<WN> n = ap_uint<WN>(b2h_abs(s));
        n = (n << (EXTRA + 1)) + count;
        ap_uint<WN + WM> p = n * recip;
        ap_uint<WN + WM - SHIFT> q = p >> SHIFT;
        ap_int<WN + WM - SHIFT + 1> v = q;
        if (s < 0) v = -v;
        b2h_set_code(out[j], v);
    }
}

} // namespace nnet

#endif
