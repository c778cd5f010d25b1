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

} // namespace nnet

#endif
