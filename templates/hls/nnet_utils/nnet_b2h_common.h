// bit2hls kernels: integer primitives of the firmware arithmetic (docs/arithmetic.md).
//
// Every firmware value is an integer code V standing for V * 2^-F of its declared type. These
// helpers work on the codes (ap_int / ap_uint) and never on real values, so the C++ computes
// exactly the integers of the Rust emulator. All names carry the reserved prefix b2h_.
#ifndef NNET_B2H_COMMON_H_
#define NNET_B2H_COMMON_H_

#include "ap_fixed.h"
#include "ap_int.h"

namespace nnet {

template <int A, int B> struct b2h_max_i {
    static const int value = A > B ? A : B;
};

// ceil(log2 N) for N >= 1: the depth of a balanced reduction tree over N values.
template <int N> struct b2h_levels {
    static const int value = 1 + b2h_levels<(N + 1) / 2>::value;
};
template <> struct b2h_levels<1> {
    static const int value = 0;
};

// The integer code of a fixed-point value (its bits).
template <int W, int I, ap_q_mode Q, ap_o_mode O, int N>
inline ap_int<W> b2h_code(const ap_fixed<W, I, Q, O, N> &v) {
    #pragma HLS INLINE
    ap_int<W> r;
    r.range(W - 1, 0) = v.range(W - 1, 0);
    return r;
}
template <int W, int I, ap_q_mode Q, ap_o_mode O, int N>
inline ap_uint<W> b2h_code(const ap_ufixed<W, I, Q, O, N> &v) {
    #pragma HLS INLINE
    ap_uint<W> r;
    r.range(W - 1, 0) = v.range(W - 1, 0);
    return r;
}
// Integers are their own codes (the centred input of a layer-norm layer).
template <int W> inline ap_int<W> b2h_code(const ap_int<W> &v) {
    #pragma HLS INLINE
    return v;
}
template <int W> inline ap_uint<W> b2h_code(const ap_uint<W> &v) {
    #pragma HLS INLINE
    return v;
}

// Stores an integer code (which fits the type by range analysis) into a fixed-point value.
template <int W, int I, ap_q_mode Q, ap_o_mode O, int N, class T>
inline void b2h_set_code(ap_fixed<W, I, Q, O, N> &v, const T &c) {
    #pragma HLS INLINE
    ap_int<W> r = c;
    v.range(W - 1, 0) = r.range(W - 1, 0);
}
template <int W, int I, ap_q_mode Q, ap_o_mode O, int N, class T>
inline void b2h_set_code(ap_ufixed<W, I, Q, O, N> &v, const T &c) {
    #pragma HLS INLINE
    ap_uint<W> r = c;
    v.range(W - 1, 0) = r.range(W - 1, 0);
}

// Signed view of a code (one more bit for unsigned codes).
template <int W> inline ap_int<W> b2h_signed(const ap_int<W> &x) {
    #pragma HLS INLINE
    return x;
}
template <int W> inline ap_int<W + 1> b2h_signed(const ap_uint<W> &x) {
    #pragma HLS INLINE
    return x;
}

// |x| (exact: -2^(W-1) becomes 2^(W-1), which W unsigned bits hold).
template <int W> inline ap_uint<W> b2h_abs(const ap_int<W> &x) {
    #pragma HLS INLINE
    ap_int<W + 1> n = -x;
    return x < 0 ? ap_uint<W>(n) : ap_uint<W>(x);
}
template <int W> inline ap_uint<W> b2h_abs(const ap_uint<W> &x) {
    #pragma HLS INLINE
    return x;
}

// rnd(x, S): x * 2^-S rounded to the nearest integer, ties to even (S > 0); exact left shift
// (S <= 0). Same as shift_round in src/ir/fixed.rs and AP_RND_CONV.
template <int S, bool RIGHT = (S > 0)> struct b2h_rnd_t;
template <int S> struct b2h_rnd_t<S, true> {
    template <int W> struct out {
        typedef ap_int<b2h_max_i<W - S + 1, 2>::value> type;
    };
    template <int W> static typename out<W>::type run(const ap_int<W> &x) {
        #pragma HLS INLINE
        typedef ap_int<b2h_max_i<W, S>::value + 2> wide_t;
        wide_t t = x;
        wide_t lsb = (t >> S) & 1;
        wide_t half_m1 = (wide_t(1) << (S - 1)) - 1;
        t = t + half_m1 + lsb;
        return typename out<W>::type(t >> S);
    }
};
template <int S> struct b2h_rnd_t<S, false> {
    template <int W> struct out {
        typedef ap_int<W - S> type;
    };
    template <int W> static typename out<W>::type run(const ap_int<W> &x) {
        #pragma HLS INLINE
        typename out<W>::type t = x;
        return t << (-S);
    }
};
template <int S, int W> inline typename b2h_rnd_t<S>::template out<W>::type b2h_rnd(const ap_int<W> &x) {
    #pragma HLS INLINE
    return b2h_rnd_t<S>::template run<W>(x);
}

// rnd(x, s) with a variable shift s <= SMAX. For s <= 0 the caller passes x already in a type
// wide enough for the exact left shift (range analysis sized it).
template <int SMAX, int W> inline ap_int<W> b2h_rnd_var(const ap_int<W> &x, int s) {
    #pragma HLS INLINE
    typedef ap_int<b2h_max_i<W, SMAX>::value + 2> wide_t;
    if (s <= 0) {
        return x << (-s);
    }
    wide_t t = x;
    wide_t lsb = (t >> s) & 1;
    wide_t half_m1 = (wide_t(1) << (s - 1)) - 1;
    t = t + half_m1 + lsb;
    return ap_int<W>(t >> s);
}

// ceil(log2 m) for m >= 1: a leading-one detector on m - 1.
template <int EW, int W> inline ap_uint<EW> b2h_ceil_log2(const ap_uint<W> &m) {
    #pragma HLS INLINE
    ap_uint<W> t = m - 1;
    ap_uint<EW> e = 0;
    for (int i = 0; i < W; i++) {
        #pragma HLS UNROLL
        if (t[i]) e = i + 1;
    }
    return e;
}

// bitlen(m) = position of the leading one + 1 (0 for m = 0): 2^(e-1) <= m < 2^e.
template <int EW, int W> inline ap_uint<EW> b2h_bit_length(const ap_uint<W> &m) {
    #pragma HLS INLINE
    ap_uint<EW> e = 0;
    for (int i = 0; i < W; i++) {
        #pragma HLS UNROLL
        if (m[i]) e = i + 1;
    }
    return e;
}

// min(max(v, lo), hi).
template <class T> inline T b2h_clamp(const T &v, long long lo, long long hi) {
    #pragma HLS INLINE
    return v < lo ? T(lo) : (v > hi ? T(hi) : v);
}

// max|x_k| as a balanced tree of comparators, at least m_floor.
template <class data_T, class m_T, int N> inline m_T b2h_absmax(const data_T x[N], long long m_floor) {
    #pragma HLS INLINE
    m_T t[N];
    #pragma HLS ARRAY_PARTITION variable=t complete
    for (int k = 0; k < N; k++) {
        #pragma HLS UNROLL
        t[k] = b2h_abs(b2h_code(x[k]));
    }
    // Level l compares elements 2^l apart: ceil(log2 N) levels of constant-bound loops.
    for (int l = 0; l < b2h_levels<N>::value; l++) {
        #pragma HLS UNROLL
        for (int k = 0; k < N; k++) {
            #pragma HLS UNROLL
            int w = 1 << l;
            if (k % (2 * w) == 0 && k + w < N && t[k + w] > t[k]) t[k] = t[k + w];
        }
    }
    m_T m = t[0];
    return m < m_floor ? m_T(m_floor) : m;
}

} // namespace nnet

#endif
