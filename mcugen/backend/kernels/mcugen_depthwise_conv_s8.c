/* mcugen_depthwise_conv_s8.c: depthwise convolution (channel multiplier 1), int8. */
#include <string.h>

#include "mcugen_common_s8.h"

#ifndef MCUGEN_DEPTHWISE_CONV_S8_DEFINED
#define MCUGEN_DEPTHWISE_CONV_S8_DEFINED

/* Weights are int16, [C/4 blocks][KH*KW taps][4], each block's four channels c..c+3 in
   the order c, c+2, c+1, c+3 (zero past C: ops/depthwise_conv.py, arrays): the DSP path
   reads a tap's weights of a block as two int16 pairs, (c, c+2) and (c+1, c+3), which is
   how SXTB16 and a mask split four channels of input. The index of tap t of channel c: */
#define MCUGEN_DW_W(c, t, taps) ((((c) >> 2) * (taps) + (t)) * 4 + (((c) & 1) << 1) + (((c) >> 1) & 1))

/* The padded copy is never inlined: where gcc 12 inlined it (a layer whose only copy of the
   kernel it was), it no longer folded the layer's constant dims into the kernel after it, which
   then read them from the stack (VWW's layers 9, 11, 23 and 25: 4.7 to 5.4 instructions per
   MAC on the M4 instead of 3.6). */
#if defined(__GNUC__)
#define MCUGEN_DW_OUT_OF_LINE __attribute__((noinline))
#else
#define MCUGEN_DW_OUT_OF_LINE
#endif

#ifndef MCUGEN_DSP
/* One output of a fast layer without the DSP kernels: the channel form, which on the M0
   takes two 32-bit products where |acc| is within 2^16 (mcugen_requant_short_s8's value). */
static inline int8_t mcugen_dw_requant_s8(int32_t acc, int32_t mult, int32_t shift, int32_t zp, int32_t lo, int32_t hi)
{
    const mcugen_channel_q_t cq = mcugen_channel_q(mult, shift);
    return mcugen_channel_requant_s8(acc, &cq, 1 + 2 * zp, lo, hi);
}
#endif

/* One output pixel of any depthwise window: the general case, and every border pixel.
   Padded taps hold the input zero point (folded into the bias, so they must be added). */
static void mcugen_depthwise_pixel_s8(const mcugen_conv_dims_t *d, const mcugen_requant_t *r, const int8_t *input,
                                      const int16_t *weight, const int32_t *bias, int8_t *output,
                                      int32_t oy, int32_t ox)
{
    const int32_t taps = d->kernel_h * d->kernel_w;
    for (int32_t c = 0; c < d->out_c; ++c) {
        const int16_t *k = weight + MCUGEN_DW_W(c, 0, taps);  /* the next tap 4 further */
        int32_t acc = bias[c];
        for (int32_t ky = 0; ky < d->kernel_h; ++ky) {
            const int32_t iy = oy * d->stride_h - d->pad_top + ky * d->dilation_h;
            for (int32_t kx = 0; kx < d->kernel_w; ++kx, k += 4) {
                const int32_t ix = ox * d->stride_w - d->pad_left + kx * d->dilation_w;
                const int32_t x = (iy < 0 || iy >= d->in_h || ix < 0 || ix >= d->in_w)
                                      ? r->input_zp
                                      : input[(iy * d->in_w + ix) * d->in_c + c];
                acc += x * *k;
            }
        }
        output[c] = mcugen_requantize_s8(acc, r, c);
    }
}

#ifdef MCUGEN_DSP
/* One tap of two channels of a block of four: one word of input (the tap's channels
   c..c+3) and one of weights, an int16 pair. SPLIT takes the pair's two channels out of
   the word: SXTB16 gives channels c and c+2 as int16 pairs; the mask 0xFF00FF00 gives c+1
   and c+3 as int16 pairs times 256 (one instruction instead of a rotate and a second
   SXTB16: their sums are 256 times the real ones, exactly, as nine products of int8 stay
   far below 2^23). SMLABB/SMLATT add each product to its own channel's sum: a depthwise
   sum never mixes channels. Two passes over the window, one per pair, keep few values
   live (gcc's scheduler spills when all four sums are built at once). */
#define MCUGEN_DW_SPLIT_EVEN(v) mcugen_sxtb16(v)
#define MCUGEN_DW_SPLIT_ODD(v) mcugen_dw_split_odd(v)
static inline int32_t mcugen_dw_split_odd(int32_t v)
{
    const uint32_t odd = (uint32_t)v & 0xFF00FF00u;  /* a variable, then the cast (MISRA C 10.8) */
    return (int32_t)odd;
}
#define MCUGEN_DW_TAP2(split, xp, wp, s0, s1)                                            \
    do {                                                                                 \
        const int32_t x_ = split(mcugen_read_s8x4((xp))), w_ = mcugen_read_s16x2((wp));  \
        (s0) = mcugen_smlabb(x_, w_, (s0));                                              \
        (s1) = mcugen_smlatt(x_, w_, (s1));                                              \
    } while (0)
