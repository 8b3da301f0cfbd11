/* mcugen_fully_connected_f32.c: fully connected layer, float32: weight [out][in], the
 * input read flat (NHWC order). */
#include "mcugen_common_f32.h"

#ifndef MCUGEN_FULLY_CONNECTED_F32_DEFINED
#define MCUGEN_FULLY_CONNECTED_F32_DEFINED

/* Fully connected: output[o] = act(bias[o] + sum_i input[i] * weight[o][i]). */
MCUGEN_KERNEL void mcugen_fully_connected_f32(const mcugen_fc_dims_t *d, const mcugen_act_f32_t *act,
                                              const float *input, const float *weight, const float *bias,
                                              float *output)
{
    const float act_min = act->act_min, act_max = act->act_max;
    for (int32_t o = 0; o < d->out_features; ++o) {
        const float *w = weight + o * d->in_features;
        float acc = bias[o];
        for (int32_t i = 0; i < d->in_features; ++i) {
            acc += input[i] * w[i];
        }
        output[o] = mcugen_clamp_f32(acc, act_min, act_max);
    }
}

#endif /* MCUGEN_FULLY_CONNECTED_F32_DEFINED */
