/* mcugen_conv_f32.c: standard convolution (group 1), float32: NHWC input, OHWI weights. */
#include "mcugen_common_f32.h"

#ifndef MCUGEN_CONV_F32_DEFINED
#define MCUGEN_CONV_F32_DEFINED

/* Convolution, group 1: output[y][x][oc] = act(bias[oc] + sum input * weight[oc]).
   Padded taps are zero and are skipped. Same loop order as the int8 kernel, which the
   planner relies on (ops/conv.py, access). */
MCUGEN_KERNEL void mcugen_conv_f32(const mcugen_conv_dims_t *d, const mcugen_act_f32_t *act, const float *input,
                                   const float *weight, const float *bias, float *output)
{
    const float act_min = act->act_min, act_max = act->act_max;
    const int32_t filter_size = d->kernel_h * d->kernel_w * d->in_c;
    for (int32_t oy = 0; oy < d->out_h; ++oy) {
        for (int32_t ox = 0; ox < d->out_w; ++ox) {
            for (int32_t oc = 0; oc < d->out_c; ++oc) {
                const float *w = weight + oc * filter_size;
                float acc = bias[oc];
                for (int32_t ky = 0; ky < d->kernel_h; ++ky) {
                    const int32_t iy = oy * d->stride_h - d->pad_top + ky * d->dilation_h;
                    for (int32_t kx = 0; kx < d->kernel_w; ++kx, w += d->in_c) {
                        const int32_t ix = ox * d->stride_w - d->pad_left + kx * d->dilation_w;
                        if (mcugen_inside_f32(d, iy, ix) != 0) {
                            const float *x = input + (iy * d->in_w + ix) * d->in_c;
                            for (int32_t ic = 0; ic < d->in_c; ++ic) {
                                acc += x[ic] * w[ic];
                            }
                        }
                    }
                }
                *output++ = mcugen_clamp_f32(acc, act_min, act_max);
            }
        }
    }
}

#endif /* MCUGEN_CONV_F32_DEFINED */