#define MCUGEN_DW_WINDOW2(split, k, s0, s1)                                              \
    do {                                                                                 \
        MCUGEN_DW_TAP2(split, x + c, (k), s0, s1);                                       \
        MCUGEN_DW_TAP2(split, x + c1 + c, (k) + 4, s0, s1);                              \
        MCUGEN_DW_TAP2(split, x + c2 + c, (k) + 8, s0, s1);                              \
        MCUGEN_DW_TAP2(split, x1 + c, (k) + 12, s0, s1);                                 \
        MCUGEN_DW_TAP2(split, x1 + c1 + c, (k) + 16, s0, s1);                            \
        MCUGEN_DW_TAP2(split, x1 + c2 + c, (k) + 20, s0, s1);                            \
        MCUGEN_DW_TAP2(split, x2 + c, (k) + 24, s0, s1);                                 \
        MCUGEN_DW_TAP2(split, x2 + c1 + c, (k) + 28, s0, s1);                            \
        MCUGEN_DW_TAP2(split, x2 + c2 + c, (k) + 32, s0, s1);                            \
    } while (0)
#endif

/* One output pixel of a 3x3, dilation-1 window inside the input: no bounds to check, the
   nine taps unrolled; x points at the window's top-left input pixel. With the DSP
   instructions, four channels at a time. Channels from `first` on (0: all of them).
   Only for layers whose requantization is fast. */
MCUGEN_INLINE void mcugen_depthwise_3x3_inside_s8(int32_t channels, int32_t row, const mcugen_requant_t *r,
                                                  const int8_t *x, const int16_t *w, const int32_t *bias,
                                                  int8_t *output, int32_t first)
{
    const int32_t c1 = channels, c2 = 2 * channels;
    const int32_t zp = r->output_zp, lo = r->act_min, hi = r->act_max;
    const int32_t *mult = r->mult, *shift = r->shift;
    const int8_t *x1 = x + row, *x2 = x + 2 * row;
    int32_t c = first;  /* 0, or where a pair's blocks ended */
#ifdef MCUGEN_DSP
    const int32_t whole = channels - channels % 4;  /* the channels of whole blocks */
    for (; c < whole; c += 4) {
        const int16_t *k = w + c * 9;
        int32_t a0 = bias[c], a2 = bias[c + 2], o1 = 0, o3 = 0;
        MCUGEN_DW_WINDOW2(MCUGEN_DW_SPLIT_EVEN, k, a0, a2);
        output[c] = mcugen_requant_short_s8(a0, mult[c], shift[c], zp, lo, hi);
        output[c + 2] = mcugen_requant_short_s8(a2, mult[c + 2], shift[c + 2], zp, lo, hi);
        MCUGEN_DW_WINDOW2(MCUGEN_DW_SPLIT_ODD, k + 2, o1, o3);
        output[c + 1] = mcugen_requant_short_s8(bias[c + 1] + (o1 >> 8), mult[c + 1], shift[c + 1], zp, lo, hi);
        output[c + 3] = mcugen_requant_short_s8(bias[c + 3] + (o3 >> 8), mult[c + 3], shift[c + 3], zp, lo, hi);
    }
#endif
    for (; c < channels; ++c) {
        const int16_t *k = w + MCUGEN_DW_W(c, 0, 9);  /* tap t at k[4 t] */
        int32_t acc = bias[c];
        acc += x[c] * k[0] + x[c1 + c] * k[4] + x[c2 + c] * k[8];
        acc += x1[c] * k[12] + x1[c1 + c] * k[16] + x1[c2 + c] * k[20];
        acc += x2[c] * k[24] + x2[c1 + c] * k[28] + x2[c2 + c] * k[32];
#ifdef MCUGEN_DSP
        output[c] = mcugen_requant_short_s8(acc, mult[c], shift[c], zp, lo, hi);
#else
        output[c] = mcugen_dw_requant_s8(acc, mult[c], shift[c], zp, lo, hi);
#endif
    }
}

/* A scheduling fence: no instruction, only an order gcc keeps (as the pointwise kernel's
   MCUGEN_PW_FENCE): a kernel row's loads stay together in one burst. On the M4 a load costs 2
   cycles unless it follows another load or store (then 1); on the M33 a load's result used by
   the next instruction stalls a cycle. gcc 12's first scheduling pass otherwise moves each load
   next to its first use. Elsewhere, and in the host tests, nothing. */
