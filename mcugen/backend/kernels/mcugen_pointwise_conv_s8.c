/* mcugen_pointwise_conv_s8.c: pointwise (1x1) convolution, int8: a matrix product per pixel. */
#include "mcugen_common_s8.h"

#ifndef MCUGEN_POINTWISE_CONV_S8_DEFINED
#define MCUGEN_POINTWISE_CONV_S8_DEFINED

/* One output pixel: output[oc] = requant(bias[oc] + sum_ic input[ic] * weight[oc][ic]),
   two output channels per pass over the input (each input byte loaded once for both). */
MCUGEN_INLINE void mcugen_pointwise_pixel_s8(const mcugen_pointwise_dims_t *d, const mcugen_requant_t *q,
                                             const int8_t *input, const int8_t *weight, const int32_t *bias,
                                             int8_t *output)
{
    const mcugen_requant_t r = *q;  /* a local copy: stores to int8_t may alias *q, not r */
    const int32_t in_c = d->in_c, out_c = d->out_c;
    int32_t oc = 0;
    for (; oc + 2 <= out_c; oc += 2) {
        const int8_t *w0 = weight + oc * in_c, *w1 = w0 + in_c;
        int32_t a0 = bias[oc], a1 = bias[oc + 1];
        for (int32_t ic = 0; ic < in_c; ++ic) {
            const int32_t x = input[ic];
            a0 += x * w0[ic];
            a1 += x * w1[ic];
        }
        output[oc] = mcugen_requantize_s8(a0, &r, oc);
        output[oc + 1] = mcugen_requantize_s8(a1, &r, oc + 1);
    }
    if (oc < out_c) {  /* an odd last channel */
        const int8_t *w = weight + oc * in_c;
        int32_t acc = bias[oc];
        for (int32_t ic = 0; ic < in_c; ++ic) {
            acc += input[ic] * w[ic];
        }
        output[oc] = mcugen_requantize_s8(acc, &r, oc);
    }
}

#ifdef MCUGEN_DSP
/* Four pixels at once, for in_c a multiple of 4 and a fast requantization. Their input
   channels are sign-extended to int16 pairs once, into the layer's planned scratch buffer
   (per 4 channels: pixel 0's bytes 0,2 and 1,3, then pixel 1's, ...); then each word of
   weights, split the same way by SXTB16, feeds eight SMLADs of two MACs each. */
MCUGEN_INLINE void mcugen_pointwise_quad_s8(const mcugen_pointwise_dims_t *d, const mcugen_requant_t *q,
                                            const int8_t *x, const int8_t *weight, const int32_t *bias, int8_t *out,
                                            int32_t *scratch)
{
    const int32_t in_c = d->in_c, out_c = d->out_c, groups = in_c / 4;
    const int32_t zp = q->output_zp, lo = q->act_min, hi = q->act_max;
    const int32_t *mult = q->mult, *shift = q->shift;
    int32_t *sp = scratch;
    for (const int8_t *xg = x; xg < x + 4 * groups; xg += 4) {
        for (const int8_t *xk = xg; xk < xg + 4 * in_c; xk = xk + in_c) {
            const int32_t v = mcugen_read_s8x4(xk);
            *sp++ = mcugen_sxtb16(v);
            *sp++ = mcugen_sxtb16_ror8(v);
        }
    }
    for (int32_t oc = 0; oc < out_c; ++oc) {
        const int8_t *w = weight + oc * in_c;
        const int32_t *s = scratch;
        int32_t a0 = bias[oc], a1 = a0, a2 = a0, a3 = a0;
        for (int32_t g = 0; g < groups; ++g, s += 8) {
            const int32_t wv = mcugen_read_s8x4(w + 4 * g);
            const int32_t we = mcugen_sxtb16(wv), wo = mcugen_sxtb16_ror8(wv);
            a0 = mcugen_smlad(s[1], wo, mcugen_smlad(s[0], we, a0));
            a1 = mcugen_smlad(s[3], wo, mcugen_smlad(s[2], we, a1));
            a2 = mcugen_smlad(s[5], wo, mcugen_smlad(s[4], we, a2));
            a3 = mcugen_smlad(s[7], wo, mcugen_smlad(s[6], we, a3));
        }
        {   /* the layer is fast (mcugen_pointwise_conv_s8 checked): one multiplier and shift, four outputs */
            const int32_t m = mult[oc], round = MCUGEN_REQUANT_ROUND(shift[oc]), e1 = MCUGEN_REQUANT_E1(shift[oc]);
            out[oc] = mcugen_requant_fast_s8(a0, m, round, e1, zp, lo, hi);
            out[out_c + oc] = mcugen_requant_fast_s8(a1, m, round, e1, zp, lo, hi);
            out[2 * out_c + oc] = mcugen_requant_fast_s8(a2, m, round, e1, zp, lo, hi);
            out[3 * out_c + oc] = mcugen_requant_fast_s8(a3, m, round, e1, zp, lo, hi);
        }
    }
}
#endif

