// bit2hls kernels: full-precision (Dense) and per-channel Affine stages as fixed-point
// multiplies, and the shared requantization Y = rnd(., shift) + B, ReLU.
#ifndef NNET_B2H_DENSE_H_
#define NNET_B2H_DENSE_H_

#include "nnet_b2h_common.h"

namespace nnet {

// Y = rnd(acc, shift) + B, ReLU, for an accumulator array computed by the layer's own code.
template <class res_T, class CONFIG_T>
void b2h_requantize(const typename CONFIG_T::acc_t acc[CONFIG_T::n_out],
                    const typename CONFIG_T::bias_t bias[CONFIG_T::n_out], res_T y[CONFIG_T::n_out]) {
    #pragma HLS INLINE
    for (int n = 0; n < CONFIG_T::n_out; n++) {
        #pragma HLS UNROLL
        typename CONFIG_T::pre_t v = b2h_rnd<CONFIG_T::shift>(b2h_signed(acc[n])) + bias[n];
        if (CONFIG_T::relu && v < 0) v = 0;
        typename CONFIG_T::out_int_t o = v;
        b2h_set_code(y[n], o);
    }
}

// Resource strategy for Dense: weights in a ROM of reuse words per bank; cycle r handles the
// flat indices i = n*n_in + k = r + reuse*j. accw_t holds every partial sum (range analysis of
// the prefix sums), acc_t the final sum.
template <class data_T, class CONFIG_T>
void b2h_dense_rom(const data_T x[CONFIG_T::n_in], typename CONFIG_T::acc_t acc[CONFIG_T::n_out],
                   const typename CONFIG_T::weight_t w[CONFIG_T::reuse][CONFIG_T::block]) {
    #pragma HLS INLINE
    #pragma HLS ARRAY_PARTITION variable=w complete dim=2
    #pragma HLS BIND_STORAGE variable=w type=rom_1p
    typename CONFIG_T::accw_t a[CONFIG_T::n_out];
    #pragma HLS ARRAY_PARTITION variable=a complete
    for (int n = 0; n < CONFIG_T::n_out; n++) {
        #pragma HLS UNROLL
        a[n] = 0;
    }
ReuseLoop:
    for (int r = 0; r < CONFIG_T::reuse; r++) {
        for (int j = 0; j < CONFIG_T::block; j++) {
            #pragma HLS UNROLL
            int i = r + CONFIG_T::reuse * j;
            int n = i / CONFIG_T::n_in;
            int k = i % CONFIG_T::n_in;
            a[n] += b2h_code(x[k]) * w[r][j];
        }
    }
    for (int n = 0; n < CONFIG_T::n_out; n++) {
        #pragma HLS UNROLL
        acc[n] = a[n];
    }
}

// Affine: Y_k = rnd(X_k * A_k, shift) + B_k, ReLU.
template <class data_T, class res_T, class CONFIG_T>
void b2h_affine(const data_T x[CONFIG_T::n_in], const typename CONFIG_T::scale_t scale[CONFIG_T::n_in],
                const typename CONFIG_T::bias_t bias[CONFIG_T::n_in], res_T y[CONFIG_T::n_in]) {
    #pragma HLS INLINE
    for (int n = 0; n < CONFIG_T::n_in; n++) {
        #pragma HLS UNROLL
        typename CONFIG_T::prod_t p = b2h_code(x[n]) * scale[n];
#ifdef B2H_CONST_MUL_FABRIC
        #pragma HLS BIND_OP variable=p op=mul impl=fabric
#endif
        typename CONFIG_T::pre_t v = b2h_rnd<CONFIG_T::shift>(b2h_signed(p)) + bias[n];
        if (CONFIG_T::relu && v < 0) v = 0;
        typename CONFIG_T::out_int_t o = v;
        b2h_set_code(y[n], o);
    }
}

} // namespace nnet

#endif