#if defined(__GNUC__) && defined(__ARM_FEATURE_DSP)
#define MCUGEN_DW_FENCE() __asm__ volatile("")
#else
#define MCUGEN_DW_FENCE() ((void)0)
#endif
#ifdef MCUGEN_DSP
/* One kernel row of two neighbouring windows (a pair of output pixels), one pair of
   channels of a block: the row's three weight words are loaded once for both windows,
   and the input columns both windows cover are loaded and split once. a0/a1 are the
   first window's two sums, b0/b1 the second's; p is the first window's row, k its
   weights. Stride 1: four columns, the middle two read by both windows. */
#define MCUGEN_DW_PAIR_ROW_S1(split, p, k, a0, a1, b0, b1)                               \
    do {                                                                                 \
        const int32_t w0_ = mcugen_read_s16x2(k), w1_ = mcugen_read_s16x2((k) + 4);      \
        const int32_t w2_ = mcugen_read_s16x2((k) + 8);                                  \
        const int32_t x0_ = mcugen_read_s8x4(p), x1_ = mcugen_read_s8x4((p) + c1);       \
        const int32_t x2_ = mcugen_read_s8x4((p) + c2), x3_ = mcugen_read_s8x4((p) + c3); \
        MCUGEN_DW_FENCE();                                                               \
        int32_t x_ = split(x0_);                                                         \
        a0 = mcugen_smlabb(x_, w0_, a0);                                                 \
        a1 = mcugen_smlatt(x_, w0_, a1);                                                 \
        x_ = split(x1_);                                                                 \
        a0 = mcugen_smlabb(x_, w1_, a0);                                                 \
        a1 = mcugen_smlatt(x_, w1_, a1);                                                 \
        b0 = mcugen_smlabb(x_, w0_, b0);                                                 \
        b1 = mcugen_smlatt(x_, w0_, b1);                                                 \
        x_ = split(x2_);                                                                 \
        a0 = mcugen_smlabb(x_, w2_, a0);                                                 \
        a1 = mcugen_smlatt(x_, w2_, a1);                                                 \
        b0 = mcugen_smlabb(x_, w1_, b0);                                                 \
        b1 = mcugen_smlatt(x_, w1_, b1);                                                 \
        x_ = split(x3_);                                                                 \
        b0 = mcugen_smlabb(x_, w2_, b0);                                                 \
        b1 = mcugen_smlatt(x_, w2_, b1);                                                 \
        MCUGEN_DW_FENCE();                                                               \
    } while (0)
/* Stride 2: five columns, the middle one read by both windows. */
#define MCUGEN_DW_PAIR_ROW_S2(split, p, k, a0, a1, b0, b1)                               \
    do {                                                                                 \
        const int32_t w0_ = mcugen_read_s16x2(k), w1_ = mcugen_read_s16x2((k) + 4);      \
        const int32_t w2_ = mcugen_read_s16x2((k) + 8);                                  \
        const int32_t x0_ = mcugen_read_s8x4(p), x1_ = mcugen_read_s8x4((p) + c1);       \
        const int32_t x2_ = mcugen_read_s8x4((p) + c2), x3_ = mcugen_read_s8x4((p) + c3); \
        const int32_t x4_ = mcugen_read_s8x4((p) + c4);                                  \
        MCUGEN_DW_FENCE();                                                               \
        int32_t x_ = split(x0_);                                                         \
        a0 = mcugen_smlabb(x_, w0_, a0);                                                 \
        a1 = mcugen_smlatt(x_, w0_, a1);                                                 \
        x_ = split(x1_);                                                                 \
        a0 = mcugen_smlabb(x_, w1_, a0);                                                 \
        a1 = mcugen_smlatt(x_, w1_, a1);                                                 \
        x_ = split(x2_);                                                                 \
        a0 = mcugen_smlabb(x_, w2_, a0);                                                 \
        a1 = mcugen_smlatt(x_, w2_, a1);                                                 \
        b0 = mcugen_smlabb(x_, w0_, b0);                                                 \
        b1 = mcugen_smlatt(x_, w0_, b1);                                                 \
        x_ = split(x3_);                                                                 \
        b0 = mcugen_smlabb(x_, w1_, b0);                                                 \
        b1 = mcugen_smlatt(x_, w1_, b1);                                                 \
        x_ = split(x4_);                                                                 \
        b0 = mcugen_smlabb(x_, w2_, b0);                                                 \
        b1 = mcugen_smlatt(x_, w2_, b1);                                                 \
        MCUGEN_DW_FENCE();                                                               \
    } while (0)