/* ---- the speed layout (dims->wide; ops/pointwise_conv.py wide_weights) ----------------
   The weights as int32 words of two int16 lanes, the order SMLAD consumes them: input
   channels in groups of 4, each group two pairs of lanes (channels 0,2 then 1,3: what
   SXTB16 and SXTB16 ROR 8 give of a word of input); output channels in blocks of two,
   a block's words for pair k at [2k] (channel 0) and [2k + 1] (channel 1). Missing
   channels (in_c not a multiple of 4, an odd out_c) are zero weights. */

/* A word's low int16 lane, sign-extended. */
#define MCUGEN_LANE_LO(w) ((int32_t)(int16_t)(uint16_t)(w))

#ifdef MCUGEN_DSP
/* mcugen_requant_fast_s8, with one SSAT for the clamp when the layer's bounds are int8's
   own (no fused activation, or one the output range already holds, as a calibrated ReLU6
   often is): two compares and conditional moves fewer per output. */
#if defined(__ARM_FEATURE_SAT) && defined(__ARM_FEATURE_DSP) && defined(__GNUC__) && !defined(__clang__)
/* gcc's own builtin: its arm_acle.h __ssat trips -Wsign-conversion inside the macro */
#define MCUGEN_SAT_S8(v) ((int32_t)__builtin_arm_ssat((v), 8))
#elif defined(__ARM_FEATURE_SAT) && defined(__ARM_FEATURE_DSP)
#define MCUGEN_SAT_S8(v) ((int32_t)__ssat((v), 8))
#else
#define MCUGEN_SAT_S8(v) ((v) < -128 ? -128 : (v) > 127 ? 127 : (v))
#endif

/* A scheduling fence: no instruction, only an order gcc keeps. Its first scheduling pass
   (-fschedule-insns, before register allocation, pressure-aware) moves each load next to
   its first use, and on the M4 a load costs 2 cycles unless it follows another load or
   store (then 1): fenced, a tile's loads stay together in one burst. Nothing in C itself
   orders them: the pass is only switched off per translation unit (-fno-schedule-insns,
   which firmware builds do not pass) or with the optimize attribute, which the layer
   function the kernel is inlined into does not carry. Everywhere else it is nothing, and
   the tests run that C path on the host. */
#if defined(__GNUC__) && defined(__ARM_FEATURE_DSP)
#define MCUGEN_PW_FENCE() __asm__ volatile("")
#else
#define MCUGEN_PW_FENCE() ((void)0)
#endif

/* mcugen_requant_fast_s8 with the rounding constant added to the high word SMLAL starts
   from, which costs one ADD with a shifted operand instead of ASR and ADD: exact, no
   overflow (|hi32(acc * mult +- 2^30)| <= 2^30 and round <= 2^29). */
MCUGEN_INLINE int32_t mcugen_pointwise_requant_s8(int32_t acc, int32_t mult, int32_t round, int32_t e1, int32_t zp,
                                                  int32_t lo, int32_t hi)
{
    const uint32_t k_lo = ((uint32_t)acc & 0x80000000u) | 0x40000000u;
    /* cppcheck-suppress shiftTooManyBitsSigned */
    const int64_t k = (int64_t)(((uint64_t)(uint32_t)(round + (acc >> 31)) << 32) | k_lo);
    const int32_t v = ((int32_t)((k + (int64_t)acc * mult) >> 32) >> e1) + zp;
    if (lo == -128 && hi == 127) {
        return MCUGEN_SAT_S8(v);
    }
    return v < lo ? lo : v > hi ? hi : v;
}

/* One channel's outputs for the n pixels of a tile (its multiplier and shift read once),
   each computed whole, then stored together: stores in a row pipeline on the M4. */
