// bit2hls kernels: the ternary (BitLinear) stage, split as the arithmetic spec splits it:
// quantizer -> accumulate (add / subtract / skip) -> dequantize (+ bias, ReLU).
//
// CONFIG_T (generated in parameters.h) carries every width as a typedef chosen by range analysis
// and every constant of the layer; the weights, scales and biases come from firmware/weights/.
#ifndef NNET_B2H_TERNARY_H_
#define NNET_B2H_TERNARY_H_

#include "nnet_b2h_common.h"

namespace nnet {

// dynamic: M = max(max|x|, m_floor); e = bitlen(M); s = G + e;
// R = floor((Q*2^s + floor(M/2)) / M) (a normalized reciprocal); q = clamp(rnd(x*R, s)).
template <class data_T, class CONFIG_T>
void b2h_quantize_dynamic(const data_T x[CONFIG_T::n_in], typename CONFIG_T::code_t q[CONFIG_T::n_in],
                          typename CONFIG_T::m_t &m) {
    #pragma HLS INLINE
    m = b2h_absmax<data_T, typename CONFIG_T::m_t, CONFIG_T::n_in>(x, CONFIG_T::m_floor);
    typename CONFIG_T::e_t e = b2h_bit_length<CONFIG_T::e_bits>(m);
    int s = CONFIG_T::guard + e.to_int();
    typename CONFIG_T::num_t num = typename CONFIG_T::num_t(CONFIG_T::qmax) << s;
    num += m >> 1;
    typename CONFIG_T::recip_t r = num / m;
    for (int k = 0; k < CONFIG_T::n_in; k++) {
        #pragma HLS UNROLL
        typename CONFIG_T::prod_t p = b2h_code(x[k]) * r;
        q[k] = b2h_clamp(b2h_rnd_var<CONFIG_T::s_max>(b2h_signed(p), s), CONFIG_T::clamp_lo, CONFIG_T::clamp_hi);
    }
}

// Layer-norm mean subtraction (docs/arithmetic.md): S = sum_k V_k, U_k = K*V_k - S.
// sum_t holds every partial sum (range analysis covers the prefixes).
template <class data_T, class CONFIG_T>
void b2h_center(const data_T x[CONFIG_T::n_in], typename CONFIG_T::u_t u[CONFIG_T::n_in]) {
    #pragma HLS INLINE
    typename CONFIG_T::sum_t s = 0;
    for (int k = 0; k < CONFIG_T::n_in; k++) {
        #pragma HLS UNROLL
        s += b2h_code(x[k]);
    }
    for (int k = 0; k < CONFIG_T::n_in; k++) {
        #pragma HLS UNROLL
        u[k] = ap_int<32>(CONFIG_T::n_in) * b2h_code(x[k]) - s;
    }
}

// dynamic-pow2: e = ceil(log2 M) (leading-one detector); q = clamp(rnd(Q*x, e)).
template <class data_T, class CONFIG_T>
void b2h_quantize_pow2(const data_T x[CONFIG_T::n_in], typename CONFIG_T::code_t q[CONFIG_T::n_in],
                       typename CONFIG_T::e_t &e) {
    #pragma HLS INLINE
    typename CONFIG_T::m_t m = b2h_absmax<data_T, typename CONFIG_T::m_t, CONFIG_T::n_in>(x, CONFIG_T::m_floor);
    e = b2h_ceil_log2<CONFIG_T::e_bits>(m);
    for (int k = 0; k < CONFIG_T::n_in; k++) {
        #pragma HLS UNROLL
        typename CONFIG_T::prod_t p = b2h_code(x[k]) * typename CONFIG_T::qmax_t(CONFIG_T::qmax);
        q[k] = b2h_clamp(b2h_rnd_var<CONFIG_T::e_max>(b2h_signed(p), e.to_int()), CONFIG_T::clamp_lo,
                         CONFIG_T::clamp_hi);
    }
}

// static: q = clamp(rnd(x*R_s, P)) with the calibrated constant R_s.
template <class data_T, class CONFIG_T>
void b2h_quantize_static(const data_T x[CONFIG_T::n_in], typename CONFIG_T::code_t q[CONFIG_T::n_in]) {
    #pragma HLS INLINE
    for (int k = 0; k < CONFIG_T::n_in; k++) {
        #pragma HLS UNROLL
        typename CONFIG_T::prod_t p = b2h_code(x[k]) * typename CONFIG_T::recip_t(CONFIG_T::recip);
#ifdef B2H_CONST_MUL_FABRIC
        #pragma HLS BIND_OP variable=p op=mul impl=fabric
#endif
        q[k] = b2h_clamp(b2h_rnd<CONFIG_T::recip_frac>(b2h_signed(p)), CONFIG_T::clamp_lo, CONFIG_T::clamp_hi);
    }
}

// static, fused: the input already is this layer's codes (the previous stage requantized).
template <class data_T, class CONFIG_T>
void b2h_quantize_codes(const data_T x[CONFIG_T::n_in], typename CONFIG_T::code_t q[CONFIG_T::n_in]) {
    #pragma HLS INLINE
    for (int k = 0; k < CONFIG_T::n_in; k++) {
        #pragma HLS UNROLL
        q[k] = b2h_code(x[k]);
    }
}

// Output n: pre-activation v (already rounded, bias added) -> ReLU -> output code.
template <class res_T, class CONFIG_T>
inline void b2h_finish(typename CONFIG_T::pre_t v, res_T &y) {
    #pragma HLS INLINE
    if (CONFIG_T::relu && v < 0) v = 0;
    typename CONFIG_T::out_int_t o = v;
    b2h_set_code(y, o);
}

// dynamic: Y = rnd(acc * M * C, shift) + B.
template <class res_T, class CONFIG_T>
void b2h_dequantize_dynamic(const typename CONFIG_T::acc_t acc[CONFIG_T::n_out], typename CONFIG_T::m_t m,
                            const typename CONFIG_T::scale_t scale[CONFIG_T::n_out],
                            const typename CONFIG_T::bias_t bias[CONFIG_T::n_out], res_T y[CONFIG_T::n_out]) {
    #pragma HLS INLINE
    for (int n = 0; n < CONFIG_T::n_out; n++) {
        #pragma HLS UNROLL
        typename CONFIG_T::dq_t p = acc[n] * m * scale[n];
        typename CONFIG_T::pre_t v = b2h_rnd<CONFIG_T::shift>(b2h_signed(p)) + bias[n];
        b2h_finish<res_T, CONFIG_T>(v, y[n]);
    }
}

// dynamic-pow2: Y = rnd(acc * C, shift - e) + B (a variable shift, no multiplier by M).
template <class res_T, class CONFIG_T>
void b2h_dequantize_pow2(const typename CONFIG_T::acc_t acc[CONFIG_T::n_out], typename CONFIG_T::e_t e,
                         const typename CONFIG_T::scale_t scale[CONFIG_T::n_out],
                         const typename CONFIG_T::bias_t bias[CONFIG_T::n_out], res_T y[CONFIG_T::n_out]) {
    #pragma HLS INLINE
    for (int n = 0; n < CONFIG_T::n_out; n++) {
        #pragma HLS UNROLL
        typename CONFIG_T::dq_t p = acc[n] * scale[n];
#ifdef B2H_CONST_MUL_FABRIC
        #pragma HLS BIND_OP variable=p op=mul impl=fabric
#endif
        typename CONFIG_T::pre_t v =
            b2h_rnd_var<CONFIG_T::shift_max>(b2h_signed(p), CONFIG_T::shift - e.to_int()) + bias[n];
        b2h_finish<res_T, CONFIG_T>(v, y[n]);
    }
}

// static: Y = rnd(acc * D, shift) + B.
template <class res_T, class CONFIG_T>
void b2h_dequantize_static(const typename CONFIG_T::acc_t acc[CONFIG_T::n_out],
                           const typename CONFIG_T::scale_t scale[CONFIG_T::n_out],
                           const typename CONFIG_T::bias_t bias[CONFIG_T::n_out], res_T y[CONFIG_T::n_out]) {
    #pragma HLS INLINE
    for (int n = 0; n < CONFIG_T::n_out; n++) {
        #pragma HLS UNROLL
        typename CONFIG_T::dq_t p = acc[n] * scale[n];
#ifdef B2H_CONST_MUL_FABRIC
        #pragma HLS BIND_OP variable=p op=mul impl=fabric
#endif
        typename CONFIG_T::pre_t v = b2h_rnd<CONFIG_T::shift>(b2h_signed(p)) + bias[n];
        b2h_finish<res_T, CONFIG_T>(v, y[n]);
    }
}

// static, fused requantization: q' = clamp(rnd(acc * E + H, shift)) -> ReLU -> next layer's code.
template <class res_T, class CONFIG_T>
void b2h_requantize(const typename CONFIG_T::acc_t acc[CONFIG_T::n_out],
                    const typename CONFIG_T::scale_t scale[CONFIG_T::n_out],
                    const typename CONFIG_T::bias_t bias[CONFIG_T::n_out], res_T y[CONFIG_T::n_out]) {
    #pragma HLS INLINE
    for (int n = 0; n < CONFIG_T::n_out; n++) {
        #pragma HLS UNROLL
        typename CONFIG_T::dq_t p = acc[n] * scale[n];
#ifdef B2H_CONST_MUL_FABRIC
        #pragma HLS BIND_OP variable=p op=mul impl=fabric
#endif
        typename CONFIG_T::dq_t s = p + bias[n];
        typename CONFIG_T::pre_t v =
            b2h_clamp(b2h_rnd<CONFIG_T::shift>(b2h_signed(s)), CONFIG_T::clamp_lo, CONFIG_T::clamp_hi);
        b2h_finish<res_T, CONFIG_T>(v, y[n]);
    }
}

// Resource strategy: the ternary matrix as 2-bit lanes in a ROM of CONFIG_T::reuse words per
// bank (docs/hls.md, "Lane layout"). Flat weight index i = n*n_in + k; cycle r handles
// i = r + reuse*j for lanes j < block; lane j sits in word j/32 at bits [2(j%32)+1 : 2(j%32)].
// 01 = +1 (add), 11 = -1 (subtract), 00 = 0 (skip). Partial sums stay in acc_t because every
// code range contains 0.
template <class CONFIG_T>
void b2h_accumulate_ternary_rom(const typename CONFIG_T::code_t q[CONFIG_T::n_in],
                                typename CONFIG_T::acc_t acc[CONFIG_T::n_out],
                                const ap_uint<64> lanes[CONFIG_T::reuse][CONFIG_T::n_words]) {
    #pragma HLS INLINE
    #pragma HLS ARRAY_PARTITION variable=lanes complete dim=2
    #pragma HLS BIND_STORAGE variable=lanes type=rom_1p
    for (int n = 0; n < CONFIG_T::n_out; n++) {
        #pragma HLS UNROLL
        acc[n] = 0;
    }
ReuseLoop:
    for (int r = 0; r < CONFIG_T::reuse; r++) {
        for (int j = 0; j < CONFIG_T::block; j++) {
            #pragma HLS UNROLL
            int i = r + CONFIG_T::reuse * j;
            int n = i / CONFIG_T::n_in;
            int k = i % CONFIG_T::n_in;
            ap_uint<2> lane = lanes[r][j / 32].range(2 * (j % 32) + 1, 2 * (j % 32));
            if (lane == 1) {
                acc[n] += q[k];
            } else if (lane == 3) {
                acc[n] -= q[k];
            }
        }
    }
}

} // namespace nnet

#endif