#define MCUGEN_DW_PAIR_WINDOW(split, p, k, a0, a1, b0, b1)                               \
    do {                                                                                 \
        if (stride == 1) {                                                               \
            MCUGEN_DW_PAIR_ROW_S1(split, (p), (k), a0, a1, b0, b1);                      \
            MCUGEN_DW_PAIR_ROW_S1(split, (p) + row, (k) + 12, a0, a1, b0, b1);           \
            MCUGEN_DW_PAIR_ROW_S1(split, (p) + 2 * row, (k) + 24, a0, a1, b0, b1);       \
        } else {                                                                         \
            MCUGEN_DW_PAIR_ROW_S2(split, (p), (k), a0, a1, b0, b1);                      \
            MCUGEN_DW_PAIR_ROW_S2(split, (p) + row, (k) + 12, a0, a1, b0, b1);           \
            MCUGEN_DW_PAIR_ROW_S2(split, (p) + 2 * row, (k) + 24, a0, a1, b0, b1);       \
        }                                                                                \
    } while (0)
#endif

/* Two neighbouring output pixels of a row whose 3x3 windows both lie inside the input,
   stride 1 or 2 (the second window `stride` pixels right of the first): with the DSP
   instructions, each block's weights are loaded once for both, the input columns the
   windows share are loaded once, and each channel's requantization constants serve two
   outputs; without them (M0+), the same one channel at a time. Both pixels' channels of a block are written before the next block is read,
   so the second pixel is written while the first's window is still read: the access
   ops/depthwise_conv.py declares (pixel_pairs). Only for layers whose requantization is
   fast. */
MCUGEN_INLINE void mcugen_depthwise_3x3_pair_s8(int32_t channels, int32_t row, int32_t stride,
                                                const mcugen_requant_t *r, const int8_t *x, const int16_t *w,
                                                const int32_t *bias, int8_t *output)
{
    int32_t c = 0;
#ifdef MCUGEN_DSP
    const int32_t c1 = channels, c2 = 2 * channels, c3 = 3 * channels, c4 = 4 * channels;
    const int32_t zp = r->output_zp, lo = r->act_min, hi = r->act_max;
    const int32_t *mult = r->mult, *shift = r->shift;
    int8_t *next = output + channels;  /* the second pixel's output */
    const int32_t whole = channels - channels % 4;  /* the channels of whole blocks */
    for (; c < whole; c += 4) {
        const int16_t *k = w + c * 9;
        const int8_t *p = x + c;
        int32_t a0 = bias[c], a2 = bias[c + 2], b0 = a0, b2 = a2;
        int32_t o1 = 0, o3 = 0, q1 = 0, q3 = 0;
        MCUGEN_DW_PAIR_WINDOW(MCUGEN_DW_SPLIT_EVEN, p, k, a0, a2, b0, b2);
        output[c] = mcugen_requant_short_s8(a0, mult[c], shift[c], zp, lo, hi);
        next[c] = mcugen_requant_short_s8(b0, mult[c], shift[c], zp, lo, hi);
        output[c + 2] = mcugen_requant_short_s8(a2, mult[c + 2], shift[c + 2], zp, lo, hi);
        next[c + 2] = mcugen_requant_short_s8(b2, mult[c + 2], shift[c + 2], zp, lo, hi);
        MCUGEN_DW_PAIR_WINDOW(MCUGEN_DW_SPLIT_ODD, p, k + 2, o1, o3, q1, q3);
        a0 = bias[c + 1];
        a2 = bias[c + 3];
        output[c + 1] = mcugen_requant_short_s8(a0 + (o1 >> 8), mult[c + 1], shift[c + 1], zp, lo, hi);
        next[c + 1] = mcugen_requant_short_s8(a0 + (q1 >> 8), mult[c + 1], shift[c + 1], zp, lo, hi);
        output[c + 3] = mcugen_requant_short_s8(a2 + (o3 >> 8), mult[c + 3], shift[c + 3], zp, lo, hi);
        next[c + 3] = mcugen_requant_short_s8(a2 + (q3 >> 8), mult[c + 3], shift[c + 3], zp, lo, hi);
    }
#else
    /* Without the DSP instructions, one channel at a time: each weight is loaded once for
       both pixels, and the input columns both windows cover once. */
    const int32_t zp = r->output_zp, lo = r->act_min, hi = r->act_max;
    const int32_t c1 = channels, c2 = 2 * channels, c3 = 3 * channels, c4 = 4 * channels;
    int8_t *next = output + channels;
    for (; c < channels; ++c) {
        const int16_t *k = w + MCUGEN_DW_W(c, 0, 9);  /* tap t at k[4 t] */
        const int8_t *p = x + c;
        int32_t a = bias[c], b = a;
        for (int32_t ky = 0; ky < 3; ++ky, p += row, k += 12) {
            const int32_t w0 = k[0], w1 = k[4], w2 = k[8];
            if (stride == 1) {
                const int32_t x1 = p[c1], x2 = p[c2];
                a += p[0] * w0 + x1 * w1 + x2 * w2;
                b += x1 * w0 + x2 * w1 + p[c3] * w2;
            } else {
                const int32_t x2 = p[c2];
                a += p[0] * w0 + p[c1] * w1 + x2 * w2;
                b += x2 * w0 + p[c3] * w1 + p[c4] * w2;
            }
        }
        {   /* the channel's constants once for both outputs (on the M0, two products each) */
            const mcugen_channel_q_t cq = mcugen_channel_q(r->mult[c], r->shift[c]);
            output[c] = mcugen_channel_requant_s8(a, &cq, 1 + 2 * zp, lo, hi);
            next[c] = mcugen_channel_requant_s8(b, &cq, 1 + 2 * zp, lo, hi);
        }
    }
#endif
    if (c < channels) {  /* the channels past the last whole block: one pixel, then the other */
        mcugen_depthwise_3x3_inside_s8(channels, row, r, x, w, bias, output, c);
        mcugen_depthwise_3x3_inside_s8(channels, row, r, x + stride * channels, w, bias, output + channels, c);
    }
}

