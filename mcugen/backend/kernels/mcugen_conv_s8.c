/* mcugen_conv_s8.c: standard convolution (group 1), int8. */
#include "mcugen_common_s8.h"

#ifndef MCUGEN_CONV_S8_DEFINED
#define MCUGEN_CONV_S8_DEFINED

/* One output channel's requantization: the short form where the layer's flag allows it. */
MCUGEN_INLINE int8_t mcugen_conv_requant_s8(int32_t acc, const mcugen_requant_t *r, int32_t oc)
{
#ifdef MCUGEN_DSP
    return (r->fast != 0) ? mcugen_requant_short_s8(acc, r->mult[oc], r->shift[oc], r->output_zp, r->act_min, r->act_max)
                   : mcugen_requantize_s8(acc, r, oc);
#else
    if (r->fast != 0) {  /* the channel form: on the M0, two products where |acc| is within 2^16 */
        const mcugen_channel_q_t c = mcugen_channel_q(r->mult[oc], r->shift[oc]);
        return mcugen_channel_requant_s8(acc, &c, 1 + 2 * r->output_zp, r->act_min, r->act_max);
    }
    return mcugen_requantize_s8(acc, r, oc);
#endif
}

/* One output pixel (oy, ox) of the convolution, group 1: output[oc] = requant(bias[oc] +
   sum window * weight[oc]). Its window is gathered once into `col` as int16, taps in
   [ky][kx][ic] order, padded taps holding the input zero point (real zero; the zero point
   is folded into the bias, so they must be added), and an even count (a trailing 0);
   windows inside the input are gathered without bounds checks (rows_inside: the window's
   rows are, as the caller found once per row). The weights were stored the same way at
   compile time, as int16 [O][taps rounded up to even], so a dot product takes two MACs per
   SMLAD, four output channels per pass over `col` (each word of it loaded once for four).
   r: the caller's local copy of the requantization (stores to int8_t may alias *q, not it). */
MCUGEN_INLINE void mcugen_conv_pixel_s8(const mcugen_conv_dims_t *d, const mcugen_requant_t *r, const int8_t *input,
                                        const int16_t *weight, const int32_t *bias, int8_t *output, int16_t *col,
                                        int32_t iy0, int32_t rows_inside, int32_t ox)
{
    const int32_t in_c = d->in_c, out_c = d->out_c;
    const int32_t taps = d->kernel_h * d->kernel_w * in_c, pairs = (taps + 1) / 2;
    const int32_t ix0 = ox * d->stride_w - d->pad_left;
    int16_t *c = col;
    if ((rows_inside != 0) && ix0 >= 0 && ix0 + (d->kernel_w - 1) * d->dilation_w < d->in_w) {
        for (int32_t ky = 0; ky < d->kernel_h; ++ky) {
            const int8_t *x = input + ((iy0 + ky * d->dilation_h) * d->in_w + ix0) * in_c;
            for (int32_t kx = 0; kx < d->kernel_w; ++kx, x += d->dilation_w * in_c) {
                for (int32_t ic = 0; ic < in_c; ++ic) {
                    *c++ = x[ic];
                }
            }
        }
    } else {
        for (int32_t ky = 0; ky < d->kernel_h; ++ky) {
            const int32_t iy = iy0 + ky * d->dilation_h;
            for (int32_t kx = 0; kx < d->kernel_w; ++kx) {
                const int32_t ix = ix0 + kx * d->dilation_w;
                if (iy < 0 || iy >= d->in_h || ix < 0 || ix >= d->in_w) {
                    for (int32_t ic = 0; ic < in_c; ++ic) {
                        *c++ = (int16_t)r->input_zp;
                    }
                } else {
                    const int8_t *x = input + (iy * d->in_w + ix) * in_c;
                    for (int32_t ic = 0; ic < in_c; ++ic) {
                        *c++ = x[ic];
                    }
                }
            }
        }
    }
    if (taps % 2 != 0) {
        *c = 0;
    }
    int32_t oc = 0;
#ifdef MCUGEN_DSP
    for (; oc + 4 <= out_c; oc += 4) {
        const int16_t *w0 = weight + oc * 2 * pairs, *w1 = w0 + 2 * pairs, *w2 = w1 + 2 * pairs;
        const int16_t *w3 = w2 + 2 * pairs;
        int32_t a0 = bias[oc], a1 = bias[oc + 1], a2 = bias[oc + 2], a3 = bias[oc + 3];
        for (int32_t p = 0; p < pairs; ++p) {
            const int32_t x2 = mcugen_read_s16x2(col + 2 * p);
            a0 = mcugen_smlad(x2, mcugen_read_s16x2(w0 + 2 * p), a0);
            a1 = mcugen_smlad(x2, mcugen_read_s16x2(w1 + 2 * p), a1);
            a2 = mcugen_smlad(x2, mcugen_read_s16x2(w2 + 2 * p), a2);
            a3 = mcugen_smlad(x2, mcugen_read_s16x2(w3 + 2 * p), a3);
        }
        output[oc] = mcugen_conv_requant_s8(a0, r, oc);
        output[oc + 1] = mcugen_conv_requant_s8(a1, r, oc + 1);
        output[oc + 2] = mcugen_conv_requant_s8(a2, r, oc + 2);
        output[oc + 3] = mcugen_conv_requant_s8(a3, r, oc + 3);
    }
    for (; oc + 2 <= out_c; oc += 2) {
        const int16_t *w0 = weight + oc * 2 * pairs, *w1 = w0 + 2 * pairs;
        int32_t a0 = bias[oc], a1 = bias[oc + 1];
        for (int32_t p = 0; p < pairs; ++p) {
            const int32_t x2 = mcugen_read_s16x2(col + 2 * p);
            a0 = mcugen_smlad(x2, mcugen_read_s16x2(w0 + 2 * p), a0);
            a1 = mcugen_smlad(x2, mcugen_read_s16x2(w1 + 2 * p), a1);
        }
        output[oc] = mcugen_conv_requant_s8(a0, r, oc);
        output[oc + 1] = mcugen_conv_requant_s8(a1, r, oc + 1);
    }
#else
    /* Without the DSP instructions (M0+), two output channels per pass over `col`: each
       int16 of the window loaded once for both. */
    for (; oc + 2 <= out_c; oc += 2) {
        const int16_t *w0 = weight + oc * 2 * pairs, *w1 = w0 + 2 * pairs;
        int32_t a0 = bias[oc], a1 = bias[oc + 1];
        for (int32_t t = 0; t < taps; ++t) {
            const int32_t x = col[t];
            a0 += x * w0[t];
            a1 += x * w1[t];
        }
        output[oc] = mcugen_conv_requant_s8(a0, r, oc);
        output[oc + 1] = mcugen_conv_requant_s8(a1, r, oc + 1);
    }
#endif
    for (; oc < out_c; ++oc) {
        const int16_t *w = weight + oc * 2 * pairs;
        int32_t acc = bias[oc];
        for (int32_t t = 0; t < taps; ++t) {
            acc += col[t] * w[t];
        }
        output[oc] = mcugen_conv_requant_s8(acc, r, oc);
    }
}