MCUGEN_INLINE void mcugen_pointwise_out4_s8(const mcugen_requant_t *q, int32_t oc, int32_t a0, int32_t a1, int32_t a2,
                                            int32_t a3, int8_t *out, int32_t out_c, int32_t n)
{
    const int32_t mult = q->mult[oc], shift = q->shift[oc], zp = q->output_zp, lo = q->act_min, hi = q->act_max;
    /* 2^(e - 2) and e - 1 for e = -shift (2 to 31): MCUGEN_REQUANT_ROUND's value in fewer instructions */
    const int32_t bits = shift + 33;  /* 2 to 31 */
    const uint32_t pot = 0x80000000u >> (uint32_t)bits;
    const int32_t round = (int32_t)pot, e1 = MCUGEN_REQUANT_E1(shift);
    const int32_t v0 = mcugen_pointwise_requant_s8(a0, mult, round, e1, zp, lo, hi);
    MCUGEN_PW_FENCE();
    const int32_t v1 = (n > 1) ? mcugen_pointwise_requant_s8(a1, mult, round, e1, zp, lo, hi) : 0;
    MCUGEN_PW_FENCE();
    const int32_t v2 = (n > 2) ? mcugen_pointwise_requant_s8(a2, mult, round, e1, zp, lo, hi) : 0;
    MCUGEN_PW_FENCE();
    const int32_t v3 = (n > 3) ? mcugen_pointwise_requant_s8(a3, mult, round, e1, zp, lo, hi) : 0;
    MCUGEN_PW_FENCE();
    out[oc] = (int8_t)v0;
    if (n > 1) {
        out[out_c + oc] = (int8_t)v1;
    }
    if (n > 2) {
        out[2 * out_c + oc] = (int8_t)v2;
    }
    if (n > 3) {
        out[3 * out_c + oc] = (int8_t)v3;
    }
    MCUGEN_PW_FENCE();
}

/* Pair k of the input channels (one int16 pair of each pixel, one word of weights per
   channel) into the tile's accumulators a (first channel) and b (second), pixels 0..n-1.
   Four pixels take two bursts of loads (pixels 0 and 2 with the weights, then 1 and 3),
   fewer one: 4 data registers beside 8 accumulators and the loop's 3 pointers leave none
   spare (r0-r12 and lr). Pixels 0 and 2 first, not 0 and 1: two adjacent words would
   become an LDRD, and an LDRD only pipelines after a single load. */
#define MCUGEN_PW_PAIR(k)                                                              \
    do {                                                                               \
        const int32_t *sk = s + 4 * (k);                                               \
        MCUGEN_PW_WEIGHTS_FIRST(const int32_t wa = w[2 * (k)]; const int32_t wb = w[2 * (k) + 1];)\
        MCUGEN_PW_FENCE();                                                             \
        const int32_t x0 = sk[0], x2 = (n > 2) ? sk[2] : 0, x1 = (n == 2 || n == 3) ? sk[1] : 0; \
        MCUGEN_PW_FENCE();                                                             \
        MCUGEN_PW_WEIGHTS_LAST(const int32_t wa = w[2 * (k)]; const int32_t wb = w[2 * (k) + 1];)\
        MCUGEN_PW_FENCE();                                                             \
        a0 = mcugen_smlad(x0, wa, a0);                                                 \
        b0 = mcugen_smlad(x0, wb, b0);                                                 \
        if (n > 2) {                                                                   \
            a2 = mcugen_smlad(x2, wa, a2);                                             \
            b2 = mcugen_smlad(x2, wb, b2);                                             \
        }                                                                              \
        if (n == 2 || n == 3) {                                                        \
            a1 = mcugen_smlad(x1, wa, a1);                                             \
            b1 = mcugen_smlad(x1, wb, b1);                                             \
        }                                                                              \
        if (n == 4) {                                                                  \
            MCUGEN_PW_FENCE();                                                         \
            const int32_t x1b = sk[1], x3 = sk[3];                                     \
            MCUGEN_PW_FENCE();                                                         \
            a1 = mcugen_smlad(x1b, wa, a1);                                            \
            b1 = mcugen_smlad(x1b, wb, b1);                                            \
            a3 = mcugen_smlad(x3, wa, a3);                                             \
            b3 = mcugen_smlad(x3, wb, b3);                                             \
        }                                                                              \
        MCUGEN_PW_FENCE();                                                             \
    } while (0)

/* Pairs per pass of the accumulation loop: its overhead (5 instructions and a taken
   branch) spread over 8 pairs; the 0 to 6 pairs left (pairs is even) are unrolled after it. */
#define MCUGEN_PW_UNROLL 8
/* Where a pair's weights are loaded: after its pixels on the M4 (LDR, LDR, LDRD pipeline
   into 5 cycles, LDRD first takes 6); first on ARMv8-M Mainline (M33), whose load-use stall
   would otherwise hit the first SMLAD, which reads the weights (measured on VWW: -2.6%). */