#ifdef MCUGEN_DSP
/* A tap of a border window: the input's word, or, where the tap lies outside the input,
   the zero point's (the padded value) in all four bytes. */
#define MCUGEN_DW_BORDER_TAP2(split, t, s0, s1)                                          \
    do {                                                                                 \
        const int32_t xw_ = (inside >> (t)) & 1u ? mcugen_read_s8x4(input + base + tap[(t)] + c) : zp4; \
        const int32_t x_ = split(xw_), w_ = mcugen_read_s16x2(k + 4 * (t));              \
        (s0) = mcugen_smlabb(x_, w_, (s0));                                              \
        (s1) = mcugen_smlatt(x_, w_, (s1));                                              \
    } while (0)
#define MCUGEN_DW_BORDER_WINDOW2(split, s0, s1)                                          \
    do {                                                                                 \
        MCUGEN_DW_BORDER_TAP2(split, 0, s0, s1);                                         \
        MCUGEN_DW_BORDER_TAP2(split, 1, s0, s1);                                         \
        MCUGEN_DW_BORDER_TAP2(split, 2, s0, s1);                                         \
        MCUGEN_DW_BORDER_TAP2(split, 3, s0, s1);                                         \
        MCUGEN_DW_BORDER_TAP2(split, 4, s0, s1);                                         \
        MCUGEN_DW_BORDER_TAP2(split, 5, s0, s1);                                         \
        MCUGEN_DW_BORDER_TAP2(split, 6, s0, s1);                                         \
        MCUGEN_DW_BORDER_TAP2(split, 7, s0, s1);                                         \
        MCUGEN_DW_BORDER_TAP2(split, 8, s0, s1);                                         \
    } while (0)
#endif

/* One output pixel of a 3x3, dilation-1 window that reaches past the input (a border
   pixel) of a fast layer: which taps lie inside is found once for all channels; with the
   DSP instructions four channels at a time as inside, each tap outside reading the zero point.
   Shared by the layers (not specialized): borders are a small share of the pixels.
   `channels` (d->out_c) comes as a value: where gcc clones the function for one layer's
   constant arrays, it then knows the count too, and sees that a layer of 2 or 3 channels
   never enters the 4-channel blocks (x86 gcc 12 -Warray-bounds flagged bias[c + 2] there). */