/* Convolution, group 1, output pixels in row-major order (ops/conv.py access); with
   dims->backward, from the last pixel to the first (ops/conv.py backward_access), so that
   the output may overlap the input from above (the planner's choice, where that lowers
   the arena). `col`: one pixel's window as int16 (ops/conv.py scratch). */
MCUGEN_SPECIALIZED void mcugen_conv_s8(const mcugen_conv_dims_t *d, const mcugen_requant_t *q, const int8_t *input,
                                       const int16_t *weight, const int32_t *bias, int8_t *output, int16_t *col)
{
    const mcugen_requant_t r = *q;  /* a local copy: stores to int8_t may alias *q, not r */
    const int32_t out_c = d->out_c;
    if (d->backward != 0) {  /* a constant: the specialized layer keeps one of the two loops */
        int8_t *y = output + d->out_h * d->out_w * out_c;  /* one past the pixel being written */
        for (int32_t oy = d->out_h - 1; oy >= 0; --oy) {
            const int32_t iy0 = oy * d->stride_h - d->pad_top;
            const int32_t rows_inside = (int32_t)((iy0 >= 0) && (iy0 + (d->kernel_h - 1) * d->dilation_h < d->in_h));
            for (int32_t ox = d->out_w - 1; ox >= 0; --ox) {
                y = y - out_c;
                mcugen_conv_pixel_s8(d, &r, input, weight, bias, y, col, iy0, rows_inside, ox);
            }
        }
        return;
    }
    for (int32_t oy = 0; oy < d->out_h; ++oy) {
        const int32_t iy0 = oy * d->stride_h - d->pad_top;
        const int32_t rows_inside = (int32_t)((iy0 >= 0) && (iy0 + (d->kernel_h - 1) * d->dilation_h < d->in_h));
        for (int32_t ox = 0; ox < d->out_w; ++ox) {
            mcugen_conv_pixel_s8(d, &r, input, weight, bias, output, col, iy0, rows_inside, ox);
            output = output + out_c;
        }
    }
}

#endif /* MCUGEN_CONV_S8_DEFINED */
