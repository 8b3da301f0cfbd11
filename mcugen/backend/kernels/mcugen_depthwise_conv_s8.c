/* mcugen_depthwise_conv_s8.c: depthwise convolution (channel multiplier 1), int8. */
#include <string.h>

#include "mcugen_common_s8.h"

#ifndef MCUGEN_DEPTHWISE_CONV_S8_DEFINED
#define MCUGEN_DEPTHWISE_CONV_S8_DEFINED

/* One output pixel of any depthwise window: the general case, and every border pixel.
   Weights are [C][KH][KW]. Padded taps hold the input zero point (folded into the bias,
   so they must be added). */
static void mcugen_depthwise_pixel_s8(const mcugen_conv_dims_t *d, const mcugen_requant_t *r, const int8_t *input,
                                      const int8_t *weight, const int32_t *bias, int8_t *output,
                                      int32_t oy, int32_t ox)
{
    const int8_t *w = weight;
    for (int32_t c = 0; c < d->out_c; ++c) {
        int32_t acc = bias[c];
        for (int32_t ky = 0; ky < d->kernel_h; ++ky) {
            const int32_t iy = oy * d->stride_h - d->pad_top + ky * d->dilation_h;
            for (int32_t kx = 0; kx < d->kernel_w; ++kx, ++w) {
                const int32_t ix = ox * d->stride_w - d->pad_left + kx * d->dilation_w;
                const int32_t x = (iy < 0 || iy >= d->in_h || ix < 0 || ix >= d->in_w)
                                      ? r->input_zp
                                      : input[(iy * d->in_w + ix) * d->in_c + c];
                acc += x * *w;
            }
        }
        output[c] = mcugen_requantize_s8(acc, r, c);
    }
}

/* One output pixel of a 3x3, dilation-1 window inside the input: no bounds to check, the
   nine taps unrolled; x points at the window's top-left input pixel, a channel's nine
   weights are consecutive. Only for layers whose requantization is fast. */
MCUGEN_INLINE void mcugen_depthwise_3x3_inside_s8(int32_t channels, int32_t row, const mcugen_requant_t *r,
                                                  const int8_t *x, const int8_t *w, const int32_t *bias,
                                                  int8_t *output)
{
    const int32_t c1 = channels, c2 = 2 * channels;
    const int32_t zp = r->output_zp, lo = r->act_min, hi = r->act_max;
    const int32_t *mult = r->mult, *shift = r->shift;
    const int8_t *x1 = x + row, *x2 = x + 2 * row;
    for (int32_t c = 0; c < channels; ++c, ++x, ++x1, ++x2, w += 9) {
        int32_t acc = bias[c];
        acc += x[0] * w[0] + x[c1] * w[1] + x[c2] * w[2];
        acc += x1[0] * w[3] + x1[c1] * w[4] + x1[c2] * w[5];
        acc += x2[0] * w[6] + x2[c1] * w[7] + x2[c2] * w[8];
        output[c] = mcugen_requant_fast_s8(acc, mult[c], MCUGEN_REQUANT_ROUND(shift[c]), MCUGEN_REQUANT_E1(shift[c]),
                                           zp, lo, hi);
    }
}

/* Copy the input into `padded`, rows x cols pixels, with the zero point (real zero) where the
   window reaches past the input: afterwards every window lies inside. */
static void mcugen_depthwise_pad_copy_s8(const mcugen_conv_dims_t *d, int32_t rows, int32_t cols, int8_t zp,
                                         const int8_t *input, int8_t *padded)
{
    const int32_t c = d->in_c;
    for (int32_t py = 0; py < rows; ++py, padded += cols * c) {
        const int32_t iy = py - d->pad_top;
        const int32_t left = d->pad_left < cols ? d->pad_left : cols;
        int32_t inside = (iy >= 0 && iy < d->in_h) ? d->in_w : 0;
        inside = inside < cols - left ? inside : cols - left;
        memset(padded, zp, (size_t)(left * c));
        if (inside > 0) {
            memcpy(padded + left * c, input + iy * d->in_w * c, (size_t)(inside * c));
        }
        memset(padded + (left + (inside > 0 ? inside : 0)) * c, zp,
               (size_t)((cols - left - (inside > 0 ? inside : 0)) * c));
    }
}

/* Depthwise convolution, multiplier 1: each channel is convolved with its own filter.
   Output pixels in row-major order, all channels of a pixel before the next (the loop order
   ops/depthwise_conv.py declares); 3x3 windows inside the input take the unrolled path.
   On small maps (copy not NULL, copy->padded_h > 0) the input is first copied into a
   zero-point-padded scratch buffer, so that every window is inside. */
MCUGEN_SPECIALIZED void mcugen_depthwise_conv_s8(const mcugen_conv_dims_t *d, const mcugen_requant_t *q,
                                                 const int8_t *input, const int8_t *weight, const int32_t *bias,
                                                 int8_t *output, const mcugen_padded_copy_t *copy, int8_t *scratch)
{
    const mcugen_requant_t r = *q;  /* a local copy: stores to int8_t may alias *q, not r */
    mcugen_conv_dims_t dims = *d;
    if (copy != NULL && copy->padded_h > 0) {
        mcugen_depthwise_pad_copy_s8(d, copy->padded_h, copy->padded_w, (int8_t)r.input_zp, input, scratch);
        input = scratch;
        dims.in_h = copy->padded_h;
        dims.in_w = copy->padded_w;
        dims.pad_top = 0;
        dims.pad_left = 0;
    }
    d = &dims;
    const int32_t c = d->out_c, row = d->in_w * d->in_c;
    const int32_t unrolled = r.fast && d->kernel_h == 3 && d->kernel_w == 3 && d->dilation_h == 1 &&
                             d->dilation_w == 1;
    for (int32_t oy = 0; oy < d->out_h; ++oy) {
        const int32_t iy = oy * d->stride_h - d->pad_top;
        const int32_t rows_inside = unrolled && iy >= 0 && iy + 2 < d->in_h;
        for (int32_t ox = 0; ox < d->out_w; ++ox, output += c) {
            const int32_t ix = ox * d->stride_w - d->pad_left;
            if (rows_inside && ix >= 0 && ix + 2 < d->in_w) {
                mcugen_depthwise_3x3_inside_s8(c, row, &r, input + iy * row + ix * c, weight, bias, output);
            } else {
                mcugen_depthwise_pixel_s8(d, &r, input, weight, bias, output, oy, ox);
            }
        }
    }
}

#endif /* MCUGEN_DEPTHWISE_CONV_S8_DEFINED */