static void mcugen_depthwise_3x3_border_s8(const mcugen_conv_dims_t *d, const mcugen_requant_t *r,
                                           const int8_t *input, const int16_t *w, const int32_t *bias,
                                           int8_t *output, int32_t oy, int32_t ox, int32_t channels)
{
    const int32_t zp = r->output_zp, lo = r->act_min, hi = r->act_max;
    const int32_t row = d->in_w * d->in_c, iy0 = oy * d->stride_h - d->pad_top, ix0 = ox * d->stride_w - d->pad_left;
    const int32_t base = (iy0 * d->in_w + ix0) * d->in_c;  /* the window's top left, maybe outside */
    const int32_t tap[9] = {0, d->in_c, 2 * d->in_c, row, row + d->in_c, row + 2 * d->in_c,
                            2 * row, 2 * row + d->in_c, 2 * row + 2 * d->in_c};
    uint32_t inside = 0;  /* bit t: tap t lies inside the input, at input + base + tap[t] */
    for (int32_t t = 0; t < 9; ++t) {
        const int32_t iy = iy0 + t / 3, ix = ix0 + t % 3;
        inside |= (uint32_t)(iy >= 0 && iy < d->in_h && ix >= 0 && ix < d->in_w) << t;
    }
    int32_t c = 0;
#ifdef MCUGEN_DSP
    const uint32_t zp_bytes = ((uint32_t)r->input_zp & 0xFFu) * 0x01010101u;  /* the zero point in each byte */
    const int32_t zp4 = (int32_t)zp_bytes;
    const int32_t whole = channels - channels % 4;  /* the channels of whole blocks */
    for (; c < whole; c += 4) {
        const int16_t *k = w + c * 9;
        int32_t a0 = bias[c], a2 = bias[c + 2], o1 = 0, o3 = 0;
        MCUGEN_DW_BORDER_WINDOW2(MCUGEN_DW_SPLIT_EVEN, a0, a2);
        k += 2;
        MCUGEN_DW_BORDER_WINDOW2(MCUGEN_DW_SPLIT_ODD, o1, o3);
        output[c] = mcugen_requant_short_s8(a0, r->mult[c], r->shift[c], zp, lo, hi);
        output[c + 1] = mcugen_requant_short_s8(bias[c + 1] + (o1 >> 8), r->mult[c + 1], r->shift[c + 1], zp, lo, hi);
        output[c + 2] = mcugen_requant_short_s8(a2, r->mult[c + 2], r->shift[c + 2], zp, lo, hi);
        output[c + 3] = mcugen_requant_short_s8(bias[c + 3] + (o3 >> 8), r->mult[c + 3], r->shift[c + 3], zp, lo, hi);
    }
#endif
    for (; c < channels; ++c) {
        const int16_t *k = w + MCUGEN_DW_W(c, 0, 9);
        int32_t acc = bias[c];
        for (int32_t t = 0; t < 9; ++t) {
            acc += ((inside >> t) & 1u ? input[base + tap[t] + c] : r->input_zp) * k[4 * t];
        }
#ifdef MCUGEN_DSP
        output[c] = mcugen_requant_short_s8(acc, r->mult[c], r->shift[c], zp, lo, hi);
#else
        output[c] = mcugen_dw_requant_s8(acc, r->mult[c], r->shift[c], zp, lo, hi);
#endif
    }
}

#ifdef MCUGEN_DSP
/* Which taps of a border window lie outside the input, as bits (tap t = 3 ky + kx): the four
   edges the DSP path computes inline (MCUGEN_DW_EDGE_*: one row or one column of the window
   outside, the rest inside), else 0 (corners, wider padding: the shared border function). */
#define MCUGEN_DW_EDGE_TOP 0x007u
#define MCUGEN_DW_EDGE_BOTTOM 0x1C0u
#define MCUGEN_DW_EDGE_LEFT 0x049u
#define MCUGEN_DW_EDGE_RIGHT 0x124u
MCUGEN_INLINE uint32_t mcugen_dw_edge(int32_t iy, int32_t ix, int32_t in_h, int32_t in_w)
{
    const int32_t rows_in = (int32_t)(iy >= 0 && iy + 2 < in_h), cols_in = (int32_t)(ix >= 0 && ix + 2 < in_w);
    uint32_t edge = 0u;
    if (cols_in != 0 && iy == -1 && in_h > 1) {
        edge = MCUGEN_DW_EDGE_TOP;
    } else if (cols_in != 0 && iy >= 0 && iy + 2 == in_h) {
        edge = MCUGEN_DW_EDGE_BOTTOM;
    } else if (rows_in != 0 && ix == -1 && in_w > 1) {
        edge = MCUGEN_DW_EDGE_LEFT;
    } else if (rows_in != 0 && ix >= 0 && ix + 2 == in_w) {
        edge = MCUGEN_DW_EDGE_RIGHT;
    } else {
        edge = 0u;
    }
    return edge;
}

/* A tap of an edge window: the zero point's word where the tap is outside (`outside`, a
   constant where the function is inlined: the test folds away), else the input's word. Only
   inside taps form an address (input + base may lie before the input). */
#define MCUGEN_DW_EDGE_TAP2(split, t, s0, s1)                                            \
    do {                                                                                 \
        const int32_t xw_ = ((outside >> (t)) & 1u) != 0u                                \
                                ? zp4                                                    \
                                : mcugen_read_s8x4(input + (base + ((t) / 3) * row + ((t) % 3) * channels + c)); \
        const int32_t x_ = split(xw_), w_ = mcugen_read_s16x2(k + 4 * (t));              \
        (s0) = mcugen_smlabb(x_, w_, (s0));                                              \
        (s1) = mcugen_smlatt(x_, w_, (s1));                                              \
    } while (0)
#define MCUGEN_DW_EDGE_WINDOW2(split, s0, s1)                                            \
    do {                                                                                 \
        MCUGEN_DW_EDGE_TAP2(split, 0, s0, s1);                                           \
        MCUGEN_DW_EDGE_TAP2(split, 1, s0, s1);                                           \
        MCUGEN_DW_EDGE_TAP2(split, 2, s0, s1);                                           \
        MCUGEN_DW_EDGE_TAP2(split, 3, s0, s1);                                           \
        MCUGEN_DW_EDGE_TAP2(split, 4, s0, s1);                                           \
        MCUGEN_DW_EDGE_TAP2(split, 5, s0, s1);                                           \
        MCUGEN_DW_EDGE_TAP2(split, 6, s0, s1);                                           \
        MCUGEN_DW_EDGE_TAP2(split, 7, s0, s1);                                           \
        MCUGEN_DW_EDGE_TAP2(split, 8, s0, s1);                                           \
    } while (0)