#if defined(__ARM_ARCH_8M_MAIN__)
#define MCUGEN_PW_WEIGHTS_FIRST(load) load
#define MCUGEN_PW_WEIGHTS_LAST(load)
#else
#define MCUGEN_PW_WEIGHTS_FIRST(load)
#define MCUGEN_PW_WEIGHTS_LAST(load) load
#endif

/* Four pixels (n of them real: 1 to 4, a constant where the layer is specialized) by two
   output channels at a time. The pixels' channels are sign-extended once into scratch, in
   the weights' lane order, four words per pair (pixels 0..3), so one word of weights per
   channel and one word per pixel feed eight SMLADs, eight accumulators in registers. */
MCUGEN_INLINE void mcugen_pointwise_wide_quad_s8(const mcugen_pointwise_dims_t *d, const mcugen_requant_t *q,
                                                 const int8_t *x, int32_t n, const int32_t *weight,
                                                 const int32_t *bias, int8_t *out, int32_t *scratch)
{
    const int32_t in_c = d->in_c, out_c = d->out_c, groups = (in_c + 3) / 4, pairs = 2 * groups;
    const int32_t rest = pairs % MCUGEN_PW_UNROLL;
    int32_t *sp = scratch;
    for (int32_t g = 0; g < groups; ++g, sp += 8) {
        for (int32_t k = 0; k < n; ++k) {  /* the missing pixels' words are never read */
            int32_t v = 0;
            if (4 * g + 4 <= in_c) {
                v = mcugen_read_s8x4(x + k * in_c + 4 * g);
            } else {  /* the last, partial group: missing channels read as zeros */
                uint32_t u = 0u;
                for (int32_t c = 4 * g; c < in_c; ++c) {
                    const int32_t byte = c - 4 * g;  /* 0 to 2 */
                    u |= (uint32_t)(uint8_t)x[k * in_c + c] << (8u * (uint32_t)byte);
                }
                v = (int32_t)u;
            }
            sp[k] = mcugen_sxtb16(v);
            sp[4 + k] = mcugen_sxtb16_ror8(v);
        }
    }
    for (int32_t oc = 0; oc < out_c; oc += 2, weight += 2 * pairs) {
        const int32_t *w = weight, *s = scratch;
        const int32_t two = (int32_t)(oc + 1 < out_c);  /* a second real channel */
        int32_t a0 = bias[oc], a1 = a0, a2 = a0, a3 = a0;
        int32_t b0 = (two != 0) ? bias[oc + 1] : 0, b1 = b0, b2 = b0, b3 = b0;
        for (const int32_t *end = w + 2 * (pairs - rest); w < end; w += 2 * MCUGEN_PW_UNROLL, s += 4 * MCUGEN_PW_UNROLL) {
            MCUGEN_PW_PAIR(0);
            MCUGEN_PW_PAIR(1);
            MCUGEN_PW_PAIR(2);
            MCUGEN_PW_PAIR(3);
            MCUGEN_PW_PAIR(4);
            MCUGEN_PW_PAIR(5);
            MCUGEN_PW_PAIR(6);
            MCUGEN_PW_PAIR(7);
        }
        if (rest >= 2) {
            MCUGEN_PW_PAIR(0);
            MCUGEN_PW_PAIR(1);
        }
        if (rest >= 4) {
            MCUGEN_PW_PAIR(2);
            MCUGEN_PW_PAIR(3);
        }
        if (rest >= 6) {
            MCUGEN_PW_PAIR(4);
            MCUGEN_PW_PAIR(5);
        }
        if (q->fast != 0) {  /* one multiplier and shift per channel, four outputs each */
            mcugen_pointwise_out4_s8(q, oc, a0, a1, a2, a3, out, out_c, n);
            if (two != 0) {
                mcugen_pointwise_out4_s8(q, oc + 1, b0, b1, b2, b3, out, out_c, n);
            }
        } else {
            const int32_t acc[2][4] = {{a0, a1, a2, a3}, {b0, b1, b2, b3}};
            for (int32_t j = 0; j < 1 + two; ++j) {
                for (int32_t k = 0; k < n; ++k) {
                    out[k * out_c + oc + j] = mcugen_requantize_s8(acc[j][k], q, oc + j);
                }
            }
        }
    }
}
#else
/* Up to four pixels (n) by two output channels, a pixel at a time, on the plain cores'
   order of the speed layout (ops/pointwise_conv.py paired_weights: a word w0 + w1 * 2^16
   per input channel and pair of output channels); the pair's requantization constants
   are read once for the n pixels. One MUL of an input byte by a word gives both
   channels' products, in two 16-bit lanes. Exact: |x| <= 128 and |w| <= 127 (quantize_weighted clips to
   +-127), so a product's lanes are within +-16256, and two products' low lanes sum to
   within +-32512 < 2^15, with no int32 overflow (2 * 128 * 127 * (2^16 + 1) < 2^31).
   After every two, the low lane is read back as an int16 and the high lane is the rest,
   shifted down. The input bytes are read directly (no scratch). The requantization's
   constants are derived once per channel for the n pixels (mcugen_channel_q: on the M0,
   two 32-bit products per output instead of four where the accumulator is within 2^16). */
