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
        for (const int8_t *xk = xg; xk < xg + 4 * in_c; xk += in_c) {
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

/* Pointwise convolution in groups of four pixels (the loop order ops/pointwise_conv.py
   declares: a group's outputs are written while its four pixels may still be read).
   `scratch` is the DSP path's: four pixels of input as int16 (ops/pointwise_conv.py). */
MCUGEN_SPECIALIZED void mcugen_pointwise_conv_s8(const mcugen_pointwise_dims_t *d, const mcugen_requant_t *q,
                                                 const int8_t *input, const int8_t *weight, const int32_t *bias,
                                                 int8_t *output, int32_t *scratch)
{
    const int32_t pixels = d->pixels, in_c = d->in_c, out_c = d->out_c;
    int32_t p = 0;
#ifdef MCUGEN_DSP
    for (; q->fast && in_c % 4 == 0 && p + 4 <= pixels; p += 4, input += 4 * in_c, output += 4 * out_c) {
        mcugen_pointwise_quad_s8(d, q, input, weight, bias, output, scratch);
    }
#else
    (void)scratch;
#endif
    for (; p < pixels; ++p, input += in_c, output += out_c) {
        mcugen_pointwise_pixel_s8(d, q, input, weight, bias, output);
    }
}

#endif /* MCUGEN_POINTWISE_CONV_S8_DEFINED */