/* One output pixel of a 3x3 window with one row or one column outside the input (an edge
   pixel, not a corner), of a fast layer with the DSP instructions: as inside, four channels
   at a time, the outside taps reading the zero point, with nothing found at run time (before,
   every edge pixel took the shared border function, about three inside pixels' time). Inlined
   once per edge, `outside` that edge's constant. base: the window's top left, maybe outside. */
MCUGEN_INLINE void mcugen_depthwise_3x3_edge_s8(int32_t channels, int32_t row, const mcugen_requant_t *r,
                                                const int8_t *input, int32_t base, const int16_t *w,
                                                const int32_t *bias, int8_t *output, uint32_t outside)
{
    const int32_t zp = r->output_zp, lo = r->act_min, hi = r->act_max;
    const int32_t *mult = r->mult, *shift = r->shift;
    const uint32_t zp_bytes = ((uint32_t)r->input_zp & 0xFFu) * 0x01010101u;  /* the zero point in each byte */
    const int32_t zp4 = (int32_t)zp_bytes;
    const int32_t whole = channels - channels % 4;  /* the channels of whole blocks */
    int32_t c = 0;
    for (; c < whole; c += 4) {
        const int16_t *k = w + c * 9;
        int32_t a0 = bias[c], a2 = bias[c + 2], o1 = 0, o3 = 0;
        MCUGEN_DW_EDGE_WINDOW2(MCUGEN_DW_SPLIT_EVEN, a0, a2);
        output[c] = mcugen_requant_short_s8(a0, mult[c], shift[c], zp, lo, hi);
        output[c + 2] = mcugen_requant_short_s8(a2, mult[c + 2], shift[c + 2], zp, lo, hi);
        k += 2;
        MCUGEN_DW_EDGE_WINDOW2(MCUGEN_DW_SPLIT_ODD, o1, o3);
        output[c + 1] = mcugen_requant_short_s8(bias[c + 1] + (o1 >> 8), mult[c + 1], shift[c + 1], zp, lo, hi);
        output[c + 3] = mcugen_requant_short_s8(bias[c + 3] + (o3 >> 8), mult[c + 3], shift[c + 3], zp, lo, hi);
    }
    for (; c < channels; ++c) {
        const int16_t *k = w + MCUGEN_DW_W(c, 0, 9);  /* tap t at k[4 t] */
        int32_t acc = bias[c];
        for (int32_t t = 0; t < 9; ++t) {
            const int32_t v = ((outside >> (uint32_t)t) & 1u) != 0u
                                  ? r->input_zp
                                  : input[base + (t / 3) * row + (t % 3) * channels + c];
            acc += v * k[4 * t];
        }
        output[c] = mcugen_requant_short_s8(acc, mult[c], shift[c], zp, lo, hi);
    }
}
#endif

/* Never inlined: see MCUGEN_DW_OUT_OF_LINE. */
/* Copy the input into `padded`, rows x cols pixels, with the zero point (real zero) where the
   window reaches past the input: afterwards every window lies inside. */
MCUGEN_DW_OUT_OF_LINE static void mcugen_depthwise_pad_copy_s8(const mcugen_conv_dims_t *d, int32_t rows, int32_t cols, int8_t zp,
                                         const int8_t *input, int8_t *padded)
{
    const int32_t c = d->in_c;
    for (int32_t py = 0; py < rows; ++py, padded += cols * c) {
        const int32_t iy = py - d->pad_top;
        const int32_t left = d->pad_left < cols ? d->pad_left : cols;
        int32_t inside = (iy >= 0 && iy < d->in_h) ? d->in_w : 0;
        inside = inside < cols - left ? inside : cols - left;
        (void)memset(padded, zp, (size_t)left * (size_t)c);
        if (inside > 0) {
            (void)memcpy(padded + left * c, input + iy * d->in_w * c, (size_t)inside * (size_t)c);
        }
        const int32_t right = cols - left - (inside > 0 ? inside : 0);  /* the pixels right of the input */
        (void)memset(padded + (left + (inside > 0 ? inside : 0)) * c, zp, (size_t)right * (size_t)c);
    }
}

