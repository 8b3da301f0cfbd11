/* mcugen_depthwise_conv_f32.c: depthwise convolution (channel multiplier 1), float32:
 * NHWC, weights [KH][KW][C]. */
#include "mcugen_common_f32.h"

#ifndef MCUGEN_DEPTHWISE_CONV_F32_DEFINED
#define MCUGEN_DEPTHWISE_CONV_F32_DEFINED

/* Depthwise convolution, multiplier 1: each channel is convolved with its own filter.
   Padded taps are zero and are skipped. */
MCUGEN_KERNEL void mcugen_depthwise_conv_f32(const mcugen_conv_dims_t *d, const mcugen_act_f32_t *act,
                                             const float *input, const float *weight, const float *bias,
                                             float *output)
{
    const float act_min = act->act_min, act_max = act->act_max;
    for (int32_t oy = 0; oy < d->out_h; ++oy) {
        for (int32_t ox = 0; ox < d->out_w; ++ox) {
            for (int32_t c = 0; c < d->out_c; ++c) {
                float acc = bias[c];
                for (int32_t ky = 0; ky < d->kernel_h; ++ky) {
                    const int32_t iy = oy * d->stride_h - d->pad_top + ky * d->dilation_h;
                    for (int32_t kx = 0; kx < d->kernel_w; ++kx) {
                        const int32_t ix = ox * d->stride_w - d->pad_left + kx * d->dilation_w;
                        if (mcugen_inside_f32(d, iy, ix) != 0) {
                            acc += input[(iy * d->in_w + ix) * d->in_c + c] *
                                   weight[(ky * d->kernel_w + kx) * d->out_c + c];
                        }
                    }
                }
                *output++ = mcugen_clamp_f32(acc, act_min, act_max);
            }
        }
    }
}

#endif /* MCUGEN_DEPTHWISE_CONV_F32_DEFINED */