MCUGEN_INLINE void mcugen_pointwise_paired_quad_s8(const mcugen_pointwise_dims_t *d, const mcugen_requant_t *q,
                                                   const int8_t *x, int32_t n, const int32_t *weight,
                                                   const int32_t *bias, int8_t *out)
{
    const mcugen_requant_t r = *q;  /* a local copy: stores to int8_t may alias *q, not r */
    const int32_t in_c = d->in_c, out_c = d->out_c, stored = (in_c + 3) / 4 * 4;
    for (int32_t oc = 0; oc < out_c; oc += 2, weight += stored) {
        const int32_t two = (int32_t)(oc + 1 < out_c);  /* a second real channel (else its lane is zeros) */
        /* per channel, once for n pixels (a shift of -2 where the layer is not fast: unused) */
        const mcugen_channel_q_t ca = mcugen_channel_q(r.mult[oc], (r.fast != 0) ? r.shift[oc] : -2);
        const mcugen_channel_q_t cb = mcugen_channel_q(r.mult[oc + two], (r.fast != 0) ? r.shift[oc + two] : -2);
        const int32_t zp2 = 1 + 2 * r.output_zp;
        for (int32_t k = 0; k < n; ++k) {
            const int8_t *xk = x + k * in_c;
            int32_t a = bias[oc], b = (two != 0) ? bias[oc + 1] : 0;
            int32_t c = 0;
            for (; c + 4 <= in_c; c += 4) {  /* two splits per pass: half the loop's overhead */
                int32_t p = xk[c] * weight[c] + xk[c + 1] * weight[c + 1];
                int32_t lo = MCUGEN_LANE_LO(p);
                a += lo;
                b += (p - lo) >> 16;
                p = xk[c + 2] * weight[c + 2] + xk[c + 3] * weight[c + 3];
                lo = MCUGEN_LANE_LO(p);
                a += lo;
                b += (p - lo) >> 16;
            }
            for (; c < in_c; ++c) {  /* the last 1 to 3 input channels */
                const int32_t p = xk[c] * weight[c];
                const int32_t lo = MCUGEN_LANE_LO(p);
                a += lo;
                b += (p - lo) >> 16;
            }
            if (r.fast != 0) {
                out[k * out_c + oc] = mcugen_channel_requant_s8(a, &ca, zp2, r.act_min, r.act_max);
                if (two != 0) {
                    out[k * out_c + oc + 1] = mcugen_channel_requant_s8(b, &cb, zp2, r.act_min, r.act_max);
                }
            } else {
                out[k * out_c + oc] = mcugen_requantize_s8(a, &r, oc);
                if (two != 0) {
                    out[k * out_c + oc + 1] = mcugen_requantize_s8(b, &r, oc + 1);
                }
            }
        }
    }
}
#endif

/* The layer back to front (dims->backward): the groups of four pixels from the last one
   down (the first 1 to 3 pixels last), each group computed as the forward loop below
   computes it: the loop order ops/pointwise_conv.py backward_access declares. The output
   may then overlap the input from above (the planner's choice, where that lowers the
   arena): a widening layer's output may sit on top of its input, where the forward loop's
   sits below it. */
