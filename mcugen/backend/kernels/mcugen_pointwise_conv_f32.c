/* mcugen_pointwise_conv_f32.c: pointwise (1x1) convolution, float32: a matrix product per pixel. */
#include "mcugen_common_f32.h"

#ifndef MCUGEN_POINTWISE_CONV_F32_DEFINED
#define MCUGEN_POINTWISE_CONV_F32_DEFINED

/* Pointwise convolution: output[p][oc] = act(bias[oc] + sum_ic input[p][ic] * weight[oc][ic]). */
MCUGEN_KERNEL void mcugen_pointwise_conv_f32(const mcugen_pointwise_dims_t *d, const mcugen_act_f32_t *act,
                                             const float *input, const float *weight, const float *bias,
                                             float *output)
{
    const float act_min = act->act_min, act_max = act->act_max;
    for (int32_t p = 0; p < d->pixels; ++p, input += d->in_c) {
        const float *w = weight;
        for (int32_t oc = 0; oc < d->out_c; ++oc, w += d->in_c) {
            float acc = bias[oc];
            for (int32_t ic = 0; ic < d->in_c; ++ic) {
                acc += input[ic] * w[ic];
            }
            *output++ = mcugen_clamp_f32(acc, act_min, act_max);
        }
    }
}

#endif /* MCUGEN_POINTWISE_CONV_F32_DEFINED */