/* Depthwise convolution, multiplier 1: each channel is convolved with its own filter.
   Output pixels in row-major order, all channels of a pixel before the next (the loop order
   ops/depthwise_conv.py declares); 3x3 windows inside the input take the unrolled path.
   On small maps (copy not NULL, copy->padded_h > 0) the input is first copied into a
   zero-point-padded scratch buffer, so that every window is inside. */
MCUGEN_SPECIALIZED void mcugen_depthwise_conv_s8(const mcugen_conv_dims_t *d, const mcugen_requant_t *q,
                                                 const int8_t *input, const int16_t *weight, const int32_t *bias,
                                                 int8_t *output, const mcugen_padded_copy_t *copy, int8_t *scratch)
{
    const mcugen_requant_t r = *q;  /* a local copy: stores to int8_t may alias *q, not r */
    mcugen_conv_dims_t dims = *d;
    const int32_t copied = (int32_t)((copy != NULL) && (copy->padded_h > 0));  /* a layer's constant */
    if (copied != 0) {
        mcugen_depthwise_pad_copy_s8(d, copy->padded_h, copy->padded_w, (int8_t)r.input_zp, input, scratch);
        input = scratch;
        dims.in_h = copy->padded_h;
        dims.in_w = copy->padded_w;
        dims.pad_top = 0;
        dims.pad_left = 0;
    }
    /* The general paths get q and d: had they &r, or the loop read *d after calling them,
       the values could no longer be folded into the unrolled path. */
    const int32_t c = dims.out_c, row = dims.in_w * dims.in_c, in_h = dims.in_h, in_w = dims.in_w;
    const int32_t out_h = dims.out_h, out_w = dims.out_w, sh = dims.stride_h, sw = dims.stride_w;
    const int32_t pt = dims.pad_top, pl = dims.pad_left;
    const int32_t unrolled = (int32_t)((r.fast != 0) && dims.kernel_h == 3 && dims.kernel_w == 3 && dims.dilation_h == 1 &&
                              dims.dilation_w == 1);
    /* two windows at a time where both are inside, unless the plan says one at a time */
    const int32_t paired = (int32_t)((unrolled != 0) && ((copy == NULL) || (copy->unpaired == 0)) && (sw == 1 || sw == 2));
    for (int32_t oy = 0; oy < out_h; ++oy) {
        const int32_t iy = oy * sh - pt;
        const int32_t rows_inside = (int32_t)((unrolled != 0) && iy >= 0 && iy + 2 < in_h);
        for (int32_t ox = 0; ox < out_w; ++ox, output += c) {
            const int32_t ix = ox * sw - pl;
            const int32_t inside = (int32_t)((copied != 0 && unrolled != 0) || (rows_inside != 0 && ix >= 0 && ix + 2 < in_w));
            if (inside != 0 && paired != 0 && ox + 1 < out_w && (copied != 0 || ix + sw + 2 < in_w)) {  /* this and the next */
                mcugen_depthwise_3x3_pair_s8(c, row, sw, &r, input + iy * row + ix * c, weight, bias, output);
                ++ox;
                output += c;
            } else if (inside != 0) {
                mcugen_depthwise_3x3_inside_s8(c, row, &r, input + iy * row + ix * c, weight, bias, output, 0);
            } else if (unrolled != 0) {
#ifdef MCUGEN_DSP
                /* an edge (one row or column outside) inline, with its taps known; a corner shared */
                const uint32_t edge = mcugen_dw_edge(iy, ix, in_h, in_w);
                const int32_t base = iy * row + ix * c;
                if (edge == MCUGEN_DW_EDGE_TOP) {
                    mcugen_depthwise_3x3_edge_s8(c, row, &r, input, base, weight, bias, output, MCUGEN_DW_EDGE_TOP);
                } else if (edge == MCUGEN_DW_EDGE_BOTTOM) {
                    mcugen_depthwise_3x3_edge_s8(c, row, &r, input, base, weight, bias, output, MCUGEN_DW_EDGE_BOTTOM);
                } else if (edge == MCUGEN_DW_EDGE_LEFT) {
                    mcugen_depthwise_3x3_edge_s8(c, row, &r, input, base, weight, bias, output, MCUGEN_DW_EDGE_LEFT);
                } else if (edge == MCUGEN_DW_EDGE_RIGHT) {
                    mcugen_depthwise_3x3_edge_s8(c, row, &r, input, base, weight, bias, output, MCUGEN_DW_EDGE_RIGHT);
                } else {
                    mcugen_depthwise_3x3_border_s8(&dims, q, input, weight, bias, output, oy, ox, c);
                }
#else
                mcugen_depthwise_3x3_border_s8(&dims, q, input, weight, bias, output, oy, ox, c);
#endif
            } else {
                mcugen_depthwise_pixel_s8(&dims, q, input, weight, bias, output, oy, ox);
            }
        }
    }
}

#endif /* MCUGEN_DEPTHWISE_CONV_S8_DEFINED */