MCUGEN_INLINE void mcugen_pointwise_backward_s8(const mcugen_pointwise_dims_t *d, const mcugen_requant_t *q,
                                                const int8_t *input, const void *weight, const int32_t *bias,
                                                int8_t *output, int32_t *scratch)
{
    const int32_t in_c = d->in_c, out_c = d->out_c;
    int32_t p = d->pixels;  /* the pixels still to compute: [0, p), at x and y's ends */
    const int8_t *x = input + p * in_c;
    int8_t *y = output + p * out_c;
    if (d->wide != 0) {
#ifdef MCUGEN_DSP
        for (; p >= 4; p -= 4) {
            x = x - 4 * in_c;
            y = y - 4 * out_c;
            mcugen_pointwise_wide_quad_s8(d, q, x, 4, (const int32_t *)weight, bias, y, scratch);
        }
        if (p > 0) {  /* the first 1 to 3 pixels */
            mcugen_pointwise_wide_quad_s8(d, q, input, p, (const int32_t *)weight, bias, output, scratch);
        }
#else
        (void)scratch;
        for (; p >= 4; p -= 4) {
            x = x - 4 * in_c;
            y = y - 4 * out_c;
            mcugen_pointwise_paired_quad_s8(d, q, x, 4, (const int32_t *)weight, bias, y);
        }
        if (p > 0) {  /* the first 1 to 3 pixels */
            mcugen_pointwise_paired_quad_s8(d, q, input, p, (const int32_t *)weight, bias, output);
        }
#endif
        return;
    }
#ifdef MCUGEN_DSP
    for (; (q->fast != 0) && (in_c % 4 == 0) && (p >= 4); p -= 4) {
        x = x - 4 * in_c;
        y = y - 4 * out_c;
        mcugen_pointwise_quad_s8(d, q, x, (const int8_t *)weight, bias, y, scratch);
    }
#else
    (void)scratch;
#endif
    while (x > input) {  /* the first pixels, one at a time */
        x = x - in_c;
        y = y - out_c;
        mcugen_pointwise_pixel_s8(d, q, x, (const int8_t *)weight, bias, y);
    }
}

/* Pointwise convolution in groups of four pixels (the loop order ops/pointwise_conv.py
   declares: a group's outputs are written while its four pixels may still be read).
   weight: int8 [out_c][in_c], or with dims->wide the speed layout above (int32 words; on
   cores without the DSP kernels, in the paired order their kernel reads).
   `scratch` is the DSP paths': four pixels of input as int16 (ops/pointwise_conv.py).
   dims->backward: the same groups, back to front (mcugen_pointwise_backward_s8 above). */
MCUGEN_SPECIALIZED void mcugen_pointwise_conv_s8(const mcugen_pointwise_dims_t *d, const mcugen_requant_t *q,
                                                 const int8_t *input, const void *weight, const int32_t *bias,
                                                 int8_t *output, int32_t *scratch)
{
    const int32_t pixels = d->pixels, in_c = d->in_c, out_c = d->out_c;
    int32_t p = 0;
    if (d->backward != 0) {  /* a constant: the specialized layer keeps one of the two loops */
        mcugen_pointwise_backward_s8(d, q, input, weight, bias, output, scratch);
        return;
    }
    if (d->wide != 0) {
#ifdef MCUGEN_DSP
        for (; p + 4 <= pixels; p += 4) {
            mcugen_pointwise_wide_quad_s8(d, q, input, 4, (const int32_t *)weight, bias, output, scratch);
            input = input + 4 * in_c;
            output = output + 4 * out_c;
        }
        if (p < pixels) {  /* the last 1 to 3 pixels */
            mcugen_pointwise_wide_quad_s8(d, q, input, pixels - p, (const int32_t *)weight, bias, output, scratch);
        }
#else
        (void)scratch;
        for (; p + 4 <= pixels; p += 4) {
            mcugen_pointwise_paired_quad_s8(d, q, input, 4, (const int32_t *)weight, bias, output);
            input = input + 4 * in_c;
            output = output + 4 * out_c;
        }
        if (p < pixels) {  /* the last 1 to 3 pixels */
            mcugen_pointwise_paired_quad_s8(d, q, input, pixels - p, (const int32_t *)weight, bias, output);
        }
#endif
        return;
    }
#ifdef MCUGEN_DSP
    for (; (q->fast != 0) && (in_c % 4 == 0) && (p + 4 <= pixels); p += 4) {
        mcugen_pointwise_quad_s8(d, q, input, (const int8_t *)weight, bias, output, scratch);
        input = input + 4 * in_c;
        output = output + 4 * out_c;
    }
#else
    (void)scratch;
#endif
    for (; p < pixels; ++p) {
        mcugen_pointwise_pixel_s8(d, q, input, (const int8_t *)weight, bias, output);
        input = input + in_c;
        output = output + out_c;
    }
}

#endif /* MCUGEN_POINTWISE_CONV_S8_DEFINED */
